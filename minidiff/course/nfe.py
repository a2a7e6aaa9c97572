"""Quality against the number of network evaluations (NFE), measured the same way by lesson 08 and
by benchmarks/samplers.py.

Two measures, because they answer different questions:
- distribution quality: the sliced Wasserstein distance of n samples to the truth in units of the
  noise floor (the distance two n-point samples of the truth already have), a median over runs;
  it stops improving at about 1, the floor, however accurate the solver;
- endpoint error: from the same starting noise, the mean distance between a solver's final points
  and those of a very fine solve of the same ODE; it shows the order of the method (Euler NFE^-1,
  Heun and DPM-Solver++ NFE^-2) at every NFE, because nothing random hides it.
NFE is the number of steps for every sampler but the two-call ones (TWO_CALLS_PER_STEP); DPM-Solver++
makes one call per step, as it reuses the previous one.
"""

import math
import statistics
from typing import Callable, NamedTuple

import torch

from ..core import samplers
from ..worlds.metrics import noise_floor, sliced_wasserstein
from ..core.schedules import Schedule, karras_grid, log_snr_grid

SAMPLERS = samplers.SAMPLERS  # name -> sampler(model, x, ts, schedule, generator=...)
TWO_CALLS_PER_STEP = ("heun", "predictor_corrector")  # every step but the last calls the model twice
# Where the steps go, by name: Karras et al.'s rho = 7 grid (noise levels 80 .. 0.002, then t = 0), or
# DPM-Solver's, evenly spaced in log-SNR (80 .. 0.01, then t = 0). Both start at noise level 80.
GRIDS = {"karras": karras_grid, "log_snr": log_snr_grid}


class Point(NamedTuple):
    """One measurement: a sampler given a budget of NFE, the steps and NFE it used, its quality (floor units)."""

    sampler: str
    budget: int
    steps: int
    nfe: int
    quality: float


def steps_for_nfe(name: str, nfe: int) -> int:
    """The number of steps that costs about `nfe` network calls (2 steps - 1 for the two-call samplers)."""
    _known(name)
    return max(1, (nfe + 1) // 2) if name in TWO_CALLS_PER_STEP else max(1, nfe)


def time_grid(grid, steps: int, schedule: Schedule) -> torch.Tensor:
    """The `steps`-step time grid on `schedule`: `grid` is a name in GRIDS, or a function
    grid(steps, schedule) that returns the decreasing times (to try a grid of your own)."""
    if callable(grid):
        return grid(steps, schedule)
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}; choose one of {sorted(GRIDS)}, or pass a function "
                         "grid(steps, schedule) -> times")
    return GRIDS[grid](steps, schedule)


def sample(name: str, model, n: int, steps: int, schedule: Schedule, dim: int = 2,
           generator: torch.Generator | None = None, x: torch.Tensor | None = None, grid="karras",
           device=None):
    """Run sampler `name` for `steps` steps on `grid` (see time_grid; by default the Karras grid:
    rho-spaced noise levels 80 .. 0.002, then t = 0) from x, or from n fresh draws of the prior on
    `device`; returns (final x, NFE used)."""
    _known(name)
    ts = time_grid(grid, steps, schedule)
    if x is None:
        x = samplers.prior_sample(n, dim, schedule, ts[0].item(), device=device, generator=generator)
    counted = samplers.CountCalls(model)
    out = samplers.run(SAMPLERS[name](counted, x, ts, schedule, generator=generator))
    return out, counted.calls


def quality(xs: list[torch.Tensor], references: list[torch.Tensor], floor: float) -> float:
    """Median over runs of sliced_wasserstein(x_r, reference_r), in units of the noise floor."""
    return statistics.median(sliced_wasserstein(x, ref.to(x)) for x, ref in zip(xs, references)) / floor


def quality_vs_nfe(model, truth: Callable, schedule: Schedule, names=tuple(SAMPLERS), nfes=(10, 20, 40),
                   n: int = 2000, runs: int = 5, seed: int = 0, dim: int = 2,
                   grid="karras") -> tuple[list[Point], float]:
    """Quality (median over `runs` runs of n points, in floor units) of every sampler at every budget
    of NFE on `grid` (see time_grid); returns the points and the floor. truth(n, generator) draws n
    samples of the truth.

    Every sampler gets the same starting noise and the same reference samples in run r (common
    random numbers), so differences between samplers and NFE are not differences between seeds."""
    g = torch.Generator().manual_seed(seed)
    floor = noise_floor(truth, n, repeats=2 * runs + 1, generator=g)
    t_start = time_grid(grid, 1, schedule)[0].item()  # every grid of a kind starts at the same noise level
    starts = [samplers.prior_sample(n, dim, schedule, t_start, generator=g) for _ in range(runs)]
    references = [truth(n, g) for _ in range(runs)]
    points = []
    for name in names:
        for target in nfes:
            steps, outs = steps_for_nfe(name, target), []
            for r, x in enumerate(starts):
                noise = torch.Generator().manual_seed(seed + 1000 * (r + 1))  # the samplers' own noise
                outs.append(sample(name, model, n, steps, schedule, dim, generator=noise, x=x, grid=grid))
            points.append(Point(name, target, steps, outs[0][1], quality([x for x, _ in outs], references, floor)))
    return points, floor


def nfe_to_reach(points: list[Point], name: str, target: float = 1.2) -> int | None:
    """The smallest NFE measured from which sampler `name` stays within `target` times the floor at
    every larger NFE measured (None: not reached). 'Stays' keeps one lucky draw from counting."""
    mine = sorted((p.nfe, p.quality) for p in points if p.sampler == name)
    reached = None
    for nfe, q in reversed(mine):
        if q > target:
            break
        reached = nfe
    return reached


def reference_solution(model, x: torch.Tensor, schedule: Schedule, steps: int = 1000) -> torch.Tensor:
    """The end points of the ODE from x, as exactly as endpoint errors need them: a Heun solve with
    `steps` steps on the Karras grid. It serves every grid that starts where the Karras grid does
    (noise level 80, as both GRIDS do)."""
    return sample("heun", model, len(x), steps, schedule, x=x)[0]


def endpoint_errors(model, x: torch.Tensor, schedule: Schedule, names=("euler", "heun"),
                    nfes=(10, 20, 40, 80, 160), reference_steps: int = 1000, grid="karras",
                    reference: torch.Tensor | None = None) -> dict:
    """From the same start x, the mean distance |x_N - x_ref| between the end points of each ODE
    solver on `grid` (see time_grid) and the reference: reference_solution(model, x, schedule,
    reference_steps), or `reference` when given (computed once from this x, to share between calls).
    Returns {name: (nfes used, errors)}."""
    if reference is None:
        reference = reference_solution(model, x, schedule, reference_steps)
    elif reference.shape != x.shape:
        raise ValueError(f"endpoint_errors: the reference must be the end points of the same {tuple(x.shape)} "
                         f"start x, got shape {tuple(reference.shape)}; make it with reference_solution(model, x, ...)")
    errors = {}
    for name in names:
        used, errs = [], []
        for target in nfes:
            out, calls = sample(name, model, len(x), steps_for_nfe(name, target), schedule, x=x, grid=grid)
            used.append(calls)
            errs.append((out - reference).flatten(1).norm(dim=1).mean().item())
        errors[name] = (used, errs)
    return errors


def fit_order(nfes, errors) -> float:
    """The least-squares slope of log(error) against log(NFE): about -1 for Euler, -2 for Heun."""
    lx = torch.tensor([math.log(v) for v in nfes], dtype=torch.float64)
    ly = torch.tensor([math.log(v) for v in errors], dtype=torch.float64)
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return ((lx * ly).sum() / (lx * lx).sum()).item()


def table(points: list[Point], target: float = 1.2) -> str:
    """A plain-text table: one row per sampler, its quality (floor units) at each budget of NFE, and the
    smallest NFE measured at which it is within target times the floor."""
    names = list(dict.fromkeys(p.sampler for p in points))
    budgets = sorted({p.budget for p in points})
    lines = ["NFE at most".ljust(20) + "".join(f"{v:>7}" for v in budgets) + f"   NFE to reach {target}x",
             "sampler".ljust(20) + " " * 7 * len(budgets) + "   the floor"]
    for name in names:
        by_budget = {p.budget: p.quality for p in points if p.sampler == name}
        cells = "".join(f"{by_budget[v]:7.2f}" if v in by_budget else "      -" for v in budgets)
        reach = nfe_to_reach(points, name, target)
        lines.append(name.ljust(20) + cells + f"   {reach if reach is not None else 'not reached'}")
    return "\n".join(lines)


def _known(name: str) -> None:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}")
