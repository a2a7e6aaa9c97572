"""Lesson 06's pictures: the error maps show sigma |learned - exact| (the slider: test_widgets.py)."""

import numpy as np
import pytest
import torch

from minidiff import plot, toy
from minidiff.worlds.exact import mixture_denoiser
from minidiff.core.losses import score_error
from minidiff.core.params import Denoiser
from minidiff.core.schedules import VE

RING = toy.ring()
SHIFT = torch.tensor([0.3, -0.4])  # |SHIFT| = 0.5


SCHEDULE = VE(0.05, 4.0)
# A model whose score is the exact score of the noised ring plus a constant: sigma |error| = 0.5 sigma.
shifted = Denoiser(lambda x, t: RING.noised(1.0, SCHEDULE.sigma(t[0]).item()).score(x) + SHIFT, SCHEDULE,
                   target="score")


def test_error_maps_show_sigma_times_the_score_error():
    fig = plot.score_error_maps(shifted, RING, [2.0, 0.1], n=21)
    for ax, sigma in zip(fig.axes[:2], [2.0, 0.1]):
        error = np.asarray(ax.images[0].get_array())
        assert error.shape == (21, 21) and np.allclose(error, 0.5 * sigma, atol=1e-5)
    exact = plot.score_error_figure(mixture_denoiser(RING, SCHEDULE), RING, 0.3, n=21)
    assert np.abs(np.asarray(exact.axes[1].images[0].get_array())).max() < 1e-5


def test_samples_over_truth_draws_each_panel_over_its_own_truth():
    x, truth = torch.randn(50, 2), torch.rand(80, 2)
    fig = plot.samples_over_truth({"a": (x, truth), "b": (truth, x)})
    grey, blue = fig.axes[0].collections
    assert np.allclose(grey.get_offsets(), truth.numpy()) and np.allclose(blue.get_offsets(), x.numpy())
    assert np.allclose(fig.axes[1].collections[1].get_offsets(), truth.numpy())
    assert "grey: samples of the truth" in fig._suptitle.get_text()  # the colours say which is which
