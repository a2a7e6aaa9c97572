"""Controls over a picture: a figure from `plot`, rendered to PNG, redrawn when a control moves.

A matplotlib Output widget misbehaves when a notebook runs headless, so a figure is rendered to
PNG and shown in an `Image`, with a `Label` that states the values it was drawn for. Tests set a
control's `.value` and check that the image bytes and the label change.
"""

from typing import Callable

import ipywidgets

from ..plot import to_png


class FigureControls(ipywidgets.VBox):
    """Controls above a picture: any change calls `draw(**values)` and shows the Figure it returns.

    The picture is shown at its figure's size at `dpi` pixels per inch, never stretched to the width of
    the output area, and rendered with `sharpness` times as many pixels, so that it stays crisp on
    high-density screens."""

    def __init__(self, draw: Callable, label: Callable[..., str], controls: dict, dpi: int = 80,
                 sharpness: int = 2):
        self.draw, self.label_of, self.dpi, self.sharpness = draw, label, dpi, sharpness
        self.controls = dict(controls)
        self.image = ipywidgets.Image(format="png")
        self.label = ipywidgets.Label()
        for control in self.controls.values():
            control.observe(lambda change: self.redraw(), names="value")
        super().__init__([ipywidgets.HBox(list(self.controls.values())), self.label, self.image])
        self.redraw()

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        """Draw the figure for the current values, then the label (which may use what draw computed)."""
        values = self.values
        self.show(self.draw(**values))
        self.label.value = self.label_of(**values)

    def show(self, fig) -> None:
        """Put `fig` in the image: rendered at dpi x sharpness, displayed at dpi (its width in CSS pixels)."""
        self.image.value = to_png(fig, dpi=self.dpi * self.sharpness)
        self.image.layout.width = f"{round(fig.get_size_inches()[0] * self.dpi)}px"


def slider(description: str, min: float, max: float, value: float, step: float, **kwargs):
    """A float slider that updates only on release when dragged (so a drag draws once)."""
    kwargs.setdefault("continuous_update", False)
    return ipywidgets.FloatSlider(description=description, min=min, max=max, value=value,
                                  step=step, **kwargs)


def int_slider(description: str, min: int, max: int, value: int, step: int = 1, **kwargs):
    """An integer slider that updates on release."""
    kwargs.setdefault("continuous_update", False)
    return ipywidgets.IntSlider(description=description, min=min, max=max, value=value,
                                step=step, **kwargs)


def log_slider(description: str, min: float, max: float, value: float, step: float = 0.25, **kwargs):
    """A slider over powers of ten (min and max are exponents), updating on release."""
    kwargs.setdefault("continuous_update", False)
    return ipywidgets.FloatLogSlider(value=value, base=10, min=min, max=max, step=step,
                                     description=description, **kwargs)
