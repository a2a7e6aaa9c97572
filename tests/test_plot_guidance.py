"""Lesson 09's pictures: each draws from the tensors it is given."""

import math

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
    ]
    for fig in figures:
        assert plot.to_png(fig)[:8] == PNG


def test_titles_state_what_was_drawn():
    fig = plot.powered_panels(torch.rand(5, 5), {"ddim": points(0)}, 3.0, titles={"ddim": "ddim 2.50x"})
    assert fig.axes[1].get_title() == "ddim 2.50x"
    rows = plot.digit_rows({"w = 2": digits(10)})
    assert rows.axes[0].get_ylabel() == "w = 2"
