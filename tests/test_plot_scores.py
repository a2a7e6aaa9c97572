"""Pictures of lessons 04 and 05: the arrows and tangents drawn are the score (the sliders are
tested in test_widgets.py)."""

import numpy as np
import torch

from minidiff import plot, toy


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


def test_trajectories_draw_one_path_per_particle():
    xs = torch.randn(20, 30, 2, generator=torch.Generator().manual_seed(2)).cumsum(0)
    fig = plot.trajectories(xs, list(range(20)), mixture(), k=7)
    assert len(fig.axes[1].get_lines()) == 7
    assert np.allclose(fig.axes[1].get_lines()[3].get_ydata(), xs[:, 3, 0].numpy())


def test_samples_vs_truth_says_what_the_colours_are():
    fig = plot.samples_vs_truth({"a": torch.randn(40, 2)}, mixture())
    assert "red: the points" in fig._suptitle.get_text() and "log-density" in fig._suptitle.get_text()


def test_titles_of_square_panels_stay_inside_the_figure():
    # four aspect-equal panels: after one layout pass the titles stood 2 pixels above the figure's top
    fig = plot.score_fields(mixture(), [0.0, 0.3, 1.0, 2.0])
    fig.draw_without_rendering()  # one pass, as a PNG is drawn
    assert all(ax.title.get_window_extent().y1 <= fig.bbox.height for ax in fig.axes)
