"""Lesson 07's pictures: figures take points or images (the step slider is tested in test_widgets.py)."""

import pytest
import torch

from minidiff import plot, toy
from minidiff.worlds.exact import mixture_denoiser
from minidiff.core.samplers import ddpm
from minidiff.core.schedules import VPLinear, uniform_grid


@pytest.fixture(scope="module")
def steps():
    schedule = VPLinear()
    g = torch.Generator().manual_seed(0)
    return list(ddpm(mixture_denoiser(toy.ring(), schedule), torch.randn(300, 2, generator=g),
                     uniform_grid(20), schedule, generator=g))


def test_figures_take_points_and_images(steps):
    images = torch.rand(10, 1, 8, 8) * 2 - 1
    img_steps = [s._replace(x=images, x0=images.clamp(0, 1)) for s in steps]
    for fig in (plot.denoising_trajectory(steps), plot.denoising_trajectory(img_steps, k=3),
                plot.ddpm_step_figure(img_steps, 5), plot.chain_figure([steps[0].x, images], [1.0, 0.0]),
                plot.ddpm_samples_figure(images, images, ncols=5), plot.loss_curve_figure([1.0] * 100)):
        assert len(plot.to_png(fig)) > 1000
    with pytest.raises(ValueError, match="expected points"):
        plot.chain_figure([torch.zeros(3, 3)], [0.5])
    with pytest.raises(ValueError, match="i must be in"):
        plot.ddpm_step_figure(steps, 20)


def test_no_figure_is_wider_than_a_page(steps):
    # six panels of 2 inches made lesson 07's chain 1,200 pixels wide: panels shrink, and stay square
    page = plot._core.PAGE_WIDTH
    wide = plot.chain_figure([steps[0].x] * 8, [0.1 * i for i in range(8)])
    width, height = wide.get_size_inches()
    assert width == pytest.approx(page) and height == pytest.approx(page / 8)
    assert plot.denoising_trajectory(steps, k=8).get_size_inches()[0] == pytest.approx(page)
    narrow = plot.chain_figure([steps[0].x] * 3, [0.0, 0.5, 1.0])
    assert tuple(narrow.get_size_inches()) == pytest.approx((6.0, 2.0))  # small figures keep their size


def test_loss_axis_is_labelled_plainly():
    fig = plot.loss_curve_figure([1.0 - 0.0006 * i for i in range(1500)])  # 1.0 down to 0.1
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_visible()] == ["0.1", "0.2", "0.5", "1"]
