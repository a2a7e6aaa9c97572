"""Denoising score matching, checked against the closed forms of a single Gaussian.

For data x0 ~ N(mu, s^2 I) in D dimensions, x0 + sigma eps ~ N(mu, (s^2 + sigma^2) I), whose score
-(x - mu) / (s^2 + sigma^2) is known exactly; the DSM loss must be smallest there, with the value
D/2 * s^2 / (s^2 + sigma^2) (the part of the noise no function of xt can predict). The losses run
on the one clock: a model is a Denoiser on a VE schedule, a level is a time t with sigma = sigma(t).
"""

import math

import pytest
import torch

from minidiff.worlds.exact import mixture_denoiser
from minidiff.core.losses import dsm_loss, dsm_target, score_error
from minidiff.core.nets import MLP
from minidiff.core.params import Denoiser
from minidiff.core.schedules import VE, VPLinear
from minidiff.worlds.toy import GaussianMixture

D, S = 2, 0.7
MU = torch.tensor([0.5, -1.0], dtype=torch.float64)
SIGMA_MIN, SIGMA_MAX = 0.05, 4.0
SCHEDULE = VE(SIGMA_MIN, SIGMA_MAX)


def t_of(sigma):
    """The time of noise level sigma on SCHEDULE, written out: sigma = sigma_min (max/min)^t."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return torch.log(sigma / SIGMA_MIN) / math.log(SIGMA_MAX / SIGMA_MIN)


def model(score):
    """A score function of (xt, sigma (B,)) as a Denoiser on SCHEDULE (the network predicts the score)."""
    return Denoiser(lambda x, t: score(x, SCHEDULE.sigma(t)), SCHEDULE, target="score")


def exact_score(xt, sigma):
    return -(xt - MU.to(xt)) / (S**2 + sigma.reshape(-1, 1) ** 2)


def whitened(n: int, seed: int = 0):
    """x0 and eps whose empirical means are 0 and joint covariance exactly I: every expectation of
    a quadratic of (x0, eps) over this sample equals the population one, so no Monte Carlo error."""
    z = torch.randn(n, 2 * D, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    z = z - z.mean(0)
    chol = torch.linalg.cholesky(z.T @ z / n)
    z = torch.linalg.solve_triangular(chol, z.T, upper=False).T  # (n, 2D), covariance exactly I
    return MU + S * z[:, :D], z[:, D:]


def test_value_at_exact_score_is_the_irreducible_part():
    sigma = 0.4
    x0, eps = whitened(1000)
    loss = dsm_loss(model(exact_score), x0, [t_of(sigma)], eps=eps)
    assert loss.item() == pytest.approx(D / 2 * S**2 / (S**2 + sigma**2), abs=1e-12)


def test_an_eps_network_pays_half_its_squared_noise_error():
    # Through the Denoiser, score = -eps_net / sigma: the weighted DSM loss is 1/2 |eps - eps_net|^2.
    torch.manual_seed(0)
    net = MLP(hidden=16, depth=1).double()
    x0, eps = whitened(300, seed=9)
    t = t_of(0.8)
    want = 0.5 * ((net(x0 + 0.8 * eps, t.expand(300)) - eps) ** 2).sum(1).mean()
    assert dsm_loss(Denoiser(net, SCHEDULE), x0, t, eps=eps).item() == pytest.approx(want.item(), rel=1e-10)


def test_gradient_of_a_linear_score_matches_closed_form_and_vanishes_at_exact_score():
    # s(x) = W x + b; with r = W x~ + b + eps / sigma the loss is sigma^2/2 E|r|^2, so
    # dL/dW = sigma^2 [(W mu + b) mu^T + (s^2 + sigma^2) W + I] and dL/db = sigma^2 (W mu + b).
    sigma = 0.9
    x0, eps = whitened(500, seed=1)
    g = torch.Generator().manual_seed(2)
    exact_w = -torch.eye(D, dtype=torch.float64) / (S**2 + sigma**2)
    exact_b = MU / (S**2 + sigma**2)
    for w0, b0 in [(exact_w, exact_b), (torch.randn(D, D, generator=g, dtype=torch.float64),
                                        torch.randn(D, generator=g, dtype=torch.float64))]:
        w, b = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
        dsm_loss(model(lambda xt, s: xt @ w.T + b), x0, t_of(sigma), eps=eps).backward()
        m = w0 @ MU + b0
        want_w = sigma**2 * (torch.outer(m, MU) + (S**2 + sigma**2) * w0 + torch.eye(D))
        assert torch.allclose(w.grad, want_w, atol=1e-10)
        assert torch.allclose(b.grad, sigma**2 * m, atol=1e-10)
    assert w0.abs().max() > 0.1 and want_w.abs().max() > 0.1  # the random point is far from exact


def test_exact_score_beats_perturbed_scores_over_many_levels(device):
    sigmas = torch.tensor([2.0, 1.0, 0.5, 0.1])
    x0 = (MU + S * torch.randn(200_000, D, dtype=torch.float64,
                               generator=torch.Generator().manual_seed(3))).float().to(device)

    def loss(score):  # the same seed each time: common random numbers, so differences are real
        gen = torch.Generator(device).manual_seed(4)
        return dsm_loss(model(score), x0, t_of(sigmas), generator=gen).item()

    exact = loss(exact_score)
    # Each point's term is v_l chi^2_D / 2 with v_l = s^2 / (s^2 + sigma_l^2) at a uniform level l.
    v = S**2 / (S**2 + sigmas.double() ** 2)
    mean = D / 2 * v.mean().item()
    var = (v**2).mean().item() * (D**2 + 2 * D) / 4 - mean**2
    assert abs(exact - mean) < 5 * math.sqrt(var / len(x0))  # 5 standard errors
    for wrong in (lambda xt, s: 1.1 * exact_score(xt, s), lambda xt, s: exact_score(xt, s) + 0.1,
                  lambda xt, s: exact_score(xt, s * 1.2)):
        assert loss(wrong) > exact + 1e-3


def test_target_is_the_score_of_the_noising_kernel():
    # dsm_target = grad_xt log N(xt; x0, sigma^2 I), by autograd, for a number and per-point sigmas.
    g = torch.Generator().manual_seed(5)
    x0, xt = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    for sigma in (0.3, torch.rand(6, generator=g, dtype=torch.float64) + 0.1):
        x = xt.clone().requires_grad_(True)
        s = torch.as_tensor(sigma).reshape(-1, 1)
        log_q = torch.distributions.Normal(x0, s.expand_as(x0)).log_prob(x).sum()
        (grad,) = torch.autograd.grad(log_q, x)
        assert torch.allclose(dsm_target(x0, xt, sigma), grad, atol=1e-12)


def test_images_and_levels_follow_the_input():
    # Works for any shape (B, C, H, W) and is seeded by the generator.
    x0 = torch.randn(4, 1, 3, 3)
    net = model(lambda xt, s: -xt / (1 + s[:, None, None, None] ** 2))
    a = dsm_loss(net, x0, [1.0, 0.5], generator=torch.Generator().manual_seed(0))
    b = dsm_loss(net, x0, [1.0, 0.5], generator=torch.Generator().manual_seed(0))
    assert a.ndim == 0 and a.item() == b.item() > 0


def test_bad_input_says_what_to_do():
    x0 = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"times in \[0, 1\].*t_from_sigma"):  # noise levels, not times
        dsm_loss(model(exact_score), x0, [4.0, 1.0])
    with pytest.raises(ValueError, match="wrap the network"):  # a bare network: what does it predict?
        dsm_loss(MLP(hidden=8, depth=1), x0, 0.5)
    with pytest.raises(ValueError, match="wrap the network"):  # a score function of (x, sigma)
        dsm_loss(exact_score, x0, 0.5)
    with pytest.raises(ValueError, match="VE schedule.*diffusion_loss"):
        dsm_loss(Denoiser(MLP(hidden=8, depth=1), VPLinear()), x0, 0.5)
    with pytest.raises(ValueError, match="eps must have the shape"):
        dsm_loss(model(exact_score), x0, 0.5, eps=torch.zeros(3, 3))
    gm = GaussianMixture(MU[None].float(), torch.tensor([S]))
    with pytest.raises(ValueError, match="wrap the network"):
        score_error(MLP(hidden=8, depth=1), gm, 0.5)
    with pytest.raises(ValueError, match=r"t must be a time in \[0, 1\]"):
        score_error(model(exact_score), gm, 2.0)


def test_score_error_is_zero_for_the_exact_score_and_measures_the_excess_loss():
    gm = GaussianMixture(MU[None].float(), torch.tensor([S]))
    sigma = 0.5
    t = t_of(sigma).item()
    exact = lambda xt, s: gm.noised(1, sigma).score(xt)  # noqa: E731
    shifted = lambda xt, s: exact(xt, s) + torch.tensor([0.3, -0.4])  # noqa: E731  |shift| = 0.5
    assert score_error(mixture_denoiser(gm, SCHEDULE), gm, t) < 1e-6
    assert score_error(model(shifted), gm, t) == pytest.approx(sigma * 0.5, rel=1e-5)
    # Relative: 1 for a score of 0, |c - 1| for c times the exact score.
    assert score_error(model(lambda xt, s: 0 * xt), gm, t, relative=True) == pytest.approx(1.0)
    assert score_error(model(lambda xt, s: 0.7 * exact(xt, s)), gm, t, relative=True) == pytest.approx(0.3)
    # Half its square is what the DSM loss pays above its minimum. For c times the exact score,
    # E sigma^2 |(c - 1) s|^2 = (c - 1)^2 D sigma^2 / (S^2 + sigma^2) in closed form.
    want = 0.3**2 * D * sigma**2 / (S**2 + sigma**2)
    x0, eps = whitened(1000, seed=6)  # exact moments: the DSM values carry no sampling error
    gm64 = GaussianMixture(MU[None], torch.tensor([S], dtype=torch.float64))
    exact64 = lambda xt, s: gm64.noised(1, sigma).score(xt)  # noqa: E731
    excess = (dsm_loss(model(lambda xt, s: 1.3 * exact64(xt, s)), x0, t, eps=eps)
              - dsm_loss(model(exact64), x0, t, eps=eps)).item()
    assert excess == pytest.approx(want / 2, abs=1e-12)
    # score_error estimates its square root from 100,000 points: |s|^2 is a scaled chi^2 with 2
    # degrees of freedom, so the relative standard error of err is 0.5 / sqrt(n) = 0.16%; 0.8% is 5 SE.
    err = score_error(model(lambda xt, s: 1.3 * exact(xt, s)), gm, t, n=100_000,
                      generator=torch.Generator().manual_seed(8))
    assert err == pytest.approx(math.sqrt(want), rel=0.008)
