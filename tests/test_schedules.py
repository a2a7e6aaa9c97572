"""Schedules against independent truths: the published formulas, a product computed by a Python
loop, autograd, quadrature, and the rho-spaced formula of Karras et al. 2022."""

import math

import pytest
import torch

from minidiff.core.schedules import (VE, DiscreteDDPM, Schedule, VPCosine, VPLinear, cosine_betas,
                                discrete_betas, from_config, karras_grid, linear_betas, uniform_grid)


def float_for(device):
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def all_schedules():
    return [VPLinear(), VPLinear(0.5, 5.0), VPCosine(), VPCosine(s=0.1), VE(), VE(0.1, 10.0),
            DiscreteDDPM(linear_betas(100)), DiscreteDDPM(cosine_betas(50))]


VP = [s for s in all_schedules() if not isinstance(s, VE)]


@pytest.mark.parametrize("schedule", VP, ids=repr)
def test_variance_preserving(schedule, device):
    dtype = float_for(device)
    t = torch.linspace(0, 1, 501, dtype=dtype, device=device)
    total = schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6 if dtype == torch.float32 else 1e-12)


@pytest.mark.parametrize("schedule", all_schedules(), ids=repr)
def test_alpha_bar_snr_log_snr_agree_and_sigma_increases(schedule):
    t = torch.linspace(0.001, 0.999, 301, dtype=torch.float64)
    a, s = schedule.alpha(t), schedule.sigma(t)
    assert torch.allclose(schedule.alpha_bar(t), a**2, rtol=1e-12)
    assert torch.allclose(schedule.snr(t), a**2 / s**2, rtol=1e-10)
    assert torch.allclose(schedule.log_snr(t), torch.log(a**2 / s**2), rtol=1e-9, atol=1e-9)
    assert (torch.diff(s / a) > 0).all(), "the noise level sigma / alpha must grow with t"


def test_discrete_schedule_is_the_cumulative_product_at_every_grid_point(device):
    betas = torch.rand(37, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.2 + 1e-3
    schedule = DiscreteDDPM(betas)
    expected, product = [1.0], 1.0
    for beta in betas.tolist():  # Ho et al. 2020, eq. 4, one factor at a time
        product *= 1 - beta
        expected.append(product)
    dtype = float_for(device)
    t = torch.arange(38, dtype=dtype, device=device) / 37
    got = schedule.alpha_bar(t).cpu().double()
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64),
                          rtol=1e-12 if dtype == torch.float64 else 2e-6)
    assert got[0] == 1.0


def test_discrete_schedule_between_grid_points_is_continuous_and_log_linear():
    schedule = DiscreteDDPM(linear_betas(20))
    k = torch.arange(20, dtype=torch.float64)
    mid = schedule.alpha_bar((k + 0.5) / 20)
    geometric = torch.sqrt(schedule.alpha_bar(k / 20) * schedule.alpha_bar((k + 1) / 20))
    assert torch.allclose(mid, geometric, rtol=1e-12)
    fine = schedule.alpha_bar(torch.linspace(0, 1, 4001, dtype=torch.float64))
    assert (torch.diff(fine) < 0).all() and torch.diff(fine).abs().max() < 1e-2


def test_cosine_matches_nichol_dhariwal_eq_17():
    s = 0.008
    for t in [0.0, 0.1, 0.37, 0.5, 0.9, 0.99, 0.999]:
        f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        got = VPCosine(s).alpha_bar(torch.tensor(t, dtype=torch.float64)).item()
        assert got == pytest.approx(f(t) / f(0), rel=1e-10)


def test_cosine_is_clipped_at_t_1_and_only_there():
    clipped, raw = VPCosine(), VPCosine(alpha_bar_min=0.0)
    one = torch.tensor(1.0, dtype=torch.float64)
    assert raw.alpha(one).abs() < 1e-15 and raw.log_snr(one) == -math.inf
    assert clipped.alpha_bar(one).item() == pytest.approx(1e-9) and math.isfinite(clipped.log_snr(one))
    t = torch.linspace(0, 1 - 1e-4, 1001, dtype=torch.float64)
    assert torch.equal(clipped.alpha_bar(t), raw.alpha_bar(t))


def test_cosine_table_is_the_papers():
    betas = cosine_betas(1000)
    f = lambda k: math.cos((k / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for k in [1, 10, 500, 998]:
        assert betas[k - 1].item() == pytest.approx(1 - f(k) / f(k - 1), rel=1e-9)
    assert betas[-1].item() == 0.999  # clipped, as in the paper's section 3.2


def test_vp_linear_rate_is_beta_by_autograd_and_matches_hos_table():
    schedule = VPLinear()
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(schedule.alpha_bar(t).log().sum(), t)
    assert torch.allclose(-grad, schedule.beta(t.detach()), rtol=1e-12)  # beta(t) = -d log alpha_bar / dt
    assert schedule.beta(0.0).item() == pytest.approx(1000 * 1e-4) and schedule.beta(1.0).item() == pytest.approx(20)
    # Ho et al.'s T = 1000 table is the same process up to O(1/T): each beta is taken at the start of
    # its step and -log(1 - beta) > beta, so alpha_bar differs by about 1e-3 at most (measured 6e-4).
    table = DiscreteDDPM(linear_betas(1000))
    grid = torch.linspace(0, 1, 41, dtype=torch.float64)
    assert torch.allclose(table.alpha_bar(grid), schedule.alpha_bar(grid), atol=1e-3)


def test_discrete_betas_reproduce_the_schedule_on_the_grid():
    for schedule in [VPLinear(), VPCosine(s=0.05)]:
        table = DiscreteDDPM(discrete_betas(schedule, 64))
        grid = torch.arange(64, dtype=torch.float64) / 64  # the last step may be clipped at 0.999
        assert torch.allclose(table.alpha_bar(grid), schedule.alpha_bar(grid), rtol=1e-12)


@pytest.mark.parametrize("schedule", all_schedules(), ids=repr)
def test_t_from_log_snr_inverts_log_snr_and_agrees_with_bisection(schedule):
    t = torch.linspace(0.002, 0.998, 41, dtype=torch.float64)
    lam = schedule.log_snr(t)
    assert torch.allclose(schedule.t_from_log_snr(lam), t, atol=1e-10)
    assert torch.allclose(Schedule.t_from_log_snr(schedule, lam), t, atol=1e-10)  # the generic bisection
    # Beyond the ends the answer is clamped to [0, 1].
    beyond = torch.tensor([schedule.log_snr(torch.tensor(0.0)).item() + 1, -1e3], dtype=torch.float64)
    assert schedule.t_from_log_snr(beyond).tolist() == pytest.approx([0.0, 1.0], abs=1e-12)


def test_uniform_grid():
    assert uniform_grid(4).tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert uniform_grid(2, t_max=0.9, t_min=0.1).tolist() == [0.9, 0.5, 0.1]
    # exact: a float64 run sees t = 0.9, not 0.8999999761581421 (the float32 nearest to 0.9)
    ts = uniform_grid(10)
    assert ts.dtype == torch.float64 and ts.device.type == "cpu" and ts[1].item() == 0.9
    assert uniform_grid(1000).tolist() == [(1000 - i) / 1000 for i in range(1001)]
    for bad in [dict(n=0), dict(n=3, t_min=0.5, t_max=0.5), dict(n=3, t_max=1.5)]:
        with pytest.raises(ValueError, match="uniform_grid"):
            uniform_grid(**bad)


@pytest.mark.parametrize("schedule", [VPLinear(), VPCosine(), DiscreteDDPM(linear_betas(1000))], ids=repr)
def test_karras_grid_follows_eq_5(schedule):
    n, rho, lo, hi = 10, 7.0, 0.002, 80.0
    ts = karras_grid(n, schedule, sigma_min=lo, sigma_max=hi, rho=rho).double()
    assert ts.shape == (n + 1,) and ts[-1] == 0 and (torch.diff(ts) < 0).all() and ts[0] <= 1
    expected = [(hi ** (1 / rho) + i / (n - 1) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho for i in range(n)]
    level = schedule.sigma(ts[:-1]) / schedule.alpha(ts[:-1])
    assert torch.allclose(level, torch.tensor(expected, dtype=torch.float64), rtol=1e-4)  # float32 times


def test_karras_grid_clips_to_a_ve_schedules_range():
    schedule = VE(0.01, 50.0)
    ts = karras_grid(6, schedule)  # the defaults 0.002 .. 80 lie outside 0.01 .. 50
    assert ts.shape == (7,) and ts[0] == 1 and ts[-1] == 0 and (torch.diff(ts) < 0).all()
    i = torch.arange(7, dtype=torch.float64) / 6
    expected = (50 ** (1 / 7) + i * (0.01 ** (1 / 7) - 50 ** (1 / 7))) ** 7
    assert torch.allclose(schedule.sigma(ts.double()), expected, rtol=1e-4)
    with pytest.raises(ValueError, match="karras_grid"):
        karras_grid(5, schedule, sigma_min=60.0, sigma_max=80.0)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\], got 1.5"):
        VPLinear().alpha(torch.tensor([0.2, 1.5]))
    for bad_t in [-0.1, float("nan")]:
        with pytest.raises(ValueError, match="t must be in"):
            VPCosine().sigma(bad_t)
    for betas in [[0.1, 0.0], [0.1, 1.0], [-0.2], [[0.1]], []]:
        with pytest.raises(ValueError, match="DiscreteDDPM"):
            DiscreteDDPM(torch.tensor(betas))
    with pytest.raises(ValueError, match="sigma must increase"):
        VE(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="sigma"):
        VPLinear(beta_min=0.0, beta_max=0.0)
    with pytest.raises(ValueError, match="VPCosine"):
        VPCosine(s=-0.1)
    with pytest.raises(ValueError, match="NaN"):
        VPLinear().t_from_log_snr(float("nan"))


@pytest.mark.parametrize("schedule", all_schedules(), ids=repr)
def test_dtype_and_device_follow_t(schedule, device):
    for dtype in [torch.float32] + ([torch.float64] if device.type != "mps" else []):
        t = torch.tensor([0.0, 0.3, 1.0], dtype=dtype, device=device)
        for f in [schedule.alpha, schedule.sigma, schedule.alpha_bar, schedule.log_snr,
                  lambda u: schedule.t_from_log_snr(schedule.log_snr(u).clamp(-30, 30))]:
            out = f(t)
            assert out.dtype == dtype and out.device.type == device.type
    assert schedule.alpha(0.5).dtype == torch.get_default_dtype()  # a plain number works too


class OnlyAlphaSigma(Schedule):
    """A learner's schedule: alpha and sigma written for tensors, nothing else."""

    def alpha(self, t):
        return torch.cos(t * math.pi / 2)

    def sigma(self, t):
        return torch.sin(t * math.pi / 2)


def test_a_subclass_with_only_alpha_and_sigma_works_with_numbers_too():
    s = OnlyAlphaSigma()
    assert s.alpha(0.5).item() == pytest.approx(math.cos(math.pi / 4))
    assert s.sigma(1).item() == pytest.approx(1.0)
    assert s.alpha_bar(0.5).item() == pytest.approx(0.5) and s.snr(0.5).item() == pytest.approx(1.0)
    assert s.d_log_alpha(0.5).item() == pytest.approx(-math.pi / 2)  # -pi/2 tan(pi t / 2), autograd
    assert s.t_from_log_snr(0.0).item() == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError, match=r"OnlyAlphaSigma.alpha: t must be in \[0, 1\], got 1.5"):
        s.alpha(1.5)


def _fd_derivative(fn, t, h=1e-6):
    """Central difference in float64: an independent check of a derivative in t."""
    return (fn(t + h) - fn(t - h)) / (2 * h)


@pytest.mark.parametrize("schedule", all_schedules(), ids=repr)
def test_closed_form_derivatives_match_autograd_and_finite_differences(schedule):
    # away from the ends and off DiscreteDDPM's grid points (its slope jumps there)
    t = torch.tensor([0.013, 0.207, 0.517, 0.833, 0.987], dtype=torch.float64)
    for closed, fn in [(schedule.d_log_alpha, lambda u: schedule.alpha(u).log()),
                       (schedule.d_log_snr, schedule.log_snr)]:
        by_autograd = Schedule.d_log_alpha(schedule, t) if closed == schedule.d_log_alpha else \
            Schedule.d_log_snr(schedule, t)
        assert torch.allclose(closed(t), by_autograd, rtol=1e-9, atol=1e-9)
        assert torch.allclose(closed(t), _fd_derivative(fn, t), rtol=1e-5, atol=1e-6)


def test_cosine_drift_is_not_frozen_in_its_clipped_end():
    s = VPCosine()
    assert 1 - 2.1e-5 < s._t_clip < 1 - 2e-5  # alpha_bar reaches 1e-9 there
    at_clip = s.d_log_alpha(torch.tensor(s._t_clip, dtype=torch.float64))
    for t in (1 - 1e-5, 1.0):
        end = s.d_log_alpha(torch.tensor(t, dtype=torch.float64))
        assert end == at_clip and end < -1000  # steep, and not the 0 that autograd through the clamp gives
        g2 = -s.sigma(t) ** 2 * s.d_log_snr(t)  # the diffusion g^2 of the forward SDE
        assert g2 > 1000
    assert s.alpha_bar(torch.tensor(s._t_clip, dtype=torch.float64)).item() == pytest.approx(1e-9, rel=1e-6)
    assert Schedule.d_log_alpha(s, torch.tensor(1.0, dtype=torch.float64)) == 0  # what autograd says


def test_ve_t_from_sigma_inverts_sigma():
    s = VE(0.01, 50.0)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert torch.allclose(s.t_from_sigma(s.sigma(t)), t, atol=1e-12)
    assert s.t_from_sigma(0.01).item() == 0.0 and s.t_from_sigma(50.0).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"VE.t_from_sigma: sigma must be in \[sigma_min, sigma_max\]"):
        s.t_from_sigma(100.0)


@pytest.mark.parametrize("schedule", all_schedules(), ids=repr)
def test_config_rebuilds_the_schedule(schedule):
    config = schedule.config
    assert all(isinstance(v, (str, float, list)) for v in config.values())
    again = from_config(config)
    assert type(again) is type(schedule) and again.config == config
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    assert torch.equal(again.alpha(t), schedule.alpha(t)) and torch.equal(again.sigma(t), schedule.sigma(t))


def test_from_config_says_what_is_wrong():
    with pytest.raises(ValueError, match="unknown schedule 'Cosine'"):
        from_config({"name": "Cosine"})
    with pytest.raises(ValueError, match="need a dict with a 'name'"):
        from_config("VPLinear")
    with pytest.raises(ValueError, match="beta_min <= beta_max"):
        from_config({"name": "VPLinear", "beta_min": -1.0, "beta_max": 20.0})
