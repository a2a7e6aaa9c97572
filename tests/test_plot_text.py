"""Lesson 10's pictures: a grid of colour images with small titles, and attention maps whose panels hold
each word's weights, upsampled to the image and on a scale that can be read off."""

import pytest
import torch

from minidiff import plot, scenes
from minidiff.course.plot import CourseFigure

PNG = b"\x89PNG\r\n\x1a\n"


def images(n, size=24):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(n)) * 2 - 1


def weights(hw, m, seed=0):
    """Attention weights (HW, M): positive, each pixel's row sums to 1 over the words."""
    return torch.rand(hw, m, generator=torch.Generator().manual_seed(seed)).softmax(-1)


def test_image_grid_one_titled_panel_per_image():
    x = images(10)
    fig = plot.image_grid(x, titles=[f"#{i}" for i in range(10)], ncols=4, title="ten scenes")
    assert isinstance(fig, CourseFigure) and plot.to_png(fig)[:8] == PNG
    assert len(fig.axes) == 12  # three rows of four; the last two are blank
    assert [ax.get_title() for ax in fig.axes[:10]] == [f"#{i}" for i in range(10)]
    assert all(ax.get_title("center") and ax.title.get_fontsize() <= 8 for ax in fig.axes[:10])
    assert not fig.axes[10].images and not fig.axes[11].images
    assert fig._suptitle.get_text() == "ten scenes"
    shown = fig.axes[3].images[0]
    assert shown.get_interpolation() == "nearest"
    torch.testing.assert_close(torch.as_tensor(shown.get_array()), ((x[3] + 1) / 2).permute(1, 2, 0))
    width, height = fig.get_size_inches()
    assert width == pytest.approx(4 * 0.9) and width * 100 <= 900  # inline at 100 dpi: never stretched


def test_image_grid_wraps_a_title_longer_than_the_figure():
    # four 0.9-inch panels hold about 48 characters of a 9-point title: a prompt explorer's title wraps
    title = "'a gold fish and a red can on the beach', w = 3, seed 0"
    fig = plot.image_grid(images(4), ncols=4, title=title)
    lines = fig._suptitle.get_text().split("\n")
    assert len(lines) == 2 and " ".join(lines) == title
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1  # the whole title inside the figure
    assert plot.image_grid(images(4), ncols=4, title="short")._suptitle.get_text() == "short"


def test_image_grid_shapes_and_errors():
    assert len(plot.image_grid(images(3)).axes) == 3  # fewer images than ncols: one row, no blanks
    scene = scenes.render(scenes.random_scene(__import__("numpy").random.default_rng(0)))
    assert len(plot.image_grid(scene[None]).axes) == 1
    with pytest.raises(ValueError, match="colour images"):
        plot.image_grid(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="3 images but 2 titles"):
        plot.image_grid(images(3), titles=["a", "b"])


def test_attention_maps_panels_hold_the_upsampled_weights():
    image = images(1)[0]
    words = ["<start>", "a", "gold", "fish", "<pad>", "<pad>"]
    a = weights(12 * 12, len(words))
    fig = plot.attention_maps(image, a, words)
    assert plot.to_png(fig)[:8] == PNG
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split()[0] for ax in titled] == ["image", "<start>", "a", "gold", "fish"]  # no <pad>
    gold = titled[3].images[-1]  # the map over a grey copy of the image
    m = torch.as_tensor(gold.get_array())
    assert m.shape == (24, 24)  # upsampled from 12 x 12 to the image's size
    expected = a[:, 2].reshape(12, 12).repeat_interleave(2, 0).repeat_interleave(2, 1)
    torch.testing.assert_close(m, expected)  # nearest: each weight covers its 2 x 2 pixels, means kept
    top = a[:, :4].max().item()
    assert all(ax.images[-1].get_clim() == pytest.approx((0.0, top)) for ax in titled[1:])  # one shared scale
    # the number in a title is the word's share of all attention: its mean weight over the pixels
    assert titled[3].get_title() == f"gold  {a[:, 2].mean():.0%}"
    assert [ax.get_ylabel() for ax in fig.axes if ax not in titled] == ["attention weight"]  # one colour bar


def test_attention_maps_shapes_and_scales():
    image = images(1)[0]
    a = weights(36, 3, seed=1)
    as_grid = plot.attention_maps(image, a.reshape(6, 6, 3), ["x", "y", "z"], scale="each")
    for ax, j in zip([ax for ax in as_grid.axes if ax.get_title()][1:], range(3)):
        assert ax.images[-1].get_clim() == pytest.approx((0.0, a[:, j].max().item()))
    # the maps of one pixel's weights add up to 1 over the words, at every pixel of the image
    total = sum(torch.as_tensor(ax.images[-1].get_array()) for ax in as_grid.axes[1:4])
    torch.testing.assert_close(total, torch.ones(24, 24))
    assert len(plot.attention_maps(image, a, ["x", "y"], ncols=2).axes) == 5  # image + 2 words + the colour bar
    assert len(as_grid.axes) == 4  # each on its own scale: no shared colour bar
    with pytest.raises(ValueError, match="square number"):
        plot.attention_maps(image, weights(35, 3), ["x"])
    with pytest.raises(ValueError, match="average the heads"):
        plot.attention_maps(image, torch.rand(1, 2, 36, 3), ["x"])  # (B, heads, HW, M)
    with pytest.raises(ValueError, match="4 words but weights for only 3"):
        plot.attention_maps(image, a, ["w", "x", "y", "z"])
    with pytest.raises(ValueError, match="shared"):
        plot.attention_maps(image, a, ["x"], scale="max")


def test_adherence_curve_one_line_per_prompt_set():
    fig = plot.adherence_curve([1000, 2000, 4000], {"seen": [0.2, 0.6, 0.9], "held out": [0.05, 0.2, 0.7]})
    assert plot.to_png(fig)[:8] == PNG
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["seen", "held out"]
    assert list(ax.lines[1].get_ydata()) == pytest.approx([5, 20, 70])  # in percent
    assert ax.get_ylim() == (0, 100)
    with pytest.raises(ValueError, match="3 steps but 2 values"):
        plot.adherence_curve([1, 2, 3], {"seen": [0.1, 0.2]})
