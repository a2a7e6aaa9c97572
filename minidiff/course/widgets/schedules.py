"""Lesson 03's sliders: a discrete schedule (kind, T, beta range, cosine offset s) and the time t,
over the two-pixel cloud and digits noised at t."""

import math

import ipywidgets
import torch

from ..plot.schedules import ScheduleView, paper_table
from ._controls import FigureControls, int_slider, slider


def schedule_explorer(points: torch.Tensor, digits: torch.Tensor, generator: torch.Generator | None = None,
                      kind: str = "linear", T: int = 1000, t: float = 0.5) -> FigureControls:
    """Sliders for the schedule (kind, T, beta range, cosine offset s) and t over plot.schedule_figure.

    points: clean two-pixel points (N, 2); digits: clean images (K, 1, H, W). The noise is drawn once
    here, so moving t moves the same points and the same digits.
    """
    eps_points = torch.randn(points.shape, generator=generator, dtype=points.dtype)
    eps_digits = torch.randn(digits.shape, generator=generator, dtype=digits.dtype)
    refs = {"Ho et al. linear, T = 1000": paper_table("linear"), "Nichol & Dhariwal cosine": paper_table("cosine")}

    def snap(T, t):
        k = round(t * T)  # the discrete chain lives at t = k / T
        return k, k / T

    view = ScheduleView(points, eps_points, digits, eps_digits, refs)  # built once: a redraw moves artists

    def draw(kind, T, beta_start, beta_end, s, t):
        k, t = snap(T, t)
        return view.update(paper_table(kind, T, beta_start, beta_end, s), t, name=f"{kind}, T = {T}")

    def label(kind, T, beta_start, beta_end, s, t):
        k, t = snap(T, t)
        schedule = paper_table(kind, T, beta_start, beta_end, s)
        at = torch.tensor(t, dtype=torch.float64)
        params = f"betas {beta_start:.2g} .. {beta_end:.2g}" if kind == "linear" else f"s = {s:.3g}"
        return (f"{kind}, T = {T}, {params}: t = {t:.3f} (step {k} of {T}), "
                f"alpha_bar = {schedule.alpha_bar(at).item():.4g}, log-SNR = {schedule.log_snr(at).item():.3g}")

    log_slider = dict(base=10, step=0.05, continuous_update=False, readout_format=".2g")
    ui = FigureControls(draw, label, {
        "kind": ipywidgets.Dropdown(options=["linear", "cosine"], value=kind, description="schedule"),
        "T": int_slider("T steps", 10, 2000, T, 10),
        "beta_start": ipywidgets.FloatLogSlider(1e-4, min=-5, max=-2, description="beta_1", **log_slider),
        "beta_end": ipywidgets.FloatLogSlider(0.02, min=-3, max=math.log10(0.5), description="beta_T",
                                              **log_slider),
        "s": ipywidgets.FloatLogSlider(0.008, min=-4, max=0, description="cosine s", **log_slider),
        "t": slider("t", 0.0, 1.0, t, 0.01),
    })
    ui.children[0].layout.flex_flow = "row wrap"  # six controls: let them wrap onto two lines
    return ui
