"""Denoiser, the one place a prediction type is interpreted, and the exact mixture denoiser.

Truths used: x_t is built by hand from known x0 and eps, so a network that returns the exact target
must give back exactly that eps and x0; the exact mixture's eps is checked against autograd of the
noised mixture's log-density, and its x0 against Gaussian conditioning done component by component.
"""

import pytest
import torch

from minidiff.worlds.exact import MixtureEps, mixture_denoiser
from minidiff.core.params import Denoiser, Prediction
from minidiff.core.schedules import VE, VPCosine, VPLinear
from minidiff.worlds.toy import GaussianMixture

SCHEDULES = [VPLinear(), VPCosine(), VE(0.05, 20.0)]


def truth(device, schedule, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, 3, generator=g, dtype=torch.float64).to(device)
    eps = torch.randn(n, 3, generator=g, dtype=torch.float64).to(device)
    t = (0.02 + 0.96 * torch.rand(n, generator=g, dtype=torch.float64)).to(device)  # (B,)
    alpha, sigma = schedule.alpha(t)[:, None], schedule.sigma(t)[:, None]
    return x0, eps, t, alpha, sigma, alpha * x0 + sigma * eps


def target_of(name, x0, eps, alpha, sigma):
    # The definitions, written out here, independent of minidiff.params.
    return {"eps": eps, "x0": x0, "v": alpha * eps - sigma * x0, "score": -eps / sigma}[name]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("target", ["eps", "x0", "v", "score"])
def test_exact_target_gives_exact_eps_and_x0(device, schedule, target):
    x0, eps, t, alpha, sigma, xt = truth(device, schedule)
    raw = target_of(target, x0, eps, alpha, sigma)

    def net(x, t_in):  # a network that knows the answer: returns the exact target for this batch
        assert x is xt and t_in.shape == (len(x),)
        return raw

    pred = Denoiser(net, schedule, target)(xt, t)
    assert isinstance(pred, Prediction)
    torch.testing.assert_close(pred.eps, eps, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(pred.x0, x0, rtol=1e-9, atol=1e-9)


def test_clip_keeps_the_pair_consistent_with_xt():
    schedule = VPLinear()
    x0, eps, t, alpha, sigma, xt = truth("cpu", schedule)
    pred = Denoiser(lambda x, t: 3 * eps, schedule, "eps", clip=1.0)(xt, t)
    assert pred.x0.abs().max() <= 1.0 and (pred.x0.abs() == 1.0).any()  # some values were clipped
    torch.testing.assert_close(alpha * pred.x0 + sigma * pred.eps, xt)


def test_time_as_a_number_and_cond_are_passed_on():
    seen = {}

    def net(x, t, cond=None):
        seen["t"], seen["cond"] = t, cond
        return torch.zeros_like(x)

    x = torch.randn(5, 2)
    Denoiser(net, VPLinear())(x, 0.3)
    assert seen["t"].shape == (5,) and torch.allclose(seen["t"], torch.full((5,), 0.3))
    labels = torch.arange(5)
    Denoiser(net, VPLinear())(x, torch.full((5,), 0.3), cond=labels)
    assert seen["cond"] is labels


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="target must be one of"):
        Denoiser(lambda x, t: x, VPLinear(), "noise")
    with pytest.raises(ValueError, match="clip"):
        Denoiser(lambda x, t: x, VPLinear(), clip=0)
    model = Denoiser(lambda x, t: x[:, :1], VPLinear())
    with pytest.raises(ValueError, match="shaped like x"):
        model(torch.randn(4, 2), 0.5)
    with pytest.raises(ValueError, match="one per sample"):
        Denoiser(lambda x, t: x, VPLinear())(torch.randn(4, 2), torch.rand(3))


def test_misuse_gets_a_message_that_says_what_to_do():
    from minidiff.core.nets import MLP

    with pytest.raises(ValueError, match="schedule must be a minidiff.schedules.Schedule .* got str"):
        Denoiser(MLP(), "linear")
    model = Denoiser(MLP(), VPLinear())
    # one point without its batch dimension (the network would take its 2 coordinates for 2 points)
    with pytest.raises(ValueError, match=r"x must be a batch of shape \(B, ...\), got \(2,\); .* x\[None\]"):
        model(torch.randn(2), 0.5)
    with pytest.raises(ValueError, match=r"x is torch.float64 but the network's weights are torch.float32; "
                                         r"convert the data \(x.float\(\)\) or the network .*net.double\(\)"):
        model(torch.randn(4, 2, dtype=torch.float64), 0.5)
    assert model(torch.randn(4, 2), 0.5).eps.shape == (4, 2)


@pytest.mark.parametrize("kind", [dict(target="x0"), dict(target="v"), dict(clip=1.0)])
def test_sigma_zero_with_an_x0_target_or_clip_is_refused(kind):
    model = Denoiser(lambda x, t: x, VPLinear(), **kind)
    with pytest.raises(ValueError, match=r"sigma\(t\) = 0 at t = 0, where eps = .* is undefined .* call it at t > 0"):
        model(torch.randn(4, 2), 0.0)
    assert model(torch.randn(4, 2), 1e-3).eps.isfinite().all()  # just above 0 it is fine
    # eps and score targets need no division by sigma: fine at t = 0
    assert Denoiser(lambda x, t: x, VPLinear())(torch.randn(4, 2), 0.0).x0.isfinite().all()


def test_config_describes_the_denoiser():
    model = Denoiser(lambda x, t: x, VPCosine(), "v", clip=1.0, sample_shape=(1, 8, 8))
    assert model.config == dict(schedule=VPCosine().config, target="v", clip=1.0, sample_shape=[1, 8, 8])


def mixture():
    means = torch.tensor([[-2.0, 0.5], [1.5, -1.0], [0.5, 2.0]], dtype=torch.float64)
    stds = torch.tensor([[0.3, 0.6], [0.5, 0.2], [0.4, 0.4]], dtype=torch.float64)
    return GaussianMixture(means, stds, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_mixture_eps_is_minus_sigma_times_autograd_score(device, schedule):
    gm = mixture()
    x = (2 * torch.randn(200, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)).to(device)
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64).repeat_interleave(torch.tensor([70, 70, 60])).to(device)
    eps = MixtureEps(gm, schedule)(x, t)
    for time in (0.1, 0.5, 0.9):
        rows = t == time
        tt = torch.tensor(time, dtype=torch.float64)
        alpha, sigma = schedule.alpha(tt).item(), schedule.sigma(tt).item()
        xr = x[rows].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(gm.noised(alpha, sigma).log_prob(xr).sum(), xr)
        torch.testing.assert_close(eps[rows], -sigma * grad, rtol=1e-9, atol=1e-9)


def posterior_mean(gm, x, alpha, sigma):
    """E[x0 | x_t = x] by Gaussian conditioning in each component, weighted by p(k | x_t)."""
    var0 = gm.stds**2  # (K, D)
    gain = alpha * var0 / (alpha**2 * var0 + sigma**2)  # (K, D): Cov(x0, x_t) / Var(x_t)
    within = gm.means + gain * (x[:, None, :] - alpha * gm.means)  # (N, K, D)
    r = gm.noised(alpha, sigma).responsibilities(x)  # (N, K)
    return (r[:, :, None] * within).sum(1)


@pytest.mark.parametrize("time", [0.05, 0.4, 0.8])
def test_mixture_denoiser_x0_is_the_posterior_mean(time):
    gm, schedule = mixture(), VPCosine()
    x = 1.5 * torch.randn(300, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    pred = mixture_denoiser(gm, schedule)(x, time)
    tt = torch.tensor(time, dtype=torch.float64)
    expected = posterior_mean(gm, x, schedule.alpha(tt).item(), schedule.sigma(tt).item())
    torch.testing.assert_close(pred.x0, expected, rtol=1e-8, atol=1e-8)
