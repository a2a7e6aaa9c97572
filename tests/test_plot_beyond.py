"""Lesson 12's pictures say what they draw (more of them are drawn in test_beyond.py)."""

import numpy as np
import torch

from minidiff import plot, toy


def circles(ax):
    return np.array([p.center for p in ax.patches])


def test_each_panel_can_show_the_modes_of_its_own_data():
    # one set of means for every panel drew the grid's 25 circles over the ring's 8 modes
    grid, ring = toy.grid(), toy.ring(std=0.1)
    fig = plot.coverage_panels({"grid": grid.sample(50), "ring": ring.sample(50)},
                               {"grid": grid.means, "ring": ring.means}, 0.1)
    assert [len(circles(ax)) for ax in fig.axes] == [25, 8]
    assert np.allclose(circles(fig.axes[1]), ring.means.double().cpu().numpy())
    shared = plot.coverage_panels({"a": ring.sample(50), "b": ring.sample(50)}, grid.means, 0.1)
    assert [len(circles(ax)) for ax in shared.axes] == [25, 25]


def test_points_and_samples_says_which_colour_is_which():
    x = torch.randn(30, 2)
    fig = plot.points_and_samples([dict(size=4, points=x[:4], samples=x, copies=0.5)])
    assert "red crosses" in fig._suptitle.get_text() and "blue" in fig._suptitle.get_text()


def test_short_digit_grids_sit_under_their_titles_without_white_space():
    digits = torch.rand(32, 1, 8, 8) * 2 - 1
    fig = plot.guided_digits({"kept": digits[:15], "made": digits}, size=4.0)
    width, height = fig.get_size_inches()
    assert width == 8.0 and height < 2.5  # 4 lines of 8 digits in a 4-inch panel: about 2 inches, not 4
    assert all(ax.get_anchor() == "N" for ax in fig.axes)


def test_digit_shares_zoom_shows_small_shares_on_their_own_axis():
    shares = {"unguided": torch.full((10,), 0.1)}
    plain = plot.digit_shares(shares, reference=torch.full((10,), 0.1))
    assert len(plain.axes) == 1
    fig = plot.digit_shares(shares, zoom={"data": (0.018, None, None), "unguided": (0.011, 0.006, 0.02)},
                            zoom_title="the rare digit")
    zoom = fig.axes[1]
    heights = [p.get_height() for p in zoom.patches]
    assert np.allclose(heights, [1.8, 1.1])  # in percent, on an axis of their own
    assert zoom.get_ylim()[1] < 5  # 1.1% against 1.8% is readable, not squashed under the 90% bars
    assert [t.get_text() for t in zoom.get_xticklabels()] == ["data", "unguided"]


def test_each_panel_can_have_its_own_width():
    grid, ring = toy.grid(), toy.ring(std=0.1)
    fig = plot.coverage_panels({"grid": grid.sample(50), "ring": ring.sample(50)},
                               {"grid": grid.means, "ring": ring.means}, 0.1, lim={"grid": 5.0, "ring": 3.0})
    assert [ax.get_xlim() for ax in fig.axes] == [(-5.0, 5.0), (-3.0, 3.0)]
