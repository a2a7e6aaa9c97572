"""Lesson 03's pictures show what they claim (the slider is tested in test_widgets.py)."""

import math

import numpy as np
import pytest
import torch

from minidiff import data, metrics, plot, toy
from minidiff.course.plot import schedules as ps
from minidiff.core.schedules import DiscreteDDPM, VPCosine, VPLinear, linear_betas

PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_are_the_schedules_with_a_marker_at_t():
    schedules = {"linear": VPLinear(), "cosine": VPCosine()}
    fig = plot.schedule_curves(schedules, t=0.3)
    ax_ab, ax_snr = fig.axes
    lines = [line for line in ax_ab.get_lines() if len(line.get_xdata()) > 1]
    for line, schedule in zip(lines, schedules.values()):
        t = torch.as_tensor(line.get_xdata(), dtype=torch.float64)
        assert np.allclose(line.get_ydata(), schedule.alpha_bar(t).numpy())
    marker = [line for line in ax_snr.get_lines() if len(line.get_xdata()) == 1][0]
    assert marker.get_xdata()[0] == 0.3
    assert marker.get_ydata()[0] == pytest.approx(VPLinear().log_snr(0.3).item(), rel=1e-6)
    assert plot.to_png(fig)[:8] == PNG


def test_noised_density_grid_is_the_exact_noised_mixture():
    alpha, sigma = 0.6, 0.8
    xx, yy, density = ps.noised_density_grid(alpha, sigma, n=31)
    points = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    exact = toy.two_pixel_mixture().to(torch.float64).noised(alpha, sigma).log_prob(points).exp()
    assert np.allclose(density.ravel(), exact.numpy(), rtol=1e-10)


def test_strip_places_images_side_by_side():
    images = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 1, 3, 4)
    out = ps.strip(images, gap=1)
    assert out.shape == (3, 9)
    assert np.array_equal(out[:, :4], images[0, 0].numpy()) and np.array_equal(out[:, 5:], images[1, 0].numpy())
    assert (out[:, 4] == 1).all()


def test_schedule_figure_shows_xt_of_points_and_digits():
    g = torch.Generator().manual_seed(0)
    points, eps_p = torch.rand(50, 2, generator=g) * 2 - 1, torch.randn(50, 2, generator=g)
    digits = data.load_digits(8)[0][:3]
    eps_d = torch.randn(digits.shape, generator=g)
    schedule = DiscreteDDPM(linear_betas(100))
    fig = plot.schedule_figure(schedule, 0.4, points, eps_p, digits, eps_d, name="linear")
    alpha, sigma = schedule.alpha(0.4).item(), schedule.sigma(0.4).item()
    cloud = fig.axes[2]
    assert np.allclose(cloud.collections[0].get_offsets(), (alpha * points + sigma * eps_p).numpy(), atol=1e-6)
    shown = fig.axes[3].get_images()[0].get_array()
    assert np.allclose(shown, ps.strip((alpha * digits + sigma * eps_d).clamp(-1, 1)))
    assert plot.to_png(fig)[:8] == PNG


def test_recognisable_figure_marks_the_crossing_and_each_schedules_fraction():
    lams = torch.tensor([-8.0, -4.0, 0.0, 4.0])
    accuracy = torch.tensor([0.1, 0.3, 0.7, 0.9])
    assert metrics.crossing(lams, accuracy, 0.5) == pytest.approx(-2.0)
    fig = plot.recognisable_figure(lams, accuracy, 0.5, {"cosine": VPCosine()})
    t_star = VPCosine().t_from_log_snr(-2.0).item()
    assert f"cosine: {t_star:.0%} of t" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    with pytest.raises(ValueError, match="does not cross"):
        metrics.crossing(lams, accuracy, 0.95)


def test_other_figures_draw():
    x0, eps = data.load_digits(8)[0][:1], torch.randn(1, 1, 8, 8)
    fig = plot.digits_over_time(x0[0], {"a": VPLinear(), "b": VPCosine()}, [0, 0.5, 1], eps[0])
    assert len(fig.axes) == 2 and plot.to_png(fig)[:8] == PNG
    fig = plot.compare_histograms({"k = 1": (torch.randn(100), torch.randn(100))})
    assert len(fig.axes) == 1 and plot.to_png(fig)[:8] == PNG
    with pytest.raises(ValueError, match="linear' or 'cosine"):
        ps.paper_table("ve")
    assert math.isclose(ps.paper_table("linear").alpha_bar(torch.tensor(1.0)).item(), 4.04e-5, rel_tol=0.01)


def test_a_curve_lying_on_an_earlier_one_is_dashed_so_both_show():
    # VPLinear is Ho's table to 1e-3: drawn solid under solid, the table's line was hidden
    fig = plot.schedule_curves({"table": ps.paper_table("linear"), "VPLinear": VPLinear(), "VPCosine": VPCosine()})
    for ax in fig.axes:
        styles = [line.get_linestyle() for line in ax.get_lines() if not line.get_label().startswith("_")]
        assert styles == ["-", "--", "-"]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["table", "VPLinear", "VPCosine"]
