"""Measures for guided digits: does a sample show the requested digit (fidelity), is it like real
digits of that class (per-class Frechet distance, Heusel et al. 2017), and how varied are the samples
of one class (diversity)? Plus how a classifier reads noisy digits x_t, the input of classifier
guidance (Dhariwal & Nichol 2021), against the exact p(y | x_t) of the training digits.

    scores = guidance_scores(samples, requested)     # accuracy, frechet (floor units), spread
    accuracy_over_t(load_classifier(8), 8, [0, 0.5, 0.9])   # a clean classifier fails on noisy digits
"""

import functools
import statistics

import torch

from ..data import load_digits
from ...core.nets.classifier import DigitClassifier
from ...core.schedules import Schedule, VPLinear
from .classifier import check_images, classifier_features, frechet_distance, load_classifier, predict
from .digits import MIN_SAMPLES, TOO_FEW, check_not_blank


def _logits(classifier, x: torch.Tensor, t: float) -> torch.Tensor:
    # A clean DigitClassifier sees x_t as if it were a clean image; a noise-aware one is told t.
    if isinstance(classifier, DigitClassifier):
        return classifier(x)
    return classifier(x, torch.full((len(x),), float(t), dtype=x.dtype, device=x.device))


def _noised(size: int, split: str, t: float, schedule: Schedule, n: int | None, generator, device):
    """n random digits of `split` (all when n is None), their labels, and x_t = alpha x0 + sigma eps."""
    x0, labels = load_digits(size, split)
    if n is not None:
        index = torch.randperm(len(x0), generator=generator)[:n]
        x0, labels = x0[index], labels[index]
    eps = torch.randn(x0.shape, generator=generator)
    xt = schedule.alpha(t).float() * x0 + schedule.sigma(t).float() * eps
    return xt.to(device), labels.to(device)


def accuracy_over_t(classifier, size: int, ts, schedule: Schedule | None = None, n: int | None = None,
                    generator: torch.Generator | None = None) -> list[float]:
    """The share of noised test digits x_t = alpha x0 + sigma eps the classifier labels right, at each t
    in ts (10% is chance). Works for a clean DigitClassifier (fed x_t as it is) and a noise-aware one."""
    schedule = schedule or VPLinear()  # the shipped DDPMs' schedule
    device = next(classifier.parameters()).device
    out = []
    with torch.no_grad():
        for t in ts:
            xt, labels = _noised(size, "test", float(t), schedule, n, generator, device)
            pred = torch.cat([_logits(classifier, xt[i:i + 500], t).argmax(1) for i in range(0, len(xt), 500)])
            out.append((pred == labels).double().mean().item())
    return out


def empirical_log_posterior(size: int, schedule: Schedule | None = None):
    """The exact log p(y | x_t) when the data are the training digits themselves (each a point mass):
    p(x0_i | x_t) is proportional to N(x_t; alpha x0_i, sigma^2 I), and p(y | x_t) sums it over class y.
    Returns a callable (x, t) -> (B, 10) log-probabilities, t > 0, differentiable in x."""
    schedule = schedule or VPLinear()
    x0, labels = load_digits(size, "train")
    flat, onehot = x0.flatten(1), torch.nn.functional.one_hot(labels, 10).bool()  # (N, D), (N, 10)

    def log_posterior(x: torch.Tensor, t: float) -> torch.Tensor:
        alpha, sigma = schedule.alpha(t).item(), schedule.sigma(t).item()
        if sigma == 0:
            raise ValueError("empirical_log_posterior: t must be > 0 (at sigma = 0 every x_t is one training digit)")
        logw = -torch.cdist(x.flatten(1), alpha * flat.to(x)).pow(2) / (2 * sigma**2)  # (B, N)
        per_class = torch.stack([logw[:, onehot[:, c]].logsumexp(1) for c in range(10)], 1)  # (B, 10)
        return per_class - logw.logsumexp(1, keepdim=True)

    return log_posterior


def gradient_agreement(classifier, size: int, ts, schedule: Schedule | None = None, n: int = 200,
                       generator: torch.Generator | None = None) -> list[float]:
    """Median cosine, over n noised test digits, between the classifier's grad_x log p(y | x_t) (y the
    true label) and the exact one of the training digits (empirical_log_posterior): 1 = the guidance
    direction is right, about 0 = it points nowhere in particular. t must be > 0."""
    schedule = schedule or VPLinear()
    exact = empirical_log_posterior(size, schedule)
    device = next(classifier.parameters()).device
    out = []
    for t in ts:
        xt, labels = _noised(size, "test", float(t), schedule, n, generator, "cpu")
        grads = []
        for fn in (lambda x: _logits(classifier, x.to(device), t).log_softmax(1).cpu(), lambda x: exact(x, t)):
            x = xt.clone().requires_grad_(True)
            with torch.enable_grad():  # callers may be inside no_grad (a sampler, a notebook cell)
                fn(x).gather(1, labels[:, None]).sum().backward()  # sum of log p(y_i | x_i): per-image grads
            grads.append(x.grad.flatten(1))
        out.append(torch.nn.functional.cosine_similarity(*grads, dim=1).median().item())
    return out


def _spread(feats: torch.Tensor) -> float:
    """Trace of the feature covariance: the mean squared distance of a feature vector to its mean."""
    return feats.double().var(0).sum().item() if len(feats) > 1 else 0.0


@functools.lru_cache(maxsize=4)
def _real_features(size: int, device: str) -> tuple:
    """Classifier features of the real test and train digits, and their labels (kept: a table over
    guidance weights scores many sample sets against the same real digits)."""
    clf = load_classifier(size, device=device)
    (test, y_test), (train, y_train) = load_digits(size, "test"), load_digits(size, "train")
    return classifier_features(test, clf).cpu(), y_test, classifier_features(train, clf).cpu(), y_train


def guidance_scores(samples: torch.Tensor, requested: torch.Tensor, size: int | None = None, repeats: int = 5,
                    generator: torch.Generator | None = None) -> dict:
    """Fidelity and diversity of class-guided digits (n, 1, size, size) in [-1, 1], requested (n,) in 0..9:

    accuracy: the share the shipped clean classifier reads as the requested digit. Per requested class c
    (n_c samples): frechet, the Frechet distance of classifier features to the real test digits of c
    (Heusel et al. 2017, eq. 6) over its floor, the median over `repeats` draws of n_c real training
    digits of c against the same test digits (low .. high: against the largest and smallest floor);
    spread, the trace of the samples' feature covariance over that of the real test digits of c
    (1 = as varied as real digits, 0 = one image repeated). Top-level frechet and spread: medians over classes.
    """
    check_images(samples, "guidance_scores")
    if samples.ndim != 4 or samples.shape[1] != 1 or samples.shape[2] not in (8, 28) \
            or samples.shape[2] != samples.shape[3]:
        raise ValueError(f"guidance_scores: samples must be (n, 1, 8, 8) or (n, 1, 28, 28), got {tuple(samples.shape)}")
    if size is not None and size != samples.shape[-1]:
        raise ValueError(f"guidance_scores: size={size} but the samples are {samples.shape[-1]}x{samples.shape[-1]}")
    size = samples.shape[-1]
    requested = torch.as_tensor(requested)
    in_range = bool(((requested >= 0) & (requested <= 9)).all())
    if requested.shape != (len(samples),) or requested.is_floating_point() or not in_range:
        raise ValueError(f"guidance_scores: requested must be (n,) = ({len(samples)},) integer labels in 0..9, "
                         f"got {tuple(requested.shape)} {requested.dtype}")
    if repeats < 2:
        raise ValueError(f"guidance_scores: repeats must be >= 2 (the floor's spread needs two draws), got {repeats}")
    requested = requested.long().cpu()
    check_not_blank(samples, "guidance_scores")
    clf = load_classifier(size, device=samples.device)
    accuracy = (predict(samples, clf).cpu() == requested).double().mean().item()
    f_test, y_test, f_train, y_train = _real_features(size, str(samples.device))
    f_fake = classifier_features(samples, clf).cpu()
    per_class = []
    for c in requested.unique().tolist():
        fake, n_c = f_fake[requested == c], int((requested == c).sum())
        real, pool = f_test[y_test == c], f_train[y_train == c]
        if not MIN_SAMPLES <= n_c <= len(pool):
            raise ValueError(f"guidance_scores: digit {c} was requested {n_c} times; the floor needs {MIN_SAMPLES} "
                             f"to {len(pool)} samples of each requested digit ({TOO_FEW})")
        # n_c real training digits of c against the same test digits: what a perfect generator scores.
        floors = [frechet_distance(pool[torch.randperm(len(pool), generator=generator)[:n_c]], real)
                  for _ in range(repeats)]
        fd, floor = frechet_distance(fake, real), statistics.median(floors)
        per_class.append(dict(digit=c, n=n_c, frechet=round(fd / floor, 2), frechet_low=round(fd / max(floors), 2),
                              frechet_high=round(fd / min(floors), 2), floor=round(floor, 3),
                              spread=round(_spread(fake) / _spread(real), 3)))
    return dict(n=len(samples), accuracy=round(accuracy, 4),
                frechet=round(statistics.median(p["frechet"] for p in per_class), 2),
                spread=round(statistics.median(p["spread"] for p in per_class), 3), per_class=per_class)


def ink(images: torch.Tensor, full: float = 0.9) -> dict:
    """How much ink guided digits carry, the saturation that heavy guidance brings: images (n, ...) in
    [-1, 1] with -1 the blank page. mean: the mean ink per pixel, (x + 1) / 2 in [0, 1]; full: the share of
    pixels at `full` ink or more (pinned near the top of the data range). Each is the mean over images of a
    per-image value, with its standard error over the n images (`mean_se`, `full_se`): the pixels of one
    image are not independent draws, the images are."""
    check_images(images, "ink")
    if not 0 < full <= 1:
        raise ValueError(f"ink: full must be an ink level in (0, 1], e.g. 0.9, got {full}")
    if len(images) < 2:
        raise ValueError(f"ink: need at least 2 images for a standard error, got {len(images)}")
    level = (images.detach().double().clamp(-1, 1) + 1).flatten(1) / 2  # (n, pixels): 0 blank, 1 full ink
    out = dict(n=len(images))
    for name, per_image in (("mean", level.mean(1)), ("full", (level >= full).double().mean(1))):  # (n,) each
        out[name] = round(per_image.mean().item(), 4)
        out[f"{name}_se"] = round(per_image.std().item() / len(per_image) ** 0.5, 4)
    return out

__all__ = ["accuracy_over_t", "empirical_log_posterior", "gradient_agreement", "guidance_scores", "ink"]
