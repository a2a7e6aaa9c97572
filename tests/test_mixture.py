"""GaussianMixture is the ground truth of the course, so it is checked against independent truths:
autograd, torch.distributions, exact moments and exact one-dimensional CDFs."""

import math

import pytest
import torch
from torch import distributions as D

from minidiff.worlds.toy import GaussianMixture, ring, two_modes


def mixture(dtype=torch.float64) -> GaussianMixture:
    # Unequal weights, per-axis stds and overlapping components: nothing is symmetric by accident.
    means = torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.8]], dtype=dtype)
    stds = torch.tensor([[0.4, 0.7], [0.9, 0.3], [0.5, 0.5]], dtype=dtype)
    return GaussianMixture(means, stds, torch.tensor([0.5, 0.3, 0.2], dtype=dtype))


def reference(gm: GaussianMixture) -> D.Distribution:
    comps = D.Independent(D.Normal(gm.means, gm.stds), 1)
    return D.MixtureSameFamily(D.Categorical(probs=gm.weights), comps)


def test_log_prob_matches_torch_distributions(device):
    gm = mixture().to(device)
    x = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(device) * 2
    assert torch.allclose(gm.log_prob(x), reference(gm).log_prob(x), atol=1e-10)


def test_density_integrates_to_one():
    gm = mixture()
    h = 0.02
    g = torch.arange(-6, 6, h, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    total = gm.log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).exp().sum() * h * h
    assert abs(total.item() - 1) < 1e-6


def test_score_is_gradient_of_log_prob(device):
    gm = mixture().to(device)
    x = (torch.randn(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2).to(device)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(gm.log_prob(x).sum(), x)
    assert torch.allclose(gm.score(x.detach()), grad, atol=1e-10)


def test_score_follows_input_dtype_and_device(device):
    gm = mixture(torch.float64)  # parameters stay on the CPU in float64
    x = torch.zeros(4, 2, dtype=torch.float32, device=device)
    s = gm.score(x)
    assert s.dtype == torch.float32 and s.device.type == device.type


def test_sample_moments_and_weights():
    # Well separated modes, so the nearest mean tells which component drew the point.
    gm = GaussianMixture(torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]], dtype=torch.float64),
                         torch.tensor([0.5, 0.8, 0.6], dtype=torch.float64), [0.6, 0.3, 0.1])
    n = 100_000
    x = gm.sample(n, generator=torch.Generator().manual_seed(2))
    nearest = torch.cdist(x, gm.means).argmin(1)
    freq = torch.bincount(nearest, minlength=3).double() / n
    # Binomial standard error sqrt(w(1-w)/n) <= 0.0016; 5 standard errors is a 1-in-a-million miss.
    assert torch.allclose(freq, gm.weights, atol=5 * math.sqrt(0.25 / n))
    se_mean = gm.cov().diag().sqrt() / math.sqrt(n)
    assert ((x.mean(0) - gm.mean()).abs() < 5 * se_mean).all()
    # The variance of a sample covariance entry is at most about 3 var^2 / n for these
    # heavy-ish tailed mixtures: compare within 5 of those standard errors.
    scale = gm.cov().diag().max()
    assert torch.allclose(torch.cov(x.T), gm.cov(), atol=5 * math.sqrt(3 / n) * scale)


def _projected_cdf(gm: GaussianMixture, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    # The projection u . x of a diagonal Gaussian is Normal(u . mu, sqrt(sum u^2 s^2)).
    mu = gm.means @ u
    sd = ((gm.stds**2) @ (u**2)).sqrt()
    return (gm.weights * D.Normal(mu, sd).cdf(z[:, None])).sum(1)


@pytest.mark.parametrize("alpha,sigma", [(1.0, 0.0), (0.8, 0.6), (0.1, 0.995), (1.0, 3.0)])
def test_noised_matches_samples_noised_by_hand(alpha, sigma):
    gm = mixture()
    g = torch.Generator().manual_seed(3)
    n = 20_000
    x0 = gm.sample(n, generator=g)
    xt = alpha * x0 + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)
    exact = gm.noised(alpha, sigma)
    # Kolmogorov-Smirnov on five projections: the 0.1% critical value is 1.95 / sqrt(n) = 0.0138;
    # a wrong variance (say sigma instead of sigma^2) moves the CDF by more than 0.05.
    for angle in torch.linspace(0, math.pi, 5, dtype=torch.float64)[:-1].tolist() + [0.3]:
        u = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
        z = (xt @ u).sort().values
        empirical = torch.arange(1, n + 1, dtype=torch.float64) / n
        ks = (empirical - _projected_cdf(exact, u, z)).abs().max().item()
        assert ks < 1.95 / math.sqrt(n), f"projection {angle:.2f}: KS {ks:.4f}"


def test_noised_limits():
    gm = mixture()
    same = gm.noised(1.0, 0.0)
    assert torch.allclose(same.means, gm.means) and torch.allclose(same.stds, gm.stds)
    far = gm.noised(1e-4, 1.0)  # all signal gone: the standard normal
    x = torch.randn(10, 2, dtype=torch.float64)
    assert torch.allclose(far.score(x), -x, atol=1e-3)


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="means must have shape"):
        GaussianMixture(torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="3 means but 2 stds"):
        GaussianMixture(torch.zeros(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match="std must be > 0"):
        GaussianMixture(torch.zeros(2, 2), torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture(torch.zeros(2, 2), torch.ones(2), [0.5, -0.5])
    with pytest.raises(ValueError, match="sigma must be"):
        mixture().noised(1.0, -0.1)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        mixture().score(torch.zeros(5, 3, dtype=torch.float64))


def test_ready_made_mixtures():
    r = ring(8, radius=2.0, std=0.15)
    assert torch.allclose(r.means.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(r.mean(), torch.zeros(2), atol=1e-6)
    m = two_modes()
    assert torch.allclose(m.weights, torch.tensor([0.8, 0.2]))
