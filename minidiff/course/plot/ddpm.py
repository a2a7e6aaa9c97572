"""Pictures of lesson 07 (DDPM): the forward and reverse chains, x_t beside the predicted x0, samples
of 2-D points and digits (the slider over the sampling steps is widgets.ddpm_step_explorer).

Every function takes either 2-D points (N, 2), drawn as a scatter, or images (B, 1, H, W) in
[-1, 1], drawn as a grid.
"""

from typing import Sequence

import numpy as np
import torch

from ._core import MAX_COLS, figure, plain_log_ticks

LIM = 3.2  # the square shown for 2-D data (the toy sets lie within about [-3, 3])


def _is_points(x: torch.Tensor) -> bool:
    return x.ndim == 2 and x.shape[1] == 2


def _tile(images: torch.Tensor, ncols: int) -> np.ndarray:
    """(B, 1, H, W) in [-1, 1] -> one (rows * (H + 1), ncols * (W + 1)) array in [0, 1], 1-pixel gaps."""
    x = ((images.detach().float().cpu()[:, 0] + 1) / 2).clamp(0, 1).numpy()  # (B, H, W)
    b, h, w = x.shape
    rows = -(-b // ncols)
    canvas = np.ones((rows * (h + 1) - 1, ncols * (w + 1) - 1))  # white gaps between images
    for i in range(b):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = x[i]
    return canvas


def draw_batch(ax, x: torch.Tensor, title: str = "", ncols: int | None = None, color: str = "tab:blue",
         max_points: int = 2000, lim: float = LIM) -> None:
    """Draw a batch on one axes: a scatter of 2-D points, or a grid of images (at most MAX_COLS wide)."""
    if _is_points(x):
        p = x[:max_points].detach().float().cpu().numpy()
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.5, lw=0, c=color)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    elif x.ndim == 4 and x.shape[1] == 1:
        # a square-ish grid, never more than MAX_COLS wide (a long row shrinks each image to nothing)
        ncols = min(ncols or int(np.ceil(np.sqrt(len(x)))), MAX_COLS)
        ax.imshow(_tile(x, ncols), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.axis("off")
        ax.set_anchor("N")  # a short grid sits under its title, not in the middle of the panel
    else:
        raise ValueError(f"plot.ddpm: expected points (N, 2) or images (B, 1, H, W), got {tuple(x.shape)}")
    if title:
        ax.set_title(title, fontsize=9)


def chain_figure(xs: Sequence[torch.Tensor], ts: Sequence[float], title: str = "x_t", size: float = 2.0):
    """One panel per time: the batch xs[i] at time ts[i] (a forward or a reverse chain)."""
    if len(xs) != len(ts) or not len(xs):
        raise ValueError(f"chain: need as many batches as times, got {len(xs)} and {len(ts)}")
    fig, axes = figure(1, len(xs), size=size)
    for ax, x, t in zip(np.atleast_1d(axes), xs, ts):
        draw_batch(ax, x, f"{title}, t = {float(t):.2f}")
    return fig


def _pick(steps: Sequence, k: int = 6) -> list[int]:
    """k step indices spread evenly from the first to the last (always both ends)."""
    return sorted({int(round(i)) for i in np.linspace(0, len(steps) - 1, min(k, len(steps)))})


def denoising_trajectory(steps: Sequence, k: int = 6, n_show: int = 16, size: float = 1.9):
    """Two rows over k sampling steps: x_t on top, the predicted x0 below (the denoiser's guess)."""
    idx = _pick(steps, k)
    fig, axes = figure(2, len(idx), size=size)
    axes = np.asarray(axes).reshape(2, len(idx))
    for col, i in enumerate(idx):
        s = steps[i]
        draw_batch(axes[0, col], s.x[:n_show] if not _is_points(s.x) else s.x, f"x_t, t = {float(s.t):.3f}")
        draw_batch(axes[1, col], s.x0[:n_show] if not _is_points(s.x0) else s.x0, "predicted x0",
             color="tab:orange")
    return fig


def ddpm_step_figure(steps: Sequence, i: int, n_show: int = 16, size: float = 3.0):
    """Step i of a sampling run: x_t beside the x0 predicted from it."""
    if not 0 <= i < len(steps):
        raise ValueError(f"step_figure: i must be in 0..{len(steps) - 1}, got {i}")
    s = steps[i]
    fig, axes = figure(1, 2, size=size)
    draw_batch(axes[0], s.x if _is_points(s.x) else s.x[:n_show], f"x_t at t = {float(s.t):.3f}")
    draw_batch(axes[1], s.x0 if _is_points(s.x0) else s.x0[:n_show], "predicted x0", color="tab:orange")
    return fig


def ddpm_samples_figure(samples: torch.Tensor, truth: torch.Tensor, title: str = "samples",
                        size: float = 3.0, ncols: int | None = None, truth_title: str = "real data"):
    """Generated samples (right) beside a reference batch (left: real data by default), same limits."""
    fig, axes = figure(1, 2, size=size)
    draw_batch(axes[0], truth, truth_title, ncols=ncols)
    draw_batch(axes[1], samples, title, color="tab:orange", ncols=ncols)
    return fig


def loss_curve_figure(losses, window: int = 50, title: str = "training loss", size: float = 3.2):
    """The loss per step (faint) and its running mean over `window` steps."""
    losses = np.asarray(losses, dtype=float)
    fig, ax = figure(size=size)
    ax.plot(losses, lw=0.5, alpha=0.35, color="tab:blue")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, color="tab:blue", label=f"mean of {window}")
        ax.legend(fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis, losses)
    ax.set_title(title, fontsize=10)
    return fig


def class_histogram_figure(counts: dict, size: float = 3.2):
    """Bars of how many samples the classifier put in each class, one colour per model."""
    fig, ax = figure(size=size)
    width = 0.8 / max(1, len(counts))
    for j, (name, c) in enumerate(counts.items()):
        c = np.asarray(torch.as_tensor(c).cpu(), dtype=float)
        ax.bar(np.arange(len(c)) + (j - (len(counts) - 1) / 2) * width, c / c.sum(), width, label=name)
    ax.axhline(0.1, color="k", lw=0.8, ls="--", label="uniform")
    ax.set_xticks(range(10))
    ax.set_xlabel("class the classifier sees")
    ax.set_ylabel("fraction of samples")
    ax.legend(fontsize=7)
    return fig


def reverse_kernel_figure(ys, kernels: dict, xt: float, size: float = 2.8):
    """One panel per beta: the exact reverse step q(x_{t-1} | x_t) (filled) and the Gaussian with the
    same mean and variance (dashed). kernels maps beta -> (exact density, Gaussian density) on ys."""
    fig, axes = figure(1, len(kernels), size=size)
    ys = np.asarray(torch.as_tensor(ys).cpu(), dtype=float)
    for ax, (beta, (exact, gauss)) in zip(np.atleast_1d(axes), kernels.items()):
        ax.fill_between(ys, np.asarray(exact.cpu()), alpha=0.4, color="tab:blue", label="exact")
        ax.plot(ys, np.asarray(gauss.cpu()), "k--", lw=1, label="Gaussian fit")
        ax.axvline(xt, color="tab:red", lw=0.8, label="x_t")
        ax.set_title(f"beta = {beta:g}", fontsize=9)
        ax.set_xlabel("x_{t-1}")
        ax.set_yticks([])
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return fig
