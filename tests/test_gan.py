"""The small GAN of lesson 12 and the mode-coverage metric."""

import math

import pytest
import torch

from minidiff import gan, metrics, toy


def test_grid_and_ring_means():
    gm = toy.grid()
    assert len(gm.weights) == 25
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    assert torch.equal(gm.means[:, 0].unique(), ticks) and torch.equal(gm.means[:, 1].unique(), ticks)
    assert torch.allclose(gm.stds, torch.full((25, 2), 0.1))
    with pytest.raises(ValueError, match="k must be >= 1"):
        toy.grid(0)


@pytest.mark.parametrize("gm", [toy.grid(), toy.ring(std=0.05)], ids=["grid", "ring"])
def test_coverage_of_constructed_samples(gm):
    g = torch.Generator().manual_seed(0)
    k = len(gm.weights)
    exact = gm.sample(2500, g)
    c = metrics.mode_coverage(exact, gm)
    # Exact samples: every mode; the share within 3 std of the nearest mean is P(chi_2 <= 9) = 1 - e^(-4.5).
    assert c.modes == k
    assert c.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # binomial sd 0.0022 at n = 2500
    assert c.counts.sum() == round(c.high_quality * 2500)
    half = gm.means[: k // 2].repeat_interleave(10, 0) + 0.01 * torch.randn(10 * (k // 2), 2, generator=g)
    assert metrics.mode_coverage(half, gm).modes == k // 2
    one = gm.means[3] + 0.05 * torch.randn(500, 2, generator=g)
    c = metrics.mode_coverage(one, gm)
    assert c.modes == 1 and c.counts[3] == c.counts.sum()
    # Far from every mode: no high-quality sample, no mode, whatever their number.
    between = gm.means[:5] + 0.5
    c = metrics.mode_coverage(between, gm)
    assert (c.modes, c.high_quality, c.counts.sum().item()) == (0, 0.0, 0)


def test_coverage_min_count_and_errors():
    gm = toy.ring(std=0.05)
    x = torch.cat([gm.means[:1].repeat(5, 1), gm.means[1:2]])  # 5 samples on mode 0, 1 on mode 1
    assert metrics.mode_coverage(x, gm).modes == 2
    assert metrics.mode_coverage(x, gm, min_count=2).modes == 1
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        metrics.mode_coverage(torch.zeros(5, 3), gm)
    with pytest.raises(ValueError, match="round modes"):
        metrics.mode_coverage(torch.zeros(5, 2), toy.GaussianMixture(torch.zeros(1, 2), torch.tensor([[0.1, 0.2]])))


def test_losses_are_the_logistic_losses():
    a, b = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    s = torch.sigmoid
    want_d = -(torch.log(s(a)).mean() + torch.log(1 - s(b)).mean())
    torch.testing.assert_close(gan.discriminator_loss(a, b), want_d)
    torch.testing.assert_close(gan.generator_loss(b), -torch.log(s(b)).mean())
    # softplus form: finite where the log of a sigmoid would underflow to -inf
    assert torch.isfinite(gan.discriminator_loss(torch.tensor([-200.0]), torch.tensor([200.0])))


def test_gan_learns_a_shifted_gaussian():
    # One Gaussian at (3, -2): the generator starts near 0 and must move its mean there.
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    target = toy.GaussianMixture(torch.tensor([[3.0, -2.0]]), 0.5)
    G, D = gan.Generator(hidden=32, depth=2), gan.Discriminator(hidden=32, depth=2)
    run = gan.train_gan(G, D, target.sample, 600, batch_size=128, snapshot_every=200, snapshot_size=300, generator=g)
    x = gan.sample(G, 2000, g)
    # It started about 3.6 away; a GAN keeps circling its target, so only "close" is asked (0.37 measured).
    assert (x.mean(0) - torch.tensor([3.0, -2.0])).norm() < 0.6
    assert [s for s, _ in run.snapshots] == [1, 200, 400, 600]
    assert len(run.d_losses) == len(run.g_losses) == 600
    # The snapshots replay one fixed noise: the last one is the trained generator on that noise.
    assert run.snapshots[-1][1].shape == (300, 2)


def test_gan_same_seed_same_numbers():
    def once():
        torch.manual_seed(1)
        G, D = gan.Generator(hidden=16, depth=1), gan.Discriminator(hidden=16, depth=1)
        run = gan.train_gan(G, D, toy.ring().sample, 20, batch_size=32, generator=torch.Generator().manual_seed(1))
        return run.g_losses
    assert once() == once()


def test_gan_errors():
    with pytest.raises(ValueError, match=r"z must have shape \(B, 2\)"):
        gan.Generator()(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        gan.Discriminator()(torch.zeros(3))
    with pytest.raises(ValueError, match="steps and batch_size"):
        gan.train_gan(gan.Generator(), gan.Discriminator(), toy.ring().sample, 0)
    bad = lambda n, generator=None: torch.full((n, 2), float("nan"))  # noqa: E731
    with pytest.raises(FloatingPointError, match="discriminator loss became nan at step 1"):
        gan.train_gan(gan.Generator(), gan.Discriminator(), bad, 5)
