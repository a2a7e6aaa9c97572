"""Sliders that redraw a figure: the only module (with `plot`) that imports ipywidgets.

A matplotlib Output widget misbehaves when a notebook runs headless, so a figure is rendered to
PNG and shown in an `Image`, with a `Label` that states the values it was drawn for. Tests set a
slider's `.value` and check that the image bytes and the label change.
"""

import time
from typing import Callable

import ipywidgets as widgets

from .plot import to_png


class FigureControls(widgets.VBox):
    """Controls above a picture: any change calls `draw(**values)` and shows the Figure it returns."""

    def __init__(self, draw: Callable, label: Callable[..., str], controls: dict, dpi: int = 80):
        self.draw, self.label_of, self.dpi = draw, label, dpi
        self.controls = dict(controls)
        self.image = widgets.Image(format="png")
        self.label = widgets.Label()
        self.last_draw_seconds = float("nan")
        for control in self.controls.values():
            control.observe(lambda change: self.redraw(), names="value")
        super().__init__([widgets.HBox(list(self.controls.values())), self.label, self.image])
        self.redraw()

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        """Draw the figure for the current values; time it, so lessons can report the lag."""
        start = time.perf_counter()
        values = self.values
        self.image.value = to_png(self.draw(**values), dpi=self.dpi)
        self.label.value = self.label_of(**values)
        self.last_draw_seconds = time.perf_counter() - start


def slider(description: str, min: float, max: float, value: float, step: float, **kwargs):
    """A float slider that updates only on release when dragged (so a drag draws once)."""
    kwargs.setdefault("continuous_update", False)
    return widgets.FloatSlider(description=description, min=min, max=max, value=value,
                               step=step, **kwargs)


def int_slider(description: str, min: int, max: int, value: int, step: int = 1, **kwargs):
    """An integer slider that updates on release."""
    kwargs.setdefault("continuous_update", False)
    return widgets.IntSlider(description=description, min=min, max=max, value=value,
                             step=step, **kwargs)
