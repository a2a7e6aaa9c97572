"""Lesson 01's pictures show what they claim: the right images, the density the right way round
(the sliders are tested in test_widgets.py)."""

import numpy as np
import pytest
import torch

from minidiff import plot, toy
from minidiff.course.plot import points

PNG = b"\x89PNG\r\n\x1a\n"


def shown_images(ax) -> list:
    """The grey levels of every two-pixel image drawn in an axes, top to bottom."""
    return [im.get_array().data.ravel().tolist() for im in ax.get_images()]


def test_density_grid_is_not_transposed():
    # The two edge clusters differ in weight (0.15 dark|bright at x1 < 0 < x2, 0.10 the other way),
    # so a transposed grid would swap which corner is higher.
    gm = toy.two_pixel_mixture()
    X, Y, Z = points.density_grid(gm, grid=121)
    def at(x, y):
        i, j = np.unravel_index(np.argmin((X - x) ** 2 + (Y - y) ** 2), X.shape)
        return Z[i, j]
    corner = 45 / 127.5 - 1
    want = gm.log_prob(torch.tensor([[corner, -corner], [-corner, corner]])).exp()
    assert at(corner, -corner) / at(-corner, corner) == pytest.approx((want[0] / want[1]).item(), rel=0.05)
    assert at(corner, -corner) > 1.3 * at(-corner, corner)


def test_cloud_shows_the_first_k_images_at_their_points():
    images = toy.two_pixel_images(300, generator=torch.Generator().manual_seed(0))
    fig = plot.cloud_with_images(images, k=4, gm=toy.two_pixel_mixture())
    cloud, side = fig.axes[0], fig.axes[1]
    assert shown_images(side) == images[:4].reshape(4, 2).tolist()
    offsets = cloud.collections[-1].get_offsets()  # the last marker drawn: image D
    assert np.allclose(np.asarray(offsets)[0], toy.image_to_point(images[3:4])[0].numpy())
    big = max(cloud.collections, key=lambda c: len(c.get_offsets()))
    assert np.allclose(big.get_offsets(), toy.image_to_point(images).numpy())
    assert plot.to_png(fig)[:8] == PNG
    fig = plot.cloud_with_images(images, highlight=[10, 3, 7])
    assert shown_images(fig.axes[1]) == images[[10, 3, 7]].reshape(3, 2).tolist()
    with pytest.raises(ValueError, match="show 1..12 images"):
        plot.cloud_with_images(images, k=0)


def test_draw_pixels_writes_the_levels():
    fig, ax = plot.figure()
    plot.draw_pixels(ax, torch.tensor([[7, 250]], dtype=torch.uint8), label="A")
    assert [t.get_text() for t in ax.texts] == ["7", "250", "A"]
    assert shown_images(ax) == [[7, 250]]


def test_cell_mass_figure_plots_exact_mass_against_frequencies():
    probs = toy.two_pixel_cell_probs(4)
    images = toy.two_pixel_images(500, generator=torch.Generator().manual_seed(1))
    counts = toy.two_pixel_cell_counts(images, 4)
    fig = plot.cell_mass_figure(probs, counts)
    xy = np.asarray(fig.axes[1].collections[0].get_offsets())
    assert np.allclose(xy[:, 0], probs.ravel().numpy())
    assert np.allclose(xy[:, 1], (counts / 500).ravel().numpy())


def test_surface_and_contours_draw_a_3d_panel():
    fig = plot.surface_and_contours(toy.two_pixel_mixture())
    assert [ax.name for ax in fig.axes].count("3d") == 1 and plot.to_png(fig)[:8] == PNG
