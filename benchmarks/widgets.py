"""How long every slider of the course takes to redraw: the median over several moves of a control.

A slider feels sluggish above about half a second. The timings live here, not in the tests: a test
that asserts wall-clock time fails on a busy machine for no fault of the code. Each explorer is
built with inputs the size its lesson uses (exact scores stand in for trained networks).
Run: python benchmarks/widgets.py  (MINIDIFF_FAST=1 for fewer moves).
"""

import statistics
import time

import numpy as np
import torch

import minidiff
from minidiff import data, exact, ink, params, schedules, toy, widgets
from minidiff.core.samplers import ddpm

MOVES = minidiff.by_mode(full=7, fast=3)  # values set per control, each different from the last


def ring_steps(n: int = 1000, steps: int = 250) -> list:
    """Every step of a DDPM run with the exact denoiser of the ring (lesson 07's 2-D run)."""
    schedule, g = schedules.VPLinear(), torch.Generator().manual_seed(0)
    return list(ddpm(exact.mixture_denoiser(toy.ring(), schedule), torch.randn(n, 2, generator=g),
                     schedules.uniform_grid(steps), schedule, generator=g))


def shifted_score_model(gm, schedule: schedules.VE):
    """A Denoiser whose score is the exact one plus a constant: an imperfect 'learned' score."""
    shift = torch.tensor([0.3, -0.4])
    return params.Denoiser(lambda x, t: gm.noised(1.0, schedule.sigma(t[0]).item()).score(x) + shift,
                           schedule, target="score")


def explorers() -> dict:
    """name -> (a function that builds the explorer, the control to move, the values to set)."""
    ring, g = toy.ring(), torch.Generator().manual_seed(0)
    x0 = ink.ink_drop(2000, 0.5, generator=g)
    frames = list(ink.random_walk(x0, 0.5, 0.05, 40, generator=g))
    xs, h = ink.grid(3.0, 120)
    p0 = ink.disc_density(xs, 0.5)
    digits, labels = data.load_digits(28)
    row = digits[data.first_per_class(labels)]
    ve = schedules.VE(0.05, 4.0)
    sigmas = np.geomspace(4.0, 0.05, 10).tolist()
    return {
        "grey_level_explorer": (widgets.grey_level_explorer, "level", np.linspace(0, 255, MOVES).astype(int)),
        "cursor_explorer": (widgets.cursor_explorer, "level1", np.linspace(10, 250, MOVES).astype(int)),
        "ink_slider": (lambda: widgets.ink_slider(frames, lambda t: ink.heat_equation(p0, 0.5, t, h), xs),
                       "t", np.linspace(0.2, 2.0, MOVES)),
        "schedule_explorer": (lambda: widgets.schedule_explorer(
            toy.two_pixel_mixture().sample(1500, generator=g), row, generator=g), "t", np.linspace(0.1, 0.9, MOVES)),
        "noise_level_explorer": (lambda: widgets.noise_level_explorer(ring), "sigma", np.linspace(0.1, 3.0, MOVES)),
        "langevin_explorer": (lambda: widgets.langevin_explorer(ring, 3 * torch.randn(1000, 2, generator=g)),
                              "n_steps", np.linspace(200, 800, MOVES).astype(int)),
        "score_error_explorer": (lambda: widgets.score_error_explorer(shifted_score_model(ring, ve), ring, sigmas),
                                 "level", np.linspace(1, 9, MOVES).astype(int)),
        "ddpm_step_explorer": (lambda: widgets.ddpm_step_explorer(ring_steps()), "step",
                               np.linspace(20, 240, MOVES).astype(int)),
        "steps_explorer": (lambda: widgets.steps_explorer(exact.mixture_denoiser(ring, schedules.VPLinear()),
                                                          schedules.VPLinear(), ring, n=2000, steps=5),
                           "steps", np.linspace(6, 40, MOVES).astype(int)),
    }


def time_redraws(build, control: str, values) -> tuple[float, list[float]]:
    """Seconds to build the explorer, and the seconds of each redraw as the control is moved."""
    start = time.perf_counter()
    ui = build()
    built = time.perf_counter() - start
    seconds = []
    for value in values:
        value = type(ui.controls[control].value)(value)
        if value == ui.controls[control].value:
            continue  # setting the same value draws nothing
        start = time.perf_counter()
        ui.controls[control].value = value  # observers redraw the figure and the label here
        seconds.append(time.perf_counter() - start)
    return built, seconds


def main() -> None:
    print(f"torch threads: {torch.get_num_threads()}; {MOVES} moves per control")
    print(f"{'explorer':24s} {'control':8s} {'build s':>8s} {'median s':>9s} {'max s':>7s}")
    for name, (build, control, values) in explorers().items():
        built, seconds = time_redraws(build, control, values)
        print(f"{name:24s} {control:8s} {built:8.2f} {statistics.median(seconds):9.3f} {max(seconds):7.3f}")


if __name__ == "__main__":
    main()
