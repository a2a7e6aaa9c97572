"""Pictures of lesson 11 (latent diffusion): images beside their latents and reconstructions, a similarity
matrix of images against captions, the text-to-image pipeline in one picture, and one prompt through it
stage by stage.

Every function draws what it is given (and the pipeline diagram reads its shapes off the pipeline
object); nothing here runs a model. Sizes are in inches at 100 dpi inline, kept within a JupyterLab
output area."""

import math
import textwrap
from typing import Sequence

import numpy as np
import torch
from matplotlib.patches import FancyBboxPatch

from ._core import CourseFigure, figure
from .text import _off, _rgb

LATENT_CMAP = "RdBu_r"  # latents are signed numbers around 0: a diverging map, white at 0


def _tensor(x, name: str, ndim: int) -> torch.Tensor:
    t = torch.as_tensor(x).detach().cpu().float()
    if t.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {tuple(t.shape)}")
    return t


def _shape(dims) -> str:
    return "(B, " + ", ".join(str(int(d)) for d in dims) + ")"


def _count(dims) -> int:
    return math.prod(int(d) for d in dims)


# ---- images, latents, reconstructions ---------------------------------------------------------------

def latent_grid(images, latents, reconstructions, n: int = 8, size: float = 0.9):
    """Columns: n images. Rows: the originals (B, 3, H, W) in [-1, 1], each channel of their latents
    (B, C, h, w) drawn small (half a row high, so a 6x6 latent looks 4x coarser than its 24x24 image)
    on one shared colour scale symmetric about 0, and the reconstructions. The title counts the numbers
    each stage holds and gives the reconstructions' mean squared error over the images shown."""
    x, z = _tensor(images, "latent_grid: images", 4), _tensor(latents, "latent_grid: latents", 4)
    r = _tensor(reconstructions, "latent_grid: reconstructions", 4)
    if x.shape != r.shape or x.shape[1] != 3:
        raise ValueError(f"latent_grid: images and reconstructions must be colour images of one shape (B, 3, H, W), "
                         f"got {tuple(x.shape)} and {tuple(r.shape)}")
    if len(z) != len(x):
        raise ValueError(f"latent_grid: {len(x)} images but {len(z)} latents")
    n = max(1, min(int(n), len(x)))
    c = z.shape[1]
    rows = ["original"] + [f"latent {k}" for k in range(c)] + ["reconstruction"]
    fig, axes = figure(len(rows), n, size=size, squeeze=False,
                       gridspec_kw={"height_ratios": [1.0] + [0.5] * c + [1.0]})
    fig.set_size_inches(size * n + 0.9, size * (2 + 0.5 * c) + 0.45)
    top = float(z[:n].abs().max()) or 1.0
    for j in range(n):
        axes[0, j].imshow(_rgb(x[j]), interpolation="nearest")
        axes[-1, j].imshow(_rgb(r[j]), interpolation="nearest")
        for k in range(c):
            im = axes[1 + k, j].imshow(z[j, k].numpy(), cmap=LATENT_CMAP, vmin=-top, vmax=top,
                                       interpolation="nearest")
    for ax in axes.ravel():
        _off(ax)
    for ax, label in zip(axes[:, 0], rows):
        ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.colorbar(im, ax=list(axes[1:1 + c].ravel()), shrink=0.9, aspect=12, label="latent value")
    mse = (r[:n] - x[:n]).pow(2).mean().item()
    pixels, numbers = _count(x.shape[1:]), _count(z.shape[1:])
    fig.suptitle(f"{'x'.join(map(str, x.shape[1:]))} = {pixels:,} numbers -> latent {'x'.join(map(str, z.shape[1:]))} "
                 f"= {numbers:,} ({pixels / numbers:.3g}x fewer) -> back; reconstruction MSE {mse:.4f}",
                 fontsize=8)
    return fig


# ---- a similarity matrix ----------------------------------------------------------------------------

def _short(text: str, chars: int) -> str:
    return textwrap.shorten(str(text), width=chars, placeholder="...")


def similarity_matrix(logits, captions: Sequence[str], images=None, max_chars: int = 40, cell: float = 0.42,
                      values: bool | None = None, title: str | None = None):
    """A heatmap of similarities (n images, m captions), row i for image i and column j for captions[j]
    (shortened to max_chars). Rows are labelled with the images' thumbnails when `images` (n, 3, H, W) is
    given, otherwise (square matrix) with the matching captions. Each row's largest entry is marked: a
    ring in green when it is the row's own caption (on the diagonal of a square matrix), red otherwise;
    the title counts the rows that pick their own caption. values: write the numbers in the cells
    (default: when the matrix is at most 8 wide)."""
    L = _tensor(logits, "similarity_matrix: logits", 2).numpy()
    n, m = L.shape
    if len(captions) != m:
        raise ValueError(f"similarity_matrix: {m} columns but {len(captions)} captions")
    thumbs = _tensor(images, "similarity_matrix: images", 4) if images is not None else None
    if thumbs is not None and len(thumbs) != n:
        raise ValueError(f"similarity_matrix: {n} rows but {len(thumbs)} images")
    if thumbs is None and n != m:
        raise ValueError(f"similarity_matrix: a {n} x {m} matrix needs the images as row labels")
    square = n == m
    labels = [_short(c, max_chars) for c in captions]
    label_in = 0.06 * max(len(s) for s in labels)  # about 0.06 inch per character at fontsize 7
    fig, ax = figure(size=1.0)
    left = cell if thumbs is not None else label_in
    fig.set_size_inches(min(9.0, left + cell * m + 1.2), cell * n + label_in + 0.5)
    im = ax.imshow(L, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8, label="similarity (logit)")
    ax.set_xticks(range(m), labels, rotation=90, fontsize=7)
    ax.set_xlabel("caption", fontsize=8)
    if thumbs is None:
        ax.set_yticks(range(n), labels, fontsize=7)
        ax.set_ylabel("image (of the caption)", fontsize=8)
    else:
        ax.set_yticks([])
        ax.set_ylabel("image", fontsize=8, labelpad=cell * 72 + 4)
        for i in range(n):  # a thumbnail left of each row, one cell wide
            inset = ax.inset_axes([-1.0 / m - 0.01, 1 - (i + 1) / n, 1.0 / m, 1.0 / n])
            inset.imshow(_rgb(thumbs[i]), interpolation="nearest")
            _off(inset)
    best = L.argmax(1)
    own = (best == np.arange(n)) if square else np.zeros(n, dtype=bool)
    for i, j in enumerate(best):
        ax.plot(j, i, "o", ms=cell * 72 * 0.8, mfc="none", mew=2, color="limegreen" if own[i] else "red")
    if values is None:
        values = m <= 8
    if values:
        mid = (L.max() + L.min()) / 2
        for i in range(n):
            for j in range(m):
                ax.text(j, i, f"{L[i, j]:.0f}" if abs(L).max() >= 10 else f"{L[i, j]:.2f}", ha="center",
                        va="center", fontsize=6, color="black" if L[i, j] > mid else "white")
    if title is None:
        title = (f"each image's best caption (ring): {int(own.sum())} of {n} its own" if square
                 else "each image's best caption (ring)")
    ax.set_title(title, fontsize=9)
    return fig


# ---- the pipeline in one picture --------------------------------------------------------------------

def _box(ax, x: float, y: float, stage: str, name: str, w: float = 3.6, h: float = 1.1, colour: str = "#e8eef8"):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05,rounding_size=0.15",
                                fc=colour, ec="#34495e", lw=1.2))
    ax.text(x, y + 0.2, stage, ha="center", va="center", fontsize=9, weight="bold")
    ax.text(x, y - 0.22, name, ha="center", va="center", fontsize=7.5, family="monospace")


def _arrow(ax, start, end, label: str = "", side: str = "right", colour: str = "#34495e"):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.3,
                                                          shrinkA=0, shrinkB=0))
    if label:
        (x0, y0), (x1, y1) = start, end
        dx = {"right": 0.12, "left": -0.12}.get(side, 0.0)
        dy = 0.18 if side == "above" else (-0.18 if side == "below" else 0.0)
        ha = {"right": "left", "left": "right"}.get(side, "center")
        ax.text((x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy, label, ha=ha, va="center", fontsize=7.5, color=colour)


def pipeline_diagram(pipe, prompt: str = "a gold fish and a red can on the beach"):
    """The text-to-image pipeline (latent.TextToImage) in one picture: a box per stage with its minidiff
    class, and on each arrow what flows to the next stage with its shape, read off `pipe` (the tokenizer's
    max_len, the text encoder's width, the denoiser's sample_shape, the decoder's image size). A pipeline
    on pixels (decoder None) has no decoder box: the sampler's output is the images."""
    tok, enc, den, dec = pipe.tokenizer, pipe.text_encoder, pipe.denoiser, pipe.decoder
    L, D, shape = tok.max_len, enc.dim, tuple(den.sample_shape)
    image_shape = (dec.config["in_channels"], dec.config["size"], dec.config["size"]) if dec is not None else shape
    frozen = "frozen" if not any(p.requires_grad for p in enc.parameters()) else "trained with the U-Net"
    space = "latents" if dec is not None else "images"
    fig, ax = figure(size=1.0)
    fig.set_size_inches(8.4, 6.2)
    ax.set_xlim(0, 10.4)
    ax.set_ylim(-0.2, 10.2)
    ax.axis("off")
    left, right = 2.4, 7.8  # the two columns: the text side, then the sampling side
    ax.text(left, 9.7, f"prompt: '{_short(prompt, 44)}'", ha="center", va="center", fontsize=8, style="italic")
    _box(ax, left, 8.2, "1 tokenizer", f"{type(tok).__name__} ({len(tok)} tokens)")
    _box(ax, left, 5.9, "2 text encoder", f"{type(enc).__name__} ({frozen})")
    _box(ax, left, 3.6, "3 denoiser + guidance", f"{type(den.net).__name__} in ClassifierFree")
    _box(ax, right, 3.6, "4 sampler", f"samplers.{pipe.sampler}, {den.schedule.__class__.__name__}")
    _arrow(ax, (left, 9.45), (left, 8.8), "prompt text", "right")
    _arrow(ax, (left, 7.6), (left, 6.5), f"ids {_shape([L])}", "right")
    _arrow(ax, (left, 5.3), (left, 4.2), f"word vectors {_shape([L, D])}", "right")
    # the sampler calls the guided denoiser at every step: x_t and t go in, eps comes back
    _arrow(ax, (right - 1.85, 3.85), (left + 1.85, 3.85), f"x_t {_shape(shape)}, t", "above")
    _arrow(ax, (left + 1.85, 3.35), (right - 1.85, 3.35), f"eps {_shape(shape)}", "below")
    ax.text((left + right) / 2, 2.65, "once per step", ha="center", va="center", fontsize=7, color="#7f8c8d")
    ax.text(right, 6.1, f"noise {_shape(shape)}", ha="center", va="center", fontsize=7.5)
    _arrow(ax, (right, 5.8), (right, 4.2))
    if dec is not None:
        _box(ax, right, 1.0, "5 decoder", f"{type(dec).__name__}.decode_latents")
        _arrow(ax, (right, 3.0), (right, 1.6), f"{space} {_shape(shape)}", "left")
        _arrow(ax, (right - 1.85, 1.0), (4.9, 1.0))
        ax.text(4.8, 1.0, f"images {_shape(image_shape)}", ha="right", va="center", fontsize=7.5)
    else:
        _arrow(ax, (right, 3.0), (right, 1.6), "")
        ax.text(right, 1.3, f"images {_shape(image_shape)}", ha="center", va="center", fontsize=7.5)
    where = f"on {space} {'x'.join(map(str, shape))}" + (", decoded to images" if dec is not None else "")
    ax.set_title(f"text to image {where}: each box is a minidiff object", fontsize=10)
    return fig


# ---- one prompt through the pipeline, stage by stage ------------------------------------------------

def _steps(count: int, most: int) -> list:
    """At most `most` indices from 0 to count - 1, evenly spread, first and last included."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def _ids_text(ids, words) -> str:
    ids = [int(i) for i in torch.as_tensor(ids).reshape(-1).tolist()]
    pads = 0
    while pads < len(ids) and ids[len(ids) - 1 - pads] == 0:
        pads += 1
    kept = ids[:len(ids) - pads]
    if words is not None:
        shown = "  ".join(f"{words[i]}:{i}" for i in kept)
    else:
        shown = " ".join(str(i) for i in kept)
    return textwrap.fill(f"ids: {shown}" + (f"  + {pads} x <pad>:0" if pads else ""), 110)


def stages(prompt: str, ids, latents_over_time, images_over_time, times: Sequence[float] | None = None,
           tokenizer=None, most: int = 6, size: float = 1.1):
    """One prompt through the pipeline: the prompt and its token ids as text (each with its word when
    `tokenizer` is given), then a few sampler steps (at most `most`, evenly spread, first and last kept):
    the first channel of the latents (S, C, h, w) on one colour scale symmetric about 0, above the images
    (S, 3, H, W) in [-1, 1] they decode to. times: the sampler's t at each step, for the titles."""
    z = _tensor(latents_over_time, "stages: latents_over_time", 4)
    x = _tensor(images_over_time, "stages: images_over_time", 4)
    if len(z) != len(x) or not len(z):
        raise ValueError(f"stages: {len(z)} latents but {len(x)} images over time (one of each per step, at least one)")
    if times is not None and len(times) != len(z):
        raise ValueError(f"stages: {len(z)} steps but {len(times)} times")
    keep = _steps(len(z), max(2, int(most)))
    cols = len(keep)
    fig = CourseFigure(figsize=(max(size * cols, 4.0) + 0.9, 2 * size + 1.0), layout="constrained")
    grid = fig.add_gridspec(3, cols, height_ratios=[0.7, 1.0, 1.0])
    head = fig.add_subplot(grid[0, :])
    head.axis("off")
    words = tokenizer.words if tokenizer is not None else None
    head.text(0.0, 0.95, f"prompt: '{prompt}'", fontsize=9, va="top", transform=head.transAxes)
    head.text(0.0, 0.5, _ids_text(ids, words), fontsize=7, va="top", family="monospace",
              transform=head.transAxes)
    top = float(z[keep, 0].abs().max()) or 1.0
    latent_axes = []
    for col, s in enumerate(keep):
        za, xa = fig.add_subplot(grid[1, col]), fig.add_subplot(grid[2, col])
        latent_axes.append(za)
        im = za.imshow(z[s, 0].numpy(), cmap=LATENT_CMAP, vmin=-top, vmax=top, interpolation="nearest")
        xa.imshow(_rgb(x[s]), interpolation="nearest")
        for ax in (za, xa):
            _off(ax)
        za.set_title(f"t = {times[s]:.2f}" if times is not None else f"step {s}", fontsize=8, pad=2)
        if col == 0:
            za.set_ylabel("latent, ch 0", fontsize=7)
            xa.set_ylabel("decoded", fontsize=7)
    fig.colorbar(im, ax=latent_axes, shrink=0.9, aspect=10)
    return fig
