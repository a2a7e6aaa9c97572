"""minidiff.worlds.ink against independent truths: the heat equation's closed form and the PDE itself,
particle histograms against the density, the OU closed form against the simulated chain, and
the library's VPLinear with constant beta as the Ornstein-Uhlenbeck process, and its reversal by
samplers.euler_maruyama with the exact denoiser against fresh samples of the data."""

import math

import numpy as np
import pytest
import torch

from minidiff import exact, forward, ink, metrics, params, samplers, schedules, sde, toy


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the heat equation --------------------------------------------------------------------------

def test_heat_equation_spreads_a_gaussian_to_variance_s0_squared_plus_2Dt():
    xs, h = ink.grid(4.0, 200)
    s0, D = 0.3, 0.5
    p0 = ink.gaussian_density(xs, s0)
    for t in (0.1, 0.5):
        p = ink.heat_equation(p0, D, t, h)
        exact = ink.gaussian_density(xs, math.sqrt(s0**2 + 2 * D * t))
        # Only quadrature error of the sampled kernel remains (about 1e-6 of the peak measured).
        assert np.abs(p - exact).max() < 1e-4 * exact.max()


def test_heat_equation_satisfies_the_pde():
    # dp/dt by a centred time difference against D times the five-point Laplacian: independent of
    # the Green's-function argument. Both are second order (h = 0.04 against a blob of width 0.6),
    # so they agree to O(h^2 / width^2), under 1% (0.1% measured).
    xs, h = ink.grid(4.0, 200)
    D, t, delta = 0.5, 0.3, 1e-3
    p0 = ink.gaussian_density(xs, 0.3)
    dpdt = (ink.heat_equation(p0, D, t + delta, h) - ink.heat_equation(p0, D, t - delta, h)) / (2 * delta)
    rhs = D * ink.laplacian(ink.heat_equation(p0, D, t, h), h)
    assert np.abs(dpdt - rhs).max() < 0.01 * np.abs(rhs).max()


def test_any_drop_gains_variance_2Dt_and_keeps_its_mass():
    xs, h = ink.grid(4.0, 240)
    p0 = ink.disc_density(xs, radius=0.5, center=(0.5, -0.3))
    mean0, var0 = ink.density_moments(p0, xs)
    for t in (0.05, 0.4):
        p = ink.heat_equation(p0, 0.5, t, h)
        mean, var = ink.density_moments(p, xs)
        assert abs(p.sum() * h * h - 1) < 1e-6  # the window is wide: no ink lost yet
        assert np.allclose(mean, mean0, atol=1e-6)
        assert np.allclose(var - var0, 2 * 0.5 * t, rtol=1e-3)


def test_a_drop_is_uniform_over_its_disc():
    # Uniform in a disc of radius r: every point inside, a quarter of them within r / 2, and a
    # per-axis variance r^2 / 4. Tolerances: 5 binomial / sampling standard errors.
    n, r = 40_000, 0.5
    x = ink.ink_drop(n, r, center=(1.0, -2.0), generator=gen(0)) - torch.tensor([1.0, -2.0])
    dist = x.norm(dim=1)
    assert dist.max() <= r + 1e-6
    assert abs((dist < r / 2).float().mean().item() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)
    # x = r sqrt(u) cos(a): E x^2 = r^2 / 4 and E x^4 = r^4 / 8, so x^2 has sd r^2 / 4.
    assert torch.allclose(x.var(0), torch.full((2,), r**2 / 4), atol=5 * (r**2 / 4) / math.sqrt(n))


def test_particles_histogram_matches_heat_equation_density():
    # Particles started uniformly in an off-centre disc walk for t = 0.1; their counts in
    # 0.125-wide cells are compared with N times the heat equation's mass in each cell (computed
    # on a 10x finer grid). Off-centre, so swapping x and y would show.
    n, D, t, radius, center = 40_000, 0.5, 0.1, 0.5, (0.6, -0.3)
    x0 = ink.ink_drop(n, radius, center, generator=gen(0))
    x = samplers.run(ink.random_walk(x0, D, 0.025, 4, generator=gen(1)))
    fine, h = ink.grid(2.0, 320)
    p = ink.heat_equation(ink.disc_density(fine, radius, center), D, t, h)
    expected = n * p.reshape(32, 10, 32, 10).sum((1, 3)) * h * h  # (32, 32) coarse cells
    counts = ink.histogram(x, ink.grid(2.0, 32)[0])
    keep = expected > 5  # the chi-square approximation needs a few expected counts per cell
    chi2, dof = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum(), keep.sum()
    # Under the null chi2 ~ chi-square(dof): mean dof, sd sqrt(2 dof); allow 5 standard deviations.
    assert abs(chi2 - dof) < 5 * math.sqrt(2 * dof), (chi2, dof)


def test_brownian_steps_add_variance_2Ddt_on_every_device(device):
    n, D, dt, steps = 20_000, 0.3, 0.02, 25
    x0 = torch.zeros(n, 2, device=device)
    x = samplers.run(ink.random_walk(x0, D, dt, steps, generator=gen(2)))
    assert x.device.type == device.type
    var = x.var(0).cpu()
    target = 2 * D * dt * steps
    # A sample variance of n Gaussians has standard error target * sqrt(2 / n): allow 5 of them.
    assert torch.allclose(var, torch.full((2,), target), atol=5 * target * math.sqrt(2 / n))


# --- the Ornstein-Uhlenbeck process: the library's VPLinear with constant beta ----------------

T = 6.0
OU = schedules.VPLinear(beta_min=T, beta_max=T)  # dx = -x/2 dtau + dW on the clock t = tau / T


def test_ou_is_vplinear_with_constant_beta():
    # alpha = exp(-tau/2), and the SDE of the schedule (Song et al. 2021, eq. 5) is dx = -x/2 dtau + dW:
    # in t = tau / T that is f = -T/2 and g^2 = T.
    tau = torch.tensor([0.0, 1e-6, 0.5, 3.0, 6.0], dtype=torch.float64)
    assert torch.allclose(OU.alpha(tau / T), torch.exp(-tau / 2), rtol=1e-13, atol=0)
    assert torch.allclose(OU.sigma(tau / T) ** 2, -torch.expm1(-tau), rtol=1e-10, atol=0)
    f, g2 = sde.sde_coefficients(OU, torch.tensor([0.1, 0.9], dtype=torch.float64))
    assert torch.allclose(f, torch.full((2,), -T / 2, dtype=torch.float64)) and torch.allclose(g2, torch.full((2,), T, dtype=torch.float64))


def test_closed_form_matches_the_simulated_chain(device):
    # Every particle starts at the same point, so the law at time t is N(alpha x0, sigma^2 I).
    n, t = 20_000, 0.25
    x0 = torch.tensor([3.0, -2.0], device=device).expand(n, 2)
    x = forward.q_chain(x0, schedules.discrete_betas(OU, 600)[:150], generator=gen(3))  # 150 of 600 steps: t = 0.25
    alpha, sigma = OU.alpha(t).item(), OU.sigma(t).item()
    # 5 standard errors each: sigma / sqrt(n) for the mean, sigma^2 sqrt(2 / n) for the variance.
    assert torch.allclose(x.mean(0).cpu(), alpha * x0[0].cpu(), atol=5 * sigma / math.sqrt(n))
    assert torch.allclose(x.var(0).cpu(), torch.full((2,), sigma**2), atol=5 * sigma**2 * math.sqrt(2 / n))


def test_every_cloud_converges_to_standard_normal_at_the_rate_alpha_predicts():
    # Given the start x0, E[mean_t] = alpha mean_0 and E[cov_t] = alpha^2 cov_0 + sigma^2 I: the
    # gaps to N(0, I) shrink as alpha and alpha^2. Tolerances: 5 standard errors of the noise's
    # part, sigma / sqrt(n) per mean entry; 2 alpha sigma sqrt(var_0 / n) + sigma^2 sqrt(2 / n)
    # per covariance entry (cross term plus the noise's own spread; var_0 <= 6.1 here).
    n = 20_000
    x0 = toy.two_modes().sample(n, generator=gen(5)).double()
    mean0, cov0 = x0.mean(0), torch.cov(x0.T)
    path = forward.q_chain(x0, schedules.discrete_betas(OU, 300), generator=gen(6), keep=True)  # (301, n, 2)
    for tau in (0.5, 1.0, 2.0, 3.0):
        x, a, s = path[round(tau / T * 300)], math.exp(-tau / 2), math.sqrt(1 - math.exp(-tau))
        assert (x.mean(0) - a * mean0).abs().max() < 5 * s / math.sqrt(n)
        se = 2 * a * s * math.sqrt(6.1 / n) + s**2 * math.sqrt(2 / n)
        expected = a**2 * cov0 + s**2 * torch.eye(2, dtype=x.dtype)
        assert (torch.cov(x.T) - expected).abs().max() < 5 * se
    # The gaps to N(0, I) fall by alpha and alpha^2 (10%: 4 standard errors; 25%: about 3.5).
    gap0, gap3 = ink.moment_gaps(x0), ink.moment_gaps(path[150])
    assert gap3[0] / gap0[0] == pytest.approx(math.exp(-1.5), rel=0.1)
    assert gap3[1] / gap0[1] == pytest.approx(math.exp(-3.0), rel=0.25)


# --- the time reversal, with the library's sampler and the exact denoiser -----------------------

class FlippedEps(exact.MixtureEps):
    """The exact eps with its sign flipped: the score points away from the data."""

    def forward(self, x, t):
        return -super().forward(x, t)


def reversed_cloud(mixture, n_steps: int, rho: float = 2.0, n: int = 2000, seed: int = 7, flip: bool = False):
    model = params.Denoiser(FlippedEps(mixture, OU), OU) if flip else exact.mixture_denoiser(mixture, OU)
    x_T = torch.randn(n, 2, generator=gen(seed))
    ts = schedules.uniform_grid(n_steps) ** rho  # rho = 2: small steps near t = 0, where the score is steep
    return samplers.run(samplers.euler_maruyama(model, x_T, ts, OU, generator=gen(seed + 1)))


def test_reversal_of_a_gaussian_returns_its_mean_and_stds():
    # One Gaussian N(m, diag(s^2)): the exact answer is known, so compare moments. Tolerances:
    # 5 standard errors (s / sqrt(n) for a mean, s / sqrt(2 n) for a std) plus 1% of s for
    # Euler-Maruyama's bias.
    m, s, n = torch.tensor([1.5, -1.0]), torch.tensor([0.3, 0.8]), 20_000
    x = reversed_cloud(toy.GaussianMixture(m[None], s[None]), 400, n=n)
    assert ((x.mean(0) - m).abs() < 5 * s / math.sqrt(n)).all(), x.mean(0)
    assert ((x.std(0) - s).abs() < 5 * s / math.sqrt(2 * n) + 0.01 * s).all(), x.std(0)


def test_reversal_with_the_exact_score_gathers_the_ring_again():
    # The reversal adds two small errors: starting from N(0, I) instead of the true law at tau = 6
    # (KL <= alpha^2 E|x0|^2 / 2 = 0.005) and Euler-Maruyama's O(dt).
    ring = toy.ring()
    x = reversed_cloud(ring, 400)
    ratio = metrics.in_floor_units(x, ring.sample, generator=gen(9))
    # one 2000-point draw is noisy: seeds 7-11 scored 0.99 to 1.89, exact samples 1.19 to 1.48
    assert ratio < 2.2, ratio
    # Each drop is as sharp as in the data (std 0.15): 5 standard errors of an rms over 2 n
    # numbers (5.6%) plus 4% for the discretisation.
    assert abs(ink.spread_around_modes(ring, x) - 0.15) < 0.15 * (0.056 + 0.04)
    # ... and every mode gets its share: 1/8 each, binomial sd 0.0074, allow 5 sd.
    shares = torch.bincount(ring.responsibilities(x).argmax(1), minlength=8) / len(x)
    assert (shares - 1 / 8).abs().max() < 5 * math.sqrt(1 / 8 * 7 / 8 / len(x))


def test_reversal_with_too_few_steps_or_a_flipped_score_fails():
    ring = toy.ring()
    coarse = reversed_cloud(ring, 10, rho=1.0)  # ten equal steps
    assert metrics.in_floor_units(coarse, ring.sample, generator=gen(9)) > 2.0
    assert ink.spread_around_modes(ring, coarse) > 0.3
    flipped = reversed_cloud(ring, 400, flip=True)
    assert not torch.isfinite(flipped).all() or flipped.norm(dim=1).median() > 100


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="dt must be"):
        ink.brownian_step(torch.zeros(3, 2), 1.0, 0.0)
