"""Conversions between eps, x0, score and v, against quantities built from their definitions, and
Tweedie's formula against the exact posterior mean of a Gaussian mixture."""

import itertools

import pytest
import torch

from minidiff import params
from minidiff.worlds.toy import GaussianMixture

KINDS = params.PREDICTIONS


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def truth(shape, alpha, sigma, seed=0, device="cpu"):
    """x0 and eps drawn, xt built from them: every kind of prediction is known by its definition."""
    x0 = torch.randn(shape, generator=gen(seed), dtype=torch.float64).to(device)
    eps = torch.randn(shape, generator=gen(seed + 1), dtype=torch.float64).to(device)
    a, s = params.expand_like(alpha, x0), params.expand_like(sigma, x0)
    xt = a * x0 + s * eps
    # For a single x0 the conditional score grad log N(xt; a x0, s^2 I) is -eps / s.
    return xt, {"eps": eps, "x0": x0, "score": -eps / s, "v": a * eps - s * x0}


# Scalars (VP and non-VP pairs) and per-sample (B,) values on image-shaped (B, C, H, W) tensors.
COEFS = [
    ((64, 2), 0.8, 0.6),
    ((64, 2), 1.0, 2.5),  # variance exploding: alpha = 1
    ((64, 2), 0.3, 0.4),  # alpha^2 + sigma^2 != 1
    ((5, 3, 4, 4), torch.tensor([0.99, 0.8, 0.5, 0.2, 0.05]), torch.tensor([0.1, 0.6, 0.87, 0.98, 1.2])),
]


@pytest.mark.parametrize("shape,alpha,sigma", COEFS)
@pytest.mark.parametrize("source,target", list(itertools.permutations(KINDS, 2)))
def test_every_named_conversion_matches_the_definitions(shape, alpha, sigma, source, target):
    xt, known = truth(shape, alpha, sigma)
    fn = getattr(params, f"{source}_to_{target}")
    assert torch.allclose(fn(known[source], xt, alpha, sigma), known[target], rtol=1e-10, atol=1e-10)
    # convert() takes the same route by name; going there and back returns the input.
    there = params.convert(known[source], source, target, xt, alpha, sigma)
    back = params.convert(there, target, source, xt, alpha, sigma)
    assert torch.allclose(back, known[source], rtol=1e-10, atol=1e-10)


def test_conversions_on_every_device(device):
    alpha, sigma = torch.tensor([0.9, 0.4]), torch.tensor([0.3, 0.95])
    xt, known = truth((2, 1, 3, 3), alpha, sigma)
    xt_d, known_d = truth((2, 1, 3, 3), alpha.to(device), sigma.to(device), device=device)
    for source, target in itertools.permutations(KINDS, 2):
        got = params.convert(known_d[source].float(), source, target, xt_d.float(), alpha, sigma)
        assert got.device.type == device.type and got.dtype == torch.float32
        assert torch.allclose(got.cpu().double(), known[target], rtol=1e-4, atol=1e-4)


def mixture() -> GaussianMixture:
    means = torch.tensor([[-1.5, 0.5], [1.0, -1.0], [0.5, 1.5]], dtype=torch.float64)
    stds = torch.tensor([[0.4, 0.6], [0.8, 0.3], [0.5, 0.5]], dtype=torch.float64)
    return GaussianMixture(means, stds, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))


def posterior_mean(gm: GaussianMixture, xt, alpha, sigma):
    """E[x0 | xt] by Bayes' rule, component by component (no score involved).

    Given component k, x0 ~ N(mu, s^2) and xt | x0 ~ N(alpha x0, sigma^2), so
    E[x0 | xt, k] = mu + alpha s^2 / (alpha^2 s^2 + sigma^2) (xt - alpha mu); the components are
    weighted by p(k | xt), the responsibilities under the noised mixture.
    """
    r = gm.noised(alpha, sigma).responsibilities(xt)  # (N, K)
    gain = alpha * gm.stds**2 / (alpha**2 * gm.stds**2 + sigma**2)  # (K, D)
    per_k = gm.means + gain * (xt[:, None, :] - alpha * gm.means)  # (N, K, D)
    return (r[:, :, None] * per_k).sum(1)


@pytest.mark.parametrize("alpha,sigma", [(0.9, 0.44), (0.5, 0.87), (1.0, 2.0)])
def test_tweedie_gives_the_exact_posterior_mean(alpha, sigma):
    gm = mixture()
    xt = gm.noised(alpha, sigma).sample(500, generator=gen(3))
    score = gm.noised(alpha, sigma).score(xt)
    denoised = params.score_to_x0(score, xt, alpha, sigma)
    assert torch.allclose(denoised, posterior_mean(gm, xt, alpha, sigma), atol=1e-10)
    # And so E[eps | xt] = -sigma * score: the best noise guess is the scaled score.
    expected_eps = (xt - alpha * posterior_mean(gm, xt, alpha, sigma)) / sigma
    assert torch.allclose(params.score_to_eps(score, xt, alpha, sigma), expected_eps, atol=1e-10)


def test_tweedie_against_monte_carlo():
    # Self-normalised importance sampling: draw x0 from the prior, weight each by N(xt; a x0, s^2).
    # 400,000 prior draws; the effective sample size at these points is several thousand, so the
    # Monte-Carlo error is about (posterior std ~0.4) / sqrt(ESS) < 0.01: a 0.03 band is > 3 errors.
    gm, alpha, sigma = mixture(), 0.7, 0.7
    x0 = gm.sample(400_000, generator=gen(4))  # (M, 2)
    xt = torch.tensor([[-1.0, 0.3], [0.2, 0.4], [0.8, -0.5]], dtype=torch.float64)
    logw = -((xt[:, None, :] - alpha * x0) ** 2).sum(-1) / (2 * sigma**2)  # (3, M)
    w = torch.softmax(logw, dim=1)
    ess = 1 / (w**2).sum(1)
    assert (ess > 2000).all(), ess
    mc = w @ x0  # (3, 2)
    denoised = params.score_to_x0(gm.noised(alpha, sigma).score(xt), xt, alpha, sigma)
    assert torch.allclose(denoised, mc, atol=0.03)


def test_expand_like_shapes_and_errors():
    x = torch.zeros(4, 3, 8, 8, dtype=torch.float64)
    assert params.expand_like(0.5, x).shape == () and params.expand_like(0.5, x).dtype == torch.float64
    per_sample = params.expand_like(torch.tensor([1.0, 2.0, 3.0, 4.0]), x)
    assert per_sample.shape == (4, 1, 1, 1) and per_sample.dtype == torch.float64
    assert torch.equal((per_sample * torch.ones_like(x))[2], torch.full((3, 8, 8), 3.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="one value per sample"):
        params.expand_like(torch.ones(3), x)
    with pytest.raises(ValueError, match="must be one of"):
        params.convert(x, "noise", "x0", x, 0.5, 0.5)
