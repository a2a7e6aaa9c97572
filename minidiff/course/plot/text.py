"""Pictures of lesson 10 (text to image): a grid of colour images with small titles, attention maps (for
each word of a prompt, the pixels that look at it) and adherence over training. The prompt explorer is
widgets.prompt_explorer.

Every function draws tensors it is given; nothing here measures anything. Sizes are in inches at the
dpi a figure is shown at (100 inline, 80 in a widget), so 1 inch is 100 (or 80) pixels on the screen:
the widths below keep a figure within a JupyterLab output area, never stretched."""

import math
import textwrap
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._core import figure

SKIP = ("<pad>",)  # tokens that get no attention panel (the mask gives them no weight)


def _rgb(image) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) in [0, 1]."""
    x = torch.as_tensor(image).detach().cpu().float()
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"plot.text: expected a colour image (3, H, W), got {tuple(x.shape)}")
    return ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def _off(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 0.9,
               title: str | None = None, fontsize: float = 7):
    """Colour images (B, 3, H, W) in [-1, 1], one small panel each (`size` inches, nearest-neighbour so
    the pixels stay sharp), ncols to a row, each with its title from `titles` (small) and the whole with
    `title`; a long title wraps to its panel's width, and the whole's title to the figure's. Unused panels
    of the last row are left blank."""
    x = torch.as_tensor(images)
    if x.ndim != 4 or x.shape[1] != 3 or not len(x):
        raise ValueError(f"image_grid: expected colour images (B, 3, H, W) with B >= 1, got {tuple(x.shape)}")
    if titles is not None and len(titles) != len(x):
        raise ValueError(f"image_grid: {len(x)} images but {len(titles)} titles")
    ncols = max(1, min(int(ncols), len(x)))
    nrows = math.ceil(len(x) / ncols)
    # a title wraps to the panel's width (a character is about 0.6 of the font size wide)
    chars = max(6, int(size * 72 / (0.6 * fontsize)))
    wrapped = [textwrap.fill(str(t), chars) for t in titles] if titles is not None else None
    lines = max((w.count("\n") + 1 for w in wrapped), default=0) if wrapped else 0
    fig, axes = figure(nrows, ncols, size=size, squeeze=False)
    # the whole's title wraps to the figure's width too (9 pt), instead of running off both sides
    title = textwrap.fill(str(title), max(10, int(size * ncols * 72 / (0.6 * 9)))) if title else None
    top = 0.25 * (title.count("\n") + 1) if title else 0.0  # room for the titles, so the panels keep their size
    fig.set_size_inches(size * ncols, (size + lines * 1.25 * fontsize / 72) * nrows + top)
    for i, ax in enumerate(axes.ravel()):
        _off(ax)
        if i < len(x):
            ax.imshow(_rgb(x[i]), interpolation="nearest")
            if wrapped is not None:
                ax.set_title(wrapped[i], fontsize=fontsize, pad=2)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _maps(weights, height: int, width: int) -> torch.Tensor:
    """(HW, M) or (h, w, M) weights -> (M, height, width), each word's map upsampled (nearest)."""
    a = torch.as_tensor(weights).detach().cpu().float()
    if a.ndim == 2:
        side = math.isqrt(a.shape[0])
        if side * side != a.shape[0]:
            raise ValueError(f"attention_maps: weights (HW, M) need a square number of pixels, got {a.shape[0]}; "
                             "pass them as (H, W, M)")
        a = a.reshape(side, side, a.shape[1])
    if a.ndim != 3:
        raise ValueError(f"attention_maps: weights must be (HW, M) or (H, W, M), one row per pixel and one "
                         f"column per word, got {tuple(a.shape)}; average the heads and pick one image first")
    maps = a.permute(2, 0, 1)[None]  # (1, M, h, w)
    return F.interpolate(maps, size=(height, width), mode="nearest")[0]


def attention_maps(image, weights, words: Sequence[str], ncols: int = 6, size: float = 1.25,
                   scale: str = "shared", title: str | None = None, cmap: str = "inferno", alpha: float = 0.7):
    """The image (3, H, W) in [-1, 1], then for each word of `words` its attention weights over the pixels
    (weights (HW, M) or (H, W, M) at the attention layer's resolution, column j for words[j]) upsampled
    (nearest) to the image's size and laid over a grey copy of the image; '<pad>' gets no panel.

    scale 'shared': one colour scale 0..(largest weight of any word shown), so panels compare across words
    (each pixel's weights over all the words sum to 1); 'each': every map runs 0..its own largest weight."""
    if scale not in ("shared", "each"):
        raise ValueError(f"attention_maps: scale must be 'shared' or 'each', got {scale!r}")
    rgb = _rgb(image)
    maps = _maps(weights, *rgb.shape[:2])  # (M, H, W)
    if len(words) > len(maps):
        raise ValueError(f"attention_maps: {len(words)} words but weights for only {len(maps)}")
    shown = [(j, w) for j, w in enumerate(words) if w not in SKIP]
    top = float(max(maps[j].max() for j, _ in shown)) if shown else 1.0
    panels = 1 + len(shown)
    ncols = max(1, min(int(ncols), panels))
    nrows = math.ceil(panels / ncols)
    fig, axes = figure(nrows, ncols, size=size, squeeze=False)
    fig.set_size_inches(size * ncols, (size + 0.2) * nrows + (0.25 if title else 0.0))
    axes = axes.ravel()
    for ax in axes:
        _off(ax)
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("image", fontsize=8, pad=2)
    grey = rgb.mean(2)
    for ax, (j, word) in zip(axes[1:], shown):
        m = maps[j].numpy()
        vmax = top if scale == "shared" else float(m.max())
        ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        shade = ax.imshow(m, cmap=cmap, vmin=0.0, vmax=vmax if vmax > 0 else 1.0, alpha=alpha, interpolation="nearest")
        # each pixel's weights over the words sum to 1, so a word's mean weight is its share of all attention
        ax.set_title(f"{word}  {m.mean():.0%}", fontsize=8, pad=2)
    if shown and scale == "shared":
        fig.colorbar(shade, ax=axes.tolist(), fraction=0.025, pad=0.02, label="attention weight")
    note = "the % after each word: its share of all the attention (every pixel's weights sum to 1)"
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=8)
    return fig


def adherence_curve(steps: Sequence[int], curves: dict, title: str = "prompt adherence during training",
                    xlabel: str = "training step"):
    """Adherence (a share, 0..1) against the training step, one line per prompt set: curves {name: [value
    per step]}, e.g. {'seen': [...], 'held out': [...]}; composing new pairs is learned later than
    repeating seen ones (Okawa et al. 2023)."""
    fig, ax = figure(size=4.0)
    fig.set_size_inches(5.6, 3.6)
    for name, values in curves.items():
        if len(values) != len(steps):
            raise ValueError(f"adherence_curve: {len(steps)} steps but {len(values)} values for {name!r}")
        ax.plot(list(steps), [100 * v for v in values], "o-", ms=4, label=str(name))
    ax.set_ylim(0, 100)
    ax.set_xscale("log", base=2)  # the weights are kept at steps 500, 1000, 2000, ...: even spacing
    ax.set_xticks(list(steps), [f"{s:,}" for s in steps])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("adherence (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
