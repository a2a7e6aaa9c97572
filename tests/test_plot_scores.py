"""Pictures of lessons 04 and 05: the arrows and tangents drawn are the score, and the sliders
redraw their image and label."""

import numpy as np
import torch

from minidiff import metrics, plot, toy


def mixture():
    return toy.GaussianMixture(torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.8]]),
                               torch.tensor([[0.4, 0.7], [0.9, 0.3], [0.5, 0.5]]), [0.5, 0.3, 0.2])


def test_score_field_arrows_point_along_the_score():
    gm = mixture()
    fig = plot.score_field(gm)
    (quiver,) = [c for c in fig.axes[0].collections if hasattr(c, "U")]
    where = torch.as_tensor(np.asarray(quiver.get_offsets()), dtype=torch.float64)  # (n*n, 2)
    s = gm.to(torch.float64).score(where)
    unit = s / s.norm(dim=1, keepdim=True)
    assert len(where) == 19 * 19
    assert np.allclose(quiver.U, unit[:, 0].numpy(), atol=1e-5)
    assert np.allclose(quiver.V, unit[:, 1].numpy(), atol=1e-5)


def test_tangents_have_the_slope_of_the_score():
    gm = toy.GaussianMixture(torch.tensor([[-1.5], [1.5]]), torch.tensor([0.5, 0.8]), [0.3, 0.7])
    at = (-2.5, -0.5, 1.0, 2.5)
    fig = plot.slopes_1d(gm, at=at, shift=2.0)
    tangents = fig.axes[1].get_lines()[2:]  # after the curves log p and log p + shift
    assert len(tangents) == 2 * len(at)  # one on each curve: the shift changes no slope
    for line, x0 in zip(tangents, np.repeat(at, 2)):
        xs, ys = line.get_data()
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        assert np.isclose(xs.mean(), x0)
        assert np.isclose(slope, gm.score(torch.tensor([[x0]]))[0, 0].item(), rtol=1e-4)


def test_noise_level_slider_redraws():
    ui = plot.noise_level_explorer(mixture())
    before, label = ui.image.value, ui.label.value
    ui.controls["sigma"].value = 1.5
    assert ui.image.value != before and ui.label.value != label and "1.50" in ui.label.value


def test_langevin_slider_redraws_and_reports_floor_units():
    gm = mixture()
    start = 3 * torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    floor = metrics.noise_floor(gm.sample, 300, generator=torch.Generator().manual_seed(1))
    ui = plot.langevin_explorer(gm, start, floor, step_size=0.01, n_steps=0)
    at_start, label = ui.image.value, ui.label.value
    ui.controls["n_steps"].value = 300
    assert ui.image.value != at_start and "300 steps" in ui.label.value
    # 300 steps of 0.01 (diffusion time 3) bring the broad start to within a few floors of the truth.
    before = float(label.split("= ")[1].split("x")[0])
    after = float(ui.label.value.split("= ")[1].split("x")[0])
    assert after < before / 2 and after < 3
    # Beyond h = 2 s^2 for the narrowest component (s = 0.3) the chain blows up.
    _, units = plot.langevin_snapshot(gm, start, 1.0, 100, floor)
    assert units == float("inf")


def test_trajectories_draw_one_path_per_particle():
    xs = torch.randn(20, 30, 2, generator=torch.Generator().manual_seed(2)).cumsum(0)
    fig = plot.trajectories(xs, list(range(20)), mixture(), k=7)
    assert len(fig.axes[1].get_lines()) == 7
    assert np.allclose(fig.axes[1].get_lines()[3].get_ydata(), xs[:, 3, 0].numpy())
