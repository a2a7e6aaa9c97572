"""Pictures of lessons 04 and 05: score fields over log-density maps, how noise smooths them, and
Langevin samples against the truth (the sliders over them live in widgets)."""

import numpy as np
import torch

from ._core import figure


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()  # the CPU first: MPS has no float64


def _mesh(lim: float, n: int):
    g = torch.linspace(-lim, lim, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    return xx, yy, torch.stack([xx.ravel(), yy.ravel()], dim=1)  # (n*n, 2)


def _log_density_map(ax, gm, lim: float, floor: float = -12.0) -> None:
    xx, yy, pts = _mesh(lim, 101)
    logp = gm.log_prob(pts.to(gm.means)).reshape(xx.shape).clamp(min=floor)  # hide the far tails
    ax.contourf(_np(xx), _np(yy), _np(logp), levels=20, cmap="Blues")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def _arrows(ax, gm, lim: float, n: int = 19) -> None:
    # Arrows of equal length show the direction; colour shows the size, which spans decades.
    xx, yy, pts = _mesh(lim * 0.95, n)
    s = gm.score(pts.to(gm.means)).cpu().double()  # (n*n, 2)
    size = s.norm(dim=1, keepdim=True)
    unit = s / size.clamp(min=1e-12)
    ax.quiver(_np(xx).ravel(), _np(yy).ravel(), _np(unit[:, 0]), _np(unit[:, 1]),
              _np(size.log10().ravel()), cmap="autumn", angles="xy", scale_units="xy",
              scale=n / (1.6 * lim), width=0.006)


def score_field(gm, lim: float = 3.0, title: str = "score field over log p"):
    """Arrows of the score (direction; colour = log10 of its size) over the log-density map."""
    fig, ax = figure(size=4.0)
    _log_density_map(ax, gm, lim)
    _arrows(ax, gm, lim)
    ax.set_title(title, fontsize=10)
    return fig


def score_fields(gm, sigmas, lim: float = 3.0):
    """One panel per noise level sigma: the score field of gm.noised(1, sigma)."""
    fig, axes = figure(1, len(sigmas), size=3.0)
    for ax, sigma in zip(np.atleast_1d(axes), sigmas):
        noised = gm.noised(1.0, sigma) if sigma > 0 else gm
        _log_density_map(ax, noised, lim)
        _arrows(ax, noised, lim, n=15)
        ax.set_title(f"sigma = {sigma:g}", fontsize=10)
    return fig


def slopes_1d(gm, lim: float = 4.0, at=(-2.5, -0.5, 1.0, 2.5), shift: float = 2.0):
    """A 1-D density: p(x); log p and log(c p) with tangents of slope score(x) at a few points; the score.

    The tangent drawn at each point has slope gm.score(x): the score is the slope of log p. The curve
    log p + shift (a density scaled by e^shift) has exactly the same slopes.
    """
    x = torch.linspace(-lim, lim, 400, dtype=torch.float64)[:, None]  # (400, 1)
    logp, score = gm.log_prob(x.to(gm.means)).cpu().double(), gm.score(x.to(gm.means))[:, 0].cpu().double()
    fig, axes = figure(1, 3, size=3.2)
    axes[0].plot(_np(x[:, 0]), _np(logp.exp()), color="C0")
    axes[0].set_title("density p(x)", fontsize=10)
    axes[1].plot(_np(x[:, 0]), _np(logp), color="C0", label="log p")
    axes[1].plot(_np(x[:, 0]), _np(logp + shift), color="C1", ls="--", label=f"log p + {shift:g}")
    pts = torch.tensor(at, dtype=torch.float64)[:, None]
    lp, sc = gm.log_prob(pts.to(gm.means)).cpu().double(), gm.score(pts.to(gm.means))[:, 0].cpu().double()
    for x0, y0, slope in zip(_np(pts[:, 0]), _np(lp), _np(sc)):
        dx = np.array([-0.6, 0.6])
        for offset in (0.0, shift):
            axes[1].plot(x0 + dx, y0 + offset + slope * dx, color="k", lw=1.2)
        axes[2].plot([x0], [slope], "ko", ms=4)
    axes[1].set_ylim(float(logp.min()) - 0.5, float(logp.max()) + shift + 1)
    axes[1].set_title("log p: tangents have slope = score", fontsize=10)
    axes[1].legend(fontsize=8, loc="lower center")
    axes[2].plot(_np(x[:, 0]), _np(score), color="C3")
    axes[2].axhline(0, color="grey", lw=0.6)
    axes[2].set_title("score d/dx log p(x)", fontsize=10)
    return fig


def samples_vs_truth(samples: dict, gm, lim: float = 3.0, max_points: int = 1500):
    """One panel per entry {title: (N, 2) points}: the points over the true log-density map."""
    fig, axes = figure(1, len(samples), size=3.2)
    for ax, (title, x) in zip(np.atleast_1d(axes), samples.items()):
        _log_density_map(ax, gm, lim)
        pts = _np(x[:max_points])
        ax.scatter(pts[:, 0], pts[:, 1], s=2, color="C3", alpha=0.5)
        ax.set_title(title, fontsize=9)
    fig.suptitle("red: the points; blue shading: the true log-density", fontsize=9, color="0.35")
    return fig


def trajectories(xs: torch.Tensor, ts, gm, lim: float = 3.0, k: int = 12):
    """Left: the paths of k particles over the log-density map; right: their first coordinate
    against t. xs: (T, N, 2), the x of each Step of a sampler; ts: the T values of Step.t."""
    fig, axes = figure(1, 2, size=3.6)
    _log_density_map(axes[0], gm, lim)
    paths = _np(xs[:, :k])  # (T, k, 2)
    for j in range(paths.shape[1]):
        axes[0].plot(paths[:, j, 0], paths[:, j, 1], lw=0.7, alpha=0.8)
        axes[0].plot(paths[0, j, 0], paths[0, j, 1], "wo", ms=4, mec="k", mew=0.5)
        axes[0].plot(paths[-1, j, 0], paths[-1, j, 1], "k.", ms=5)
        axes[1].plot(np.asarray(ts, dtype=float), paths[:, j, 0], lw=0.7)
    axes[0].set_title(f"{paths.shape[1]} particles (white: first step, black: last)", fontsize=9)
    axes[1].set_xlabel("t")
    axes[1].set_ylabel("first coordinate")
    return fig
