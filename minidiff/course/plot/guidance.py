"""Pictures of lesson 09 (guidance): the powered density beside guided samples, distances to it over w,
a classifier's accuracy over noise levels, grids of guided digits, and fidelity against diversity
(the sliders over w and the digit are widgets.powered_explorer and widgets.cfg_explorer).

Every function draws tensors and numbers it is given; nothing here measures anything."""

from typing import Sequence

import numpy as np
import torch

from ._core import MAX_COLS, cloud_panel, figure, plain_log_ticks
from .ddpm import draw_batch

COLOURS = {"ddpm": "tab:blue", "ddim": "tab:orange", "noisy": "tab:green", "clean": "tab:red",
           "target": "tab:purple"}
GREY_NOTE = "grey: samples of the whole mixture p(x), for reference"


def _np(x) -> np.ndarray:
    return torch.as_tensor(x).detach().cpu().double().numpy()


def _density_panel(ax, density, lim: float, title: str) -> None:
    # density: (n, n) on the square [-lim, lim]^2, rows are the second coordinate (meshgrid 'xy')
    ax.imshow(_np(density), origin="lower", extent=(-lim, lim, -lim, lim), cmap="magma", aspect="equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def class_clouds(clouds: dict, lim: float, title: str = "a labelled mixture"):
    """Samples of each class in its own colour on one panel: clouds {class name: (N, 2)}."""
    fig, ax = figure(size=3.6)
    for name, x in clouds.items():
        p = _np(x)
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.5, lw=0, label=str(name))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, markerscale=4)
    return fig


def powered_panels(density, samples: dict, lim: float, titles: dict | None = None,
                   density_title: str = "target p(x|y)^w p(x)^(1-w)", background=None):
    """The powered density (left, an (n, n) grid over [-lim, lim]^2, rows = second coordinate) beside
    one scatter per sampler: samples {name: (N, 2)}, over `background` points (the whole mixture) in grey."""
    fig, axes = figure(1, 1 + len(samples), size=2.8)
    axes = np.atleast_1d(axes)
    _density_panel(axes[0], density, lim, density_title)
    for ax, (name, x) in zip(axes[1:], samples.items()):
        cloud_panel(ax, x, lim, COLOURS.get(name.split()[0], "tab:blue"), alpha=0.5, background=background,
                    title=titles[name] if titles else name)
    if background is not None:
        fig.suptitle(GREY_NOTE, fontsize=8, color="0.35")
    return fig


def _mass_levels(density, masses=(0.9, 0.5)) -> list:
    """Density values whose upper sets hold the given shares of the grid's mass (a drawing aid only)."""
    d = np.sort(_np(density).ravel())[::-1]
    cum = np.cumsum(d) / d.sum()
    return sorted({float(d[min(np.searchsorted(cum, m), len(d) - 1)]) for m in masses})


def _target_contours(ax, density, lim: float) -> None:
    # the target's regions of highest density holding 50% and 90% of its mass, as lines over the samples
    n = _np(density).shape[0]
    grid = np.linspace(-lim, lim, n)
    ax.contour(grid, grid, _np(density), levels=_mass_levels(density), colors="k", linewidths=0.8,
               linestyles=["-", "--"])  # levels ascend: 90% of the mass, then 50%


def powered_rows(densities: dict, samples: dict, lim: float, background=None):
    """One row per w: the powered density and each sampler's samples, with the target's contours that hold
    50% (dashed) and 90% (solid) of its mass drawn over them. densities {w: (n, n) over [-lim, lim]^2};
    samples {w: {name: (N, 2)}} (the static copy of widgets.powered_explorer)."""
    ws = list(densities)
    names = list(samples[ws[0]])
    fig, axes = figure(len(ws), 1 + len(names), size=2.6, squeeze=False)
    ticks = [-lim / 2, 0, lim / 2]
    for r, (row, w) in enumerate(zip(axes, ws)):
        _density_panel(row[0], densities[w], lim, f"target, w = {w:g}")
        for ax, name in zip(row[1:], names):
            cloud_panel(ax, samples[w][name], lim, COLOURS.get(name, "tab:blue"), alpha=0.5,
                        background=background, title=f"{name}, w = {w:g}")
            _target_contours(ax, densities[w], lim)
            ax.set_xticks(ticks, [f"{v:g}" for v in ticks] if r == len(ws) - 1 else [], fontsize=7)
            ax.set_yticks(ticks, [f"{v:g}" for v in ticks], fontsize=7)
            if r == len(ws) - 1:
                ax.set_xlabel("x1", fontsize=8)
        row[1].set_ylabel("x2", fontsize=8)
    note = "black lines: where the target holds 50% (dashed) and 90% (solid) of its mass"
    fig.suptitle(note + (f"; {GREY_NOTE}" if background is not None else ""), fontsize=8, color="0.35")
    return fig


def distance_vs_w(ws: Sequence[float], units: dict, low: float | None = None, high: float | None = None,
                  title: str = "guided samples against the powered target"):
    """Distance to the powered target in floor units against w, one line per sampler
    (units {name: [value per w]}); the band low..high is where exact samples of the target land."""
    fig, ax = figure(size=4.0)
    fig.set_size_inches(5.6, 3.8)
    if low is not None and high is not None:
        ax.axhspan(low, high, color="lightgray", alpha=0.6, label="exact samples of the target")
    for name, values in units.items():
        ax.plot(ws, values, "o-", color=COLOURS.get(name), label=name, ms=4)
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="the noise floor")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis, [1.0, *(v for values in units.values() for v in values)])
    ax.set_xticks(list(ws))
    ax.set_xlabel("guidance weight w")
    ax.set_ylabel("distance / noise floor")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def over_t(ts: Sequence[float], panels: dict, references: dict | None = None, size: float = 3.4):
    """One panel per measure of a classifier on noisy digits x_t against t, one line per classifier:
    panels {title: {classifier name: [value per t]}}; references {title: (value, label)} a dashed line."""
    fig, axes = figure(1, len(panels), size=size)
    for ax, (title, curves) in zip(np.atleast_1d(axes), panels.items()):
        for name, values in curves.items():
            ax.plot(ts, values, "o-", ms=4, label=name, color=COLOURS.get(name.split()[0]))
        if references and title in references:
            value, text = references[title]
            ax.axhline(value, color="k", lw=0.8, ls="--", label=text)
        ax.set_xlabel("t (0 = clean, 1 = pure noise)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    return fig


def guided_digits(images: dict, ncols: int = 8, size: float = 2.2, titles: dict | None = None):
    """One panel per entry of images {name: (B, 1, H, W) in [-1, 1]}, each a grid of digits `size`
    inches wide and as tall as its lines of digits (square panels left short grids in white space)."""
    ncols = min(ncols or int(np.ceil(np.sqrt(max(len(x) for x in images.values())))), MAX_COLS)  # 0: square
    lines = max(-(-len(x) // ncols) for x in images.values())
    fig, axes = figure(1, len(images), size=size)
    fig.set_size_inches(fig.get_size_inches()[0], fig.get_size_inches()[0] / len(images) * lines / ncols + 0.35)
    for ax, (name, x) in zip(np.atleast_1d(axes), images.items()):
        draw_batch(ax, x, titles[name] if titles else str(name), ncols=ncols)
    return fig


def digit_rows(rows: dict, size: float = 0.9, ncols: int = MAX_COLS):
    """One block of digits per entry of rows {label: (B, 1, H, W)}, labelled on the left, at most ncols
    (and never more than MAX_COLS) to a line: a longer entry wraps onto more lines of its block."""
    labels = list(rows)
    ncols = max(1, min(int(ncols), MAX_COLS, max(len(v) for v in rows.values())))
    lines = [-(-len(rows[label]) // ncols) for label in labels]  # lines of digits in each block
    fig, axes = figure(len(labels), 1, size=size, squeeze=False, gridspec_kw={"height_ratios": lines})
    fig.set_size_inches(size * ncols + 1.0, size * sum(lines))
    for ax, label in zip(axes[:, 0], labels):
        draw_batch(ax, rows[label], ncols=ncols)
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(str(label), rotation=0, ha="right", va="center", fontsize=9)
    return fig


def tradeoff(ws: Sequence[float], scores: dict, size: float = 3.0):
    """Fidelity against diversity over w: one panel per measure (scores {measure: [value per w]}),
    e.g. accuracy on the requested digit, Frechet distance in floor units, within-class spread."""
    fig, axes = figure(1, len(scores), size=size)
    for ax, (name, values) in zip(np.atleast_1d(axes), scores.items()):
        ax.plot(ws, values, "o-", ms=4)
        ax.set_xlabel("guidance weight w")
        ax.set_title(name, fontsize=9)
        if "floor" in name or "real = 1" in name:  # measures where 1 means 'like real digits'
            ax.axhline(1.0, color="k", lw=0.8, ls="--")
            ax.set_yscale("log")  # they span tens of times: a log axis shows the best w
            plain_log_ticks(ax.yaxis, [1.0, *values])
    return fig


def gaussian_guidance(x, panels: dict, size: float = 3.2):
    """Guidance in one dimension: one panel per entry of panels {title: {label: values over x}}, curves
    over the same points x (N,), e.g. p(x | y) and p(y | x)^(w - 1), then their normalised products."""
    fig, axes = figure(1, len(panels), size=size)
    xs = _np(x)
    for ax, (title, curves) in zip(np.atleast_1d(axes), panels.items()):
        for k, (label, values) in enumerate(curves.items()):
            ax.plot(xs, _np(values), lw=1.6 if k else 2.2, ls="--" if k == 0 else "-", label=label,
                    color="k" if k == 0 else None)
        ax.set_xlabel("x")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    return fig
