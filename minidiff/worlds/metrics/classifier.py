"""Classifier-based measures of generated digits: accuracy, the class histogram and its entropy,
and the Frechet distance between classifier features (Heusel et al. 2017) with its real-vs-real floor.

    clf = load_classifier(28)
    real, fake = classifier_features(x_real, clf), classifier_features(samples, clf)
    frechet_distance(fake, real), frechet_floor(real_pool, len(real))   # compare the two
    histogram_entropy(class_histogram(samples, clf)) / math.log(10)     # 1 = every digit equally often

load_classifier(size, noisy=True) gives the noise-aware classifier clf(x_t, t) of classifier guidance
(data/noisy_classifier{size}.pt); guidance.py measures guided samples and noisy-digit reading.
"""

import statistics

import torch

from ...core.checkpoints import load
from .. import registry
from ...core.nets import _checks
from ...core.nets.classifier import DigitClassifier, NoisyDigitClassifier


def load_classifier(size: int, device=None, noisy: bool = False) -> DigitClassifier | NoisyDigitClassifier:
    """The shipped classifier for 8x8 or 28x28 digits (data/classifier{size}.pt), in eval mode; with
    noisy=True the noise-aware one for classifier guidance, clf(x_t, t) (data/noisy_classifier{size}.pt)."""
    if size not in (8, 28):
        raise ValueError(f"load_classifier: size must be 8 or 28, got {size!r}")
    cls = NoisyDigitClassifier if noisy else DigitClassifier
    name = f"noisy_classifier{size}" if noisy else f"classifier{size}"
    path = registry.path(name)
    if not path.exists():
        raise FileNotFoundError(f"load_classifier: {path} is missing; it ships with the course "
                                f"(remake it with `{registry.entry(name).command}`)")
    return load(path, cls).to(device).eval().requires_grad_(False)


def check_images(images, where: str) -> None:
    """Refuse what the classifiers were not trained on: integer pixels, NaN, [0, 1] images, values outside
    about [-1, 1]."""
    _checks.images(images, where, "digits")


@torch.no_grad()
def _in_batches(fn, images: torch.Tensor, classifier, batch_size: int) -> torch.Tensor:
    check_images(images, type(classifier).__name__)
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()  # no dropout while measuring
    try:
        return torch.cat([fn(images[i:i + batch_size].to(device)) for i in range(0, len(images), batch_size)])
    finally:
        classifier.train(was_training)


def classifier_features(images: torch.Tensor, classifier, batch_size: int = 500) -> torch.Tensor:
    """(N, 1, H, W) images in [-1, 1] -> (N, F) penultimate-layer features, on the classifier's device."""
    return _in_batches(classifier.features, images, classifier, batch_size)


def predict(images: torch.Tensor, classifier, batch_size: int = 500) -> torch.Tensor:
    """(N,) the digit the classifier sees in each image."""
    return _in_batches(lambda x: classifier(x).argmax(1), images, classifier, batch_size)


def classifier_accuracy(images: torch.Tensor, labels: torch.Tensor, classifier) -> float:
    """The fraction of images whose predicted digit is their label."""
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"classifier_accuracy: need as many labels as images (> 0), "
                         f"got {len(images)} images and {len(labels)} labels")
    pred = predict(images, classifier)
    return (pred == labels.to(pred.device)).cpu().double().mean().item()  # the CPU: MPS has no float64


def class_histogram(images: torch.Tensor, classifier, num_classes: int = 10) -> torch.Tensor:
    """(num_classes,) the fraction of images the classifier puts in each class (sums to 1)."""
    if len(images) == 0:
        raise ValueError("class_histogram: got no images")
    counts = torch.bincount(predict(images, classifier).cpu(), minlength=num_classes)
    return counts.double() / counts.sum()


def histogram_entropy(hist: torch.Tensor) -> float:
    """Shannon entropy -sum p log p in nats: log(10) = 2.303 when all ten digits are equally common,
    0 when every sample is the same digit (mode collapse)."""
    p = torch.as_tensor(hist, dtype=torch.float64)
    if p.ndim != 1 or (p < 0).any() or not p.sum() > 0:
        raise ValueError(f"histogram_entropy: need a 1-D histogram of non-negative numbers, got {p}")
    p = p / p.sum()
    return -(p[p > 0] * p[p > 0].log()).sum().item()  # 0 log 0 = 0


def _sqrt_psd(a: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix, by eigendecomposition."""
    vals, vecs = torch.linalg.eigh(a)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T  # round-off can make tiny eigenvalues < 0


def gaussian_frechet(mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor, cov_b: torch.Tensor) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu_a, cov_a) and N(mu_b, cov_b)
    (Dowson & Landau 1982; Heusel et al. 2017, eq. 6):
    |mu_a - mu_b|^2 + tr(cov_a + cov_b - 2 (cov_a^1/2 cov_b cov_a^1/2)^1/2)."""
    mu_a, cov_a, mu_b, cov_b = (torch.as_tensor(v).cpu().double() for v in (mu_a, cov_a, mu_b, cov_b))
    if cov_a.shape != cov_b.shape or cov_a.shape != (len(mu_a), len(mu_a)) or mu_a.shape != mu_b.shape:
        raise ValueError(f"gaussian_frechet: need means (D,) and covariances (D, D) of one D, got "
                         f"{tuple(mu_a.shape)}, {tuple(cov_a.shape)}, {tuple(mu_b.shape)}, {tuple(cov_b.shape)}")
    # tr sqrt(cov_a cov_b) computed on a symmetric matrix with the same eigenvalues: stable, and
    # no complex round-off as with a general matrix square root.
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(value.item(), 0.0)  # >= 0 in exact arithmetic


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """The Frechet distance between Gaussians fitted to two sets of features (N, F) and (M, F)
    (Heusel et al. 2017, eq. 6; with Inception features this is the FID). Biased upward for
    small N: compare it with `frechet_floor` at the same sizes."""
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"frechet_distance: features must be (N, F) and (M, F) with the same F, "
                         f"got {tuple(feats_a.shape)} and {tuple(feats_b.shape)}")
    if len(feats_a) < 2 or len(feats_b) < 2:
        raise ValueError(f"frechet_distance: need at least 2 rows each, got {len(feats_a)} and {len(feats_b)}")
    _checks.finite(feats_a, "frechet_distance", "feats_a")
    _checks.finite(feats_b, "frechet_distance", "feats_b")
    a, b = feats_a.detach().cpu().double(), feats_b.detach().cpu().double()  # the CPU first: MPS has no float64
    return gaussian_frechet(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))


def frechet_floor(real_feats: torch.Tensor, n: int, repeats: int = 5,
                  generator: torch.Generator | None = None) -> float:
    """The Frechet distance between two disjoint random n-row subsets of the same real features:
    what a perfect generator would score against n real images (median over `repeats` splits)."""
    if n < 2 or 2 * n > len(real_feats) or repeats < 1:
        raise ValueError(f"frechet_floor: need 2 <= n <= {len(real_feats) // 2} (half the real "
                         f"features) and repeats >= 1, got n={n}, repeats={repeats}")
    values = []
    for _ in range(repeats):
        perm = torch.randperm(len(real_feats), generator=generator).to(real_feats.device)
        values.append(frechet_distance(real_feats[perm[:n]], real_feats[perm[n:2 * n]]))
    return float(statistics.median(values))


__all__ = ["check_images", "load_classifier", "classifier_features", "predict", "classifier_accuracy",
           "class_histogram", "histogram_entropy", "gaussian_frechet", "frechet_distance", "frechet_floor"]
