"""Figures without pyplot: a lesson shows them inline, a widget turns them into PNG bytes."""

import io
import math

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

MAX_COLS = 10  # images in one row of a grid, at most: more are too small to read on a page
PAGE_WIDTH = 10.5  # inches: the widest figure a lesson shows (1,050 pixels at the inline 100 dpi)


class CourseFigure(Figure):
    """A Figure that shows itself as PNG when it is the last value of a notebook cell."""

    def _repr_png_(self) -> bytes:
        return to_png(self, dpi=100)


def figure(nrows: int = 1, ncols: int = 1, size: float = 3.2, squeeze: bool = True, **kwargs):
    """A new Figure and its axes (an array when there is more than one), each panel `size` inches, or
    less when ncols of them would be wider than PAGE_WIDTH (a wider figure is shrunk to fit the page)."""
    size = min(size, PAGE_WIDTH / max(ncols, 1))  # ncols < 1 is left for matplotlib to refuse
    fig = CourseFigure(figsize=(size * ncols, size * nrows), layout="constrained")
    # A wider pad than the default 0.04 inch: with square (aspect-equal) panels the layout is a few
    # pixels off after one pass, and titles on the top row were clipped at the figure's edge.
    fig.get_layout_engine().set(h_pad=0.1)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)
    return fig, axes


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a Figure to PNG bytes (what an ipywidgets Image shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def plain_log_ticks(axis, values) -> None:
    """Label a log axis at steps of 1, 2, 5 (or finer or coarser, so 3 to 7 labels cover `values`),
    written plainly (0.5, 1, 2, 10) instead of the default powers of ten, which crowd each other."""
    v = np.asarray([float(x) for x in np.ravel(values) if np.isfinite(x) and x > 0])
    if not len(v):
        return
    lo, hi = v.min() / 1.05, v.max() * 1.05  # a value a hair beyond a tick still gets that tick
    decades = range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1)

    def at(steps):
        return [m * 10.0**k for k in decades for m in steps if lo <= m * 10.0**k <= hi]

    ticks = at((1, 2, 5))
    if len(ticks) < 3:  # a narrow span: every multiple of its power of ten
        ticks = at(range(1, 10))
    elif len(ticks) > 7:  # a wide one: 1 and 3, or else powers of ten (every other one when still many)
        ticks = at((1, 3))
        if len(ticks) > 7:
            ticks = at((1,))[::math.ceil(len(decades) / 7)]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def cloud_panel(ax, x, lim: float, colour: str = "tab:blue", alpha: float = 0.6, background=None,
                title: str = "") -> np.ndarray:
    """Scatter 2-D points x (N, 2) on the square [-lim, lim]^2, over `background` points in grey;
    returns the points as a NumPy array (for notes drawn on top)."""
    if background is not None:
        b = torch.as_tensor(background).detach().cpu().double().numpy()
        ax.scatter(b[:, 0], b[:, 1], s=2, c="lightgray", lw=0)
    p = torch.as_tensor(x).detach().cpu().double().numpy()
    ax.scatter(p[:, 0], p[:, 1], s=2, c=colour, alpha=alpha, lw=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return p
