"""Lesson 11's pictures: each panel holds the numbers it was given, the labels name what was passed, and the
pipeline diagram reads its shapes off the pipeline object (latent and pixel), not off constants."""

import numpy as np
import pytest
import torch
from matplotlib.patches import FancyBboxPatch

from minidiff import latent, plot, scenes
from minidiff.core.nets.autoencoder import Autoencoder
from minidiff.core.nets.text_unet import TextUNet
from minidiff.core.params import Denoiser
from minidiff.course.plot import CourseFigure
from minidiff.core.schedules import VPLinear
from minidiff.core.text import Tokenizer

PNG = b"\x89PNG\r\n\x1a\n"


def images(n, seed=0, size=24):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def rgb(x):
    return ((x + 1) / 2).permute(1, 2, 0)


def data(ax, k=-1):
    return torch.as_tensor(np.asarray(ax.images[k].get_array()))


# --- images, latents, reconstructions -------------------------------------------------------------------

def test_latent_grid_rows_hold_images_each_latent_channel_and_reconstructions():
    x, r = images(10), images(10, seed=1)
    z = torch.randn(10, 4, 6, 6, generator=torch.Generator().manual_seed(2))
    fig = plot.latent_grid(x, z, r, n=8)
    assert isinstance(fig, CourseFigure) and plot.to_png(fig)[:8] == PNG
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(panels) == 6 * 8 and len(fig.axes) == 6 * 8 + 1  # 6 rows of 8, and the latents' colour bar
    grid = np.array(panels).reshape(6, 8)
    assert [ax.get_ylabel() for ax in grid[:, 0]] == ["original", "latent 0", "latent 1", "latent 2", "latent 3",
                                                      "reconstruction"]
    torch.testing.assert_close(data(grid[0, 3]), rgb(x[3]))
    torch.testing.assert_close(data(grid[5, 7]), rgb(r[7]))
    torch.testing.assert_close(data(grid[1 + 2, 5]), z[5, 2])  # channel 2 of image 5, 6 x 6
    top = z[:8].abs().max().item()  # one colour scale for every latent panel, symmetric about 0
    assert all(ax.images[0].get_clim() == pytest.approx((-top, top)) for ax in grid[1:5].ravel())
    # the small rows really are smaller than the image rows
    assert grid[1, 0].get_position().height < 0.75 * grid[0, 0].get_position().height
    title = fig._suptitle.get_text()
    mse = (r[:8] - x[:8]).pow(2).mean().item()
    assert "1,728" in title and "144" in title and "12x fewer" in title and f"{mse:.4f}" in title, title


def test_latent_grid_shapes_and_errors():
    x, z = images(3), torch.randn(3, 2, 6, 6)
    fig = plot.latent_grid(x, z, x, n=8)  # n larger than the batch: every image once
    assert len([ax for ax in fig.axes if ax.images]) == (2 + 2) * 3
    assert "2x6x6 = 72" in fig._suptitle.get_text() and "MSE 0.0000" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="one shape"):
        plot.latent_grid(x, z, images(3, size=12))
    with pytest.raises(ValueError, match="3 images but 2 latents"):
        plot.latent_grid(x, z[:2], x)
    with pytest.raises(ValueError, match="4 dimensions"):
        plot.latent_grid(x, z[0], x)


# --- the similarity matrix ------------------------------------------------------------------------------

CAPTIONS = ["a red fish and a blue can on the grass", "a blue fish and a red can on the grass",
            "at night, a gold star on the left", "a white boat in the snow"]


def logits():
    L = torch.tensor([[30.0, 25.0, 1.0, 2.0],   # row 0 picks its own caption
                      [28.0, 20.0, 3.0, 4.0],   # row 1 picks the swapped twin's
                      [0.0, 1.0, 22.0, 5.0],
                      [2.0, 1.0, 3.0, 27.0]])
    return L


def rings(ax):
    """(row, column, colour) of each ring drawn on the heatmap."""
    return [(int(line.get_ydata()[0]), int(line.get_xdata()[0]), line.get_color()) for line in ax.lines]


def test_similarity_matrix_heatmap_labels_and_best_caption_per_row():
    L = logits()
    fig = plot.similarity_matrix(L, CAPTIONS)
    assert plot.to_png(fig)[:8] == PNG
    ax = fig.axes[0]
    torch.testing.assert_close(data(ax, 0), L)
    assert [t.get_text() for t in ax.get_xticklabels()] == CAPTIONS  # all short enough to stay whole
    assert [t.get_text() for t in ax.get_yticklabels()] == CAPTIONS
    assert rings(ax) == [(0, 0, "limegreen"), (1, 0, "red"), (2, 2, "limegreen"), (3, 3, "limegreen")]
    assert "3 of 4 its own" in ax.get_title()
    assert [t.get_text() for t in ax.texts][:4] == ["30", "25", "1", "2"]  # values in the cells, row by row
    assert fig.axes[1].get_ylabel() == "similarity (logit)"  # the colour bar


def test_similarity_matrix_with_images_and_long_captions():
    L, x = logits(), images(4)
    long = [c + ", with a very long tail that goes on and on" for c in CAPTIONS]
    fig = plot.similarity_matrix(L, long, images=x, values=False)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert all(len(s) <= 40 and s.endswith("...") for s in labels) and labels[0].startswith("a red fish")
    assert not ax.get_yticklabels() and not ax.texts  # rows are labelled by the images; no numbers asked
    thumbs = ax.child_axes
    assert len(thumbs) == 4
    torch.testing.assert_close(data(thumbs[2]), rgb(x[2]))
    # one image against several captions (zero-shot reading): rows need not match columns
    fig = plot.similarity_matrix(L[:2], CAPTIONS, images=x[:2])
    assert rings(fig.axes[0]) == [(0, 0, "red"), (1, 0, "red")]  # nothing is 'its own' off a square
    assert "its own" not in fig.axes[0].get_title()


def test_similarity_matrix_errors():
    with pytest.raises(ValueError, match="4 columns but 3 captions"):
        plot.similarity_matrix(logits(), CAPTIONS[:3])
    with pytest.raises(ValueError, match="needs the images"):
        plot.similarity_matrix(logits()[:2], CAPTIONS)
    with pytest.raises(ValueError, match="4 rows but 3 images"):
        plot.similarity_matrix(logits(), CAPTIONS, images=images(3))


# --- the pipeline in one picture ------------------------------------------------------------------------

def pipe(space="latent", max_len=12, dim=24):
    """A small untrained pipeline; caption length and text width unlike the shipped ones, so that the
    diagram's shapes must come from the pipe."""
    torch.manual_seed(0)
    channels = 4 if space == "latent" else 3
    net = TextUNet(len(Tokenizer(scenes.vocabulary())), in_channels=channels, channels=(8, 16), cross_levels=(0, 1),
                   encoder=dict(kind="transformer", dim=dim, heads=2, layers=1, max_len=max_len),
                   freeze_encoder=space == "latent")
    shape = (4, 6, 6) if space == "latent" else (3, 24, 24)
    vae = Autoencoder(width=8) if space == "latent" else None
    return latent.TextToImage(net.tokenizer(scenes.vocabulary()), Denoiser(net, VPLinear(), sample_shape=shape), vae,
                              sampler="heun")


def texts(fig):
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts) + " | " + fig.axes[0].get_title()


def boxes(fig):
    return [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]


def test_pipeline_diagram_latent():
    fig = plot.pipeline_diagram(pipe())
    assert plot.to_png(fig)[:8] == PNG
    words = texts(fig)
    assert len(boxes(fig)) == 5
    for stage in ("1 tokenizer", "2 text encoder", "3 denoiser + guidance", "4 sampler", "5 decoder"):
        assert stage in words
    for name in (f"Tokenizer ({len(scenes.vocabulary()) + 2} tokens)", "TransformerEncoder (frozen)", "TextUNet in ClassifierFree",
                 "samplers.heun", "VPLinear", "Autoencoder.decode_latents"):
        assert name in words, name
    for flow in ("prompt text", "ids (B, 12)", "word vectors (B, 12, 24)", "noise (B, 4, 6, 6)",
                 "eps (B, 4, 6, 6)", "latents (B, 4, 6, 6)", "images (B, 3, 24, 24)"):
        assert flow in words, flow
    width, _ = fig.get_size_inches()
    assert width * 100 <= 900


def test_pipeline_diagram_pixel_has_no_decoder():
    fig = plot.pipeline_diagram(pipe("pixel", max_len=20, dim=16))
    words = texts(fig)
    assert len(boxes(fig)) == 4 and "decoder" not in words and "Autoencoder" not in words
    assert "ids (B, 20)" in words and "word vectors (B, 20, 16)" in words
    assert "noise (B, 3, 24, 24)" in words and "images (B, 3, 24, 24)" in words and "latents" not in words
    assert "trained with the U-Net" in words  # lesson 10's encoder is not frozen


# --- one prompt, stage by stage -------------------------------------------------------------------------

def test_stages_prompt_ids_latents_and_decoded_images():
    tok = Tokenizer(scenes.vocabulary())
    prompt = "a gold fish and a red can on the beach"
    ids = tok.encode(prompt)
    z = torch.randn(10, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    x = images(10)
    times = torch.linspace(1, 0, 10).tolist()
    fig = plot.stages(prompt, ids, z, x, times=times, tokenizer=tok)
    assert plot.to_png(fig)[:8] == PNG
    head = fig.axes[0]
    head_text = " ".join(t.get_text() for t in head.texts)
    assert prompt in head_text
    assert "<start>:1" in head_text and f"gold:{tok.ids['gold']}" in head_text
    assert f"+ {20 - 1 - 10} x <pad>:0" in head_text  # <start> and the 10 words, then padding
    shown = [0, 2, 4, 5, 7, 9]  # six of the ten steps, evenly spread, first and last kept
    latent_axes = [ax for ax in fig.axes[1:] if ax.get_title()]
    assert [ax.get_title() for ax in latent_axes] == [f"t = {times[s]:.2f}" for s in shown]
    for ax, s in zip(latent_axes, shown):
        torch.testing.assert_close(data(ax), z[s, 0])  # the first channel
    decoded = [ax for ax in fig.axes[1:] if ax.images and not ax.get_title()]
    assert len(decoded) == len(shown)
    torch.testing.assert_close(data(decoded[3]), rgb(x[5]))
    top = z[shown, 0].abs().max().item()
    assert all(ax.images[0].get_clim() == pytest.approx((-top, top)) for ax in latent_axes)


def test_stages_without_tokenizer_or_times_and_errors():
    z, x = torch.randn(3, 4, 6, 6), images(3)
    fig = plot.stages("a blue boat", torch.tensor([[1, 6, 12, 0, 0]]), z, x)
    head_text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "ids: 1 6 12  + 2 x <pad>:0" in head_text
    assert [ax.get_title() for ax in fig.axes[1:] if ax.get_title()] == ["step 0", "step 1", "step 2"]
    with pytest.raises(ValueError, match="3 latents but 2 images"):
        plot.stages("p", [1], z, x[:2])
    with pytest.raises(ValueError, match="3 steps but 2 times"):
        plot.stages("p", [1], z, x, times=[1.0, 0.0])
