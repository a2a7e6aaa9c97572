"""Sliders of lessons 07 and 08: the steps of one sampling run, and the number of steps of fast
samplers with their distance to the truth."""

from typing import Sequence

import torch

from ...worlds import metrics
from .. import nfe
from ..plot.ddpm import ddpm_step_figure
from ..plot.samplers import sample_panels
from ._controls import FigureControls, int_slider


def ddpm_step_explorer(steps: Sequence, n_show: int = 16, start: int = 0) -> FigureControls:
    """A slider over the steps of a sampling run, showing x_t and the predicted x0 side by side."""

    def draw(step):
        return ddpm_step_figure(steps, step - 1, n_show=n_show)

    def label(step):
        return f"step {step} of {len(steps)}: t = {float(steps[step - 1].t):.3f}"

    return FigureControls(draw, label, {"step": int_slider("step", 1, len(steps), start + 1)})


def steps_explorer(model, schedule, truth, names=("ddim", "heun"), n: int = 1000, steps: int = 10,
                   max_steps: int = 40, seed: int = 0, lim: float = 3.0, parts: int = 5) -> FigureControls:
    """A slider over the number of steps: re-samples with each sampler from the same noise and shows
    the samples and their distance to the truth in floor units (metrics.in_floor_units over `parts`
    parts of the sample: one sample's luck in its mode counts moves a single distance by up to 2x).
    truth: a toy.GaussianMixture."""
    background = truth.sample(n, torch.Generator().manual_seed(seed + 1))  # the grey truth behind the points
    cache = {}

    def measure(k):
        if k not in cache:  # a redraw at a value seen before costs nothing
            results = {}
            for name in names:
                # the same starting noise for every sampler and every number of steps
                noise = torch.Generator().manual_seed(seed)
                x, calls = nfe.sample(name, model, n, k, schedule, generator=noise)
                # the same references for every sampler and number of steps (not the sampler's seed)
                units = metrics.in_floor_units(x, truth.sample, parts=parts,
                                               generator=torch.Generator().manual_seed(seed + 2))
                results[name] = (x, calls, units)
            cache[k] = results
        return cache[k]

    def draw(steps):
        results = measure(steps)
        titles = {name: f"{name}: {steps} steps, {c} NFE\n{d:.2f}x the floor"
                  for name, (_, c, d) in results.items()}
        return sample_panels({name: r[0] for name, r in results.items()}, background, lim, titles)

    def label(steps):
        parts_ = [f"{name} {c} NFE -> {d:.2f}x the floor" for name, (_, c, d) in measure(steps).items()]
        return f"steps = {steps}: " + "; ".join(parts_)

    return FigureControls(draw, label, {"steps": int_slider("steps", 1, max_steps, steps)})
