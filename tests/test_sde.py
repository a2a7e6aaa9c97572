"""The SDE view and its solvers: the SDE coefficients against closed forms, the probability-flow ODE of
Song et al. (eq. 13, in t) against the solvers in y = x / alpha, Heun's quality with the exact
denoiser, the orders of convergence of Euler and Heun, and the stochastic samplers' mode weights."""

import math

import pytest
import torch

from minidiff import exact, nfe, samplers, schedules, sde, toy
from minidiff.core.samplers import run


def test_sde_coefficients_match_closed_forms():
    t = torch.tensor([0.05, 0.3, 0.7, 0.95], dtype=torch.float64)
    vp = schedules.VPLinear()
    f, g2 = sde.sde_coefficients(vp, t)
    # VP SDE (Song et al. 2021, eq. 11): dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw
    assert torch.allclose(f, -0.5 * vp.beta(t), atol=1e-10)
    assert torch.allclose(g2, vp.beta(t), atol=1e-9)
    ve = schedules.VE(0.01, 50.0)
    f, g2 = sde.sde_coefficients(ve, t)
    # VE SDE (eq. 9): no drift, g^2 = d sigma^2 / dt = 2 sigma^2 log(sigma_max / sigma_min)
    assert torch.equal(f, torch.zeros_like(t))
    assert torch.allclose(g2, 2 * ve.sigma(t) ** 2 * math.log(5000.0), rtol=1e-10)


@pytest.mark.parametrize("schedule", [schedules.VPCosine(), schedules.VE(0.02, 20.0)], ids=["cosine", "VE"])
def test_sde_keeps_the_marginal_variance(schedule):
    # For data N(0, v0) the SDE's variance obeys dv/dt = 2 f v + g^2; the schedule says
    # v(t) = alpha^2 v0 + sigma^2. Compare the two with a central difference.
    t = torch.tensor([0.1, 0.4, 0.8], dtype=torch.float64)
    v0, h = 0.7, 1e-5

    def v(t):
        return schedule.alpha(t) ** 2 * v0 + schedule.sigma(t) ** 2

    f, g2 = sde.sde_coefficients(schedule, t)
    assert torch.allclose((v(t + h) - v(t - h)) / (2 * h), 2 * f * v(t) + g2, rtol=1e-6)


def test_heun_solves_the_probability_flow_ode_of_song_et_al():
    # Integrate eq. 13 in t, dx/dt = f x - 1/2 g^2 score, with 200 midpoint steps from t = 0.9 to 0.1
    # (error 2.5e-4 against a fine solve), and compare with 80 Heun steps in y = x / alpha (error
    # 5e-4): the same ODE written in other coordinates. A wrong factor on the score would be off by O(1).
    schedule, gm = schedules.VPLinear(), toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def drift(x, t):
        t64 = torch.tensor(t, dtype=torch.float64)
        f, g2 = sde.sde_coefficients(schedule, t64)
        score = gm.noised(schedule.alpha(t64).item(), schedule.sigma(t64).item()).score(x)
        return sde.pf_ode_drift(x, score, f, g2)

    ts = torch.linspace(0.9, 0.1, 201, dtype=torch.float64).tolist()
    xt = x
    for t, t_next in zip(ts, ts[1:]):  # the explicit midpoint rule, second order
        xt = xt + (t_next - t) * drift(xt + 0.5 * (t_next - t) * drift(xt, t), 0.5 * (t + t_next))
    xh = run(samplers.heun(model, x, torch.linspace(0.9, 0.1, 81, dtype=torch.float64), schedule))
    assert (xt - xh).norm(dim=1).max() < 1.5e-3


def test_heun_reaches_the_floor_within_40_nfe():
    schedule, gm = schedules.VPLinear(), toy.ring()
    model = exact.mixture_denoiser(gm, schedule)
    points, floor = nfe.quality_vs_nfe(model, gm.sample, schedule, names=("heun",), nfes=(40,),
                                       n=4000, runs=9, seed=0)
    (p,) = points
    # The median over 9 runs of 4000 points: at 39 NFE Heun measured 0.87-1.06 over seeds 0-3, the
    # same as at 159 NFE (its endpoint error, 0.02, is a quarter of the floor, 0.07); with 5 runs the
    # median still wandered up to 1.24, so 9 it is.
    assert p.nfe <= 40 and p.quality < 1.2, p


@pytest.fixture(scope="module")
def endpoint_errors():
    schedule, gm = schedules.VPLinear(), toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    x = samplers.prior_sample(300, 2, schedule, 1.0, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return nfe.endpoint_errors(model, x, schedule, ("euler", "heun"), nfes=(20, 40, 80, 160), reference_steps=500)


def test_order_of_convergence(endpoint_errors):
    # Measured here: Euler 0.075/0.035/0.017/0.0084 at 20/40/80/160 NFE (slope -1.05), Heun
    # 0.17/0.022/0.0043/0.00099 at 19/39/79/159; Heun's asymptotic regime starts near 40 NFE,
    # so its slope is fitted there. The reference (999 NFE of Heun) is off by ~3e-5, below every error.
    (n_e, err_e), (n_h, err_h) = endpoint_errors["euler"], endpoint_errors["heun"]
    assert -1.25 < nfe.fit_order(n_e, err_e) < -0.85
    assert -2.5 < nfe.fit_order(n_h[1:], err_h[1:]) < -1.75
    # From about 40 NFE on Heun is more accurate for the same NFE, and more so as NFE grows
    # (measured ratios 1.6, 4, 8.5); at 20 NFE Heun is still worse than Euler.
    assert err_h[0] > err_e[0]
    for ne, ee, nh, eh in zip(n_e[1:], err_e[1:], n_h[1:], err_h[1:]):
        assert nh <= ne and eh < ee


def test_nfe_counts_and_step_contract(device):
    vp, ve = schedules.VPLinear(), schedules.VE(0.01, 50.0)
    gm = toy.ring()
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(2)).to(device)
    for schedule, heun_calls in ((vp, 2 * 8 - 1), (ve, 2 * 8)):  # VP's grid ends at s = 0: Euler there
        model = samplers.CountCalls(exact.mixture_denoiser(gm, schedule))
        ts = schedules.karras_grid(8, schedule)
        steps = list(samplers.heun(model, x.clone(), ts, schedule))
        assert model.calls == heun_calls
        assert [s.t for s in steps] == pytest.approx(ts[1:].tolist())
        assert steps[-1].x.device == x.device and steps[-1].x.dtype == x.dtype


@pytest.mark.parametrize("name", ["euler_maruyama", "predictor_corrector"])
def test_stochastic_samplers_get_the_mode_weights(name):
    # two_modes: weights 0.8 / 0.2 at x = -3 / +3. With 4000 points the binomial standard error of
    # the right-hand fraction is sqrt(0.16 / 4000) = 0.0063; allow 5 of them.
    schedule, gm = schedules.VPLinear(), toy.two_modes()
    model = exact.mixture_denoiser(gm, schedule)
    x, _ = nfe.sample(name, model, 4000, 60, schedule, generator=torch.Generator().manual_seed(3))
    right = (x[:, 0] > 0).double().mean().item()
    assert abs(right - 0.2) < 5 * math.sqrt(0.16 / 4000)
    spread = x[x[:, 0] > 0, 0].std().item()
    assert abs(spread - 0.5) < 0.05  # each mode keeps its std 0.5 (se of a std of 800 points: 0.013)


def test_bad_grids_are_refused():
    model = exact.mixture_denoiser(toy.ring(), schedules.VPCosine(alpha_bar_min=0.0))
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="alpha"):
        run(samplers.heun(model, x, schedules.uniform_grid(4), schedules.VPCosine(alpha_bar_min=0.0)))
    with pytest.raises(ValueError, match="decrease"):
        run(samplers.euler(model, x, torch.tensor([0.2, 0.5]), schedules.VPLinear()))
    with pytest.raises(ValueError, match="unknown sampler"):
        nfe.steps_for_nfe("rk4", 10)


def test_sde_coefficients_of_a_schedule_with_only_alpha_and_sigma():
    # A learner's schedule writes alpha and sigma only; the base class differentiates them, and the
    # SDE must be the VP SDE of the linear schedule it copies (Song et al. 2021, eq. 11).
    vp = schedules.VPLinear()

    class Mine(schedules.Schedule):
        def alpha(self, t):
            return vp.alpha(t)

        def sigma(self, t):
            return vp.sigma(t)

    t = torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64)
    f, g2 = sde.sde_coefficients(Mine(), t)
    assert torch.allclose(f, -0.5 * vp.beta(t), rtol=1e-9) and torch.allclose(g2, vp.beta(t), rtol=1e-9)
    f, g2 = sde.sde_coefficients(Mine(), 0.5)  # a plain number too
    assert abs(g2.item() - vp.beta(0.5).item()) < 1e-5
