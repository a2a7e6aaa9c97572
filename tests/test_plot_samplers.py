"""Lesson 08's pictures: each draws and states what it measured."""

import torch

from minidiff import nfe, plot


def test_figures_draw():
    points = [nfe.Point("heun", 10, 5, 9, 3.0), nfe.Point("heun", 20, 10, 19, 1.1),
              nfe.Point("ddim", 10, 10, 10, 1.5), nfe.Point("ddim", 20, 20, 20, 1.0)]
    errors = {"euler": ([10, 20, 40], [0.2, 0.1, 0.05]), "heun": ([9, 19, 39], [0.3, 0.08, 0.02])}
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    paths = {"ode": torch.randn(5, 8, 2), "sde": torch.randn(5, 8, 2)}
    figures = [plot.quality_vs_nfe(points), plot.error_vs_nfe(errors, {"euler": -1.0, "heun": -2.0}),
               plot.likelihood_vs_truth(x[:, 0], x[:, 0] + 0.01), plot.sample_panels({"a": x, "b": x}, x),
               plot.paths_over_time(paths, torch.linspace(1, 0, 5))]
    for fig in figures:
        assert plot.to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0.010" in figures[2].axes[0].get_title()  # the mean gap is stated on the figure


def test_every_sampler_has_a_colour_of_its_own():
    # a sampler without one took matplotlib's next colour, which was DDPM's blue (DPM-Solver++ did)
    from minidiff import samplers
    from minidiff.course.plot.samplers import COLOURS

    assert set(COLOURS) == set(samplers.SAMPLERS)
    assert COLOURS["euler"] == COLOURS["ddim"]  # one sampler, two names
    others = [c for name, c in COLOURS.items() if name != "euler"]
    assert len(set(others)) == len(others)


def test_grey_is_explained_and_the_floor_region_labelled():
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    assert plot.sample_panels({"a": x}, x)._suptitle.get_text() == "grey: samples of the true distribution"
    assert plot.sample_panels({"a": x}, x, truth_label="the ring")._suptitle.get_text() == "grey: the ring"
    assert plot.sample_panels({"a": x})._suptitle is None  # no grey, no caption
    points = [nfe.Point("ddim", 5, 5, 5, 6.0), nfe.Point("ddim", 80, 80, 80, 0.95)]
    fig = plot.quality_vs_nfe(points)
    fig.canvas.draw()
    # the default log labels were 10^0 and 10^1 only: nothing between the floor and ten times it
    assert [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_visible()] == ["1", "2", "5"]
