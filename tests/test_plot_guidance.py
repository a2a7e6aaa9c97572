"""Lesson 09's pictures: each draws from the tensors it is given."""

import math

import pytest
import torch

from minidiff import plot

PNG = b"\x89PNG\r\n\x1a\n"


def points(seed, n=50):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


def digits(n, size=8):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(n)) * 2 - 1


def test_figures_draw():
    density = torch.rand(20, 20)
    figures = [
        plot.class_clouds({"class 0": points(0), "class 1": points(1) + 2}, lim=4.0),
        plot.powered_panels(density, {"ddpm": points(2), "ddim": points(3)}, 4.0, background=points(4)),
        plot.powered_rows({1.0: density, 3.0: density}, {1.0: {"ddpm": points(5), "ddim": points(6)},
                                                         3.0: {"ddpm": points(7), "ddim": points(8)}}, 4.0),
        plot.distance_vs_w([1, 2, 4], {"ddpm": [1.0, 2.0, 3.0], "ddim": [1.1, 4.0, 8.0]}, low=0.9, high=1.1),
        plot.over_t([0, 0.5, 1], {"accuracy": {"clean": [1, 0.3, 0.1], "noisy": [1, 0.8, 0.1]},
                                  "cosine": {"clean": [math.nan, 0.1, 0.0]}}, references={"accuracy": (0.1, "chance")}),
        plot.guided_digits({"w = 1": digits(16), "w = 3": digits(16)}, ncols=4),
        plot.digit_rows({"w = 0": digits(10), "w = 8": digits(10)}),
        plot.tradeoff([0, 1, 8], {"accuracy": [0.1, 0.9, 0.95], "Frechet / floor": [3, 1.5, 4], "spread": [1, 0.9, 0.4]}),
        plot.guidance.gaussian_guidance(torch.linspace(-3, 3, 50), {"factors": {"p(x|y)": torch.rand(50),
                                                                                "w = 2": torch.rand(50)}}),
    ]
    for fig in figures:
        assert plot.to_png(fig)[:8] == PNG


def test_titles_state_what_was_drawn():
    fig = plot.powered_panels(torch.rand(5, 5), {"ddim": points(0)}, 3.0, titles={"ddim": "ddim 2.50x"})
    assert fig.axes[1].get_title() == "ddim 2.50x"
    rows = plot.digit_rows({"w = 2": digits(10)})
    assert rows.axes[0].get_ylabel() == "w = 2"


def image_columns(fig):
    """Columns of images in each imshow of fig (8x8 digits, 1-pixel gaps: width = 9 cols - 1)."""
    return [(im.get_array().shape[1] + 1) // 9 for ax in fig.axes for im in ax.get_images()]


def test_digit_rows_wrap_at_ten_columns_and_fit_a_page():
    # lesson 09 drew 40 digits in one row, 3,700 pixels wide, each digit a smudge
    fig = plot.digit_rows({"w = 1": digits(40), "w = 3": digits(40)})
    assert image_columns(fig) == [10, 10]
    assert all(im.get_array().shape[0] == 4 * 9 - 1 for ax in fig.axes for im in ax.get_images())  # 4 lines each
    width, height = fig.get_size_inches()
    assert width <= plot._core.PAGE_WIDTH and height == pytest.approx(0.9 * 8)
    short = plot.digit_rows({"w = 0": digits(6)})
    assert image_columns(short) == [6] and short.get_size_inches()[0] < 7


def test_no_image_grid_is_wider_than_ten():
    assert image_columns(plot.guided_digits({"a": digits(64)}, ncols=32)) == [10]
    assert image_columns(plot.guided_digits({"a": digits(100)}, ncols=0)) == [10]  # 0: a square grid


def test_log_axes_are_labelled_plainly_at_1_2_5():
    fig = plot.tradeoff([0, 1, 8], {"accuracy": [0.1, 0.9, 0.95], "Frechet / floor": [70.0, 3.0, 3.5],
                                    "spread (real = 1)": [5.5, 1.6, 0.38]})
    fig.canvas.draw()  # tick labels are made at drawing time
    labels = [[t.get_text() for t in ax.get_yticklabels() if t.get_visible()] for ax in fig.axes[1:]]
    assert labels == [["1", "2", "5", "10", "20", "50"], ["0.5", "1", "2", "5"]]
    assert all(t.get_text() == "" for ax in fig.axes[1:] for t in ax.yaxis.get_minorticklabels())


def test_grey_points_are_explained():
    rows = plot.powered_rows({1.0: torch.rand(5, 5)}, {1.0: {"ddpm": points(0)}}, 4.0, background=points(1))
    assert "grey" in rows._suptitle.get_text() and "whole mixture" in rows._suptitle.get_text()
    bare = plot.powered_rows({1.0: torch.rand(5, 5)}, {1.0: {"ddpm": points(0)}}, 4.0)
    assert "grey" not in bare._suptitle.get_text()  # nothing grey, nothing to explain
    assert "90%" in bare._suptitle.get_text()  # the target's contours are explained either way


@pytest.mark.parametrize("span, labels", [((0.38, 5.5), ["0.5", "1", "2", "5"]),
                                          ((0.9, 1.1), ["0.9", "1"]),
                                          ((1e-5, 1e3), ["1e-05", "0.001", "0.1", "10", "1000"])])
def test_plain_log_ticks_keep_3_to_7_plain_labels(span, labels):
    fig, ax = plot.figure()
    ax.set_yscale("log")
    ax.plot([0, 1], span)
    plot._core.plain_log_ticks(ax.yaxis, span)
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels() if t.get_visible()] == labels


def test_target_contours_hold_the_stated_mass():
    # a standard Gaussian on a fine grid: the 50% and 90% highest-density regions are discs of radius
    # sqrt(2 ln 2) and sqrt(2 ln 10), where the density is exp(-r^2 / 2) / (2 pi) = 0.5 / (2 pi) and 0.1 / (2 pi)
    g = torch.linspace(-6, 6, 601)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    density = torch.exp(-(xx**2 + yy**2) / 2) / (2 * math.pi)
    low, high = plot.guidance._mass_levels(density)
    assert low == pytest.approx(0.1 / (2 * math.pi), rel=0.02) and high == pytest.approx(0.5 / (2 * math.pi), rel=0.02)
