"""Lesson 02's time slider: the ink particles beside the density at the same time."""

from typing import Callable, Sequence

import numpy as np

from ...worlds import ink
from ..plot.ink import particles_and_density
from ._controls import FigureControls, slider


def ink_slider(frames: Sequence[ink.Step], density_at: Callable[[float], np.ndarray], xs: np.ndarray,
               density_title: str = "heat equation") -> FigureControls:
    """A time slider: the particles of the frame nearest to t beside `density_at(t)` on the grid."""
    times = np.array([f.t for f in frames])

    def nearest(t: float) -> ink.Step:
        return frames[int(np.abs(times - t).argmin())]

    def draw(t: float):
        step = nearest(t)
        return particles_and_density(step.x, density_at(step.t), xs, step.t, density_title)

    def label(t: float) -> str:
        return f"t = {nearest(t).t:.2f}: particles and the density at the same time"

    lo, hi = float(times.min()), float(times.max())
    step = (hi - lo) / (len(frames) - 1)  # nearest() snaps to the frames, even on an uneven grid
    start = float(frames[0].t)  # a forward run starts at 0, a reversed one at T
    return FigureControls(draw, label, {"t": slider("t", lo, hi, start, step)})
