"""Two-sample distances: exact values where a closed form exists, the right behaviour at and above
the noise floor, symmetry, and the same numbers on every device."""

import math

import pytest
import torch

from minidiff import metrics
from minidiff.worlds.toy import ring

METRICS = [metrics.sliced_wasserstein, metrics.mmd, metrics.energy_distance]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def normal(n: int, d: int, seed: int, mean=0.0, std=1.0) -> torch.Tensor:
    return mean + std * torch.randn(n, d, generator=gen(seed), dtype=torch.float64)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_zero_for_identical_samples_and_symmetric(metric):
    x, y = normal(300, 2, 0), normal(200, 2, 1, mean=0.3)
    if metric is metrics.mmd:
        # The unbiased estimate of a sample against itself is 2 (c - 1) / (n - 1), where c is the
        # mean kernel value over all pairs (in (0, 1]), so it lies in [-2 / (n - 1), 0].
        assert -2 / 299 <= metric(x, x) <= 0
    else:
        assert metric(x, x) == 0
    assert metric(x, y) == pytest.approx(metric(y, x), rel=1e-9)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_grows_with_a_shift(metric):
    x = normal(500, 2, 2)
    y = normal(500, 2, 3)
    shift = torch.tensor([1.0, 0.0], dtype=torch.float64)
    values = [metric(x, y + s * shift) for s in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_sliced_wasserstein_of_a_translation():
    # Translating every point by d keeps the sorted order on every direction u, so
    # SW^2 = mean_u (u . d)^2, whose expectation over uniform u in D dims is |d|^2 / D.
    # In 2-D (u . d)^2 = |d|^2 cos^2(angle): mean 1/2, std sqrt(1/8); with 4,000 directions the
    # standard error on SW^2 is 0.56%, so a 3% band on SW^2 is over 5 standard errors.
    x = normal(500, 2, 4)
    d = torch.tensor([3.0, -4.0], dtype=torch.float64)
    sw = metrics.sliced_wasserstein(x, x + d, n_projections=4000)
    assert sw**2 == pytest.approx(25 / 2, rel=0.03)


def test_sliced_wasserstein_between_two_gaussians():
    # On direction u, N(m1, s1^2 I) and N(m2, s2^2 I) project to N(u.m1, s1^2) and N(u.m2, s2^2),
    # whose W2^2 is (u.(m1 - m2))^2 + (s1 - s2)^2; averaged over u: |m1 - m2|^2 / D + (s1 - s2)^2.
    # With 10,000 points and 1,000 directions, SW^2 (= 3.5) varies with a standard deviation of
    # 0.062 (1.8%, measured over 10 seeds of data and directions): the band is 5 of those.
    x = normal(10_000, 2, 5)
    y = normal(10_000, 2, 6, mean=torch.tensor([1.0, 2.0], dtype=torch.float64), std=2.0)
    sw = metrics.sliced_wasserstein(x, y, n_projections=1000)
    assert sw**2 == pytest.approx(5 / 2 + 1, rel=0.09)


def test_sliced_wasserstein_with_unequal_sizes():
    # Doubling every point does not change the empirical law: only interpolation error remains,
    # far below the noise floor between independent samples of the same size.
    x, y = normal(400, 2, 7), normal(400, 2, 8)
    assert metrics.sliced_wasserstein(x, torch.cat([x, x])) < 0.1 * metrics.sliced_wasserstein(x, y)
    assert metrics.energy_distance(x, torch.cat([x, x])) < 1e-12  # the same empirical measure


def test_point_masses_have_closed_forms():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[4.0, -2.0]])  # 5 apart
    x, y = a.repeat(10, 1), b.repeat(7, 1)
    assert metrics.energy_distance(x, y) == pytest.approx(2 * 5, rel=1e-6)  # 2 |a - b|
    # All kernel values within a sample are 1, across samples exp(-25 / (2 h^2)).
    assert metrics.mmd(x, y, bandwidth=3.0) == pytest.approx(2 - 2 * math.exp(-25 / 18), rel=1e-6)


def test_mmd_between_two_gaussians_matches_closed_form():
    # For X ~ N(m1, s^2 I), Y ~ N(m2, s^2 I) in D dims and a Gaussian kernel of bandwidth h,
    # E k(X, Y) = (h^2 / (h^2 + 2 s^2))^(D/2) exp(-|m1 - m2|^2 / (2 (h^2 + 2 s^2))), so
    # MMD^2 = c (2 - 2 exp(...)) with c = (h^2 / (h^2 + 2 s^2))^(D/2). Here it is 0.1023.
    # The unbiased estimate with 3,000 points per sample has a standard deviation of about 0.004
    # (measured over 20 seeds); 0.02 is 5 of those.
    h, dm2 = 1.0, 1.0
    c = h**2 / (h**2 + 2)
    exact = c * (2 - 2 * math.exp(-dm2 / (2 * (h**2 + 2))))
    x = normal(3000, 2, 9)
    y = normal(3000, 2, 10, mean=torch.tensor([0.6, 0.8], dtype=torch.float64))
    assert metrics.mmd(x, y, bandwidth=h) == pytest.approx(exact, abs=0.02)


def test_energy_distance_between_two_gaussians_matches_closed_form():
    # 1-D N(0, 1) against N(1, 1): X - Y ~ N(-1, 2), E|N(mu, tau^2)| = tau sqrt(2/pi)
    # exp(-mu^2 / 2 tau^2) + |mu| (1 - 2 Phi(-|mu| / tau)), and E|X - X'| = 2 / sqrt(pi).
    # The V-statistic adds (1/n + 1/m) E|X - X'| on average (tiny here). Its standard deviation with
    # 5,000 points is about 0.02 (measured over 20 seeds): the band is 5 of those.
    tau, mu = math.sqrt(2), 1.0
    phi = 0.5 * (1 + math.erf(-mu / tau / math.sqrt(2)))
    e_xy = tau * math.sqrt(2 / math.pi) * math.exp(-mu**2 / (2 * tau**2)) + mu * (1 - 2 * phi)
    exact = 2 * e_xy - 2 * (2 / math.sqrt(math.pi))
    ed = metrics.energy_distance(normal(5000, 1, 11), normal(5000, 1, 12, mean=1.0))
    assert ed == pytest.approx(exact, abs=0.1)


def test_floor_levels_of_mmd_and_energy_distance():
    # Between independent samples of the same law: the unbiased MMD^2 averages 0, and the energy
    # V-statistic averages exactly (1/n + 1/m) E|X - X'| = (2/n) 2/sqrt(pi) for N(0, 1).
    # 40 pairs of 200 points: 5 standard errors of the mean over the pairs.
    n, pairs = 200, 40
    eds = torch.tensor([metrics.energy_distance(normal(n, 1, 100 + i), normal(n, 1, 200 + i))
                        for i in range(pairs)])
    mmds = torch.tensor([metrics.mmd(normal(n, 1, 300 + i), normal(n, 1, 400 + i))
                         for i in range(pairs)])
    assert abs(eds.mean() - (2 / n) * 2 / math.sqrt(math.pi)) < 5 * eds.std() / math.sqrt(pairs)
    assert abs(mmds.mean()) < 5 * mmds.std() / math.sqrt(pairs)


def test_noise_floor_shrinks_like_one_over_root_n():
    # The sliced W2 between two independent n-point samples falls roughly like n^(-1/2)
    # (a little slower: an extra log factor in the tails), so 4x the points gives about half.
    gm = ring()
    small = metrics.noise_floor(gm.sample, 500, generator=gen(13))
    large = metrics.noise_floor(gm.sample, 2000, generator=gen(14))
    assert 0.35 < large / small < 0.75


def test_floor_units_near_one_for_the_truth_and_large_for_a_shift():
    gm = ring()
    truth = gm.sample(1000, generator=gen(15))
    assert 0.5 < metrics.in_floor_units(truth, gm.sample, generator=gen(16)) < 2
    assert metrics.in_floor_units(truth + 0.5, gm.sample, generator=gen(17)) > 4


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_same_value_on_every_device_and_dtype_follows(device, metric):
    x = normal(300, 2, 18).float()
    y = normal(250, 2, 19, mean=0.5).float()
    on_cpu = metric(x, y)
    on_device = metric(x.to(device), y.to(device))
    assert isinstance(on_device, float)
    assert on_device == pytest.approx(on_cpu, rel=1e-4, abs=1e-6)
    assert metric(x.double(), y.double()) == pytest.approx(on_cpu, rel=1e-4, abs=1e-6)


def test_bad_input_says_what_was_wrong():
    with pytest.raises(ValueError, match="same D"):
        metrics.sliced_wasserstein(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="at least 2 points"):
        metrics.energy_distance(torch.zeros(1, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.mmd(torch.zeros(5, 2), torch.zeros(5, 2))  # all pairs 0 apart: no median heuristic
