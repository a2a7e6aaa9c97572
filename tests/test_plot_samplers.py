"""Lesson 08's pictures: each draws, and the steps slider re-samples and relabels when moved."""

import torch

from minidiff import exact, nfe, plot, schedules, toy


def test_steps_slider_resamples_and_relabels():
    gm, schedule = toy.ring(), schedules.VPLinear()
    ui = plot.steps_explorer(exact.mixture_denoiser(gm, schedule), schedule, gm, n=300, steps=2, max_steps=20)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n" and label.startswith("steps = 2:") and "heun 3 NFE" in label
    ui.controls["steps"].value = 12
    assert ui.image.value != before and ui.label.value.startswith("steps = 12:")
    assert "ddim 12 NFE" in ui.label.value and "heun 23 NFE" in ui.label.value
    assert 0 < ui.last_draw_seconds < 10


def test_figures_draw():
    points = [nfe.Point("heun", 10, 5, 9, 3.0), nfe.Point("heun", 20, 10, 19, 1.1),
              nfe.Point("ddim", 10, 10, 10, 1.5), nfe.Point("ddim", 20, 20, 20, 1.0)]
    errors = {"euler": ([10, 20, 40], [0.2, 0.1, 0.05]), "heun": ([9, 19, 39], [0.3, 0.08, 0.02])}
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    paths = {"ode": torch.randn(5, 8, 2), "sde": torch.randn(5, 8, 2)}
    figures = [plot.quality_vs_nfe(points), plot.error_vs_nfe(errors, {"euler": -1.0, "heun": -2.0}),
               plot.likelihood_vs_truth(x[:, 0], x[:, 0] + 0.01), plot.sample_panels({"a": x, "b": x}, x),
               plot.paths_over_time(paths, torch.linspace(1, 0, 5))]
    for fig in figures:
        assert plot.to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0.010" in figures[2].axes[0].get_title()  # the mean gap is stated on the figure
