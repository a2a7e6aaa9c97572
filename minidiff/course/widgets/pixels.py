"""Sliders of lessons 00 and 01: a grey level and the number it becomes; a cursor over the plane of
two-pixel images."""

import torch

from ...worlds import toy
from ..plot.points import cursor_figure, density_grid, grey_level_figure
from ._controls import FigureControls, int_slider


def grey_level_explorer(level: int = 128) -> FigureControls:
    """Lesson 00's demo slider: a grey level and the number the course turns it into."""
    return FigureControls(
        grey_level_figure, lambda level: f"grey level {level} -> x = {level / 127.5 - 1:+.3f}",
        {"level": int_slider("grey level", 0, 255, level)})


def cursor_explorer(gm=None, level1: int = 45, level2: int = 210) -> FigureControls:
    """Two sliders (pixel 1, pixel 2) that move a cursor over the density and show its image."""
    gm = gm if gm is not None else toy.two_pixel_mixture()
    grid = density_grid(gm)  # computed once: a redraw only moves the cursor

    def label(level1, level2):
        x = toy.image_to_point(torch.tensor([[level1, level2]]))
        p = gm.log_prob(x.to(gm.means)).exp().item()
        return (f"pixel 1 = {level1}, pixel 2 = {level2} -> point ({x[0, 0]:.3f}, {x[0, 1]:.3f}), "
                f"density p = {p:.4f}")

    return FigureControls(
        lambda level1, level2: cursor_figure(gm, level1, level2, grid), label,
        {"level1": int_slider("pixel 1", 0, 255, level1),
         "level2": int_slider("pixel 2", 0, 255, level2)})
