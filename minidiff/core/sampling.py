"""What every sampler in `samplers` shares around its loop: the Step it yields, `run`, grad mode off
while a step runs, the check of its inputs (check_grid), the model prepared for the grid with the
sampler's schedule on it (start), its noise (draw_like), the usual start (prior_sample) and a
counter of network calls (CountCalls). The loops themselves are in samplers.
"""

import functools
import inspect
import math
from typing import Callable, Iterator, NamedTuple

import torch
from tqdm.auto import tqdm

from .params import float64_times, on_grid, prepare
from ..runtime import check_generator, randn_like
from .schedules import Schedule


class Step(NamedTuple):
    """One step of a sampler: where it is now (x), at what time or noise level (t), and, when the
    sampler has one, its current guess of the clean sample (x0)."""

    t: float
    x: torch.Tensor
    x0: torch.Tensor | None = None


def run(sampler: Iterator[Step]) -> torch.Tensor:
    """Run a sampler to the end and return its final x."""
    last = None
    for last in sampler:
        pass
    if last is None:
        raise ValueError("run: the sampler yielded no step (was the number of steps 0?)")
    return last.x


def without_grad(sampler):
    """torch.no_grad for a sampler's generator, as torch's decorator does it: grad mode off while a step
    runs, the caller's own again at each yield (and if a step raises). It sets the mode directly, as
    no_grad's __enter__ and __exit__ do through two more objects per step: a third of the cost, which
    is about that of one tensor operation on 2-D points."""

    names = list(inspect.signature(sampler).parameters)
    at = names.index("generator")  # every sampler takes one; checked here once per run, not per step

    @functools.wraps(sampler)
    def steps(*args, **kwargs):
        check_generator(kwargs.get("generator", args[at] if len(args) > at else None), sampler.__name__)
        body, set_grad_mode = sampler(*args, **kwargs), torch._C._set_grad_enabled
        while True:
            mode = torch.is_grad_enabled()  # the caller's, which may change between steps
            set_grad_mode(False)
            try:
                step = next(body, None)
            finally:
                set_grad_mode(mode)
            if step is None:
                return
            yield step

    return steps


# The samplers whose step from alpha = 0 (t = 1 of a zero-terminal-SNR schedule) is well defined from
# an x0 prediction: DDIM's x_s = alpha_s x0 + sigma_s eps (eps = x_t there) and DDPM's posterior mean
# alpha_s x0 need no division by alpha_t, and DPM-Solver++'s first step is DDIM's (h = inf, e^-h = 0).
ZERO_SNR_STARTS = ("ddim", "euler", "ddpm", "dpm_solver_pp")
_NO_ZERO_SNR_START = {  # why the others cannot take a step from alpha = 0
    "heun": "its step lives in y = x / alpha and s = sigma / alpha, both infinite there",
    "euler_maruyama": "the reverse SDE's drift d log alpha / dt is -inf there",
    "predictor_corrector": "the reverse SDE's drift d log alpha / dt is -inf there",
}


def checked_times(ts, x: torch.Tensor, schedule, where: str, zero_snr_start: bool = False) -> torch.Tensor:
    """The checked grid as float64 times on the CPU (params.float64_times).
    zero_snr_start: the sampler can start where alpha = 0 (ts[0] only; never later in the grid)."""
    if not isinstance(schedule, Schedule):
        hint = " (a name is not enough: pass the object, e.g. schedules.VPLinear())" if isinstance(schedule, str) else ""
        hint = " (this model has no .schedule: pass one)" if schedule is None else hint
        raise ValueError(f"{where}: schedule must be a schedules.Schedule{hint}, got {type(schedule).__name__} "
                         f"{schedule!r}")
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{where}: x must be a batch (B, ...) with the batch first, got {shape}; "
                         "for one point use x[None]")
    if not torch.isfinite(x).all():
        raise ValueError(f"{where}: x contains NaN or inf; start from finite points, e.g. samplers.prior_sample(...)")
    t64 = float64_times(ts)  # the exact times: the coefficients and Step.t come from them
    if t64.ndim != 1 or len(t64) < 2:
        raise ValueError(f"{where}: ts must be a 1-D tensor of at least 2 times (steps + 1), got shape "
                         f"{tuple(t64.shape)}; e.g. schedules.uniform_grid(1000)")
    if not (t64[1:] < t64[:-1]).all() or t64[-1] < 0 or t64[0] > 1:
        raise ValueError(f"{where}: ts must decrease strictly within [0, 1] (from noise to data), "
                         f"got {t64.tolist()[:4]}...")
    alpha = schedule.alpha(t64)
    if not (alpha[1:] > 0).all():
        bad = t64[1:][~(alpha[1:] > 0)][0].item()
        raise ValueError(f"{where}: alpha(t) = 0 at t = {bad:g}, where x0 = (x - sigma eps) / alpha "
                         "is infinite; start the grid a little earlier, e.g. t = 0.999")
    if not alpha[0] > 0 and not zero_snr_start:
        why = _NO_ZERO_SNR_START.get(where, "it divides by alpha")
        raise ValueError(f"{where}: alpha(t) = 0 at the grid's start t = {t64[0].item():g} (zero terminal SNR, "
                         f"{schedule!r}), and {where} cannot step from there: {why}. The samplers that can "
                         f"start at alpha = 0, given a model that predicts x0 or v: {', '.join(ZERO_SNR_STARTS)}; "
                         "or start the grid a little earlier, e.g. t = 0.999")
    return t64


def check_grid(ts, x: torch.Tensor, schedule: Schedule, where: str) -> torch.Tensor:
    """The one check of a sampler's inputs: schedule a Schedule, x a finite batch (B, ...), ts 1-D,
    at least 2 times, strictly decreasing in [0, 1]. Returns ts in x's dtype, on x's device."""
    return checked_times(ts, x, schedule, where).to(x.dtype).to(x.device)  # dtype first: converted on the CPU


def start(model, x: torch.Tensor, ts, schedule, where: str, zero_snr_start: bool = False):
    """(the model prepared for the checked grid, the sampler's schedule on it): the model's own schedule
    unless another is given, in which case the model still predicts with its own."""
    schedule = schedule if schedule is not None else getattr(model, "schedule", None)
    t64 = checked_times(ts, x, schedule, where, zero_snr_start)
    prepared = prepare(model, t64, x)
    grid = getattr(prepared, "grid", None)  # the model's tables serve the sampler when the schedule is its own
    return prepared, grid if grid is not None and grid.schedule is schedule else on_grid(schedule, t64, x)


def draw_like(x: torch.Tensor, generator: torch.Generator | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """randn_like(x, generator) for one run, with its arguments worked out once: x keeps its shape,
    dtype and device through a run. The same numbers as randn_like."""
    if generator is None or generator.device != x.device:
        return lambda x: randn_like(x, generator)
    shape, dtype, device = x.shape, x.dtype, x.device
    return lambda x: torch.randn(shape, generator=generator, device=device, dtype=dtype)


def positive(value, name: str, caller: str) -> float:
    """value as a finite float > 0, or a ValueError that names it."""
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{caller}: {name} must be a finite number > 0, got {value}")
    return value


def whole_number(value, name: str, caller: str) -> int:
    """value as an int >= 1 (n, steps, ...), or a ValueError that names it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{caller}: {name} must be a whole number >= 1, got {value!r}")
    return value


PROGRESS_DELAY = 3.0  # seconds: a long sampling call shows a progress bar only once it has run this long


def progress_bar(total: int, desc: str, show: bool = True) -> tqdm:
    """A bar of `total` sampler steps that appears once the run has taken PROGRESS_DELAY seconds."""
    return tqdm(total=total, desc=desc, delay=PROGRESS_DELAY, leave=False, disable=not show)


def prior_sample(n: int, dim: int, schedule: Schedule, t, device=None,
                 generator: torch.Generator | None = None, dtype=None) -> torch.Tensor:
    """n draws of N(0, (alpha^2 + sigma^2) I) at time t: the law of x_t for data of unit variance,
    the usual start of every sampler (N(0, I) for a VP schedule, about N(0, sigma^2 I) for VE)."""
    check_generator(generator, "prior_sample")
    dtype = dtype or torch.get_default_dtype()
    t = torch.as_tensor(float(t), dtype=torch.float64)
    std = torch.sqrt(schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2).item()
    gen_device = generator.device if generator is not None else torch.device("cpu")
    z = torch.randn(n, dim, generator=generator, device=gen_device, dtype=dtype)  # (n, dim)
    return (std * z).to(device if device is not None else gen_device)


class CountCalls:
    """Wraps a model and counts its calls: `model.calls` is the number of network evaluations (NFE)."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor, *args, **kwargs):
        self.calls += 1
        return self.model(x, t, *args, **kwargs)
