"""Grader of homework 1 (my_schedule.py): is MySchedule a correct variance-preserving schedule, and
how does it compare with VPCosine on the 8-Gaussian ring?

    make homework ASSIGNMENT=01_schedule     (MINIDIFF_FAST=1: smaller measurements, a few seconds)

A correct schedule passes whether or not it beats the cosine one; the comparison is printed at the end.
"""

import math
import statistics

import pytest
import torch

import minidiff
from grading import attempt, fail, load, measured
from minidiff import exact, metrics, nfe, samplers, schedules, toy

T64 = torch.linspace(0, 1, 1001, dtype=torch.float64)  # the times every check looks at
INSIDE = torch.linspace(0.02, 0.98, 49, dtype=torch.float64)  # away from the ends, where derivatives are finite
_ENDS = torch.tensor([0.0, 1.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def mine():
    return load(__file__, "my_schedule.py")


@pytest.fixture(scope="module")
def schedule(mine):
    if not isinstance(getattr(mine, "MySchedule", None), type):
        fail("my_schedule.py must define a class MySchedule (a subclass of minidiff.schedules.Schedule)")
    if not issubclass(mine.MySchedule, schedules.Schedule):
        fail("MySchedule must subclass minidiff.schedules.Schedule: class MySchedule(schedules.Schedule)")
    return attempt("MySchedule()", mine.MySchedule)


_FEW = torch.linspace(0, 1, 7, dtype=torch.float64)  # the first look at a method's shape: too few to cost anything


def _shapes_first(schedule) -> None:
    """alpha and sigma give one value per time, checked on 7 times before any check works with them: an alpha
    of shape (N, 1) would broadcast against (N,) into (N, N) arrays, and a search over them into gigabytes."""
    for name in ("alpha", "sigma"):
        _values(schedule, name, _FEW)


def _values(schedule, name: str, t) -> torch.Tensor:
    if name not in ("alpha", "sigma"):
        _shapes_first(schedule)  # everything else is computed from these two
    out = attempt(f"MySchedule.{name}(t)", getattr(schedule, name), t)
    if not isinstance(out, torch.Tensor):
        fail(f"MySchedule.{name}(t) returned a {type(out).__name__}, not a tensor: compute it with torch "
             f"functions of t (torch.sqrt, torch.sigmoid, ...)")
    if isinstance(t, torch.Tensor) and out.shape != t.shape:
        fail(f"MySchedule.{name}(t) for t of shape {tuple(t.shape)} has shape {tuple(out.shape)}: give one value per "
             "time, shaped like t (elementwise torch functions of t; no [..., None], no loops over a fixed size). "
             "Nothing more is checked with the wrong shape")
    if isinstance(t, torch.Tensor) and out.dtype != t.dtype:
        fail(f"MySchedule.{name}(t) for a {t.dtype} t returned {out.dtype}: build it from t with torch functions "
             "(a torch.tensor(...) made inside the method has the default dtype); samplers compute their "
             "coefficients in float64")
    return out


def _overridden(schedule, name: str) -> bool:
    return getattr(type(schedule), name) is not getattr(schedules.Schedule, name)


def test_alpha_and_sigma_are_tensors_like_t(schedule):
    for name in ("alpha", "sigma"):
        for dtype in (torch.float32, torch.float64):
            t = torch.linspace(0, 1, 7, dtype=dtype)
            _values(schedule, name, t)  # checks the shape
        scalar = _values(schedule, name, 0.5)  # the base class turns a number into a 0-d tensor
        if scalar.ndim != 0:
            fail(f"MySchedule.{name}(0.5) has shape {tuple(scalar.shape)}, expected a 0-d tensor (one time in, "
                 "one value out)")
        out = _values(schedule, name, T64)
        if not torch.isfinite(out).all():
            bad = T64[~torch.isfinite(out)][0].item()
            fail(f"MySchedule.{name}(t) is {out[~torch.isfinite(out)][0].item()} at t = {bad:g}: it must be finite "
                 "on all of [0, 1] (look for a log or a division by 0 at the ends)")
        if (out < 0).any() or (out > 1 + 1e-12).any():
            bad = T64[(out < 0) | (out > 1 + 1e-12)][0].item()
            fail(f"MySchedule.{name}({bad:g}) = {out[T64 == bad].item():g}: a variance-preserving schedule keeps "
                 "alpha and sigma in [0, 1]")


def test_variance_preserving(schedule):
    alpha, sigma = _values(schedule, "alpha", T64), _values(schedule, "sigma", T64)
    gap = (alpha**2 + sigma**2 - 1).abs()
    if gap.max() <= 1e-6:
        return
    t = T64[gap.argmax()].item()
    if (alpha + sigma - 1).abs().max() <= 1e-6:
        fail("alpha + sigma = 1, but it is the variances that add up to 1: sigma = sqrt(1 - alpha^2)")
    if (alpha + sigma**2 - 1).abs().max() <= 1e-6:
        fail("alpha + sigma^2 = 1: your alpha is alpha_bar, the signal's variance; the scale is its square root, "
             "alpha = sqrt(alpha_bar)")
    if (alpha**2 + sigma - 1).abs().max() <= 1e-6:
        fail("alpha^2 + sigma = 1: your sigma is a variance, 1 - alpha_bar; the scale is sigma = sqrt(1 - alpha_bar)")
    fail(f"alpha^2 + sigma^2 = {(alpha**2 + sigma**2)[gap.argmax()].item():.6g} at t = {t:g}, not 1: x_t = alpha x0 "
         "+ sigma eps keeps unit variance only when alpha^2 + sigma^2 = 1 at every t")


def test_ends(schedule):
    alpha, sigma = _values(schedule, "alpha", _ENDS), _values(schedule, "sigma", _ENDS)
    if not sigma[0] <= 0.01 * alpha[0]:
        fail(f"at t = 0, sigma / alpha = {(sigma[0] / alpha[0]).item():.3g}: t = 0 is clean data, so sigma(0) must be "
             "0 (or at most 1% of alpha(0)); a sampler's last step lands there and returns x_0 as the sample")
    if not alpha[1] > 0:
        fail("alpha(1) = 0: samplers start at t = 1, where an eps-predicting model gives x0 = (x - sigma eps) / "
             "alpha = 0 / 0 (the samplers refuse such a grid). Keep alpha_bar above a small floor, e.g. "
             "alpha_bar.clamp(min=1e-9), as VPCosine does")
    if not alpha[1] <= 0.01 * sigma[1]:
        fail(f"at t = 1, alpha / sigma = {(alpha[1] / sigma[1]).item():.3g}: t = 1 must be (nearly) pure noise, "
             "alpha(1) at most 1% of sigma(1), or the sampler's start N(0, I) is not the law of x_1")


def test_log_snr_falls(schedule):
    lam = _values(schedule, "log_snr", T64)
    if lam.isnan().any():
        fail(f"log_snr(t) is NaN at t = {T64[lam.isnan()][0].item():g}")
    # strictly on [0, 0.999]; very near t = 1 it may stay flat where alpha_bar meets a floor (VPCosine's clip)
    falls = torch.cat([lam[1:1000] < lam[:999], lam[1000:] <= lam[999:1000]])  # (1000,): from T64[k] to T64[k + 1]
    if not falls.all():
        k = int((~falls).nonzero()[0])
        fail(f"log-SNR does not fall between t = {T64[k].item():g} ({lam[k].item():.4g}) and t = {T64[k + 1].item():g} "
             f"({lam[k + 1].item():.4g}): noise must grow with t, strictly, or two times would hold the same noise "
             "level and a sampler could not tell them apart")
    if _overridden(schedule, "log_snr"):
        alpha, sigma = _values(schedule, "alpha", INSIDE), _values(schedule, "sigma", INSIDE)
        direct = 2 * (alpha.log() - sigma.log())
        mine = _values(schedule, "log_snr", INSIDE)
        if not torch.allclose(mine, direct, rtol=1e-6, atol=1e-6):
            k = (mine - direct).abs().argmax()
            fail(f"your log_snr({INSIDE[k].item():g}) = {mine[k].item():.6g} but 2 log(alpha / sigma) = "
                 f"{direct[k].item():.6g}: log-SNR is log(alpha^2 / sigma^2), twice log(alpha / sigma)")


def _autograd(fn, t: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        t = t.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(t).sum(), t)
    return grad


def test_derivatives_match_autograd(schedule):
    checks = (("d_log_alpha", "log alpha", lambda t: schedule.alpha(t).log()),
              ("d_log_snr", "log-SNR", schedule.log_snr))
    for name, of, fn in checks:
        mine = _values(schedule, name, INSIDE)
        try:
            slope = _autograd(fn, INSIDE)
        except RuntimeError as err:  # reported below, outside the except
            slope = f"{err}".split("\n")[0]
        if isinstance(slope, str):
            fail(f"autograd cannot follow {of} through MySchedule ({slope}): build alpha and sigma from t with "
                 "torch operations only (no float(), .item(), .tolist() or torch.tensor(...) of values), so that "
                 "the derivatives, which the samplers' SDEs use, can be taken")
        if torch.allclose(mine, slope, rtol=1e-5, atol=1e-8):
            continue
        ratio = (mine / slope).median().item()
        k = (mine - slope).abs().argmax()
        constant = torch.allclose(mine / slope, torch.full_like(mine, ratio), rtol=1e-4)
        hint = (" (the sign is flipped)" if abs(ratio + 1) < 1e-3 else
                f" (off by a factor of {ratio:.4g} everywhere)" if constant else "")
        fail(f"your {name}({INSIDE[k].item():g}) = {mine[k].item():.6g}, but the slope of {of} there (by autograd) is "
             f"{slope[k].item():.6g}{hint}: {name} must be d/dt of {of}; or delete your {name}, and the base class "
             "computes it by autograd")
    mine = [name for name, _, _ in checks if _overridden(schedule, name)]
    measured(__file__, f"derivatives: {', '.join(mine)} yours, equal to autograd's" if mine else
             "derivatives: the base class's, by autograd (you may write them exactly, as VPCosine does)")
    alpha = _values(schedule, "alpha", INSIDE)
    if not (_values(schedule, "d_log_snr", INSIDE) < 0).all() or not (alpha[1:] < alpha[:-1]).all():
        fail("alpha must fall and log-SNR too (d_log_snr < 0) inside (0, 1)")


def test_t_from_log_snr_inverts_log_snr(schedule):
    lam = _values(schedule, "log_snr", INSIDE)
    back = _values(schedule, "t_from_log_snr", lam)
    if not torch.allclose(back, INSIDE, atol=1e-6):
        k = (back - INSIDE).abs().argmax()
        fail(f"t_from_log_snr(log_snr({INSIDE[k].item():g})) = {back[k].item():.6g}: it must give back the time "
             "(karras_grid places its steps with it); or delete yours, and the base class solves it by bisection")


def test_samplers_run_on_it(schedule):
    _shapes_first(schedule)
    gm = toy.ring()
    model = exact.mixture_denoiser(gm, schedule)
    g = torch.Generator().manual_seed(0)
    for grid in ("uniform_grid", "karras_grid"):
        ts = schedules.uniform_grid(10) if grid == "uniform_grid" else schedules.karras_grid(10, schedule)
        for name in ("ddim", "heun", "ddpm"):
            x = samplers.prior_sample(200, 2, schedule, ts[0], generator=g)
            out = attempt(f"samplers.{name} on schedules.{grid}(10, ...) of MySchedule", samplers.run,
                          samplers.SAMPLERS[name](model, x, ts, schedule, generator=g))
            if not torch.isfinite(out).all():
                fail(f"samplers.{name} on schedules.{grid}(10) of MySchedule gave NaN or inf samples: look at the "
                     "schedule's ends (alpha(1) > 0, sigma(0) = 0) and at log_snr there")


# ---- the measurement: yours against VPCosine, with the exact denoiser of the ring ---------------------

STEPS = (5, 10)  # DDIM steps = NFE, on a grid uniform in t: there the schedule decides where the steps go
N, RUNS = minidiff.by_mode(full=2000, fast=500), minidiff.by_mode(full=7, fast=3)
FINE = minidiff.by_mode(full=300, fast=100)  # Heun steps of the reference solve


def _measure(schedule, starts, references, floor):
    """Quality (floor units) and endpoint error of DDIM on uniform_grid(steps) for each number of steps."""
    gm = toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    # The reference: the same ODE from the same start, solved finely (on a Karras grid from the schedule's t = 1).
    fine_grid = schedules.karras_grid(FINE, schedule, sigma_max=1e12)
    fine = samplers.run(samplers.heun(model, starts[0], fine_grid, schedule))
    out = {}
    for steps in STEPS:
        ts = schedules.uniform_grid(steps)
        xs = [samplers.run(samplers.ddim(model, x, ts, schedule)) for x in starts]
        quality = nfe.quality([x.float() for x in xs], references, floor)
        error = (xs[0] - fine).norm(dim=1).mean().item()
        out[steps] = (quality, error)
    return out


def test_measured_against_cosine(schedule):
    """Not a check of correctness: the numbers, printed at the end of the run, once the schedule is sound."""
    for check in (test_alpha_and_sigma_are_tensors_like_t, test_variance_preserving, test_ends, test_log_snr_falls):
        try:
            check(schedule)
        except pytest.fail.Exception as err:  # reported below, outside the except
            problem = f"{check.__name__}: {err}"
            break
    else:
        problem = None
    if problem is not None:
        fail(f"not measured until the schedule passes the checks above ({problem})")
    gm = toy.ring()
    g = torch.Generator().manual_seed(0)
    floor = metrics.noise_floor(gm.sample, N, repeats=2 * RUNS + 1, generator=g)
    # Common random numbers: both schedules start from the same noise and meet the same reference samples
    # (at t = 1 every VP schedule is N(0, I) to within alpha(1), so one start serves both).
    starts = [torch.randn(N, 2, generator=g, dtype=torch.float64) for _ in range(RUNS)]
    references = [gm.sample(N, g) for _ in range(RUNS)]
    cosine = _measure(schedules.VPCosine(), starts, references, floor)
    yours = attempt("measuring MySchedule", _measure, schedule, starts, references, floor)
    for steps in STEPS:
        if not all(math.isfinite(v) for v in yours[steps]):
            fail(f"DDIM with {steps} steps of MySchedule gave a NaN or infinite distance: look at the schedule's ends")
    here = __file__
    measured(here, f"DDIM, exact denoiser of the 8-Gaussian ring, steps uniform in t ({N} points, median of "
                   f"{RUNS} runs):")
    measured(here, f"{'NFE':>5}  {'quality (x floor)':>24}  {'endpoint error':>26}")
    measured(here, f"{'':>5}  {'cosine':>11} {'yours':>12}  {'cosine':>12} {'yours':>13}")
    for steps in STEPS:
        (qc, ec), (qy, ey) = cosine[steps], yours[steps]
        measured(here, f"{steps:>5}  {qc:>11.2f} {qy:>12.2f}  {ec:>12.4f} {ey:>13.4f}")
    measured(here, "quality: sliced Wasserstein distance to the ring over the noise floor (1 = as close as exact "
                   "samples); endpoint error: mean distance to a fine solve of the same ODE from the same noise")
    # On a Karras grid the steps are placed by noise level sigma / alpha, not by t: then DDIM takes the same
    # steps whatever the schedule, when both reach the grid's levels 0.002 .. 80.
    x = starts[0][:200]
    ddim = [samplers.run(samplers.ddim(exact.mixture_denoiser(toy.ring().to(torch.float64), s), x,
                                       schedules.karras_grid(10, s), s)) for s in (schedules.VPCosine(), schedule)]
    gap = (ddim[0] - ddim[1]).abs().max().item()
    if gap < 1e-4:
        measured(here, f"on schedules.karras_grid(10) instead, yours and cosine's DDIM samples differ by at most "
                       f"{gap:.2g}: a grid placed by noise level sigma / alpha takes the same steps whatever the "
                       "schedule (Karras et al. 2022, section 3); the schedule matters through where a grid uniform "
                       "in t puts its steps")
    else:
        ends = (schedule.sigma(_ENDS) / schedule.alpha(_ENDS)).tolist()
        measured(here, f"on schedules.karras_grid(10) instead, yours and cosine's DDIM samples differ by up to "
                       f"{gap:.2g}: the grid's noise levels 0.002 .. 80 are clipped to those your schedule "
                       f"reaches, sigma / alpha = {ends[0]:.3g} .. {ends[1]:.3g}; where both reach them, DDIM takes "
                       "the same steps whatever the schedule (Karras et al. 2022, section 3)")
    ratio = statistics.mean(yours[s][1] / cosine[s][1] for s in STEPS)
    measured(here, f"your endpoint error is {ratio:.2f}x the cosine schedule's on average over NFE {STEPS}")
