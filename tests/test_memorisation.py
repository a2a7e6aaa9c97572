"""The ideal denoiser of a finite training set and the nearest-neighbour memorisation measures."""

import math

import pytest
import torch

from minidiff import exact, metrics, samplers, schedules, toy
from minidiff.core.schedules import VPLinear


def _direct_posterior_mean(points, x, alpha, sigma):
    """E[x0 | x_t] by Bayes' rule written out point by point in float64 (no softmax, no expansion)."""
    out = []
    for row in x.double():
        logs = torch.stack([torch.distributions.Normal(alpha * p, sigma).log_prob(row).sum() for p in points.double()])
        w = torch.exp(logs - logs.max())
        out.append((w[:, None] * points.double()).sum(0) / w.sum())
    return torch.stack(out)


@pytest.mark.parametrize("alpha, sigma", [(0.9, 0.3), (0.5, 0.8), (0.05, 1.0), (0.999, 0.02)])
def test_ideal_denoiser_is_the_posterior_mean(alpha, sigma):
    g = torch.Generator().manual_seed(0)
    points = torch.randn(7, 3, generator=g, dtype=torch.float64)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    got = exact.EmpiricalX0(points)(x, torch.full((5,), alpha, dtype=torch.float64),
                                    torch.full((5,), sigma, dtype=torch.float64))
    torch.testing.assert_close(got, _direct_posterior_mean(points, x, alpha, sigma), rtol=1e-9, atol=1e-9)


def test_ideal_denoiser_is_the_narrow_mixture_limit():
    # A mixture of Gaussians of std 1e-4 around the points is, to that precision, the finite set itself.
    points = torch.tensor([[-1.0, 0.5], [0.3, 0.2], [1.2, -0.7]], dtype=torch.float64)
    schedule = VPLinear()
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    t = torch.full((50,), 0.4, dtype=torch.float64)
    ideal = exact.empirical_denoiser(points, schedule)(x, t).x0
    narrow = exact.mixture_denoiser(toy.GaussianMixture(points, 1e-4), schedule, target="x0")(x, t).x0
    torch.testing.assert_close(ideal, narrow, rtol=0, atol=1e-6)


def test_ideal_denoiser_limits():
    points = torch.tensor([[0.0, 2.0], [4.0, -2.0]])
    ideal = exact.EmpiricalX0(points)
    x = torch.tensor([[3.9, -1.9]])
    # Pure noise (alpha -> 0): x_t says nothing, the answer is the training mean.
    torch.testing.assert_close(ideal(x, torch.tensor([0.0]), torch.tensor([1.0])), points.mean(0, keepdim=True))
    # Almost no noise: the nearest training point.
    torch.testing.assert_close(ideal(x, torch.tensor([1.0]), torch.tensor([1e-3])), points[1:])


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_sampling_with_the_ideal_denoiser_returns_training_points(sampler):
    g = torch.Generator().manual_seed(2)
    points = toy.ring(k=20).means + 0.02 * torch.randn(20, 2, generator=g)  # training points ~0.6 apart
    schedule = VPLinear()
    model = exact.empirical_denoiser(points, schedule)
    x = torch.randn(200, 2, generator=g)
    run = getattr(samplers, sampler)
    kwargs = {"generator": g} if sampler == "ddpm" else {}
    x = samplers.run(run(model, x, schedules.uniform_grid(200), schedule, **kwargs))
    d, _ = metrics.nearest(x, points, 1)
    assert d.max() < 0.02  # every sample sits on a training point
    assert metrics.copy_share(x, points) == 1.0


def test_ideal_denoiser_images_and_bad_shapes():
    images = torch.rand(4, 1, 3, 3) * 2 - 1
    model = exact.empirical_denoiser(images, VPLinear())
    assert model.sample_shape == (1, 3, 3)
    out = model(images, torch.full((4,), 1e-3)).x0
    torch.testing.assert_close(out, images, atol=1e-4, rtol=0)  # at t ~ 0 each image is its own answer
    with pytest.raises(ValueError, match=r"shape \(B, 1, 3, 3\)"):
        model(torch.zeros(2, 9), torch.full((2,), 0.5))
    with pytest.raises(ValueError, match="float tensor"):
        exact.EmpiricalX0(torch.zeros(3, dtype=torch.long))


def test_nearest_ratio_separates_copies_near_copies_and_new_samples():
    g = torch.Generator().manual_seed(3)
    train = torch.randn(300, 16, generator=g)
    copies = train[:100].clone()
    near = train[:100] + 0.05 * torch.randn(100, 16, generator=g)  # 5% of a coordinate's spread
    fresh = torch.randn(100, 16, generator=g)  # the same law, new draws
    assert metrics.nearest_ratio(copies, train).max() < 1e-6  # 0 up to rounding
    assert metrics.copy_share(copies, train) == 1.0
    assert metrics.copy_share(near, train) == 1.0
    # New draws in 16-D sit at comparable distances from several training points: ratio near 1.
    assert metrics.copy_share(fresh, train) == 0.0
    assert metrics.nearest_ratio(fresh, train).median() > 0.8


def test_nearest_matches_a_brute_force_search():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(20, 5, generator=g), torch.randn(30, 5, generator=g)
    d, i = metrics.nearest(a, b, 2)
    full = ((a[:, None] - b[None]) ** 2).sum(-1).sqrt()
    order = full.argsort(1)
    assert torch.equal(i, order[:, :2])
    torch.testing.assert_close(d.float(), full.gather(1, order[:, :2]))


def test_pair_similarity():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    b = torch.tensor([[2.0, 0.0], [-1.0, -1.0], [0.0, 3.0]])
    torch.testing.assert_close(metrics.pair_similarity(a, b), torch.tensor([1.0, -1.0, 0.0]))
    # Centred at the mean image, two images that differ from it in opposite ways are opposite: -1.
    mean = torch.rand(1, 8, 8)
    up, down = mean + 0.1, mean - 0.1
    assert metrics.pair_similarity(up[None], down[None]).item() > 0.5  # raw: both mostly "the mean"
    assert metrics.pair_similarity(up[None], down[None], centre=mean).item() == pytest.approx(-1.0)
    assert metrics.pair_similarity(up[None], up[None], centre=0.5).item() == pytest.approx(1.0)


def test_memorisation_errors():
    with pytest.raises(ValueError, match="same kind of data"):
        metrics.nearest(torch.zeros(3, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="at least 2 training points"):
        metrics.nearest_ratio(torch.zeros(3, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="ratio must be in"):
        metrics.copy_share(torch.zeros(3, 2), torch.zeros(5, 2), ratio=0)
    with pytest.raises(ValueError, match="same shape"):
        metrics.pair_similarity(torch.zeros(3, 2), torch.zeros(4, 2))
