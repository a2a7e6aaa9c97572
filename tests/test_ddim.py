"""DDIM (Song, Meng & Ermon 2021): eta = 1 is DDPM with the posterior variance, eta = 0 is deterministic
and is Euler's method for the probability-flow ODE, and one step matches the paper's eq. 12 written
in its own alpha_bar notation."""

import math

import pytest
import torch

from minidiff import exact, samplers, schedules, toy
from minidiff.core.samplers import ddim, ddpm, run

SCHEDULES = [schedules.VPLinear(), schedules.VE(0.01, 50.0), schedules.DiscreteDDPM(schedules.linear_betas(1000))]


def _setup(schedule, device, n=300):
    gm = toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    x = samplers.prior_sample(n, 2, schedule, 0.98, generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64).to(device)
    return model, x


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_eta_one_is_ddpm_with_the_posterior_variance(schedule, device):
    model, x = _setup(schedule, device)
    ts = schedules.uniform_grid(40, 0.98)
    a = run(ddim(model, x, ts, schedule, eta=1.0, generator=torch.Generator().manual_seed(7)))
    b = run(ddpm(model, x, ts, schedule, variance="posterior", generator=torch.Generator().manual_seed(7)))
    # The same noise drawn in the same order: equal up to float64 rounding (measured ~1e-13).
    assert torch.allclose(a, b, atol=1e-9, rtol=0)
    # ...and not by accident: another seed gives other samples.
    c = run(ddim(model, x, ts, schedule, eta=1.0, generator=torch.Generator().manual_seed(8)))
    assert (a - c).abs().max() > 0.1


def test_eta_zero_is_deterministic_and_is_euler(device):
    schedule = schedules.VPLinear()
    model, x = _setup(schedule, device)
    ts = schedules.karras_grid(12, schedule)
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    a = run(ddim(model, x, ts, schedule, eta=0.0, generator=g))
    assert torch.equal(g.get_state(), state)  # no noise was drawn
    b = run(ddim(model, x, ts, schedule, eta=0.0, generator=torch.Generator().manual_seed(99)))
    assert torch.equal(a, b)
    # DDIM's deterministic step is Euler's step for dy/ds = eps in y = x / alpha (section 4.3).
    e = run(samplers.euler(model, x, ts, schedule))
    assert torch.allclose(a, e, atol=1e-12, rtol=0)


def _paper_step(x, eps, ab, ab_prev, eta, z):
    """Eq. 12 of Song, Meng & Ermon 2021 in the paper's own notation (alpha there = our alpha_bar)."""
    sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)  # eq. 16
    x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
    return math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev - sigma**2) * eps + sigma * z


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_one_step_matches_the_paper(eta):
    schedule = schedules.DiscreteDDPM(schedules.linear_betas(1000))
    gm = toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    t, s = 0.6, 0.35
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = run(ddim(model, x, torch.tensor([t, s], dtype=torch.float64), schedule, eta=eta, generator=torch.Generator().manual_seed(4)))
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    eps = model(x, torch.full((50,), t, dtype=torch.float64)).eps
    ab, ab_prev = (schedule.alpha_bar(torch.tensor(v, dtype=torch.float64)).item() for v in (t, s))
    assert torch.allclose(out, _paper_step(x, eps, ab, ab_prev, eta, z), atol=1e-12, rtol=0)


def test_bad_eta_and_grid_are_refused():
    schedule = schedules.VPLinear()
    model, x = _setup(schedule, torch.device("cpu"), n=4)
    with pytest.raises(ValueError, match="eta"):
        run(ddim(model, x, schedules.uniform_grid(5), schedule, eta=1.5))
    with pytest.raises(ValueError, match="decrease"):
        run(ddim(model, x, torch.tensor([0.1, 0.5]), schedule))
