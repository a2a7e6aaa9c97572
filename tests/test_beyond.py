"""Lesson 12's experiment functions, its pictures and its slider: numbers against constructed cases and
known answers (the chance level of the copy rule in the plane is 1/9)."""

import statistics

import pytest
import torch

from minidiff import beyond, gan, metrics, plot, toy, widgets

PNG = b"\x89PNG\r\n\x1a\n"


def test_chance_level_of_the_copy_rule_in_the_plane_is_one_ninth():
    # For points scattered evenly in the plane, (d1 / d2)^2 is uniform on [0, 1] (Poisson process), so a
    # fresh point has d1 / d2 < 1/3 with probability 1/9; binomial sd at n = 4000 is 0.005. The queries
    # stay away from the square's edges, where the neighbours thin out.
    g = torch.Generator().manual_seed(0)
    points = torch.rand(3000, 2, generator=g)
    fresh = torch.rand(4000, 2, generator=g) * 0.8 + 0.1
    assert metrics.copy_share(fresh, points) == pytest.approx(1 / 9, abs=0.02)


def test_coverage_race_rows_and_summary():
    rows = beyond.coverage_race({"ring": toy.ring(std=0.1)}, seeds=[0, 1], steps=20, n=200)
    assert [(r["seed"], r["model"]) for r in rows] == [(0, "GAN"), (0, "diffusion"), (1, "GAN"), (1, "diffusion")]
    for r in rows:  # each row's numbers are the metric of its own samples
        c = metrics.mode_coverage(r["samples"], toy.ring(std=0.1))
        assert (r["modes"], r["high_quality"], r["of"]) == (c.modes, c.high_quality, 8)
    s = beyond.summary(rows)
    gans = [r["modes"] for r in rows if r["model"] == "GAN"]
    assert s["ring", "GAN"]["modes"] == (statistics.fmean(gans), statistics.stdev(gans))
    assert s["ring", "GAN"]["runs"] == gans and s["ring", "GAN"]["seeds"] == 2


def test_same_seed_same_models():
    a = beyond.fit_diffusion(toy.ring(), 3, steps=5)
    b = beyond.fit_diffusion(toy.ring(), 3, steps=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert torch.equal(beyond.sample_diffusion(a, 50, 1, steps=5), beyond.sample_diffusion(b, 50, 1, steps=5))


def test_fit_diffusion_on_a_finite_set_and_bad_data():
    points = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    model = beyond.fit_diffusion(points, 0, steps=5)
    assert model.target == "eps"
    with pytest.raises(ValueError, match=r"training points \(N, 2\)"):
        beyond.fit_diffusion(torch.zeros(5, 3), 0, steps=5)


def test_copy_curve_fields():
    rows = beyond.copy_curve(toy.ring(), [4, 16], steps=10, n=100)
    assert [r["size"] for r in rows] == [4, 16] and [len(r["points"]) for r in rows] == [4, 16]
    for r in rows:
        assert r["copies"] == metrics.copy_share(r["samples"], r["points"])
        assert 0 <= r["chance"] <= 1


def test_halves_table_on_constructed_pairs():
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    same = beyond.halves_table({4: (x, x.clone())})[0]
    assert same["similarity"] == pytest.approx(1.0)
    other = beyond.halves_table({4: (x, -x)})[0]
    assert other["similarity"] < 0.9


def test_recall_per_digit_on_separable_data():
    # Each digit a constant image of its own brightness pattern: a classifier must get them all.
    y = torch.arange(10).repeat(20)
    x = torch.nn.functional.one_hot(y, 64).float().reshape(-1, 1, 8, 8) * 2 - 1
    recall = beyond.recall_per_digit(x, y, x, y, seed=0, steps=100)
    assert torch.equal(recall, torch.ones(10))


def test_pictures_and_the_gan_slider():
    gm = toy.grid(k=3)
    torch.manual_seed(0)
    run = gan.train_gan(gan.Generator(hidden=8, depth=1), gan.Discriminator(hidden=8, depth=1), gm.sample, 30,
                        batch_size=32, snapshot_every=10, snapshot_size=100, generator=torch.Generator().manual_seed(0))
    ui = widgets.gan_training_explorer(run, gm)
    assert ui.image.value[:8] == PNG and ui.label.value.startswith("step 30: ")
    before = ui.image.value
    ui.controls["i"].value = 0
    c = metrics.mode_coverage(run.snapshots[0][1], gm)
    assert ui.label.value == (f"step 1: {c.modes} of 9 modes covered, {c.high_quality:.0%} of samples high quality")
    assert ui.image.value != before
    with pytest.raises(ValueError, match="snapshot_every > 0"):
        widgets.gan_training_explorer(gan.GANRun([], [], []), gm)
    fig = plot.coverage_panels({"a": gm.sample(50), "GAN b": gm.sample(50)}, gm.means, 0.1)
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 9  # one 3-std circle per mode
    rows = [dict(size=4, points=torch.zeros(4, 2), samples=torch.zeros(9, 2), copies=1.0)]
    assert len(plot.points_and_samples(rows).axes) == 1
    assert len(plot.copy_curve([4, 16], {"a": [1.0, 0.1]}).axes[0].lines) == 1
    pairs = {4: (torch.zeros(8, 1, 8, 8), torch.zeros(8, 1, 8, 8)), 16: (torch.zeros(8, 1, 8, 8), torch.zeros(8, 1, 8, 8))}
    assert len(plot.halves_figure(pairs).axes) == 4
    shares = {"x": torch.full((10,), 0.1)}
    assert len(plot.digit_shares(shares, reference=torch.full((10,), 0.1)).axes[0].patches) == 20
    summary = beyond.summary([dict(data="d", seed=0, model=m, modes=3, of=9, high_quality=0.5) for m in ("GAN", "diffusion")])
    assert len(plot.coverage_runs(summary).axes) == 1
