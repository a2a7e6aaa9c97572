"""diffusion_loss against closed forms: the irreducible loss for Gaussian data, the exact relations
between the four targets' losses, and the law of the t and eps it draws."""

import math

import pytest
import torch

from minidiff.core.losses import diffusion_loss
from minidiff.core.schedules import VE, VPCosine, VPLinear

D, S = 2, 0.7
MU = torch.tensor([0.5, -1.0], dtype=torch.float64)


def whitened(n: int, seed: int = 0):
    """x0 ~ N(MU, S^2 I) and eps whose sample means are 0 and joint covariance exactly I, so any
    average of a quadratic in (x0, eps) over them equals its expectation: no Monte Carlo error."""
    z = torch.randn(n, 2 * D, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    z = z - z.mean(0)
    chol = torch.linalg.cholesky(z.T @ z / n)
    z = torch.linalg.solve_triangular(chol, z.T, upper=False).T
    return MU + S * z[:, :D], z[:, D:]


@pytest.mark.parametrize("schedule", [VPLinear(), VPCosine(), VE(0.05, 20.0)], ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("time", [0.1, 0.5, 0.9])
def test_eps_loss_at_the_best_predictor_is_the_irreducible_part(schedule, time):
    # x_t ~ N(alpha MU, (alpha^2 S^2 + sigma^2) I); E[eps | x_t] = sigma (x_t - alpha MU) / (alpha^2 S^2 + sigma^2),
    # and what is left per coordinate is Var(eps | x_t) = alpha^2 S^2 / (alpha^2 S^2 + sigma^2).
    x0, eps = whitened(1000)
    tt = torch.tensor(time, dtype=torch.float64)
    a, s = schedule.alpha(tt).item(), schedule.sigma(tt).item()

    def best(xt, t):
        return s * (xt - a * MU) / (a**2 * S**2 + s**2)

    loss = diffusion_loss(best, x0, schedule, t=time, eps=eps)
    assert loss.item() == pytest.approx(a**2 * S**2 / (a**2 * S**2 + s**2), rel=1e-10)


@pytest.mark.parametrize("schedule", [VPCosine(), VE(0.05, 20.0)], ids=lambda s: type(s).__name__)
def test_the_four_targets_are_one_loss_under_the_right_weights(schedule):
    # For predictions that agree (all from one eps-network f), the errors scale exactly:
    # dx0 = -(sigma / alpha) deps, dscore = -deps / sigma, dv = (alpha^2 + sigma^2) / alpha deps.
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(256, D, generator=g, dtype=torch.float64)
    eps = torch.randn(256, D, generator=g, dtype=torch.float64)
    t = 0.02 + 0.96 * torch.rand(256, generator=g, dtype=torch.float64)
    al, si = (lambda t: schedule.alpha(t)[:, None]), (lambda t: schedule.sigma(t)[:, None])

    def f(x, t):  # an arbitrary smooth 'network' predicting eps
        return torch.sin(x) * t[:, None] + 0.1 * x

    def g_x0(x, t):
        return (x - si(t) * f(x, t)) / al(t)

    def g_score(x, t):
        return -f(x, t) / si(t)

    def g_v(x, t):
        return al(t) * f(x, t) - si(t) * g_x0(x, t)

    ref = diffusion_loss(f, x0, schedule, "eps", t=t, eps=eps)
    weights = {"x0": lambda t: schedule.snr(t), "score": lambda t: schedule.sigma(t) ** 2,
               "v": lambda t: schedule.alpha(t) ** 2 / (schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2) ** 2}
    for target, net in [("x0", g_x0), ("score", g_score), ("v", g_v)]:
        loss = diffusion_loss(net, x0, schedule, target, weighting=weights[target], t=t, eps=eps)
        assert loss.item() == pytest.approx(ref.item(), rel=1e-9), target
    assert ref.item() > 0.01  # not a trivial 0 = 0


def test_draws_t_uniform_and_eps_standard_normal(device):
    seen = {}

    def spy(xt, t):
        seen["xt"], seen["t"] = xt, t
        return torch.zeros_like(xt)

    n = 20_000
    x0 = torch.zeros(n, 1, device=device)  # then x_t = sigma(t) eps: eps can be read back
    schedule = VE(0.5, 2.0)
    diffusion_loss(spy, x0, schedule, generator=torch.Generator().manual_seed(4))
    t, eps = seen["t"], seen["xt"][:, 0] / schedule.sigma(seen["t"])
    assert t.device.type == device.type and 0 < t.min() and t.max() <= 1
    # Uniform(0, 1): mean 1/2 (sd 1/sqrt(12)), variance 1/12; 5 standard errors.
    se = 1 / math.sqrt(12 * n)
    assert abs(t.mean().item() - 0.5) < 5 * se
    assert abs(eps.mean().item()) < 5 / math.sqrt(n)
    assert abs(eps.var().item() - 1) < 5 * math.sqrt(2 / n)


def test_seeded_draws_repeat():
    x0 = torch.randn(32, 2)
    net = torch.nn.Linear(2, 2)

    def model(x, t):
        return net(x) * t[:, None]

    a = diffusion_loss(model, x0, VPLinear(), generator=torch.Generator().manual_seed(5))
    b = diffusion_loss(model, x0, VPLinear(), generator=torch.Generator().manual_seed(5))
    c = diffusion_loss(model, x0, VPLinear(), generator=torch.Generator().manual_seed(6))
    assert a.item() == b.item() != c.item()
    a.backward()  # a training loss: gradients reach the network
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0


def test_bad_inputs_say_what_is_wrong():
    x0 = torch.randn(4, 2)
    with pytest.raises(ValueError, match="target must be one of"):
        diffusion_loss(lambda x, t: x, x0, VPLinear(), target="noise")
    with pytest.raises(ValueError, match="expected"):
        diffusion_loss(lambda x, t: x[:, :1], x0, VPLinear())
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\] \(0 clean, 1 pure noise\), got 1.5; a step index"):
        diffusion_loss(lambda x, t: x, x0, VPLinear(), t=1.5)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\] .* got 500"):
        diffusion_loss(lambda x, t: x, x0, VPLinear(), t=torch.tensor([0.5, 500.0, 0.1, 0.2]))
    with pytest.raises(ValueError, match=r"t must be one time or one per example, shape \(4,\), got shape \(3,\)"):
        diffusion_loss(lambda x, t: x, x0, VPLinear(), t=torch.rand(3))
    with pytest.raises(ValueError, match="raw"):
        diffusion_loss(lambda x, t: (x, x), x0, VPLinear())
