"""Pictures of lesson 08 (fast samplers): paths of the SDE and the ODE, samples against NFE, quality
and endpoint error against NFE, the likelihood through the ODE (the slider over steps is
widgets.steps_explorer)."""

import numpy as np
import torch
from matplotlib.ticker import NullFormatter, ScalarFormatter

from ._core import cloud_panel, figure, plain_log_ticks

# One colour per sampler of samplers.SAMPLERS; Euler is DDIM (eta = 0), so it shares DDIM's.
COLOURS = {"ddpm": "tab:blue", "ddim": "tab:orange", "euler": "tab:orange", "heun": "tab:green",
           "dpm_solver_pp": "tab:cyan", "euler_maruyama": "tab:red", "predictor_corrector": "tab:purple"}


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def paths_over_time(paths: dict, ts, coordinate: int = 0, max_paths: int = 40):
    """One panel per sampler: coordinate `coordinate` of each path against t (time runs right to left,
    from noise to data). paths: {name: tensor (steps + 1, B, D)}, all over the same grid ts."""
    fig, axes = figure(1, len(paths), size=3.4, sharey=True)
    axes = np.atleast_1d(axes)
    t = _np(torch.as_tensor(ts))
    for ax, (name, path) in zip(axes, paths.items()):
        p = _np(path[:, :max_paths, coordinate])  # (steps + 1, paths)
        ax.plot(t, p, lw=0.7, alpha=0.7, color=COLOURS.get(name.split()[0], "tab:gray"))
        ax.set_xlim(t.max(), t.min())
        ax.set_xlabel("t (noise -> data)")
        ax.set_title(name, fontsize=9)
    axes[0].set_ylabel(f"x[{coordinate}]")
    return fig


def _plain_ticks(axis, values) -> None:
    # log axes label 30 as 3x10^1; the NFE measured, written plainly, are easier to read
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())
    axis.set_ticks(values)


def sample_panels(samples: dict, truth: torch.Tensor | None = None, lim: float = 3.0, titles=None,
                  truth_label: str = "samples of the true distribution"):
    """A row of scatter plots, one per entry of samples {title: (N, 2)}, over the truth in grey (the
    figure's caption says what grey is)."""
    fig, axes = figure(1, len(samples), size=2.8)
    axes = np.atleast_1d(axes)
    for ax, (name, x) in zip(axes, samples.items()):
        p = cloud_panel(ax, x, lim, COLOURS.get(name.split()[0], "tab:blue"), background=truth,
                        title=titles[name] if titles else name)
        outside = int((np.abs(p) > lim).any(axis=1).sum())  # say so when points fly off the picture
        if outside:
            ax.text(0.5, 0.02, f"{outside} of {len(p)} points off the frame", transform=ax.transAxes,
                    ha="center", fontsize=8, color="tab:red")
    if truth is not None:
        fig.suptitle(f"grey: {truth_label}", fontsize=9, color="0.35")
    return fig


def quality_vs_nfe(points, target: float = 1.2, title: str = "distance to the truth against NFE"):
    """Quality in floor units against NFE (log axes), one line per sampler; the floor and target marked.
    points: a list of nfe.Point."""
    fig, ax = figure(size=4.4)
    fig.set_size_inches(6.0, 4.0)
    for name in dict.fromkeys(p.sampler for p in points):
        mine = sorted((p.nfe, p.quality) for p in points if p.sampler == name)
        ax.plot(*zip(*mine), "o-", label=name, color=COLOURS.get(name), ms=4)
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="noise floor")
    ax.axhline(target, color="k", lw=0.8, ls=":", label=f"{target}x the floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_ticks(ax.xaxis, sorted({p.budget for p in points}))  # heun's 2 n - 1 sits beside 2 n
    plain_log_ticks(ax.yaxis, [1.0, *(p.quality for p in points)])  # 1, 2, 5: the floor's region readable
    ax.set_xlabel("network evaluations (NFE)")
    ax.set_ylabel("sliced Wasserstein / noise floor")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def error_vs_nfe(errors: dict, slopes: dict | None = None):
    """Endpoint error against a very fine solve, against NFE (log-log), with reference lines of slope
    -1 and -2 through the first point. errors: {name: (nfes, errors)}; slopes: fitted slopes to print."""
    fig, ax = figure(size=4.4)
    fig.set_size_inches(6.0, 4.0)
    for name, (nfes, errs) in errors.items():
        label = name + (f" (fitted slope {slopes[name]:.2f})" if slopes and name in slopes else "")
        ax.plot(nfes, errs, "o-", label=label, color=COLOURS.get(name), ms=4)
    first = next(iter(errors.values()))
    n0, e0 = first[0][0], first[1][0]
    n = np.array([n0, max(max(v[0]) for v in errors.values())], dtype=float)
    for order, style in ((1, "--"), (2, ":")):
        ax.plot(n, e0 * (n / n0) ** -order, "k" + style, lw=0.8, label=f"slope -{order}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_ticks(ax.xaxis, list(first[0]))
    ax.set_xlabel("network evaluations (NFE)")
    ax.set_ylabel("mean endpoint error |x_N - x_exact|")
    ax.set_title("the order of each method shows in the endpoint error")
    ax.legend(fontsize=8)
    return fig


def likelihood_vs_truth(true_log_prob: torch.Tensor, ode_log_prob: torch.Tensor):
    """Log-density through the ODE against the true log-density, point by point, with the diagonal."""
    fig, ax = figure(size=4.0)
    a, b = _np(true_log_prob), _np(ode_log_prob)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="equal")
    ax.scatter(a, b, s=6, alpha=0.6, lw=0, label=f"{len(a)} points")
    ax.set_xlabel("true log p(x)")
    ax.set_ylabel("log p(x) through the ODE")
    ax.set_title(f"mean |difference| = {np.abs(a - b).mean():.3f} nats")
    ax.legend(loc="upper left")
    return fig
