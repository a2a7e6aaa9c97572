"""Pictures of lesson 02: ink particles beside the heat equation's density, clouds flowing to
N(0, I) and back (the time slider is widgets.ink_slider)."""

from typing import Sequence

import numpy as np
import torch

from ...worlds import ink
from ._core import figure, plain_log_ticks

CLOUD = dict(s=2, alpha=0.35, linewidths=0, color="tab:blue")


def _square(ax, lim: float) -> None:
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")


def _scatter(ax, x: torch.Tensor, lim: float, max_points: int = 3000) -> None:
    pts = x[:max_points].detach().cpu().double().numpy()  # more points only blacken the picture
    ax.scatter(pts[:, 0], pts[:, 1], **CLOUD)
    _square(ax, lim)


def particles_and_density(x: torch.Tensor, p: np.ndarray, xs: np.ndarray, t: float,
                          density_title: str = "heat equation"):
    """Particles (left) and a density on the grid xs (right, e.g. the heat equation's) at time t."""
    fig, (left, right) = figure(1, 2, size=3.2)
    lim = float(xs[-1] + (xs[1] - xs[0]) / 2)
    _scatter(left, x, lim)
    left.set_title(f"{len(x)} particles at t = {t:.2f}")
    right.imshow(p, origin="lower", extent=(-lim, lim, -lim, lim), cmap="Blues", vmin=0)
    right.set_title(f"{density_title} at t = {t:.2f}")
    _square(right, lim)
    return fig


def _contours(ax, mixture, t: float, lim: float) -> None:
    # The exact law of the cloud at time t, for the eye to compare the particles with.
    g = torch.linspace(-lim, lim, 100, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    law = mixture(t).to("cpu", torch.float64)  # mixture(t): the exact law at time t
    z = law.log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).exp().reshape(100, 100)
    ax.contour(xx.numpy(), yy.numpy(), z.numpy(), levels=5, colors="tab:orange", linewidths=0.7)


def ink_snapshots(rows: dict[str, Sequence[ink.Step]], lim: float = 4.5, mixtures: dict | None = None,
              size: float = 1.9):
    """A grid of clouds: one row per name, one column per Step; orange contours show the exact
    law at that time when `mixtures[name]` is a function t -> GaussianMixture, the law at t."""
    names = list(rows)
    ncols = max(len(rows[n]) for n in names)
    fig, axes = figure(len(names), ncols, size=size)
    axes = np.asarray(axes).reshape(len(names), ncols)  # 2-D even for one row or one column
    for ax in axes[:, 1:].ravel():
        ax.axis("off")  # panels a shorter row does not fill stay blank; filled ones turn back on
    for i, name in enumerate(names):
        for j, step in enumerate(rows[name]):
            ax = axes[i, j]
            ax.axis("on")
            if mixtures and mixtures.get(name) is not None:
                _contours(ax, mixtures[name], step.t, lim)
            _scatter(ax, step.x, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"t = {step.t:.2f}", fontsize=9)
        axes[i, 0].set_ylabel(name)
    fig.suptitle(f"each panel shows the square [-{lim:g}, {lim:g}]^2", fontsize=9)
    return fig


def moment_decay(ts: Sequence[float], gaps: dict[str, list[tuple[float, float]]], n_points: int | None = None):
    """Measured |mean| and |cov - I| against time, with the predicted decay alpha and alpha^2.

    A cloud that starts centred (|mean| < 0.1) has only sampling noise in its mean: it is left
    out of the left panel, where it would show noise, not the pull. With `n_points`, dashed lines
    mark the sampling noise of n points of N(0, I) in 2-D: E|mean| = sqrt(pi / (2 n)) and
    E|cov - I|^2 = 6 / n (variance 2 / n for each diagonal entry, 1 / n for each off-diagonal)."""
    fig, (left, right) = figure(1, 2, size=3.4)
    ts = np.asarray(ts)
    for (name, g), colour in zip(gaps.items(), ["tab:blue", "tab:green", "tab:red", "tab:purple"]):
        mean_gap, cov_gap = np.array(g).T
        if mean_gap[0] >= 0.1:
            left.semilogy(ts, mean_gap, "o", color=colour, label=name)
            left.semilogy(ts, mean_gap[0] * np.exp(-ts / 2), "-", color=colour, lw=0.8)
        right.semilogy(ts, cov_gap, "o", color=colour, label=name)
        right.semilogy(ts, cov_gap[0] * np.exp(-ts), "-", color=colour, lw=0.8)
    if n_points:
        left.axhline(np.sqrt(np.pi / (2 * n_points)), color="grey", ls="--", lw=0.8)
        right.axhline(np.sqrt(6 / n_points), color="grey", ls="--", lw=0.8, label=f"noise of {n_points} points")
    left.set(title="|mean|   (line: alpha(t) x start)", xlabel="t")
    right.set(title="|cov - I|   (line: alpha(t)^2 x start)", xlabel="t")
    right.legend(fontsize=8)
    return fig


def steps_and_distance(n_steps: Sequence[int], ratios: dict[str, Sequence[float]],
                       spreads: dict[str, Sequence[float]] | None = None, data_std: float | None = None):
    """Quality of the reversal against the number of steps, one line per time grid: the distance
    to the data in noise-floor units (floor dashed) and, when given, the spread around the modes
    (the data's std dashed)."""
    fig, axes = figure(1, 2 if spreads else 1, size=3.6)
    axes = np.atleast_1d(axes)
    for name, r in ratios.items():
        axes[0].semilogx(n_steps, r, "o-", label=name)
    axes[0].axhline(1.0, color="grey", ls="--", lw=0.8, label="noise floor")
    axes[0].set(xlabel="number of reverse steps", ylabel="distance / noise floor",
                title="Distance to the data")
    axes[0].legend(fontsize=8)
    axes[0].set_ylim(bottom=0)
    plain_log_ticks(axes[0].xaxis, n_steps)  # 5, 10, 20, 50 ... read better than 10^1, 10^2
    if spreads:
        for name, sp in spreads.items():
            axes[1].semilogx(n_steps, sp, "o-", label=name)
        if data_std is not None:
            axes[1].axhline(data_std, color="grey", ls="--", lw=0.8, label="the data's own spread")
            axes[1].legend(fontsize=8)
        axes[1].set(xlabel="number of reverse steps", ylabel="spread around the modes",
                    title="How sharp the drops come back")
        axes[1].set_ylim(bottom=0)
        plain_log_ticks(axes[1].xaxis, n_steps)
    return fig
