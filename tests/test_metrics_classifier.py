"""Classifier-based metrics: the shipped classifiers' held-out accuracy, the Frechet distance against
closed forms and an independent matrix square root, its real-vs-real floor against the theory for
Gaussian features, and the class histogram of real digits."""

import hashlib
import math
import warnings

import pytest
import scipy.linalg
import torch

from minidiff.worlds.data import DATA_DIR, load_digits
from minidiff.worlds.metrics import (class_histogram, classifier_accuracy, classifier_features, frechet_distance,
                              frechet_floor, gaussian_frechet, histogram_entropy, load_classifier)
from minidiff.core.nets import DigitClassifier
from minidiff.core.train import info

MIN_ACCURACY = {28: 0.97, 8: 0.95}  # below this a classifier's verdict on samples is not worth much



def _spd(d, seed):
    """A random symmetric positive definite (D, D) matrix, float64."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


# --- the shipped classifiers ---------------------------------------------------------------------

@pytest.mark.parametrize("size", [8, 28])
def test_shipped_classifier_is_accurate_on_held_out_digits(device, size):
    clf = load_classifier(size, device=device)
    x, labels = load_digits(size, "test")
    acc = classifier_accuracy(x, labels, clf)
    assert acc > MIN_ACCURACY[size], f"held-out accuracy {acc:.4f} on {size}x{size} digits"
    # the number recorded in the checkpoint (and data/CHECKPOINTS.md) is the one measured here
    # (one image of slack: another device may round one borderline logit the other way)
    recorded = info(DATA_DIR / f"classifier{size}.pt")["meta"]["test_accuracy"]
    assert abs(acc - recorded) <= 1 / len(labels) + 1e-12


@pytest.mark.parametrize("name", ["classifier8.pt", "classifier28.pt", "ddpm8.pt", "ddpm28.pt",
                                  "noisy_classifier8.pt", "noisy_classifier28.pt", "ddpm8_cond.pt",
                                  "ddpm28_cond.pt"])
def test_shipped_file_matches_its_recorded_sha256(name):
    digest = hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest()
    assert f"{digest}  {name}" in (DATA_DIR / "CHECKPOINTS.md").read_text()


@pytest.mark.parametrize("size", [8, 28])
def test_class_histogram_of_real_digits_is_near_uniform(size):
    clf = load_classifier(size)
    x, labels = load_digits(size, "test")
    hist = class_histogram(x, clf)
    assert hist.shape == (10,) and abs(hist.sum().item() - 1) < 1e-12
    assert histogram_entropy(hist) > 0.99 * math.log(10)
    # one digit only (mode collapse) is caught: the histogram piles up on it
    ones = class_histogram(x[labels == 1], clf)
    assert ones.argmax().item() == 1 and histogram_entropy(ones) < 0.3 * math.log(10)


def test_shipped_features_separate_real_from_noise():
    clf = load_classifier(28)
    x_test, _ = load_digits(28, "test")
    x_train, _ = load_digits(28, "train")
    g = torch.Generator().manual_seed(0)
    real = classifier_features(x_test, clf)  # (1000, F)
    assert real.shape == (1000, clf.config["feat_dim"])
    floor = frechet_floor(real, 500, generator=g)
    # random subsets: the MNIST file is sorted by digit, so x[:500] would hold only a few classes
    test_half = real[torch.randperm(1000, generator=g)[:500]]
    train_part = x_train[torch.randperm(len(x_train), generator=g)[:500]]
    train_vs_test = frechet_distance(classifier_features(train_part, clf), test_half)
    noise = torch.rand(500, 1, 28, 28, generator=g) * 2 - 1
    noise_vs_test = frechet_distance(classifier_features(noise, clf), test_half)
    # Real digits of the other split sit at the floor (measured: 0.7x to 1.1x over five draws);
    # uniform noise is nothing like a digit and lands far above it (measured: about 70x).
    assert 0 < floor and train_vs_test < 2 * floor and noise_vs_test > 20 * floor


def test_classifier_rejects_wrong_image_size():
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        DigitClassifier(28)(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="fewer stages"):
        DigitClassifier(8, channels=(8, 8, 8, 8))
    with pytest.raises(ValueError, match="8 or 28"):
        load_classifier(32)


# --- the Frechet distance ------------------------------------------------------------------------

def test_frechet_is_zero_for_identical_features(device):
    x = torch.randn(300, 16, generator=torch.Generator().manual_seed(0)).to(device)
    assert abs(frechet_distance(x, x)) < 1e-9
    assert frechet_distance(x, x + 1.0) == pytest.approx(16.0, rel=1e-6)  # a shift costs |shift|^2 (float32 input)


def test_gaussian_frechet_closed_form_for_diagonal_covariances():
    # Diagonal covariances commute: tr(A + B - 2 sqrt(AB)) = sum (sqrt(a_i) - sqrt(b_i))^2.
    a, b = torch.tensor([0.5, 2.0, 1.0, 4.0]).double(), torch.tensor([1.0, 0.25, 1.0, 9.0]).double()
    mu_a, mu_b = torch.tensor([0.0, 1.0, -1.0, 2.0]).double(), torch.tensor([1.0, 1.0, 0.0, 0.0]).double()
    want = (mu_a - mu_b).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum()
    assert gaussian_frechet(mu_a, torch.diag(a), mu_b, torch.diag(b)) == pytest.approx(want.item(), rel=1e-12)


def test_gaussian_frechet_closed_form_in_two_dimensions():
    # For 2x2 matrices, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) (the square of sqrt(l1) + sqrt(l2)),
    # and M = A B has the eigenvalues of A^1/2 B A^1/2: an independent formula for non-commuting A, B.
    A = torch.tensor([[2.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    B = torch.tensor([[0.5, -0.3], [-0.3, 1.5]], dtype=torch.float64)
    mu = torch.tensor([0.3, -0.4], dtype=torch.float64)
    cross = math.sqrt((A @ B).trace().item() + 2 * math.sqrt(A.det().item() * B.det().item()))
    want = 0.25 + A.trace().item() + B.trace().item() - 2 * cross
    assert gaussian_frechet(mu, A, torch.zeros(2), B) == pytest.approx(want, rel=1e-12)


def test_gaussian_frechet_matches_scipy_sqrtm():
    A, B = _spd(12, 0), _spd(12, 1)
    root = scipy.linalg.sqrtm(A.numpy() @ B.numpy())  # a general (Schur) square root of A B
    want = (A.numpy() + B.numpy() - 2 * root.real).trace()
    assert gaussian_frechet(torch.zeros(12), A, torch.zeros(12), B) == pytest.approx(float(want), rel=1e-8)


def test_frechet_of_samples_converges_to_the_gaussians_distance():
    A, B = _spd(4, 2), _spd(4, 3)
    mu_a = torch.tensor([0.0, 0.5, -0.5, 1.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    a = mu_a + torch.randn(20_000, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(A).T
    b = torch.randn(20_000, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(B).T
    # Over 30 seeds the ratio to the closed form was 1.002 +- 0.010: 5% is five standard deviations.
    assert frechet_distance(a, b) == pytest.approx(gaussian_frechet(mu_a, A, torch.zeros(4), B), rel=0.05)


def test_frechet_floor_matches_theory_for_gaussian_features():
    # Two independent n-samples of N(0, I_D): E|mean_a - mean_b|^2 = 2D/n, and near I the covariance
    # term is (1/4)|S_a - S_b|_F^2 with E|S_a - S_b|_F^2 = 2 D (D + 1) / n. So floor ~ (2D + D(D+1)/2) / n.
    d, n = 4, 2000
    want = (2 * d + d * (d + 1) / 2) / n
    g = torch.Generator().manual_seed(0)
    pool = torch.randn(40_000, d, generator=g, dtype=torch.float64)
    floor = frechet_floor(pool, n, repeats=9, generator=g)
    # Over 20 seeds floor / want was 0.98 +- 0.16: [0.5, 1.5] is three standard deviations.
    assert 0.5 * want < floor < 1.5 * want
    with pytest.raises(ValueError, match="half the real"):
        frechet_floor(pool[:100], 60)  # two disjoint subsets of 60 need 120 rows


def test_frechet_rejects_mismatched_features():
    with pytest.raises(ValueError, match="same F"):
        frechet_distance(torch.zeros(10, 3), torch.zeros(10, 4))


def test_histogram_entropy_known_values():
    assert histogram_entropy(torch.full((10,), 0.1)) == pytest.approx(math.log(10))
    assert histogram_entropy(torch.tensor([0.0, 1.0, 0.0])) == 0.0
    assert histogram_entropy(torch.tensor([3.0, 3.0])) == pytest.approx(math.log(2))  # normalised for you
    with pytest.raises(ValueError, match="non-negative"):
        histogram_entropy(torch.tensor([-0.5, 1.5]))


# --- misuse: what the classifiers were not trained on -----------------------------------------------

def test_uint8_or_0_to_255_images_are_refused_with_the_conversion():
    from minidiff.worlds.metrics import digit_quality

    clf = load_classifier(8)
    x, _ = load_digits(8, "test")
    pixels = ((x + 1) * 127.5).round()  # 0..255
    with pytest.raises(ValueError, match=r"images must be floats in \[-1, 1\] .* got torch.uint8; pixels "
                                         r"0..255 become x.float\(\) / 127.5 - 1"):
        class_histogram(pixels.to(torch.uint8), clf)
    with pytest.raises(ValueError, match=r"digit_quality: images must be in \[-1, 1\] .* got values from 0 to "
                                         r"255; pixels 0..255 become x / 127.5 - 1"):
        digit_quality(pixels)
    with pytest.raises(ValueError, match="DigitClassifier: images must be floats"):
        clf(pixels.to(torch.uint8))
    with pytest.raises(ValueError, match=r"images must be in \[-1, 1\]"):
        classifier_features(pixels, clf)


def test_digit_quality_reports_the_floors_spread_and_warns_when_n_is_too_small():
    from minidiff.worlds.metrics import digit_quality

    x, _ = load_digits(8, "test")
    g = torch.Generator().manual_seed(0)
    real = x[torch.randperm(len(x), generator=g)[:100]]  # real digits: a perfect generator's samples
    with pytest.warns(UserWarning, match="at n = 100 these samples cannot be told from real digits"):
        q = digit_quality(real, generator=g)
    assert q["floor_low"] <= q["floor"] <= q["floor_high"] and q["floor_low"] < q["floor_high"]
    assert q["ratio_low"] <= q["ratio"] <= q["ratio_high"]
    noise = torch.rand(100, 1, 8, 8, generator=g) * 2 - 1  # far from digits: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert digit_quality(noise, generator=g)["ratio_low"] > 5


def test_digit_quality_over_sets_takes_medians_of_the_direct_distances():
    from minidiff.worlds.metrics import digit_quality_over_sets

    x, _ = load_digits(8, "train")
    test, _ = load_digits(8, "test")
    g = torch.Generator().manual_seed(0)
    sets = [x[torch.randperm(len(x), generator=g)[:100]] for _ in range(5)]  # real digits: ratio about 1
    q = digit_quality_over_sets(sets, repeats=41, generator=g)
    clf = load_classifier(8)
    direct = [frechet_distance(classifier_features(s, clf), classifier_features(test, clf)) for s in sets]
    assert q["per_set"] == pytest.approx(direct, abs=1e-3) and q["frechet"] == pytest.approx(sorted(direct)[2], abs=1e-3)
    assert q["floor_quartiles"][0] <= q["floor"] <= q["floor_quartiles"][1]
    # five real sets are draws of the floor itself: their median sits between the floor's quartiles
    # (for a median of 5 draws that happens with probability 0.79; at this seed it holds)
    assert q["floor_quartiles"][0] / q["floor"] <= q["ratio"] <= q["floor_quartiles"][1] / q["floor"], q
    noise = [torch.rand(100, 1, 8, 8, generator=g) * 2 - 1 for _ in range(3)]
    assert digit_quality_over_sets(noise, repeats=11, generator=g)["ratio"] > 5
    with pytest.raises(ValueError, match="every set must have the same shape"):
        digit_quality_over_sets([sets[0], sets[1][:50]])
