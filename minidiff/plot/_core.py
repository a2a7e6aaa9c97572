"""Figures without pyplot: a lesson shows them inline, a widget turns them into PNG bytes."""

import io

from matplotlib.figure import Figure


class CourseFigure(Figure):
    """A Figure that shows itself as PNG when it is the last value of a notebook cell."""

    def _repr_png_(self) -> bytes:
        return to_png(self, dpi=100)


def figure(nrows: int = 1, ncols: int = 1, size: float = 3.2, squeeze: bool = True, **kwargs):
    """A new Figure and its axes (an array when there is more than one), each panel `size` inches."""
    fig = CourseFigure(figsize=(size * ncols, size * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)
    return fig, axes


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a Figure to PNG bytes (what an ipywidgets Image shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
