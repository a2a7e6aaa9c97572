"""Lesson 06's pictures: the error maps show sigma |learned - exact|, and the slider redraws."""

import numpy as np
import pytest
import torch

from minidiff import plot, toy
from minidiff.losses import score_error

RING = toy.ring()
SHIFT = torch.tensor([0.3, -0.4])  # |SHIFT| = 0.5


def shifted(x, sigma):
    # The exact score of the noised ring plus a constant: sigma |error| = 0.5 sigma everywhere.
    s = float(sigma[0])
    return RING.noised(1.0, s).score(x) + SHIFT


def test_error_maps_show_sigma_times_the_score_error():
    fig = plot.score_error_maps(shifted, RING, [2.0, 0.1], n=21)
    for ax, sigma in zip(fig.axes[:2], [2.0, 0.1]):
        error = np.asarray(ax.images[0].get_array())
        assert error.shape == (21, 21) and np.allclose(error, 0.5 * sigma, atol=1e-5)
    exact = plot.score_error_figure(lambda x, s: RING.noised(1.0, float(s[0])).score(x), RING, 0.3, n=21)
    assert np.abs(np.asarray(exact.axes[1].images[0].get_array())).max() < 1e-5


def test_slider_redraws_image_and_label():
    sigmas = [2.0, 0.5, 0.1]
    ui = plot.score_error_explorer(shifted, RING, sigmas, n=21)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n" and "sigma = 2" in label
    ui.controls["level"].value = 2
    assert ui.image.value != before and "level 3 of 3: sigma = 0.1;" in ui.label.value
    # The label's error is the density-weighted one, here 0.5 sigma exactly.
    want = score_error(shifted, RING, 0.1, n=2000, generator=torch.Generator().manual_seed(0))
    assert want == pytest.approx(0.05, rel=1e-4) and f"{want:.3f}" in ui.label.value


def test_samples_over_truth_draws_each_panel_over_its_own_truth():
    x, truth = torch.randn(50, 2), torch.rand(80, 2)
    fig = plot.samples_over_truth({"a": (x, truth), "b": (truth, x)})
    grey, blue = fig.axes[0].collections
    assert np.allclose(grey.get_offsets(), truth.numpy()) and np.allclose(blue.get_offsets(), x.numpy())
    assert np.allclose(fig.axes[1].collections[1].get_offsets(), truth.numpy())
