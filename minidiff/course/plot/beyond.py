"""Pictures of lesson 12 (beyond the basics): samples over the modes they should cover, a share
against training-set size, pairs of digits from two networks, and shares of digits (the slider over
GAN training is widgets.gan_training_explorer).

Every function draws tensors and numbers it is given; nothing here measures anything."""

from typing import Sequence

import numpy as np
import torch
from matplotlib.patches import Circle

from ._core import cloud_panel, figure
from .ddpm import draw_batch


def _np(x) -> np.ndarray:
    return torch.as_tensor(x).detach().cpu().double().numpy()


def modes_panel(ax, x, means, std: float, lim: float, title: str = "", colour: str = "tab:blue") -> None:
    """Samples x (N, 2) over the modes' 3-standard-deviation circles (the high-quality zones)."""
    for m in _np(means):
        ax.add_patch(Circle(m, 3 * std, fill=False, lw=0.6, color="tab:red", alpha=0.7))
    cloud_panel(ax, x, lim, colour=colour, alpha=0.5, title=title)


def coverage_panels(samples: dict, means, std: float, lim: float | dict = 5.0, titles: dict | None = None,
                    size: float = 2.8):
    """One panel per entry of samples {name: (N, 2)}: the samples over the modes' 3-std circles; means
    (M, 2) for every panel, or {name: (M, 2)} so that each panel shows the circles of its own data; lim the
    half-width of every panel, or {name: half-width} so that a small data set is not lost in a wide square."""
    fig, axes = figure(1, len(samples), size=size)
    for ax, (name, x) in zip(np.atleast_1d(axes), samples.items()):
        modes_panel(ax, x, means[name] if isinstance(means, dict) else means, std,
                    lim[name] if isinstance(lim, dict) else lim,
                    titles[name] if titles else str(name),
                    colour="tab:orange" if "GAN" in str(name) else "tab:blue")
    return fig


def coverage_runs(summary: dict, size: float = 3.0):
    """Modes covered per seed, one panel per data set: GAN against diffusion (summary from beyond.summary)."""
    datasets = list(dict.fromkeys(d for d, _ in summary))
    fig, axes = figure(1, len(datasets), size=size)
    for ax, data in zip(np.atleast_1d(axes), datasets):
        for i, model in enumerate(("GAN", "diffusion")):
            s = summary.get((data, model))
            if s is None:
                continue
            runs = s["runs"]
            ax.scatter(np.full(len(runs), i) + np.linspace(-0.12, 0.12, len(runs)), runs, s=25,
                       color="tab:orange" if model == "GAN" else "tab:blue")
            ax.axhline(s["of"], color="grey", lw=0.6, ls="--")
        ax.set_xticks([0, 1], ["GAN", "diffusion"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_ylim(0, s["of"] + 1)
        ax.set_ylabel("modes covered")
        ax.set_title(f"{data}: modes covered per seed", fontsize=9)
    return fig


def copy_curve(sizes: Sequence[int], shares: dict, threshold_label: str = "copies (ratio < 1/3)", size: float = 3.4):
    """Share of near-copies against training-set size (log axis), one line per entry of shares {name: [share]}."""
    fig, ax = figure(size=size)
    fig.set_size_inches(size * 1.4, size)
    for name, values in shares.items():
        ax.plot(sizes, values, "o-", label=name)
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("training-set size N")
    ax.set_ylabel(threshold_label)
    ax.legend(fontsize=8)
    return fig


def points_and_samples(rows: Sequence[dict], lim: float = 3.2, size: float = 2.4):
    """For each row dict(size, points, samples): the samples (blue) and the N training points (red
    crosses): a few large ones drawn over the samples, many small ones under them, so both stay visible."""
    fig, axes = figure(1, len(rows), size=size)
    for ax, row in zip(np.atleast_1d(axes), rows):
        p = _np(row["points"])
        many = len(p) > 100
        style = dict(s=3, lw=0.5, alpha=0.5, zorder=1) if many else dict(s=40, lw=1.5, zorder=3)
        ax.scatter(p[:, 0], p[:, 1], c="tab:red", marker="x", **style)
        cloud_panel(ax, row["samples"], lim, alpha=0.5, title=f"N = {row['size']}: copies {row['copies']:.0%}")
    fig.suptitle("blue: samples; red crosses: the N training points", fontsize=9, color="0.35")
    return fig


def halves_figure(samples: dict, k: int = 8, size: float = 0.75):
    """Per size, two rows: k samples of the network trained on half a, and the same noise through the one
    trained on half b (samples {size: (x_a, x_b)})."""
    sizes = list(samples)
    fig, axes = figure(2 * len(sizes), 1, size=size, squeeze=False)
    fig.set_size_inches(size * k + 1.4, size * 2 * len(sizes))
    for i, n in enumerate(sizes):
        for j, half in enumerate("ab"):
            ax = axes[2 * i + j, 0]
            draw_batch(ax, samples[n][j][:k], ncols=k)
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_ylabel(f"N = {n}, {half}", rotation=0, ha="right", va="center", fontsize=8)
    return fig


def digit_shares(shares: dict, reference=None, title: str = "", size: float = 3.2, zoom: dict | None = None,
                 zoom_title: str = ""):
    """Bars of the share of each digit, one group per entry of shares {label: (10,)}; reference (10,) in grey.
    zoom {label: (share, low, high)}: a second panel on its own scale for a few small shares, each with its
    interval low..high as an error bar (None, None: no interval, e.g. a share of the data itself)."""
    fig, axes = figure(1, 2 if zoom else 1, size=size, **({"gridspec_kw": {"width_ratios": [3, 1]}} if zoom else {}))
    ax = np.atleast_1d(axes)[0]
    fig.set_size_inches(size * (2.6 if zoom else 1.8), size)
    labels = list(shares)
    width = 0.8 / (len(labels) + (reference is not None))
    digits = np.arange(10)
    if reference is not None:
        ax.bar(digits - 0.4 + width / 2, _np(reference), width, color="lightgrey", label="training data")
    for i, name in enumerate(labels):
        offset = (i + (reference is not None)) * width
        ax.bar(digits - 0.4 + width / 2 + offset, _np(shares[name]), width, label=str(name))
    ax.set_xticks(digits)
    ax.set_xlabel("digit (read by the classifier)")
    ax.set_ylabel("share of samples")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    if zoom:
        _zoom_panel(np.atleast_1d(axes)[1], zoom, zoom_title)
    return fig


def _zoom_panel(ax, zoom: dict, title: str) -> None:
    # a few small shares on their own axis, in percent, with their intervals
    names = list(zoom)
    for i, name in enumerate(names):
        share, low, high = zoom[name]
        grey = low is None
        ax.bar(i, 100 * share, 0.6, color="lightgrey" if grey else "tab:blue")
        if not grey:
            ax.errorbar(i, 100 * share, yerr=[[100 * (share - low)], [100 * (high - share)]], color="k", capsize=4, lw=1)
        ax.annotate(f"{share:.1%}", (i, 100 * share), textcoords="offset points", xytext=(8, 2), fontsize=8)
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("share, %")
    ax.set_title(title, fontsize=9)
