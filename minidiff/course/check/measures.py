"""Checkers for the exercises that ask for a choice found by measuring (lessons 05-08).

Each one runs a sampler itself, with fixed seeds and the exact score or denoiser of a toy mixture,
so that it takes seconds, and judges the learner's choice by what it measured. Quality is a median
over several runs of a sample, in units of the noise floor: a single run is too noisy to judge by.
"""

import math
import statistics

import torch

from ._core import CORRECT, WRONG, Feedback
from .choices import number


def _floor_units(x: torch.Tensor, truth, parts: int, generator: torch.Generator) -> float:
    from ...worlds.metrics import in_floor_units

    if not torch.isfinite(x).all():
        return math.inf
    return statistics.median(in_floor_units(p, truth, generator=generator) for p in x.chunk(parts))


# --- lesson 05: a Langevin step size ----------------------------------------------------------------

def _langevin_units(mixture, h: float, n_steps: int) -> float:
    from ...runtime import by_mode
    from ...core.samplers import langevin, run

    size, parts = by_mode(full=1000, fast=500), 3
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(parts * size, 2, generator=g)  # the lesson's broad start, nothing like p
    with torch.no_grad():
        x = run(langevin(mixture.score, x, h, n_steps, generator=g))
    return _floor_units(x, mixture.sample, parts, g)


def langevin_step_size(h, mixture, n_steps: int = 300, target: float = 1.3) -> Feedback:
    """Lesson 05: h = a step size with which n_steps Langevin steps from a broad start land within
    target x the noise floor of `mixture` (median over 3 runs)."""
    ex = "Langevin step size"
    h = number(ex, h)
    if isinstance(h, Feedback):
        return h
    if h <= 0:
        return Feedback(ex, WRONG, f"the step size must be > 0, got {h}.")
    units = _langevin_units(mixture, h, n_steps)
    if units <= target:
        return Feedback(ex, CORRECT, f"h = {h:g}: {units:.2f}x the floor after {n_steps} steps "
                                     f"(diffusion time {n_steps * h:.3g}).")
    s = mixture.stds.min().item()
    if h >= 2 * s**2:
        read = f"h = {h:g} reads {units:.3g}x the floor" if math.isfinite(units) else "the walkers flew off"
        return Feedback(ex, WRONG, f"{read}: the narrowest bump has s = {s:.2f}, "
                                   f"and beyond h = 2 s^2 = {2 * s**2:.2f} the walk is unstable across it.")
    # Which side of the valley? Half the step is worse when the walk has not arrived, better when it overshoots.
    half = _langevin_units(mixture, h / 2, n_steps)
    if half > units:
        return Feedback(ex, WRONG, f"h = {h:g} reads {units:.2f}x the floor, and h/2 worse still ({half:.2f}x): "
                                   f"the walkers have not arrived yet (diffusion time {n_steps} h = "
                                   f"{n_steps * h:.3g}); take a larger step.")
    return Feedback(ex, WRONG, f"h = {h:g} reads {units:.2f}x the floor, and h/2 better ({half:.2f}x): each "
                               "step overshoots, so the walk samples a law wider than p; take a smaller step.")


# --- lessons 07 and 08: the fewest steps that reach a quality ---------------------------------------

def _ring_quality(sampler: str, ks) -> dict:
    """Quality of the exact ring denoiser sampled with `sampler` in k steps, for each k in ks: the
    median over runs in floor units, the same starts and references for every k (common random numbers)."""
    from ...worlds import exact, toy
    from .. import nfe
    from ...core import samplers, schedules
    from ...worlds.metrics import noise_floor
    from ...runtime import by_mode

    ring, schedule = toy.ring(), schedules.VPLinear()
    model = exact.mixture_denoiser(ring, schedule)
    n, runs = by_mode(full=2000, fast=1000), by_mode(full=5, fast=3)
    if sampler == "ddim":  # as lesson 08 measures it: the Karras grid, nfe's own seeds
        points, _ = nfe.quality_vs_nfe(model, ring.sample, schedule, names=("ddim",), nfes=ks, n=n, runs=runs)
        return {p.steps: p.quality for p in points}
    g = torch.Generator().manual_seed(0)  # DDPM as lesson 07 runs it: uniform steps from N(0, I)
    floor = noise_floor(ring.sample, n, repeats=2 * runs + 1, generator=g)
    starts = [torch.randn(n, 2, generator=g) for _ in range(runs)]
    references = [ring.sample(n, g) for _ in range(runs)]
    out = {}
    for k in ks:
        noise = torch.Generator().manual_seed(1)
        xs = [samplers.run(samplers.ddpm(model, x, schedules.uniform_grid(k), schedule, generator=noise))
              for x in starts]
        out[k] = nfe.quality(xs, references, floor)
    return out


def _fewest_steps(ex: str, k, sampler: str, target: float, slack: int, most: int) -> Feedback:
    k = number(ex, k, integer=True)
    if isinstance(k, Feedback):
        return k
    if k > most:
        return Feedback(ex, WRONG, f"{k} steps is more than this exercise measures ({most}): far fewer will do.")
    q = _ring_quality(sampler, [k])[k]
    if q > target:
        return Feedback(ex, WRONG, f"with {k} steps the samples read {q:.2f}x the floor, above "
                                   f"{target}x: not there yet, more steps are needed.")
    # Past the first few steps quality only improves with k, so one look below the slack settles it.
    fewer = k - slack - 1
    if fewer >= 1 and (q_fewer := _ring_quality(sampler, [fewer])[fewer]) <= target:
        return Feedback(ex, WRONG, f"{k} steps read {q:.2f}x the floor, but fewer steps get there too "
                                   f"({fewer} read {q_fewer:.2f}x): look for the fewest.")
    return Feedback(ex, CORRECT, f"{k} steps read {q:.2f}x the floor, and clearly fewer do not.")


def fewest_ddpm_steps(k, target: float = 1.5) -> Feedback:
    """Lesson 07: k = the fewest uniform DDPM steps with which the exact ring denoiser's samples
    read within target x the noise floor (median over runs)."""
    return _fewest_steps("fewest DDPM steps", k, "ddpm", target, slack=3, most=200)


def fewest_ddim_steps(k, target: float = 1.2) -> Feedback:
    """Lesson 08: k = the fewest DDIM steps on the Karras grid with which the exact ring denoiser's
    samples read within target x the noise floor (median over runs, as nfe.quality_vs_nfe)."""
    return _fewest_steps("fewest DDIM steps", k, "ddim", target, slack=2, most=100)


# --- lesson 06: where is the learned score worst? ---------------------------------------------------

def worst_score_level(sigma, model, mixture, sigmas) -> Feedback:
    """Lesson 06: sigma = the one of the noise levels `sigmas` at which the model's score error,
    relative to the exact score's size (losses.score_error(..., relative=True)), is largest."""
    from ...core.losses import score_error

    ex = "worst noise level"
    sigma = number(ex, sigma)
    if isinstance(sigma, Feedback):
        return sigma
    levels = [float(v) for v in sigmas]
    i = min(range(len(levels)), key=lambda j: abs(levels[j] - sigma))
    if abs(levels[i] - sigma) > 0.05 * abs(levels[i]) + 1e-9:
        return Feedback(ex, WRONG, f"{sigma:g} is not one of the levels: pick one of "
                                   f"{', '.join(f'{v:.3g}' for v in levels)}.")
    params = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    device = params.device if params is not None else None

    def relative(s: float) -> float:
        # The level as a time on the model's clock (VE: t_from_sigma), and the same points at every
        # level (one seed each), so differences are the network's, not chance's.
        t = model.schedule.t_from_sigma(torch.tensor(s, dtype=torch.float64)).clamp(0, 1).item()
        return score_error(model, mixture, t, generator=torch.Generator().manual_seed(0), device=device,
                           relative=True)

    rel = [relative(s) for s in levels]
    worst = max(range(len(levels)), key=rel.__getitem__)
    if rel[i] >= 0.9 * rel[worst]:  # within 10%: a tie, given the measuring noise
        return Feedback(ex, CORRECT, f"at sigma = {levels[i]:.3g} the relative error is {rel[i]:.2f}, the "
                                     f"largest (the best level reads {min(rel):.2f}).")
    side = "smaller" if levels[worst] < levels[i] else "larger"
    why = (" At small noise x_t barely tells the noise apart from a point's own place in its bump, so "
           "E[eps | x_t] is small, and an error that looks small is large next to it."
           if side == "smaller" else "")
    return Feedback(ex, WRONG, f"at sigma = {levels[i]:.3g} the relative error is {rel[i]:.2f}; it is "
                               f"larger at {side} noise levels, up to {rel[worst]:.2f}.{why}")
