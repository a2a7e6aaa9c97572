"""The forward process: q_sample has the right mean and variance, and the step-by-step chain of
Ho et al. 2020 (eq. 2) has the same law as the closed form q(x_t | x0) (eq. 4)."""

import math

import pytest
import torch
from scipy import stats

from minidiff.core.forward import q_chain, q_sample, q_step, q_transition
from minidiff.core.schedules import VE, DiscreteDDPM, VPCosine, VPLinear, linear_betas


def test_q_sample_mean_and_variance(device):
    # n = 200k draws of one fixed image: mean and variance per pixel vs alpha x0 and sigma^2.
    schedule, t, n = VPCosine(), 0.4, 200_000
    x0 = torch.tensor([-1.0, 0.3, 0.9], device=device)
    xt, _ = q_sample(x0.expand(n, 3), t, schedule, generator=torch.Generator().manual_seed(0))
    alpha, sigma = schedule.alpha(t).item(), schedule.sigma(t).item()
    # Tolerance: 5 standard errors, sigma / sqrt(n) for the mean, sigma^2 sqrt(2 / n) for the variance.
    assert torch.allclose(xt.mean(0).cpu(), alpha * x0.cpu(), atol=5 * sigma / math.sqrt(n))
    assert torch.allclose(xt.var(0).cpu(), torch.full((3,), sigma**2), atol=5 * sigma**2 * math.sqrt(2 / n))


def test_q_sample_returns_the_noise_it_used_and_uses_the_noise_given(device):
    schedule = VPLinear()
    x0 = torch.randn(5, 2, device=device)
    xt, eps = q_sample(x0, 0.7, schedule)
    assert torch.allclose(xt, schedule.alpha(0.7).item() * x0 + schedule.sigma(0.7).item() * eps, atol=1e-6)
    eps = torch.randn(5, 2, device=device)
    xt2, eps2 = q_sample(x0, 0.7, schedule, eps=eps)
    assert eps2 is eps and torch.allclose(xt2, schedule.alpha(0.7).item() * x0 + schedule.sigma(0.7).item() * eps)


@pytest.mark.parametrize("shape", [(4, 2), (4, 1, 8, 8)])
def test_one_time_per_batch_element_broadcasts_over_any_data_shape(shape, device):
    schedule = VE()
    x0, eps = torch.randn(shape, device=device), torch.randn(shape, device=device)
    t = torch.tensor([0.0, 0.2, 0.6, 1.0], device=device)
    xt, _ = q_sample(x0, t, schedule, eps=eps)
    for i in range(4):  # each element on its own, with its own scalar t
        one, _ = q_sample(x0[i:i + 1], t[i].item(), schedule, eps=eps[i:i + 1])
        assert torch.allclose(xt[i:i + 1], one, rtol=1e-5)
    assert xt.dtype == x0.dtype and xt.device.type == device.type


def test_seeded_generator_gives_the_same_noise_on_every_device(device):
    x0 = torch.zeros(3, 2)
    a, _ = q_sample(x0, 0.5, VPLinear(), generator=torch.Generator().manual_seed(3))
    b, _ = q_sample(x0.to(device), 0.5, VPLinear(), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(a, b.cpu(), atol=1e-6)


def test_the_chain_has_the_law_of_the_closed_form():
    # Start from a non-Gaussian x0 (two points, +-1), run T steps of eq. 2, and compare x_k with eq. 4:
    # (x_k - sqrt(alpha_bar_k) x0) / sqrt(1 - alpha_bar_k) must be N(0, 1) at every k checked.
    T, n = 40, 20_000
    betas = linear_betas(T, 1e-3, 0.1)
    schedule = DiscreteDDPM(betas)
    g = torch.Generator().manual_seed(1)
    x0 = torch.where(torch.rand(n, 1, generator=g, dtype=torch.float64) < 0.3, -1.0, 1.0)
    xs = q_chain(x0, betas, generator=g, keep=True)  # (T + 1, n, 1)
    for k in [1, 5, 20, 40]:
        t = torch.tensor(k / T, dtype=torch.float64)
        z = ((xs[k] - schedule.alpha(t) * x0) / schedule.sigma(t)).ravel()
        # 5 standard errors for mean (1/sqrt(n)) and variance (sqrt(2/n)); KS p-value above 1e-3.
        assert abs(z.mean()) < 5 / math.sqrt(n) and abs(z.var() - 1) < 5 * math.sqrt(2 / n)
        assert stats.kstest(z.numpy(), "norm").pvalue > 1e-3
        # And as a whole cloud: the chain's x_k against fresh closed-form draws from the same x0.
        closed, _ = q_sample(x0, t, schedule, generator=g)
        assert stats.ks_2samp(xs[k].ravel().numpy(), closed.ravel().numpy()).pvalue > 1e-3


def test_chain_without_noise_scales_by_sqrt_alpha_bar_and_its_variance_adds_up():
    betas = linear_betas(30, 0.01, 0.2)
    x = torch.tensor([[2.0]], dtype=torch.float64)
    var = torch.tensor(0.0, dtype=torch.float64)
    for beta in betas:  # the mean shrinks by sqrt(1 - beta), the variance by (1 - beta) then gains beta
        x = q_step(x, beta, eps=torch.zeros_like(x))
        var = (1 - beta) * var + beta
    t = torch.tensor(1.0, dtype=torch.float64)
    schedule = DiscreteDDPM(betas)
    assert torch.allclose(x, 2 * schedule.alpha(t)) and torch.allclose(var, schedule.sigma(t) ** 2)


def test_transition_of_one_discrete_step_is_that_step():
    betas = linear_betas(10, 0.05, 0.3)
    schedule = DiscreteDDPM(betas)
    for k in [1, 4, 10]:
        s, t = torch.tensor((k - 1) / 10, dtype=torch.float64), torch.tensor(k / 10, dtype=torch.float64)
        a, sig = q_transition(s, t, schedule)
        assert a.item() == pytest.approx(math.sqrt(1 - betas[k - 1]), rel=1e-12)
        assert sig.item() == pytest.approx(math.sqrt(betas[k - 1]), rel=1e-10)
    a, sig = q_transition(0.0, 0.5, VPLinear())
    assert a.item() == pytest.approx(VPLinear().alpha(0.5).item()) and sig.item() == pytest.approx(
        VPLinear().sigma(0.5).item())


def test_bad_inputs_say_what_is_wrong():
    x0 = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="batch sizes must match"):
        q_sample(x0, torch.rand(3), VPLinear())
    with pytest.raises(ValueError, match=r"q_sample: t must be in \[0, 1\], got 1.5"):
        q_sample(x0, 1.5, VPLinear())
    with pytest.raises(ValueError, match="eps must have the shape"):
        q_sample(x0, 0.5, VPLinear(), eps=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="Schedule"):
        q_sample(x0, 0.5, "cosine")
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\)"):
        q_step(x0, 1.0)
    with pytest.raises(ValueError, match="s <= t"):
        q_transition(0.6, 0.5, VPLinear())
