"""Sliders: setting a value in the kernel redraws the picture and its label, and the label states
what was drawn. Wall-clock redraw times are measured in benchmarks/widgets.py, never asserted here."""

import math

import numpy as np
import pytest
import torch

from minidiff import data, exact, ink, params, plot, schedules, toy, widgets
from minidiff.worlds.exact import mixture_denoiser
from minidiff.core.losses import score_error
from minidiff.core.samplers import ddpm
from minidiff.core.schedules import DiscreteDDPM, cosine_betas, linear_betas

PNG = b"\x89PNG\r\n\x1a\n"
RING = toy.ring()


def draw(shift):
    fig, ax = plot.figure()
    ax.plot([0, 1], [shift, shift + 1])
    return fig


def three_bumps():
    return toy.GaussianMixture(torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.8]]),
                               torch.tensor([[0.4, 0.7], [0.9, 0.3], [0.5, 0.5]]), [0.5, 0.3, 0.2])


def test_setting_a_slider_redraws_image_and_label():
    ui = widgets.FigureControls(draw, lambda shift: f"shift = {shift:.2f}",
                                {"shift": widgets.slider("shift", 0.0, 1.0, 0.0, 0.1)})
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and label == "shift = 0.00"
    ui.controls["shift"].value = 0.7
    assert ui.image.value != before and ui.label.value == "shift = 0.70"


def test_picture_is_shown_at_its_size_and_rendered_sharper():
    # A slider's picture is displayed at the figure's size (never stretched to the output width) and has
    # `sharpness` times as many pixels, for high-density screens.
    ui = widgets.FigureControls(draw, lambda shift: "", {"shift": widgets.slider("shift", 0.0, 1.0, 0.0, 0.1)},
                                dpi=80, sharpness=2)
    fig = draw(0.0)
    shown = round(fig.get_size_inches()[0] * 80)
    png_width = int.from_bytes(ui.image.value[16:20], "big")  # the IHDR chunk's width field
    assert ui.image.layout.width == f"{shown}px"
    assert abs(png_width - 2 * shown) <= 2


def test_grey_level_slider_redraws():
    ui = widgets.grey_level_explorer(0)
    before = ui.image.value
    assert ui.label.value == "grey level 0 -> x = -1.000"
    ui.controls["level"].value = 255
    assert ui.image.value != before and ui.label.value == "grey level 255 -> x = +1.000"


def test_cursor_slider_redraws_image_and_label():
    gm = toy.two_pixel_mixture()
    ui = widgets.cursor_explorer(gm, level1=45, level2=210)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and label.startswith("pixel 1 = 45, pixel 2 = 210")
    ui.controls["level1"].value = 128
    ui.controls["level2"].value = 128
    assert ui.image.value != before and ui.label.value != label
    # The label states the exact density at the cursor, the mid-grey peak here.
    p = gm.log_prob(toy.image_to_point(torch.tensor([[128, 128]]))).exp().item()
    assert ui.label.value.endswith(f"density p = {p:.4f}")


def test_ink_slider_redraws_image_and_label():
    x0 = ink.ink_drop(300, 0.5, generator=torch.Generator().manual_seed(0))
    frames = list(ink.random_walk(x0, 0.5, 0.1, 10, generator=torch.Generator().manual_seed(1)))
    xs, h = ink.grid(3.0, 60)
    p0, asked = ink.disc_density(xs, 0.5), []

    def density_at(t):
        asked.append(t)
        return ink.heat_equation(p0, 0.5, t, h)

    ui = widgets.ink_slider(frames, density_at, xs)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and label.startswith("t = 0.00")
    ui.controls["t"].value = 0.7
    assert ui.image.value != before and ui.label.value.startswith("t = 0.70")
    assert abs(asked[-1] - 0.7) < 1e-9  # the density was drawn for the frame's own time


def test_ink_slider_runs_backwards_too():
    # A reversed run starts at T on an uneven grid: the slider starts there and snaps to frames.
    frames = [ink.Step(4.0 * (k / 8) ** 2, torch.randn(100, 2)) for k in range(8, -1, -1)]  # 4, ..., 0
    xs, _ = ink.grid(3.0, 30)
    ui = widgets.ink_slider(frames, lambda t: np.full((30, 30), t), xs, density_title="exact law")
    assert ui.controls["t"].value == 4.0 and ui.label.value.startswith("t = 4.00")
    ui.controls["t"].value = 0.1  # nearest frame: t = 4 (1/8)^2 = 0.0625
    assert ui.label.value.startswith("t = 0.06")


def schedule_ui():
    g = torch.Generator().manual_seed(1)
    points = toy.two_pixel_mixture().sample(200, generator=g)
    x, labels = data.load_digits(8)
    return widgets.schedule_explorer(points, x[data.first_per_class(labels)], generator=g), points


def test_schedule_slider_redraws_the_image_and_states_the_values():
    ui, _ = schedule_ui()
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and "t = 0.500 (step 500 of 1000)" in label
    ab = DiscreteDDPM(linear_betas(1000)).alpha_bar(torch.tensor(0.5, dtype=torch.float64)).item()
    assert f"alpha_bar = {ab:.4g}" in label
    ui.controls["t"].value = 0.8
    assert ui.image.value != before and "t = 0.800 (step 800 of 1000)" in ui.label.value
    ui.controls["kind"].value = "cosine"
    ab = DiscreteDDPM(cosine_betas(1000)).alpha_bar(torch.tensor(0.8, dtype=torch.float64)).item()
    assert ui.label.value.startswith("cosine") and f"alpha_bar = {ab:.4g}" in ui.label.value
    ui.controls["T"].value = 50  # t = 0.8 is step 40 of 50
    assert "step 40 of 50" in ui.label.value
    ui.controls["s"].value = 0.1
    ab = DiscreteDDPM(cosine_betas(50, s=0.1)).alpha_bar(torch.tensor(0.8, dtype=torch.float64)).item()
    assert "s = 0.1" in ui.label.value and f"alpha_bar = {ab:.4g}" in ui.label.value


def test_schedule_slider_moves_the_same_points_along_their_own_noise():
    # x_t = alpha x0 + sigma eps with one eps drawn once: solving for eps at two times gives the same eps.
    ui, points = schedule_ui()
    found = []
    for t in [0.3, 0.7]:
        ui.controls["t"].value = t
        fig = ui.draw(**ui.values)
        xt = torch.as_tensor(np.asarray(fig.axes[2].collections[0].get_offsets()), dtype=torch.float32)
        schedule = DiscreteDDPM(linear_betas(1000))
        found.append((xt - schedule.alpha(t).item() * points) / schedule.sigma(t).item())
    assert torch.allclose(found[0], found[1], atol=1e-4)
    assert 0.8 < found[0].std() < 1.2  # and it looks like standard normal noise


def test_noise_level_slider_redraws():
    ui = widgets.noise_level_explorer(three_bumps())
    before, label = ui.image.value, ui.label.value
    ui.controls["sigma"].value = 1.5
    assert ui.image.value != before and ui.label.value != label and "1.50" in ui.label.value


def test_langevin_slider_redraws_and_reports_floor_units():
    gm = three_bumps()
    start = 3 * torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    ui = widgets.langevin_explorer(gm, start, step_size=0.01, n_steps=0)
    at_start, label = ui.image.value, ui.label.value
    ui.controls["n_steps"].value = 300
    assert ui.image.value != at_start and "300 steps" in ui.label.value
    # 300 steps of 0.01 (diffusion time 3) bring the broad start to within a few floors of the truth.
    before = float(label.split("= ")[1].split("x")[0])
    after = float(ui.label.value.split("= ")[1].split("x")[0])
    assert after < before / 2 and after < 3
    # Beyond h = 2 s^2 for the narrowest component (s = 0.3) the chain blows up.
    _, units = widgets.langevin_snapshot(gm, start, 1.0, 100)
    assert units == math.inf


def test_score_error_slider_redraws_image_and_label():
    shift = torch.tensor([0.3, -0.4])  # the exact score plus a constant: sigma |error| = 0.5 sigma

    schedule = schedules.VE(0.05, 4.0)
    shifted = params.Denoiser(lambda x, t: RING.noised(1.0, schedule.sigma(t[0]).item()).score(x) + shift,
                              schedule, target="score")

    ui = widgets.score_error_explorer(shifted, RING, [2.0, 0.5, 0.1], n=21)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and "sigma = 2" in label
    ui.controls["level"].value = 2
    assert ui.image.value != before and "level 3 of 3: sigma = 0.1;" in ui.label.value
    # The label's error is the density-weighted one, here 0.5 sigma exactly.
    want = score_error(shifted, RING, schedule.t_from_sigma(0.1).item(), n=2000,
                       generator=torch.Generator().manual_seed(0))
    assert want == pytest.approx(0.05, rel=1e-4) and f"{want:.3f}" in ui.label.value


def test_ddpm_step_slider_redraws_and_labels():
    schedule = schedules.VPLinear()
    g = torch.Generator().manual_seed(0)
    steps = list(ddpm(mixture_denoiser(RING, schedule), torch.randn(300, 2, generator=g),
                      schedules.uniform_grid(20), schedule, generator=g))
    ui = widgets.ddpm_step_explorer(steps, start=0)
    image, label = ui.image.value, ui.label.value
    assert label == f"step 1 of 20: t = {steps[0].t:.3f}"
    ui.controls["step"].value = 20
    assert ui.image.value != image and ui.label.value == "step 20 of 20: t = 0.000"


def test_steps_slider_resamples_and_relabels():
    schedule = schedules.VPLinear()
    ui = widgets.steps_explorer(exact.mixture_denoiser(RING, schedule), schedule, RING, n=500, steps=2,
                                max_steps=20)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and label.startswith("steps = 2:") and "heun 3 NFE" in label
    ui.controls["steps"].value = 12
    assert ui.image.value != before and ui.label.value.startswith("steps = 12:")
    assert "ddim 12 NFE" in ui.label.value and "heun 23 NFE" in ui.label.value
