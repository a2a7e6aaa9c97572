"""Log-likelihood through the probability-flow ODE: with the exact score it must give the mixture's
own log-density; the divergence is checked against closed forms; Hutchinson's estimate is unbiased."""

import math

import pytest
import torch

from minidiff import exact, likelihood, schedules, toy


@pytest.mark.parametrize("name,schedule", [("ring", schedules.VPLinear()), ("two_modes", schedules.VE(0.002, 80.0))])
def test_exact_score_likelihood_matches_log_prob(name, schedule):
    gm = getattr(toy, name)().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    x = gm.sample(300, generator=torch.Generator().manual_seed(0))
    ts = schedules.karras_grid(100, schedule).double()
    ts = ts[:-1] if schedule.sigma(ts[-1]) == 0 else ts  # the data sit at the smallest level > 0
    lp = likelihood.log_likelihood(model, x, ts, schedule)
    # Measured on the ring: mean |error| 0.041 / 0.009 / 0.002 nats at 50 / 100 / 200 Heun steps.
    assert (lp - gm.log_prob(x)).abs().mean() < 0.05


def test_divergence_of_a_linear_map_is_its_trace():
    a = torch.tensor([[1.5, -0.3], [0.7, -2.0]], dtype=torch.float64)
    y = torch.randn(10, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out, div = likelihood.velocity_and_divergence(lambda y: y @ a.T, y)
    assert torch.allclose(out, y @ a.T) and torch.allclose(div, torch.full((10,), -0.5, dtype=torch.float64))
    # One Rademacher probe gives z^T A z = trace + the off-diagonal cross term, whose mean is 0.
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    _, est = likelihood.velocity_and_divergence(lambda y: y @ a.T, y[:2], z)
    assert torch.allclose(est, torch.tensor([-0.5 + 0.4, -0.5 - 0.4], dtype=torch.float64))


def test_hutchinson_is_unbiased():
    gm, schedule = toy.ring().to(torch.float64), schedules.VPLinear()
    model = exact.mixture_denoiser(gm, schedule)
    x = gm.sample(400, generator=torch.Generator().manual_seed(2))
    ts = schedules.karras_grid(40, schedule).double()[:-1]
    exact_lp = likelihood.log_likelihood(model, x, ts, schedule)
    hutch = likelihood.log_likelihood(model, x, ts, schedule, divergence="hutchinson",
                                      generator=torch.Generator().manual_seed(3))
    diff = hutch - exact_lp  # only the divergence differs: the ODE path is the same
    se = diff.std() / math.sqrt(len(diff))
    assert diff.std() > 0.1  # it is an estimate (about 1 nat per point here), not the exact value
    assert diff.mean().abs() < 5 * se


def test_bad_input_is_refused():
    schedule = schedules.VPLinear()
    model = exact.mixture_denoiser(toy.ring(), schedule)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="noise level > 0"):
        likelihood.log_likelihood(model, x, schedules.karras_grid(5, schedule), schedule)
    with pytest.raises(ValueError, match="divergence"):
        likelihood.log_likelihood(model, x, schedules.karras_grid(5, schedule)[:-1], schedule, divergence="trace")
