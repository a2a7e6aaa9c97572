"""Langevin and annealed Langevin: the update against a hand-written step, the stationary law
against a known mixture, and the two-mode weights experiment that motivates annealing. Annealed
Langevin runs on the one clock (times on a VE schedule, a Denoiser's eps as the score), checked
against the closed-form score of the noised mixture."""

import math

import pytest
import torch
from torch import nn

from minidiff import samplers
from minidiff.worlds.exact import mixture_denoiser
from minidiff.core.nets import MLP
from minidiff.core.params import Denoiser
from minidiff.core.schedules import VE, VPLinear
from minidiff.worlds.toy import GaussianMixture, two_modes


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mixture() -> GaussianMixture:
    # Overlapping components with unequal weights and per-axis stds: Langevin can mix between
    # them in a few hundred steps, and nothing is symmetric by accident.
    means = torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.8]], dtype=torch.float64)
    stds = torch.tensor([[0.4, 0.7], [0.9, 0.3], [0.5, 0.5]], dtype=torch.float64)
    return GaussianMixture(means, stds, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))


def test_langevin_step_is_the_textbook_update():
    gm, h = mixture(), 0.03
    x = torch.randn(50, 2, generator=gen(0), dtype=torch.float64)
    steps = list(samplers.langevin(gm.score, x, h, 3, generator=gen(1)))
    z_gen, expected = gen(1), x
    for k, step in enumerate(steps, start=1):
        z = torch.randn(50, 2, generator=z_gen, dtype=torch.float64)
        expected = expected + h * gm.score(expected) + math.sqrt(2 * h) * z
        assert torch.allclose(step.x, expected, atol=1e-12)
        assert step.t == pytest.approx(k * h) and step.x0 is None
    assert torch.equal(x, torch.randn(50, 2, generator=gen(0), dtype=torch.float64))  # untouched


def test_annealed_langevin_matches_algorithm_1_by_hand():
    # Noise levels 2, 1, 0.5 on VE(0.5, 2): the times log(sigma / 0.5) / log(4) = 1, 1/2, 0.
    gm, sigmas, eps, each = mixture(), [2.0, 1.0, 0.5], 0.01, 4
    schedule = VE(0.5, 2.0)
    ts = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)
    x = torch.randn(20, 2, generator=gen(2), dtype=torch.float64)
    steps = list(samplers.annealed_langevin(mixture_denoiser(gm, schedule), x, ts, schedule,
                                            step_size=eps, n_steps_each=each, generator=gen(3)))
    assert [s.t for s in steps] == [t for t in ts.tolist() for _ in range(each)]  # Step.t is a time
    z_gen, expected = gen(3), x
    for i, sigma in enumerate(sigmas):
        h = eps * sigma**2 / sigmas[-1] ** 2  # Song & Ermon (2019), Algorithm 1 (alpha_i = 2 h)
        for j in range(each):
            z = torch.randn(20, 2, generator=z_gen, dtype=torch.float64)
            # the closed-form score of the mixture noised to sigma, not the Denoiser's eps
            expected = expected + h * gm.noised(1, sigma).score(expected) + math.sqrt(2 * h) * z
            assert torch.allclose(steps[i * each + j].x, expected, atol=1e-10)


def test_langevin_builds_no_graph_and_a_score_may_use_autograd_itself():
    gm = mixture().to(torch.float32)
    net = nn.Linear(2, 2)  # a score with parameters: a graph would reach them

    def autograd_score(x):
        # grad log p by autograd: a score that needs a graph turns it on for itself
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            return torch.autograd.grad(gm.log_prob(x).sum(), x)[0]

    x = torch.randn(8, 2, generator=gen(0), requires_grad=True)
    for score in (lambda x: net(x), autograd_score):
        step = next(samplers.langevin(score, x, 0.01, 1, generator=gen(1)))
        assert not step.x.requires_grad and step.x.grad_fn is None
    steps = list(samplers.langevin(autograd_score, x.detach(), 0.01, 3, generator=gen(1)))
    again = list(samplers.langevin(gm.score, x.detach(), 0.01, 3, generator=gen(1)))
    assert torch.allclose(steps[-1].x, again[-1].x, atol=1e-5)  # autograd score = closed form
    model = Denoiser(MLP(hidden=8, depth=1), VE(0.1, 1.0))
    ts = torch.tensor([0.9, 0.0], dtype=torch.float64)  # a float64 grid, as schedules make them
    step = next(samplers.annealed_langevin(model, x, ts, VE(0.1, 1.0), 0.01, 1, generator=gen(2)))
    assert not step.x.requires_grad
    assert step.t == 0.9  # the time as given, not 0.8999999761 from the float32 data


def test_langevin_reaches_the_mixture_mean_covariance_and_weights():
    # 4,000 independent chains from a broad start; after 500 steps of h = 0.01 (diffusion time 5,
    # several times the slowest relaxation here) each chain is one draw from the stationary law.
    # Unadjusted Langevin's bias: a Gaussian of variance s^2 becomes s^2 / (1 - h / 2s^2), about
    # s^2 + h/2 = s^2 + 0.005, far below the statistical tolerances below.
    gm, n = mixture(), 4000
    x = 3 * torch.randn(n, 2, generator=gen(4), dtype=torch.float64)
    x = samplers.run(samplers.langevin(gm.score, x, 0.01, 500, generator=gen(5)))
    # Mean: 5 standard errors sqrt(var / n).
    assert ((x.mean(0) - gm.mean()).abs() < 5 * (gm.cov().diag() / n).sqrt()).all()
    # Covariance entries: standard error about sqrt(3 / n) * var for these mixtures; 5 of them.
    scale = gm.cov().diag().max()
    assert torch.allclose(torch.cov(x.T), gm.cov(), atol=5 * math.sqrt(3 / n) * scale)
    # Mode weights: E_p[p(k | x)] = w_k exactly, so the mean responsibility over the samples
    # estimates each weight; 5 standard errors of that mean.
    r = gm.responsibilities(x)  # (n, 3)
    assert ((r.mean(0) - gm.weights).abs() < 5 * r.std(0) / math.sqrt(n)).all()


def two_mode_runs(seed: int, n: int = 2000):
    """Plain and annealed Langevin from the same broad start on toy.two_modes() (weights 0.8/0.2)."""
    gm = two_modes()
    x = 4 * torch.randn(n, 2, generator=gen(seed), dtype=torch.float64)
    plain = samplers.run(samplers.langevin(gm.score, x, 0.01, 300, generator=gen(seed + 1)))
    # 15 noise levels from 5 (where the noised density is a single bump: the modes are 6 apart)
    # down to 0.1, with h_i = 0.1 sigma_i^2 (10 steps per relaxation time at every level).
    # On VE(0.1, 5) these are the times 1, 13/14, ..., 0: sigma(t) = 0.1 * 50^t is geometric in t.
    schedule = VE(0.1, 5.0)
    annealed = samplers.run(samplers.annealed_langevin(
        mixture_denoiser(gm, schedule), x, torch.linspace(1, 0, 15, dtype=torch.float64), schedule,
        step_size=0.1 * 0.1**2, n_steps_each=100, generator=gen(seed + 2)))
    return x, plain, annealed


@pytest.mark.parametrize("seed", [10, 20])
def test_annealing_gets_the_two_mode_weights_right(seed):
    # The left mode holds 0.8 of the mass. Plain Langevin cannot cross the gap between the modes
    # (the density there is e^-18 of the peaks), so each particle stays on the side it started:
    # about half go left. Annealed Langevin starts where the noised density is one broad bump and
    # splits the particles as the modes separate. Measured over 8 seeds: plain 0.49-0.53, annealed
    # 0.786-0.807 (mean 0.794); the binomial standard error with 2,000 points is 0.009.
    start, plain, annealed = two_mode_runs(seed)
    left = lambda x: (x[:, 0] < 0).double().mean().item()  # noqa: E731
    assert abs(left(plain) - 0.8) > 0.1
    assert abs(left(annealed) - 0.8) < 0.05
    # Why plain Langevin fails: a particle ends on the side it started on. The responsibilities
    # divide at x = log(4) / 24 = 0.06; within a few noise kicks (sqrt(2h) = 0.14) of that line the
    # first steps may push either way, so only starts more than 1 from it are counted: all stay.
    far = (start[:, 0] - 0.06).abs() > 1.0
    assert torch.equal(plain[far, 0] < 0, start[far, 0] < 0.06)


def test_same_seed_same_numbers_on_every_device(device):
    gm = mixture()
    x = torch.randn(64, 2, generator=gen(6))
    on_cpu = samplers.run(samplers.langevin(gm.score, x, 0.05, 5, generator=gen(7)))
    again = samplers.run(samplers.langevin(gm.score, x, 0.05, 5, generator=gen(7)))
    on_device = samplers.run(samplers.langevin(gm.score, x.to(device), 0.05, 5, generator=gen(7)))
    assert torch.equal(on_cpu, again)
    assert on_device.device.type == device.type and on_device.dtype == torch.float32
    assert torch.allclose(on_device.cpu(), on_cpu, atol=1e-4)
    schedule = VE(0.5, 1.0)
    annealed = samplers.run(samplers.annealed_langevin(
        mixture_denoiser(gm, schedule), x.to(device), [1.0, 0.0], schedule, 0.01, 3, generator=gen(8)))
    assert annealed.device.type == device.type and torch.isfinite(annealed).all()


def test_bad_arguments_say_what_was_wrong():
    score = mixture().score
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="step_size must be"):
        next(samplers.langevin(score, x, -0.1, 10))
    with pytest.raises(ValueError, match="n_steps must be"):
        next(samplers.langevin(score, x, 0.1, 0))
    with pytest.raises(ValueError, match="no NaN|NaN or inf"):
        next(samplers.langevin(score, torch.full((3, 2), float("nan")), 0.1, 1))
    with pytest.raises(ValueError, match="batch"):
        next(samplers.langevin(score, torch.zeros(2), 0.1, 1))
    schedule = VE(0.1, 1.0)
    model = mixture_denoiser(mixture().to(torch.float32), schedule)
    with pytest.raises(ValueError, match="decreas"):  # levels largest first
        next(samplers.annealed_langevin(model, x, [0.0, 1.0], schedule))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):  # noise levels where times belong
        next(samplers.annealed_langevin(model, x, [5.0, 0.1], schedule))
    with pytest.raises((TypeError, ValueError), match="wrap the network"):  # a bare network, no Denoiser
        next(samplers.annealed_langevin(MLP(hidden=8, depth=1), x, [1.0, 0.0], schedule))
    with pytest.raises(ValueError, match="VE schedule"):
        next(samplers.annealed_langevin(mixture_denoiser(mixture().to(torch.float32), VPLinear()), x,
                                        [1.0, 0.0], VPLinear()))
    with pytest.raises(ValueError, match="built on"):  # the model's schedule is not the sampler's
        next(samplers.annealed_langevin(model, x, [1.0, 0.0], VE(0.01, 1.0)))
    with pytest.raises(ValueError, match="yielded no step"):
        samplers.run(iter([]))
