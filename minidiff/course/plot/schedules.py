"""Pictures of lesson 03: schedule curves, the two-pixel cloud and digits at time t (the slider over
them is widgets.schedule_explorer)."""

from typing import Sequence

import numpy as np
import torch

from ...worlds import toy
from ...worlds.metrics.curves import crossing  # the level is measured in metrics; drawn here
from ...core.schedules import DiscreteDDPM, Schedule, cosine_betas, linear_betas
from ._core import CourseFigure, figure

LIM = 3.2  # the square shown for the two-pixel cloud: data in [-1, 1] plus a few noise stds
SNR_LIM = (-22.0, 14.0)  # log-SNR axis, fixed so that pictures for different schedules compare


def paper_table(kind: str, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
          s: float = 0.008) -> DiscreteDDPM:
    """The discrete schedule of the papers: 'linear' (Ho et al. 2020) or 'cosine' (Nichol & Dhariwal 2021)."""
    if kind == "linear":
        return DiscreteDDPM(linear_betas(T, beta_start, beta_end))
    if kind == "cosine":
        return DiscreteDDPM(cosine_betas(T, s))
    raise ValueError(f"paper_table: kind must be 'linear' or 'cosine', got {kind!r}")


def _time_axis(schedule: Schedule, n: int = 400) -> torch.Tensor:
    # Start just after t = 0, where log-SNR is +inf for variance-preserving schedules.
    return torch.linspace(1e-3, 1.0, n, dtype=torch.float64)


def _curves(ax_ab, ax_snr, schedules: dict, t: float | None = None, widths: Sequence[float] = ()) -> None:
    drawn = []  # alpha_bar of the curves already drawn
    for i, (name, schedule) in enumerate(schedules.items()):
        ts = _time_axis(schedule)
        lw = widths[i] if i < len(widths) else 2.0
        ab = schedule.alpha_bar(ts)
        # A curve that lies on one drawn before (VPLinear on Ho's table) would hide it: dash it on top.
        ls = "--" if any((ab - other).abs().max() < 0.01 for other in drawn) else "-"
        drawn.append(ab)
        line, = ax_ab.plot(ts, ab, lw=lw, ls=ls, label=name)
        ax_snr.plot(ts, schedule.log_snr(ts).clamp(*SNR_LIM), lw=lw, ls=ls, color=line.get_color(), label=name)
        if t is not None and i == 0:  # the marker sits on the first (current) schedule
            at = torch.tensor(float(t), dtype=torch.float64)
            ax_ab.plot([t], [schedule.alpha_bar(at)], "o", ms=8, color="tab:red", zorder=5)
            ax_snr.plot([t], [schedule.log_snr(at).clamp(*SNR_LIM)], "o", ms=8, color="tab:red", zorder=5)
    ax_ab.set(xlabel="t", ylabel="alpha_bar(t)", title="alpha_bar: signal variance left",
              xlim=(-0.02, 1.02), ylim=(-0.03, 1.03))
    ax_snr.set(xlabel="t", ylabel="log(alpha^2 / sigma^2)", title="log-SNR", xlim=(-0.02, 1.02), ylim=SNR_LIM)
    ax_snr.axhline(0, color="grey", lw=0.6, ls=":")
    if schedules:
        ax_snr.legend(fontsize=7, loc="lower left")  # the corner no log-SNR curve reaches


def schedule_curves(schedules: dict[str, Schedule], t: float | None = None):
    """alpha_bar(t) and log-SNR(t) of each schedule side by side (a red marker at t on the first)."""
    fig, (ax_ab, ax_snr) = figure(1, 2, size=3.4)
    _curves(ax_ab, ax_snr, schedules, t)
    return fig


def strip(images: torch.Tensor, gap: int = 1) -> np.ndarray:
    """Images (N, 1, H, W) side by side in one array (H, N (W + gap) - gap), gaps at the top value 1."""
    n, _, h, w = images.shape
    out = np.ones((h, n * (w + gap) - gap), dtype=np.float32)
    for i, image in enumerate(images[:, 0].detach().cpu().float().numpy()):
        out[:, i * (w + gap): i * (w + gap) + w] = image
    return out


def _show_strip(ax, images: torch.Tensor, title: str = "") -> None:
    # One imshow for the whole row is much quicker to draw than one axes per image.
    ax.imshow(strip(images.clamp(-1, 1)), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


class ScheduleView:
    """The lesson's live picture, built once; `update` only moves its artists, so a slider redraws fast."""

    def __init__(self, points, eps_points, digits, eps_digits, references: dict):
        self.points, self.eps_points, self.digits, self.eps_digits = points, eps_points, digits, eps_digits
        self.fig = CourseFigure(figsize=(10.5, 4.6))  # fixed positions: a layout engine doubles the time
        grid = self.fig.add_gridspec(2, 3, height_ratios=[3.2, 1.0], left=0.06, right=0.99, top=0.93,
                                     bottom=0.02, wspace=0.32, hspace=0.42)
        self.ax_ab, self.ax_snr, self.ax_cloud = (self.fig.add_subplot(grid[0, i]) for i in range(3))
        self.ax_digits = self.fig.add_subplot(grid[1, :])
        _curves(self.ax_ab, self.ax_snr, references, widths=[0.9] * len(references))
        self.lines = [ax.plot([], [], lw=2.2, color="k", label="this schedule")[0] for ax in (self.ax_ab, self.ax_snr)]
        self.markers = [ax.plot([], [], "o", ms=8, color="tab:red", zorder=5)[0] for ax in (self.ax_ab, self.ax_snr)]
        self.scatter = self.ax_cloud.scatter(points[:, 0], points[:, 1], s=2, c="tab:orange", alpha=0.5, lw=0)
        self.ax_cloud.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], "k--", lw=0.6)  # where clean images live
        self.ax_cloud.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), aspect="equal", xlabel="pixel 1", ylabel="pixel 2")
        self.contours = None
        self.image = self.ax_digits.imshow(strip(digits), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        self.ax_digits.set_axis_off()

    def update(self, schedule: Schedule, t: float, name: str = ""):
        ts, at = _time_axis(schedule), torch.tensor(float(t), dtype=torch.float64)
        curves = (schedule.alpha_bar, lambda u: schedule.log_snr(u).clamp(*SNR_LIM))
        for line, marker, f in zip(self.lines, self.markers, curves):
            line.set_data(ts.numpy(), f(ts).numpy())
            marker.set_data([t], [f(at).item()])
        self.lines[0].set_label(name or repr(schedule))
        self.ax_snr.legend(fontsize=7, loc="lower left")
        alpha, sigma = schedule.alpha(at).item(), schedule.sigma(at).item()
        self.scatter.set_offsets((alpha * self.points + sigma * self.eps_points).cpu().numpy())
        if self.contours is not None:
            self.contours.remove()
        self.contours = _density_contours(self.ax_cloud, alpha, sigma)
        self.ax_cloud.set_title(f"two-pixel images at t = {t:.3f}", fontsize=9)
        self.image.set_data(strip((alpha * self.digits + sigma * self.eps_digits).clamp(-1, 1)))
        self.ax_digits.set_title(f"digits at t = {t:.3f}: alpha = {alpha:.3f}, sigma = {sigma:.3f} "
                                 "(shown clipped to [-1, 1])", fontsize=9)
        return self.fig


def noised_density_grid(alpha: float, sigma: float, n: int = 60):
    """(X, Y, density) of x_t = alpha x0 + sigma eps for the two-pixel mixture on an n x n grid.

    Exact (toy.GaussianMixture.noised), but evaluated in NumPy: for 3,600 points that takes a few
    milliseconds, quicker than torch's many small calls, which matters inside a slider."""
    noised = toy.two_pixel_mixture().noised(alpha, max(sigma, 1e-3))
    means, stds, weights = (p.cpu().double().numpy() for p in (noised.means, noised.stds, noised.weights))
    g = np.linspace(-LIM, LIM, n)
    xx, yy = np.meshgrid(g, g)  # (n, n): rows are y, columns are x
    z = ((xx[..., None] - means[:, 0]) / stds[:, 0]) ** 2 + ((yy[..., None] - means[:, 1]) / stds[:, 1]) ** 2
    density = (weights * np.exp(-0.5 * z) / (2 * np.pi * stds[:, 0] * stds[:, 1])).sum(-1)  # (n, n)
    return xx, yy, density


def _density_contours(ax, alpha: float, sigma: float):
    return ax.contour(*noised_density_grid(alpha, sigma), levels=6, colors="tab:blue", linewidths=0.7)


def schedule_figure(schedule: Schedule, t: float, points: torch.Tensor, eps_points: torch.Tensor,
                    digits: torch.Tensor, eps_digits: torch.Tensor, name: str = "",
                    references: dict | None = None):
    """The lesson's live picture: alpha_bar and log-SNR with a marker at t (thin lines: references),
    the two-pixel cloud at t (points: samples of x0; contours: their exact noised density), digits at t."""
    view = ScheduleView(points, eps_points, digits, eps_digits, references or {})
    return view.update(schedule, t, name)


def digits_over_time(x0: torch.Tensor, schedules: dict[str, Schedule], ts: Sequence[float],
                     eps: torch.Tensor):
    """One digit x0 (1, H, W) noised with the same eps at each time of ts: one row per schedule."""
    fig, axes = figure(len(schedules), 1, size=1.0)
    fig.set_size_inches(0.75 * len(ts) + 0.4, 1.15 * len(schedules) + 0.2)
    width = x0.shape[-1]
    for ax, (name, schedule) in zip(np.atleast_1d(axes), schedules.items()):
        t = torch.tensor([float(u) for u in ts], dtype=torch.float64)
        alpha, sigma = schedule.alpha(t).float(), schedule.sigma(t).float()  # (K,)
        xt = alpha[:, None, None, None] * x0 + sigma[:, None, None, None] * eps  # (K, 1, H, W)
        _show_strip(ax, xt, name)
        ax.set_axis_on()  # keep the t labels under each image, without a frame
        ax.set_xticks([i * (width + 1) + (width - 1) / 2 for i in range(len(ts))], [f"t = {u:g}" for u in ts],
                      fontsize=7)
        ax.set_yticks([])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig


def recognisable_figure(log_snrs: torch.Tensor, accuracy: torch.Tensor, threshold: float,
                        schedules: dict[str, Schedule]):
    """Left: how often the digit is named right against log-SNR, and the log-SNR where it falls to
    the threshold. Right: each schedule's log-SNR(t), and the fraction of t spent above that level."""
    fig, (left, right) = figure(1, 2, size=3.5)
    left.plot(log_snrs, accuracy, "o-", color="k")
    left.axhline(0.1, color="grey", ls=":", lw=0.8, label="chance (1 in 10)")
    lam_star = crossing(log_snrs, accuracy, threshold)
    left.axvline(lam_star, color="tab:red", lw=1, label=f"log-SNR {lam_star:.2f}")
    left.set(xlabel="log SNR", ylabel="digits named right", title="recognisable down to ...")
    left.legend(fontsize=7)
    ts = torch.linspace(1e-3, 1, 400, dtype=torch.float64)
    for name, schedule in schedules.items():
        t_star = schedule.t_from_log_snr(torch.tensor(lam_star, dtype=torch.float64)).item()
        line, = right.plot(ts, schedule.log_snr(ts).clamp(*SNR_LIM), label=f"{name}: {t_star:.0%} of t")
        right.axvline(t_star, color=line.get_color(), ls="--", lw=0.8)
    right.axhline(lam_star, color="tab:red", lw=1)
    right.set(xlabel="t", ylabel="log SNR(t)", ylim=SNR_LIM, title="fraction of steps recognisable")
    right.legend(fontsize=7)
    return fig


def compare_histograms(pairs: dict[str, tuple[torch.Tensor, torch.Tensor]],
                       names: tuple[str, str] = ("chain", "closed form"), bins: int = 60):
    """One panel per entry: two samples of one coordinate, as overlaid density histograms."""
    fig, axes = figure(1, len(pairs), size=2.6)
    for ax, (title, (a, b)) in zip(np.atleast_1d(axes), pairs.items()):
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(a.cpu().numpy().ravel(), edges, density=True, alpha=0.5, label=names[0])
        ax.hist(b.cpu().numpy().ravel(), edges, density=True, histtype="step", lw=1.5, label=names[1])
        ax.set_title(title, fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return fig
