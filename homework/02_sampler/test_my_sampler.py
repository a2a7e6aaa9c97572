"""Grader of homework 2 (my_sampler.py): does my_sampler keep minidiff's sampler contract, count its
network calls, take any model minidiff's samplers take, and converge like a second-order method? Then
its quality on the NFE benchmark (the 8-Gaussian ring, exact denoiser) beside minidiff's samplers.

    make homework ASSIGNMENT=02_sampler      (MINIDIFF_FAST=1: smaller measurements, a few seconds)
"""

import inspect
import itertools
import math

import pytest
import torch

import minidiff
from grading import attempt, explain, fail, load, measured
from minidiff import exact, guidance, metrics, nfe, samplers, schedules, toy

SCHEDULE = schedules.VPLinear()  # the benchmark's schedule (benchmarks/samplers.py)


@pytest.fixture(scope="module")
def mine():
    module = load(__file__, "my_sampler.py")
    for name in ("my_sampler", "steps_for_nfe"):
        if not callable(getattr(module, name, None)):
            fail(f"my_sampler.py must define a function {name} (see the starter)")
    params = list(inspect.signature(module.my_sampler).parameters)
    if params[:4] != ["model", "x", "ts", "schedule"] or "generator" not in params:
        fail(f"my_sampler's parameters are {params}: every minidiff sampler is called as "
             "sampler(model, x, ts, schedule, generator=None)")
    return module


@pytest.fixture(scope="module")
def ring64():
    return exact.mixture_denoiser(toy.ring().to(torch.float64), SCHEDULE)


def _start(n: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return samplers.prior_sample(n, 2, SCHEDULE, 1.0, generator=torch.Generator().manual_seed(seed), dtype=dtype)


WRAPPER_HINT = ("call the model only as model(x, t) (or samplers.predict(model, x, t)) and read only .eps and .x0 "
                "of its answer: a guidance wrapper or a samplers.CountCalls stands in for a params.Denoiser, and "
                "has no .net, .schedule or .predict_with")


def _steps(mine, model, x, ts, schedule=SCHEDULE, what="my_sampler(model, x, ts, schedule)", passthrough=()) -> list:
    """Every Step my_sampler yields, checked to be Steps; failures say what is wrong (errors of the types in
    `passthrough` are raised as they are, for the caller to explain)."""
    try:
        out = mine.my_sampler(model, x, ts, schedule)
        if isinstance(out, torch.Tensor) or not hasattr(out, "__next__"):
            message = (f"my_sampler returned a {type(out).__name__}, not a generator: yield a samplers.Step(t, x, x0) "
                       "after each step (and return nothing), as every minidiff sampler does, so that lessons can "
                       "draw the path")
        else:
            # At most one Step more than the grid has steps: a sampler that never stops yielding is told so
            # (below) rather than filling the memory.
            steps, message = list(itertools.islice(out, len(ts))), None
    except passthrough:
        raise
    except AttributeError as err:
        message = f"{explain(what, err)}; {WRAPPER_HINT}"
    except Exception as err:
        message = explain(what, err)
    if message is not None:
        fail(message)
    if len(steps) >= len(ts):
        fail(f"my_sampler yielded more than {len(ts) - 1} Steps on a grid of {len(ts)} times: one Step per step, "
             "from ts[0] down to ts[-1], then stop")
    for k, step in enumerate(steps):
        if not isinstance(step, samplers.Step):
            fail(f"my_sampler yielded a {type(step).__name__} at step {k + 1}: yield "
                 "samplers.Step(t=..., x=..., x0=...)")
        # The shape before any use: an (N, 1) or (N, N) x would broadcast in the checks below.
        if not isinstance(step.x, torch.Tensor) or step.x.shape != x.shape:
            fail(f"Step {k + 1}'s x must be a tensor shaped like the start {tuple(x.shape)}, got "
                 f"{tuple(step.x.shape) if isinstance(step.x, torch.Tensor) else type(step.x).__name__}")
    return steps


def _steps_for(mine, budget: int) -> int:
    """steps_for_nfe(budget), checked to be a whole number of steps from 1 to budget before a grid is made of it."""
    steps = attempt(f"steps_for_nfe({budget})", mine.steps_for_nfe, budget)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= max(budget, 1):
        fail(f"steps_for_nfe({budget}) = {steps!r}: it must be a whole number (an int) of steps from 1 to {budget}, "
             "since every step makes at least one network call")
    return steps


def _final(mine, model, x, ts, schedule=SCHEDULE, what="my_sampler(model, x, ts, schedule)",
           passthrough=()) -> torch.Tensor:
    steps = _steps(mine, model, x, ts, schedule, what, passthrough)
    if not steps:
        fail("my_sampler yielded nothing: yield one samplers.Step after each step of the grid")
    return steps[-1].x


def test_yields_one_step_per_grid_time(mine, ring64):
    x = _start(50)
    ts = schedules.karras_grid(6, SCHEDULE)
    steps = _steps(mine, ring64, x, ts)
    if len(steps) != len(ts) - 1:
        fail(f"a grid of {len(ts)} times is {len(ts) - 1} steps, but my_sampler yielded {len(steps)} Steps: one per "
             "step, and not the start (the caller has it)")
    for k, step in enumerate(steps):
        if not isinstance(step.t, float) or abs(step.t - ts[k + 1].item()) > 1e-12:
            fail(f"Step {k + 1} has t = {step.t!r}; it must be the time reached, ts[{k + 1}] = "
                 f"{ts[k + 1].item():.6g}, as a Python float (t64[i + 1].item())")
        if not isinstance(step.x, torch.Tensor) or step.x.shape != x.shape or step.x.dtype != x.dtype:
            fail(f"Step {k + 1}'s x must be a tensor shaped like the start {tuple(x.shape)} with its dtype "
                 f"{x.dtype}, got {getattr(step.x, 'shape', type(step.x).__name__)}")
        if not isinstance(step.x0, torch.Tensor) or step.x0.shape != x.shape:
            fail(f"Step {k + 1}'s x0 must be the latest denoised estimate (the .x0 of the step's last model call), "
                 f"shaped like x; got {getattr(step.x0, 'shape', step.x0)}")
    if not torch.isfinite(steps[-1].x).all():
        fail("my_sampler's samples hold NaN or inf")


def test_leaves_x_alone_and_is_deterministic(mine, ring64):
    x = _start(50)
    before = x.clone()
    ts = schedules.karras_grid(5, SCHEDULE)
    first = _final(mine, ring64, x, ts)
    if not torch.equal(x, before):
        fail("my_sampler changed its input x in place (x += ..., x.mul_(...)): write x = x + ..., so that the caller's "
             "start is left as it was (a benchmark reuses one start for every sampler)")
    if not torch.equal(first, _final(mine, ring64, x, ts)):
        fail("two runs of my_sampler from the same x gave different samples: an ODE solver is deterministic "
             "(it adds no noise; generator is unused)")


def test_follows_the_dtype_of_x(mine):
    model = exact.mixture_denoiser(toy.ring(), SCHEDULE)  # float32
    x = _start(50, dtype=torch.float32)
    out = _final(mine, model, x, schedules.karras_grid(5, SCHEDULE))
    if out.dtype != torch.float32 or not torch.isfinite(out).all():
        fail(f"from a float32 x, my_sampler gave {out.dtype} samples (finite: {bool(torch.isfinite(out).all())}): "
             "compute the coefficients in float64 and move them to x's dtype and device, as minidiff's samplers do")


def test_checks_its_grid(mine, ring64):
    x = _start(10)
    rising = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    try:
        list(mine.my_sampler(ring64, x, rising, SCHEDULE))
    except NotImplementedError as err:
        message = explain("my_sampler", err)
    except ValueError:
        return
    except Exception as err:
        message = (f"on a rising grid my_sampler raised {type(err).__name__}: {err}; it should refuse it with a "
                   "ValueError that says why: start with samplers.check_grid(ts, x, schedule, 'my_sampler')")
    else:
        message = ("my_sampler ran on a grid that rises from t = 0 to 1 (from data to noise): start with "
                   "samplers.check_grid(ts, x, schedule, 'my_sampler'), which refuses bad grids with the reason")
    fail(message)


def test_counts_its_network_calls(mine, ring64):
    x = _start(20)
    for budget in (1, 2, 6, 10, 11, 20):
        steps = _steps_for(mine, budget)
        if budget < 2:
            continue  # one call may be less than one step of a two-call method
        calls = []
        for n in (steps, steps + 1):
            counted = samplers.CountCalls(ring64)
            _final(mine, counted, x, schedules.karras_grid(n, SCHEDULE),
                   what="my_sampler(samplers.CountCalls(model), x, ts, schedule)")
            calls.append(counted.calls)
        if calls[0] > budget:
            fail(f"steps_for_nfe({budget}) = {steps}, but {steps} steps of my_sampler made {calls[0]} network calls "
                 f"(counted by samplers.CountCalls), more than the budget of {budget}")
        if calls[1] <= budget:
            fail(f"steps_for_nfe({budget}) = {steps}, but {steps + 1} steps also fit in {budget} calls (they made "
                 f"{calls[1]}): give the most steps the budget allows, or the benchmark shortchanges your sampler")
    measured(__file__, f"network calls: steps_for_nfe(20) = {_steps_for(mine, 20)} steps")


def test_never_calls_the_model_at_t_0(mine):
    # A network that predicts x0 cannot give eps where sigma = 0 (eps = (x - alpha x0) / sigma): no sampler
    # may call the model at the grid's last time t = 0 (Heun's last step is Euler's for that reason).
    model = exact.mixture_denoiser(toy.ring().to(torch.float64), SCHEDULE, target="x0")
    try:
        out = _final(mine, model, _start(20), schedules.karras_grid(5, SCHEDULE), passthrough=(ValueError,),
                     what="my_sampler with an x0-predicting model")
    except ValueError as err:
        message = (explain("my_sampler with an x0-predicting model", err) if "sigma(t) = 0" not in f"{err}" else
                   "my_sampler called the model at t = 0, where sigma = 0: a model that predicts x0 (or clips it) "
                   "cannot give eps there, and minidiff's samplers never ask. Take the step that ends at t = 0 "
                   "without evaluating at its end (as samplers.heun's last step does)")
    else:
        if torch.isfinite(out).all():
            return
        message = "with a model that predicts x0, my_sampler's samples hold NaN or inf"
    fail(message)


def _guided_models():
    gm, labels = toy.labelled_mixture()
    gm = gm.to(torch.float64)
    cfg = guidance.ClassifierFree(exact.conditional_mixture_denoiser(gm, labels, SCHEDULE), 0, 2.0)
    clf = guidance.ClassifierGuided(exact.mixture_denoiser(gm, SCHEDULE),
                                    exact.mixture_classifier(gm, labels, SCHEDULE), 0, 2.0)
    return {"guidance.ClassifierFree": cfg, "guidance.ClassifierGuided": clf}


def test_takes_guidance_wrappers(mine):
    x = _start(50, seed=2)
    steps = _steps_for(mine, 40)
    for name, model in _guided_models().items():
        out = _final(mine, model, x, schedules.karras_grid(steps, SCHEDULE), what=f"my_sampler with a {name} wrapper")
        fine_grid = schedules.karras_grid(minidiff.by_mode(full=200, fast=60), SCHEDULE)
        fine = samplers.run(samplers.heun(model, x, fine_grid, SCHEDULE))
        error = (out - fine).norm(dim=1).mean().item()
        measured(__file__, f"{name} (w = 2, 40 NFE): mean distance {error:.2g} to a fine Heun solve of the same ODE")
        if not error < 0.1:
            fail(f"with a {name} wrapper as the model, {steps} steps of my_sampler end {error:.3g} away (mean "
                 "distance) from a fine solve of the same guided ODE from the same noise; second-order samplers "
                 "land within 0.05 at 40 NFE. Does every step use the model's answer (.eps, .x0) at the right time?")


def test_second_order(mine, ring64):
    """The endpoint error against a fine solve from the same noise falls at least like NFE^-1.5."""
    budgets = minidiff.by_mode(full=(10, 20, 40, 80), fast=(10, 20, 40))
    x = _start(minidiff.by_mode(full=500, fast=100), seed=1)
    fine = samplers.run(samplers.heun(ring64, x, schedules.karras_grid(minidiff.by_mode(full=1000, fast=300), SCHEDULE),
                                      SCHEDULE))
    used, errors = [], []
    for budget in budgets:
        counted = samplers.CountCalls(ring64)
        out = _final(mine, counted, x, schedules.karras_grid(_steps_for(mine, budget), SCHEDULE))
        used.append(counted.calls)
        errors.append((out - fine).norm(dim=1).mean().item())
    if not all(math.isfinite(e) and e > 0 for e in errors):
        fail(f"my_sampler's endpoint errors at NFE {used} are {errors}: NaN, inf, or exactly 0")
    slope = nfe.fit_order(used, errors)
    measured(__file__, "endpoint error against a fine solve from the same noise (ring, exact denoiser, Karras grid): "
             + ", ".join(f"{e:.2g} at {n} NFE" for n, e in zip(used, errors)) + f"; fitted slope {slope:.2f}")
    if slope <= -1.5:
        return
    if slope > -0.5:
        why = ("it hardly falls as the steps shrink: the sampler does not converge to the ODE's solution. Check each "
               "step against samplers.ddim's (which you could call step by step to compare)")
    elif slope > -1.4:
        why = ("that is first order, Euler's (DDIM's) rate: the second call must change the step, e.g. the midpoint "
               "rule takes the whole step with the slope found at the middle, not the one at the start")
    else:
        why = "between first and second order: is the second evaluation at the right time and the right x?"
    fail(f"the endpoint error falls like NFE^{slope:.2f} ({', '.join(f'{e:.2g}' for e in errors)} at {used} NFE), "
         f"slower than NFE^-1.5; a second-order method gets about NFE^-2. {why}")


def test_quality_on_the_nfe_benchmark(mine):
    """Not a check of correctness: quality in floor units beside minidiff's samplers, printed at the end."""
    n, runs = minidiff.by_mode(full=2000, fast=500), minidiff.by_mode(full=5, fast=3)
    gm = toy.ring()
    model = exact.mixture_denoiser(gm, SCHEDULE)
    g = torch.Generator().manual_seed(0)
    # As nfe.quality_vs_nfe does: every sampler gets the same starts and the same reference samples.
    floor = metrics.noise_floor(gm.sample, n, repeats=2 * runs + 1, generator=g)
    t_start = schedules.karras_grid(1, SCHEDULE)[0].item()
    starts = [samplers.prior_sample(n, 2, SCHEDULE, t_start, generator=g) for _ in range(runs)]
    references = [gm.sample(n, g) for _ in range(runs)]
    rows = {}
    for budget in (10, 20):
        outs = [_final(mine, model, x, schedules.karras_grid(_steps_for(mine, budget), SCHEDULE)) for x in starts]
        rows.setdefault("yours", []).append(nfe.quality(outs, references, floor))
        for name in ("ddim", "heun", "dpm_solver_pp"):
            ts = schedules.karras_grid(nfe.steps_for_nfe(name, budget), SCHEDULE)
            outs = [samplers.run(samplers.SAMPLERS[name](model, x, ts, SCHEDULE)) for x in starts]
            rows.setdefault(name, []).append(nfe.quality(outs, references, floor))
    if not all(math.isfinite(q) for q in rows["yours"]):
        fail(f"my_sampler's quality is {rows['yours']}: NaN or inf samples")
    here = __file__
    measured(here, f"quality on the 8-Gaussian ring, exact denoiser, Karras grid (sliced Wasserstein over the noise "
                   f"floor, median of {runs} runs of {n} points; 1 = as close as exact samples):")
    measured(here, f"{'NFE at most':<16}{10:>8}{20:>8}")
    for name, qs in rows.items():
        measured(here, f"{name:<16}" + "".join(f"{q:>8.2f}" for q in qs))
