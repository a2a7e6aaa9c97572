"""Pictures of lesson 06 (score matching): the learned score against the exact one, as arrows and
as an error map over the plane, at one noise level or several (the slider is widgets.score_error_explorer)."""

import numpy as np
import torch

from ._core import figure

ERROR_MAX = 2.0  # the colour scale of error maps, in units of the noise: sigma |s_theta - s| <= 2


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()  # the CPU first: MPS has no float64


def _mesh(lim: float, n: int):
    g = torch.linspace(-lim, lim, n)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    return xx, yy, torch.stack([xx.ravel(), yy.ravel()], dim=1)  # (n*n, 2)


@torch.no_grad()
def _scores(score_fn, gm, sigma: float, pts: torch.Tensor, device=None):
    """The learned and the exact score of the mixture noised to sigma, at pts (N, 2), on the CPU."""
    x = pts.to(device) if device is not None else pts
    learned = (-score_fn(x, score_fn.schedule.t_from_sigma(float(sigma)).to(x)).eps / sigma).float().cpu()
    exact = gm.noised(1.0, sigma).score(pts.to(gm.means)).float().cpu()
    return learned, exact


def _error_panel(ax, score_fn, gm, sigma: float, lim: float, n: int, device=None):
    # The error in units of the noise, sigma |learned - exact|: what the network gets wrong about eps.
    xx, yy, pts = _mesh(lim, n)
    learned, exact = _scores(score_fn, gm, sigma, pts, device)
    err = (sigma * (learned - exact).norm(dim=1)).reshape(xx.shape)
    im = ax.imshow(_np(err), origin="lower", extent=(-lim, lim, -lim, lim), cmap="magma",
                   vmin=0, vmax=ERROR_MAX, interpolation="bilinear")
    # Where the noised data lives: the density contours that hold most of its mass.
    logp = gm.noised(1.0, sigma).log_prob(pts.to(gm.means)).reshape(xx.shape)
    top = logp.max().item()
    ax.contour(_np(xx), _np(yy), _np(logp), levels=[top - 6, top - 3, top - 1], colors="white",
               linewidths=0.6, linestyles="solid", alpha=0.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _arrow_panel(ax, score_fn, gm, sigma: float, lim: float, n: int = 13, device=None):
    # Arrows of the exact score (grey) and the learned one (red) over the noised density. Their
    # length is sigma^2 |score| (the step from xt to the denoised point), squashed by tanh to at
    # most one grid cell, so every noise level draws on the same scale.
    xx, yy, pts = _mesh(lim, 101)
    logp = gm.noised(1.0, sigma).log_prob(pts.to(gm.means)).reshape(xx.shape).clamp(min=-10)
    ax.contourf(_np(xx), _np(yy), _np(logp), levels=12, cmap="Blues")
    xx, yy, pts = _mesh(lim * 0.9, n)
    cell = 0.85 * 2 * lim * 0.9 / (n - 1)
    learned, exact = _scores(score_fn, gm, sigma, pts, device)
    for field, colour, width in ((exact, "0.35", 0.012), (learned, "tab:red", 0.005)):
        v = sigma**2 * field  # (n*n, 2)
        size = v.norm(dim=1, keepdim=True).clamp(min=1e-12)
        v = v / size * cell * torch.tanh(size / cell)
        ax.quiver(_np(xx).ravel(), _np(yy).ravel(), _np(v[:, 0]), _np(v[:, 1]), color=colour,
                  angles="xy", scale_units="xy", scale=1.0, width=width)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def score_error_maps(score_fn, gm, sigmas, lim: float = 3.2, n: int = 81, device=None):
    """One error map per noise level: sigma |learned - exact score| over the plane, with white
    contours of the noised data density. score_fn: a params.Denoiser on a VE schedule (score -eps / sigma)."""
    fig, axes = figure(1, len(sigmas), size=2.8)
    axes = np.atleast_1d(axes)
    for ax, sigma in zip(axes, sigmas):
        im = _error_panel(ax, score_fn, gm, float(sigma), lim, n, device)
        ax.set_title(f"sigma = {float(sigma):.3g}", fontsize=10)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="sigma |s_learned - s_exact|")
    return fig


def score_error_figure(score_fn, gm, sigma: float, lim: float = 3.2, n: int = 81, device=None):
    """At one noise level: learned (red) and exact (grey) score arrows, and the error map."""
    fig, (left, right) = figure(1, 2, size=3.4)
    _arrow_panel(left, score_fn, gm, sigma, lim, device=device)
    left.set_title("exact (grey) and learned (red) scores", fontsize=9)
    im = _error_panel(right, score_fn, gm, sigma, lim, n, device)
    right.set_title("error, in units of the noise", fontsize=9)
    fig.colorbar(im, ax=right, shrink=0.8)
    fig.suptitle(f"noise level sigma = {sigma:.3g}", fontsize=10)
    return fig


def samples_over_truth(panels: dict, lim: float = 3.5, max_points: int = 2000):
    """One panel per entry {title: (samples, truth)}: samples of the truth in grey, the model's on top."""
    fig, axes = figure(1, len(panels), size=3.0)
    for ax, (title, (x, truth)) in zip(np.atleast_1d(axes), panels.items()):
        t, p = _np(truth[:max_points]), _np(x[:max_points])
        ax.scatter(t[:, 0], t[:, 1], s=2, c="0.75", lw=0, label="truth")
        ax.scatter(p[:, 0], p[:, 1], s=2, c="tab:blue", alpha=0.6, lw=0, label="samples")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    fig.suptitle("grey: samples of the truth; blue: the model's samples, drawn on top", fontsize=9, color="0.35")
    return fig
