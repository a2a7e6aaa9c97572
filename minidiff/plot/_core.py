"""Figures without pyplot: a lesson shows them inline, a widget turns them into PNG bytes."""

import io

import numpy as np
import torch
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
