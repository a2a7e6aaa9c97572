"""exact.reverse_step_density against its closed form: for a mixture of Gaussians the reverse step
q(x_{t-1} | x_t) is again a mixture of Gaussians, each component's posterior by the Gaussian
product rule (Bishop 2006, eq. 2.116), reweighted by how well it explains x_t (eq. 2.115)."""

import math

import pytest
import torch

from minidiff import exact, toy


def closed_form(means, stds, weights, alpha_prev, sigma_prev, beta, xt, ys):
    """sum_k w'_k N(y; M_k, 1 / P_k): prior N(m_k, v_k) at t - 1, likelihood N(x_t; a y, beta), a = sqrt(1 - beta)."""
    a = math.sqrt(1 - beta)
    density = torch.zeros_like(ys)
    evidence = []
    for mu, s, w in zip(means, stds, weights):
        m, v = alpha_prev * mu, alpha_prev**2 * s**2 + sigma_prev**2
        precision = 1 / v + a**2 / beta
        mean = (m / v + a * xt / beta) / precision
        # how likely x_t is under this component: N(x_t; a m, a^2 v + beta)
        ev = w * math.exp(-0.5 * (xt - a * m) ** 2 / (a**2 * v + beta)) / math.sqrt(2 * math.pi * (a**2 * v + beta))
        evidence.append(ev)
        density += ev * torch.exp(-0.5 * precision * (ys - mean) ** 2) * math.sqrt(precision / (2 * math.pi))
    return density / sum(evidence)


@pytest.mark.parametrize("beta,xt", [(0.02, 0.7), (0.3, -1.2), (0.9, 2.5)])
def test_reverse_step_density_is_the_closed_form(beta, xt):
    means, stds, weights = [-1.5, 2.0], [0.3, 0.6], [0.7, 0.3]
    gm = toy.GaussianMixture(torch.tensor(means, dtype=torch.float64)[:, None],
                             torch.tensor(stds, dtype=torch.float64), torch.tensor(weights, dtype=torch.float64))
    alpha_prev, sigma_prev = 0.8, 0.6
    ys = torch.linspace(-8, 8, 8001, dtype=torch.float64)  # fine and wide: the grid's sum is the integral
    got = exact.reverse_step_density(gm, alpha_prev, sigma_prev, beta, xt, ys)
    want = closed_form(means, stds, weights, alpha_prev, sigma_prev, beta, xt, ys)
    assert torch.allclose(got, want, atol=1e-9 * want.max().item(), rtol=0)


def test_reverse_step_density_refuses_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        exact.reverse_step_density(toy.ring(), 0.8, 0.6, 0.1, 0.0, torch.linspace(-1, 1, 5))
    one = toy.GaussianMixture(torch.zeros(1, 1), torch.ones(1))
    with pytest.raises(ValueError, match="beta"):
        exact.reverse_step_density(one, 0.8, 0.6, 1.0, 0.0, torch.linspace(-1, 1, 5))
