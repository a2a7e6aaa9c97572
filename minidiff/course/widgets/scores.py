"""Sliders of lessons 04-06: the exact score field over the noise level, Langevin sampling with the
exact score over its step size and number of steps, and the learned score's error over noise levels."""

import math

import torch

from ...worlds import metrics
from ...core import samplers
from ...core.losses import score_error
from ..plot.scores import samples_vs_truth, score_field
from ..plot.training import score_error_figure
from ._controls import FigureControls, int_slider, log_slider, slider


def noise_level_explorer(gm, lim: float = 3.0, sigma: float = 0.0, max_sigma: float = 3.0) -> FigureControls:
    """A slider over the noise level sigma: the exact score field of x0 + sigma eps."""

    def draw(sigma):
        noised = gm.noised(1.0, sigma) if sigma > 0 else gm
        return score_field(noised, lim, title=f"x0 + sigma eps, sigma = {sigma:.2f}")

    return FigureControls(draw, lambda sigma: f"score field at noise level sigma = {sigma:.2f}",
                          {"sigma": slider("sigma", 0.0, max_sigma, sigma, 0.05)})


def langevin_snapshot(gm, start: torch.Tensor, step_size: float, n_steps: int, seed: int = 0,
                      lim: float = 3.0):
    """Run Langevin from `start` with the exact score; return (Figure, distance in floor units: inf if
    it diverged)."""
    x = start
    if n_steps > 0:
        x = samplers.run(samplers.langevin(gm.score, start, step_size, n_steps,
                                           generator=torch.Generator().manual_seed(seed)))
    units = math.inf
    if torch.isfinite(x).all() and x.abs().max() < 1e6:
        # a fixed seed for the references: moving a slider back shows the same number again
        units = metrics.in_floor_units(x, gm.sample, generator=torch.Generator().manual_seed(seed + 1))
    title = f"step {step_size:.3g}, {n_steps} steps: " + ("diverged" if not math.isfinite(units)
                                                            else f"{units:.1f}x floor")
    fig = samples_vs_truth({title: x.nan_to_num(0.0).clamp(-1e3, 1e3)}, gm, lim)
    return fig, units


def langevin_explorer(gm, start: torch.Tensor, step_size: float = 0.01, n_steps: int = 100,
                      max_steps: int = 1000, lim: float = 3.0) -> FigureControls:
    """Sliders for the step size (log scale) and the number of steps of Langevin with the exact score;
    the label gives the sliced-Wasserstein distance to the truth in units of the noise floor."""
    last = {}

    def draw(step_size, n_steps):
        fig, last["units"] = langevin_snapshot(gm, start, step_size, n_steps, lim=lim)
        return fig

    def label(step_size, n_steps):  # called after draw, which measured the samples it drew
        units = last["units"]
        quality = "diverged" if not math.isfinite(units) else f"sliced W2 = {units:.1f}x the floor"
        return f"step size {step_size:.3g}, {n_steps} steps: {quality}"

    return FigureControls(draw, label, {"step_size": log_slider("step size", -3.5, -0.5, step_size),
                                        "n_steps": int_slider("steps", 0, max_steps, n_steps, 10)})


def score_error_explorer(score_fn, gm, sigmas, lim: float = 3.2, n: int = 61, device=None,
                         start: int = 0) -> FigureControls:
    """A slider over the noise levels `sigmas` (largest first) that redraws plot.score_error_figure."""
    levels = [float(s) for s in sigmas]
    errors = [score_error(score_fn, gm, score_fn.schedule.t_from_sigma(s).item(), n=2000,
                          generator=torch.Generator().manual_seed(0),
                          device=device) for s in levels]  # computed once, shown in the label

    def draw(level):
        return score_error_figure(score_fn, gm, levels[level], lim, n, device)

    def label(level):
        return (f"level {level + 1} of {len(levels)}: sigma = {levels[level]:.3g}; error where the "
                f"noised data is (RMS of sigma |s_learned - s_exact|) = {errors[level]:.3f}")

    return FigureControls(draw, label, {"level": int_slider("noise level", 0, len(levels) - 1, start)})
