"""Lesson 02's pictures show what they are given (the time slider is tested in test_widgets.py)."""

import numpy as np
import torch

from minidiff import ink, plot, toy


def drop_frames():
    x0 = ink.ink_drop(300, 0.5, generator=torch.Generator().manual_seed(0))
    return list(ink.random_walk(x0, 0.5, 0.1, 10, generator=torch.Generator().manual_seed(1)))


def test_particles_and_density_draws_the_particles_and_the_grid():
    xs, h = ink.grid(2.0, 40)
    p = ink.heat_equation(ink.disc_density(xs, 0.5, (0.5, 0.0)), 0.5, 0.2, h)
    x = torch.randn(50, 2)
    fig = plot.particles_and_density(x, p, xs, 0.2)
    left, right = fig.axes
    assert np.allclose(left.collections[0].get_offsets(), x.numpy())
    image = right.images[0]
    assert np.array_equal(image.get_array(), p) and image.origin == "lower"
    assert image.get_extent() == [-2.0, 2.0, -2.0, 2.0]  # cell edges, so pixels sit on their cells
    assert "t = 0.20" in left.get_title() and "heat equation" in right.get_title()


def test_snapshots_grid_and_exact_contours():
    ring = toy.ring()
    steps = [ink.Step(t, ring.sample(200)) for t in (0.0, 0.5, 1.0, 1.5, 2.0)]  # clouds at five times
    fig = plot.ink_snapshots({"ring": steps[::2], "moons": steps[:2]}, mixtures={"ring": lambda t: ring})  # the law at each t
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["t = 0.00", "t = 1.00", "t = 2.00"]
    assert axes[0, 0].get_ylabel() == "ring" and axes[1, 0].get_ylabel() == "moons"
    assert len(axes[0, 1].collections) >= 2 and len(axes[1, 1].collections) == 1  # contours only with a law
    assert not axes[1, 2].collections and not axes[1, 2].axison  # a shorter row leaves a blank panel


def test_moment_decay_and_steps_plots_carry_the_numbers():
    ts = [0.0, 1.0, 2.0]
    fig = plot.moment_decay(ts, {"ring": [(1.0, 2.0), (0.6, 0.7), (0.37, 0.27)]}, n_points=600)
    left, right = fig.axes
    assert np.allclose(right.lines[-1].get_ydata(), 0.1)  # sqrt(6 / 600): the sampling-noise level
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["ring", "noise of 600 points"]  # named
    assert np.allclose(left.lines[1].get_ydata(), np.exp(-np.array(ts) / 2))  # the predicted line
    assert np.allclose(right.lines[1].get_ydata(), 2.0 * np.exp(-np.array(ts)))
    fig = plot.steps_and_distance([10, 100], {"equal steps": [3.0, 1.1], "rho = 2": [1.5, 0.9]})
    assert np.allclose(fig.axes[0].lines[1].get_ydata(), [1.5, 0.9])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["equal steps", "rho = 2", "noise floor"]
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_visible()] == ["10", "20", "50", "100"]
    fig = plot.steps_and_distance([10, 100], {"a": [3.0, 1.1]}, {"a": [0.6, 0.2]}, data_std=0.15)
    right = fig.axes[1]
    assert np.allclose(right.lines[0].get_ydata(), [0.6, 0.2]) and np.allclose(right.lines[1].get_ydata(), 0.15)
