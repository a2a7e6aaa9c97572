"""Zero terminal SNR (Lin et al. 2024): schedules.ZeroTerminalSNR, the exact x0 denoiser it needs at
t = 1, the samplers that can start there (and the clear refusal of the others), and the plateau of
a deterministic sampler on two unequal modes, gone once the prior is the law of x_1."""

import json

import pytest
import torch

from minidiff import exact, metrics, params, samplers, schedules, toy
from minidiff.core.samplers import run

BASES = [schedules.VPLinear(), schedules.VPCosine(), schedules.DiscreteDDPM(schedules.linear_betas(1000))]
T = torch.linspace(0, 1, 201, dtype=torch.float64)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def zero_snr_grid(steps, schedule):
    """t = 1, then the Karras grid of steps - 1 steps (as benchmarks/zero_snr.py)."""
    return torch.cat([torch.ones(1, dtype=torch.float64), schedules.karras_grid(steps - 1, schedule)])


# ---- the schedule ----------------------------------------------------------------------------------

@pytest.mark.parametrize("base", BASES, ids=lambda s: type(s).__name__)
def test_alpha_is_zero_at_one_unchanged_at_zero_and_the_schedule_stays_variance_preserving(base):
    z = schedules.ZeroTerminalSNR(base)
    for one in (1.0, torch.tensor(1.0, dtype=torch.float64)):  # float32 and float64
        assert z.alpha(one).item() == 0.0 and z.sigma(one).item() == 1.0 and z.d_log_alpha(one) == -float("inf")
    assert z.alpha(0.0).item() == base.alpha(0.0).item() and z.sigma(0.0).item() == 0.0
    assert z.log_snr(1.0).item() == -float("inf") and z.log_snr(0.0).item() == float("inf")
    a, s = z.alpha(T), z.sigma(T)
    assert torch.allclose(a**2 + s**2, torch.ones_like(a), rtol=0, atol=1e-14)
    assert (a[1:] < a[:-1]).all()  # strictly decreasing: every t has its own noise level
    # Algorithm 1 of Lin et al. written on sqrt(alpha_bar): shift so that the last is 0, scale so the first is kept
    a_base = base.alpha(T)
    assert torch.allclose(a, (a_base - a_base[-1]) * a_base[0] / (a_base[0] - a_base[-1]), rtol=0, atol=1e-15)


def test_the_discrete_rescaling_matches_lin_et_al_algorithm_1_on_ho_et_al_betas():
    # Algorithm 1 as the paper writes it, on the T = 1000 linear betas, against the continuous schedule
    # evaluated at t = k / T (DiscreteDDPM is exact there).
    betas = schedules.linear_betas(1000)
    sqrt_ab = torch.cumprod(1 - betas, 0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    rescaled = (sqrt_ab - last) * first / (first - last)  # (T,) the alpha of steps 1..T
    z = schedules.ZeroTerminalSNR(schedules.DiscreteDDPM(betas))
    ts = torch.arange(1, 1001, dtype=torch.float64) / 1000
    # the paper keeps step 1 (t = 1 / T); here alpha(0) = 1 is kept, so ours is the paper's times a constant
    ours = z.alpha(ts)
    assert ours[-1].item() == 0.0
    assert torch.allclose(ours / ours[0], rescaled / rescaled[0], rtol=1e-12, atol=1e-15)


def test_sigma_keeps_its_digits_near_t_0_in_float32():
    # sigma = sqrt(1 - alpha^2) computed as written loses them: at t = 1e-4, 1 - alpha^2 ~ 1e-5 in
    # float32, whose spacing near 1 is 6e-8, so ~1% error; the schedule must not.
    z = schedules.ZeroTerminalSNR(schedules.VPLinear())
    t = torch.tensor([1e-5, 1e-4, 1e-3], dtype=torch.float64)
    ref = z.sigma(t)
    assert torch.allclose(z.sigma(t.float()).double(), ref, rtol=1e-5, atol=0)


@pytest.mark.parametrize("base", BASES[:2], ids=lambda s: type(s).__name__)
def test_derivatives_match_finite_differences_and_autograd(base):
    z = schedules.ZeroTerminalSNR(base)
    t = torch.linspace(0.02, 0.98, 25, dtype=torch.float64)
    h = 1e-6
    fd_log_alpha = (z.alpha(t + h).log() - z.alpha(t - h).log()) / (2 * h)
    fd_log_snr = (z.log_snr(t + h) - z.log_snr(t - h)) / (2 * h)
    assert torch.allclose(z.d_log_alpha(t), fd_log_alpha, rtol=1e-6, atol=0)
    assert torch.allclose(z.d_log_snr(t), fd_log_snr, rtol=1e-6, atol=0)
    # the base class's generic autograd versions, on the schedule's own alpha and log_snr
    assert torch.allclose(z.d_log_alpha(t), schedules.Schedule.d_log_alpha(z, t), rtol=1e-10, atol=0)
    assert torch.allclose(z.d_log_snr(t), schedules.Schedule.d_log_snr(z, t), rtol=1e-10, atol=0)
    assert z.d_log_alpha(1.0).item() == -float("inf")  # the drift of the forward SDE blows up at alpha = 0


@pytest.mark.parametrize("base", BASES, ids=lambda s: type(s).__name__)
def test_config_round_trip_through_json_and_from_config(base):
    z = schedules.ZeroTerminalSNR(base)
    again = schedules.from_config(json.loads(json.dumps(z.config)))  # as a checkpoint stores it
    assert isinstance(again, schedules.ZeroTerminalSNR) and repr(again) == repr(z)
    assert torch.equal(again.alpha(T), z.alpha(T)) and torch.equal(again.sigma(T), z.sigma(T))
    assert repr(schedules.ZeroTerminalSNR()) == "ZeroTerminalSNR(VPLinear(beta_min=0.1, beta_max=20))"


def test_t_from_log_snr_inverts_log_snr():
    z = schedules.ZeroTerminalSNR(schedules.VPLinear())
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    assert torch.allclose(z.t_from_log_snr(z.log_snr(t)), t, rtol=0, atol=1e-12)
    assert z.t_from_log_snr(-float("inf")).item() == 1.0


def test_a_base_that_is_not_variance_preserving_is_refused_by_message():
    with pytest.raises(ValueError, match="variance preserving"):
        schedules.ZeroTerminalSNR(schedules.VE())
    with pytest.raises(ValueError, match=r"must be a Schedule \(e.g. VPLinear\(\)\)"):
        schedules.ZeroTerminalSNR("linear")


# ---- the exact x0 denoiser, and the Denoiser at alpha = 0 -----------------------------------------

@pytest.mark.parametrize("schedule", [schedules.VPLinear(), schedules.ZeroTerminalSNR()],
                         ids=lambda s: type(s).__name__)
def test_the_exact_x0_denoiser_is_tweedie_where_alpha_is_positive(schedule):
    gm = toy.two_modes().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule, target="x0")
    for t in torch.tensor([0.05, 0.3, 0.6, 0.9], dtype=torch.float64):
        alpha, sigma = schedule.alpha(t).item(), schedule.sigma(t).item()
        xt = gm.noised(alpha, sigma).sample(400, generator=gen(1))
        tweedie = (xt + sigma**2 * gm.noised(alpha, sigma).score(xt)) / alpha  # Efron 2011
        pred = model(xt, t)
        assert torch.allclose(pred.x0, tweedie, rtol=0, atol=1e-9 / alpha)
        assert torch.allclose(pred.eps, exact.mixture_denoiser(gm, schedule)(xt, t).eps, rtol=0, atol=1e-9 / alpha)


def test_at_alpha_zero_the_exact_x0_is_the_mixture_mean_and_eps_is_x():
    gm, z = toy.two_modes().to(torch.float64), schedules.ZeroTerminalSNR()
    x = torch.randn(50, 2, generator=gen(2), dtype=torch.float64) * 3
    pred = exact.mixture_denoiser(gm, z, target="x0")(x, 1.0)
    assert torch.allclose(pred.x0, gm.mean().expand(50, 2), rtol=0, atol=1e-14)  # (-1.8, 0)
    assert torch.equal(pred.eps, x)  # x_1 = 0 * x0 + 1 * eps


class VFromX0(torch.nn.Module):
    """A v-predicting network made from the exact x0 one: v = alpha eps - sigma x0 (Salimans & Ho 2022)."""

    def __init__(self, gm, schedule):
        super().__init__()
        self.x0, self.schedule = exact.MixtureX0(gm, schedule), schedule

    def forward(self, x, t):
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)
        return params.x0_to_v(self.x0(x, t), x, alpha, sigma)


def test_a_v_denoiser_works_at_alpha_zero_and_an_eps_one_is_refused_by_message():
    gm, z = toy.two_modes().to(torch.float64), schedules.ZeroTerminalSNR()
    x = torch.randn(8, 2, generator=gen(3), dtype=torch.float64)
    pred = params.Denoiser(VFromX0(gm, z), z, target="v")(x, 1.0)
    assert torch.allclose(pred.x0, gm.mean().expand(8, 2), atol=1e-15) and torch.allclose(pred.eps, x, atol=1e-15)
    eps_model = exact.mixture_denoiser(gm, z)  # target 'eps'
    with pytest.raises(ValueError, match=r"alpha\(t\) = 0 at t = 1 \(zero terminal SNR.*target='x0' or 'v'"):
        eps_model(x, 1.0)
    with pytest.raises(ValueError, match=r"alpha\(t\) = 0 at t = 1 \(zero terminal SNR.*target='x0' or 'v'"):
        run(samplers.ddim(eps_model, x, zero_snr_grid(5, z), z))  # the samplers' once-per-run check
    assert torch.isfinite(eps_model(x, 0.999).x0).all()  # just below t = 1 the eps model is fine


# ---- the samplers from t = 1 -----------------------------------------------------------------------

def _zero_snr_setup(n=300):
    gm, z = toy.two_modes().to(torch.float64), schedules.ZeroTerminalSNR()
    model = exact.mixture_denoiser(gm, z, target="x0")
    return gm, z, model, torch.randn(n, 2, generator=gen(4), dtype=torch.float64)


@pytest.mark.parametrize("variance", samplers.VARIANCES)
def test_the_first_step_from_t_1_is_the_posterior_step_from_the_mean(variance):
    gm, z, model, x = _zero_snr_setup()
    ts = zero_snr_grid(6, z)
    a1, s1 = z.alpha(ts[1]).item(), z.sigma(ts[1]).item()
    mean = gm.mean().expand_as(x)
    # DDIM (eta = 0): x_s = alpha_s x0 + sigma_s eps with x0 = E[x0] = mean and eps = x_1
    first = next(samplers.ddim(model, x, ts, z))
    assert torch.allclose(first.x, a1 * mean + s1 * x, rtol=0, atol=1e-14)
    # DDPM: q(x_s | x_1, x0) has mean alpha_s x0 (x_1 carries no signal) and variance beta = 1 ('beta')
    # or the posterior's sigma_s^2; the same draw of z as the sampler's
    step = next(samplers.ddpm(model, x, ts, z, variance=variance, generator=gen(5)))
    z_draw = samplers.randn_like(x, gen(5))
    std = 1.0 if variance == "beta" else s1
    assert torch.allclose(step.x, a1 * mean + std * z_draw, rtol=0, atol=1e-14)
    assert torch.isfinite(run(samplers.ddpm(model, x, ts, z, variance=variance, generator=gen(5)))).all()


def test_dpm_solver_pp_from_t_1_takes_two_first_order_steps_then_its_own():
    _, z, model, x = _zero_snr_setup()
    ts = zero_snr_grid(8, z)
    dpm = [s.x for s in samplers.dpm_solver_pp(model, x, ts, z)]
    ddim = [s.x for s in samplers.ddim(model, x, ts, z)]
    # h = inf on the first step (e^-h = 0: DDIM's step) and 1/(2r) = h / (2 inf) = 0 on the second
    for k in (0, 1):
        assert torch.allclose(dpm[k], ddim[k], rtol=0, atol=1e-12)
    assert not torch.allclose(dpm[2], ddim[2], rtol=0, atol=1e-6)  # from the third on, second order
    assert all(torch.isfinite(v).all() for v in dpm)


def test_euler_from_t_1_is_ddim():
    _, z, model, x = _zero_snr_setup()
    ts = zero_snr_grid(8, z)
    assert torch.equal(run(samplers.euler(model, x, ts, z)), run(samplers.ddim(model, x, ts, z)))


@pytest.mark.parametrize("name,why", [("heun", "y = x / alpha"), ("euler_maruyama", "reverse SDE"),
                                      ("predictor_corrector", "reverse SDE")])
def test_samplers_that_cannot_start_at_alpha_zero_say_so_and_name_those_that_can(name, why):
    _, z, model, x = _zero_snr_setup(8)
    with pytest.raises(ValueError, match=rf"{name}: alpha\(t\) = 0 at the grid's start t = 1 \(zero terminal "
                                         rf"SNR.*{why}.*ddim, euler, ddpm, dpm_solver_pp"):
        run(samplers.SAMPLERS[name](model, x, zero_snr_grid(5, z), z, generator=gen(0)))
    # one step later the grid is fine for every sampler
    later = schedules.karras_grid(4, z)  # starts at noise level 80, where alpha > 0
    assert torch.isfinite(run(samplers.SAMPLERS[name](model, x, later, z, generator=gen(0)))).all()
    with pytest.raises(ValueError, match="zero terminal SNR"):
        samplers.check_grid(zero_snr_grid(5, z), x, z, "log_likelihood")  # the ODE's likelihood cannot either


# ---- the plateau, and where it goes ----------------------------------------------------------------

def test_ddim_from_t_1_is_the_base_schedule_started_from_the_prior_moved_by_the_surviving_mean():
    # In y = x / alpha with the clock s = sigma / alpha every schedule gives the same ODE, and DDIM is
    # Euler's method in s (lesson 08, sections 3-4); the Karras grids of both schedules hold the same
    # noise levels. So all that zero terminal SNR changes is the start: its first step, from s = inf,
    # lands at alpha_80 E[x0] + sigma_80 x_1, which is N(0, I) moved by the mean that survives at s = 80.
    gm = toy.two_modes().to(torch.float64)
    base, z = schedules.VPLinear(), schedules.ZeroTerminalSNR()
    x1 = torch.randn(500, 2, generator=gen(6), dtype=torch.float64)
    ts = zero_snr_grid(12, z)
    out = run(samplers.ddim(exact.mixture_denoiser(gm, z, target="x0"), x1, ts, z))
    start = z.alpha(ts[1]) * gm.mean() + z.sigma(ts[1]) * x1
    same = run(samplers.ddim(exact.mixture_denoiser(gm, base), start, schedules.karras_grid(11, base), base))
    assert torch.allclose(out, same, rtol=0, atol=1e-10)  # measured 2e-14: float64 rounding only


def small_mode_weight(out, x1):
    """The weight a sampler gives the 0.2 mode, with a control variate for the luck of the start.

    toy.two_modes is a product of a 1-D mixture along the first axis and one Gaussian along the second,
    so the ODE moves the first coordinate on its own, monotonically: an exact sampler from N(0, I)
    sends the points with x_1[0] above the 0.8 quantile of N(0, 1) to the right-hand mode. The
    fraction of such starting points has expectation exactly 0.2; subtracting it (and adding 0.2)
    leaves an unbiased estimate whose spread comes only from the few points the sampler misplaces:
    sd ~ sqrt(|error| / n), 0.0008 here, against 0.004 for the plain fraction of 10,000 points."""
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.8)).item()
    return (out[:, 0] > 0).double().mean().item() - (x1[:, 0] > q).double().mean().item() + 0.2


def test_on_two_unequal_modes_ddim_converges_to_the_truth_from_t_1_and_to_a_plateau_on_the_base_schedule():
    # Distances in floor units cannot resolve this plateau at a test's cost: at 4,000 points exact samples
    # themselves read 0.80 to 1.78 (median of 9 runs, 6 seeds), and at 60,000 points a sample with the
    # plateau's weight error read 1.8 to 3.1 against 0.8 to 2.7 for an unbiased one (8 seeds). The weight of
    # the small mode, which is what those distances mostly measure here, resolves it (see small_mode_weight).
    gm = toy.two_modes()
    base, z = schedules.VPLinear(), schedules.ZeroTerminalSNR()
    models = {"base": exact.mixture_denoiser(gm, base), "zero": exact.mixture_denoiser(gm, z, target="x0")}
    x1 = torch.randn(10000, 2, generator=gen(0))
    weights = {}
    for steps in (80, 160):
        grids = {"base": schedules.karras_grid(steps, base), "zero": zero_snr_grid(steps, z)}
        for name, schedule in (("base", base), ("zero", z)):
            out = run(samplers.ddim(models[name], x1, grids[name], schedule))
            weights[name, steps] = small_mode_weight(out, x1)
    # DDIM is first order: its error halves with twice the steps, so 2 w(160) - w(80) is where it is going
    # (Richardson). From t = 1 that is the truth, 0.2. From N(0, I) at noise level 80 on the base schedule it
    # is 0.2 plus the offset the surviving mean makes: the boundary between the modes at x_1[0] = 0.8416 moves
    # by alpha_80 * 1.8 = 0.0225, which moves density(0.8416) * 0.0225 = 0.0063 of the points across it.
    limit = {name: 2 * weights[name, 160] - weights[name, 80] for name in ("base", "zero")}
    alpha_80 = base.alpha(schedules.karras_grid(1, base)[0]).item()
    q = torch.distributions.Normal(0.0, 1.0)
    plateau = q.log_prob(q.icdf(torch.tensor(0.8))).exp().item() * 1.8 * alpha_80  # 0.0063
    # Five seeds: the limit from t = 1 was 0.1993 to 0.2008; on the base schedule 0.2045 to 0.2071 (0.2063 predicted)
    assert abs(limit["zero"] - 0.2) < 0.0025, limit
    assert abs(limit["base"] - (0.2 + plateau)) < 0.003 and limit["base"] > 0.2 + 0.003, (limit, plateau)
    # and from t = 1 the error itself is small and shrinking: 0.0041 to 0.0023 at 80, 0.0024 to 0.0011 at 160
    assert 0 < 0.2 - weights["zero", 160] < 0.2 - weights["zero", 80] < 0.006, weights


def test_on_the_ring_whose_mean_is_zero_zero_terminal_snr_reads_as_the_base_schedule_does():
    # Nothing to fix there (no mean survives), and nothing is lost: the same start, the same floor units.
    gm, base, z = toy.ring(), schedules.VPLinear(), schedules.ZeroTerminalSNR()
    x1 = torch.randn(4000, 2, generator=gen(2))
    scores = {}
    for name, model, ts, schedule in (("base", exact.mixture_denoiser(gm, base), schedules.karras_grid(20, base), base),
                                      ("zero", exact.mixture_denoiser(gm, z, target="x0"), zero_snr_grid(20, z), z)):
        out = run(samplers.ddim(model, x1, ts, schedule))
        scores[name] = metrics.in_floor_units(out, gm.sample, parts=5, generator=gen(102))
    # Five seeds at 20 NFE: both 0.94 to 1.17, equal to two decimals in every seed
    assert abs(scores["zero"] - scores["base"]) < 0.05 and scores["zero"] < 1.35, scores


# ---- guidance from t = 1 ---------------------------------------------------------------------------

class ClassMeans(torch.nn.Module):
    """A toy x0 network with labels: x0 = the class's mean plus a little of x (the null label 2 has its
    own mean), so that x0 depends on x and the guided combination can be checked by hand."""

    num_classes = 2

    def __init__(self):
        super().__init__()
        self.means = torch.tensor([[1.0, -1.0], [-2.0, 0.5], [0.25, 0.25]], dtype=torch.float64)

    def forward(self, x, t, cond=None):
        cond = torch.full((len(x),), 2) if cond is None else cond  # no label: the null one
        return self.means[cond] + 0.1 * x


def test_classifier_free_guidance_starts_at_t_1_by_combining_the_x0_predictions():
    from minidiff.core.guidance import ClassifierFree, ClassifierGuided

    z = schedules.ZeroTerminalSNR()
    model = params.Denoiser(ClassMeans(), z, target="x0")
    x = torch.randn(5, 2, generator=gen(8), dtype=torch.float64)
    guided = ClassifierFree(model, 0, w=3.0)
    at_one = guided(x, 1.0)  # alpha = 0: eps cannot give x0 here
    want = model.net.means[2] + 3.0 * (model.net.means[0] - model.net.means[2]) + 0.1 * x
    torch.testing.assert_close(at_one.x0, want)
    torch.testing.assert_close(at_one.eps, x)  # sigma = 1, alpha = 0: x_1 is all noise
    # below t = 1 the usual eps combination gives the same x0 (the two are equivalent where alpha > 0)
    torch.testing.assert_close(guided(x, 0.7).x0, want)
    assert torch.isfinite(run(samplers.ddim(guided, x, zero_snr_grid(6, z), z))).all()
    with pytest.raises(ValueError, match=r"ClassifierGuided: alpha\(t\) = 0 \(zero terminal SNR"):
        ClassifierGuided(model, lambda x, t: torch.zeros(len(x), 2, dtype=x.dtype), 0, 1.0)(x, 1.0)
