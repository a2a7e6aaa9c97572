"""Checkers for lesson 03 (noise schedules): alpha_bar from betas, q_sample by hand, where SNR = level."""

import math

import torch

from ...core.schedules import VE, DiscreteDDPM, VPCosine, VPLinear, linear_betas
from ._core import Feedback, Mistake, check_function


def _one(betas):
    return torch.cat([betas.new_ones(1), betas])  # alpha_bar_0 = 1 in front


# --- alpha_bar from betas (Ho et al. 2020, eq. 4) ----------------------------------------------------

def _alpha_bars(betas):
    return _one(torch.cumprod(1 - betas, 0))


def alpha_bar_from_betas(fn) -> Feedback:
    """fn(betas) with betas of shape (T,) returns alpha_bar_0 .. alpha_bar_T, shape (T + 1,), alpha_bar_0 = 1."""
    g = torch.Generator().manual_seed(3)
    cases = [(linear_betas(10, 0.01, 0.2),), ((torch.rand(7, generator=g, dtype=torch.float64) * 0.4 + 0.05),),
             (torch.tensor([0.3], dtype=torch.float64),)]
    mistakes = [
        Mistake("alpha_bar is a product of the (1 - beta_i), not 1 minus their sum (that is only its "
                "first-order approximation for small betas): use torch.cumprod.",
                lambda b: _one(1 - torch.cumsum(b, 0))),
        Mistake("off by one step: alpha_bar_k includes step k itself, the product runs over i = 1..k.",
                lambda b: _one(_one(torch.cumprod(1 - b, 0))[:-1])),
        Mistake("multiply the fractions kept at each step, (1 - beta_i), not the beta_i.",
                lambda b: _one(torch.cumprod(b, 0))),
        Mistake("that is alpha_k = sqrt(alpha_bar_k): alpha_bar multiplies the (1 - beta_i) themselves.",
                lambda b: _one(torch.cumprod(torch.sqrt(1 - b), 0))),
    ]
    return check_function("alpha_bar from betas", fn, cases, _alpha_bars, mistakes)


# --- q_sample by hand (Ho et al. 2020, eq. 4) --------------------------------------------------------

def _per_sample(a, x):
    return a.reshape(-1, *[1] * (x.ndim - 1))  # (B,) -> (B, 1, ..., 1)


def _q_sample(x0, alpha_bar, eps):
    a = _per_sample(alpha_bar, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def _wrong_q(signal, noise):
    def wrong(x0, alpha_bar, eps):
        a = _per_sample(alpha_bar, x0)
        return signal(a) * x0 + noise(a) * eps
    return wrong


def q_sample_by_hand(fn) -> Feedback:
    """fn(x0, alpha_bar, eps) returns x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps, alpha_bar of
    shape (B,) (one per image) broadcast over x0 of shape (B, ...)."""
    g = torch.Generator().manual_seed(4)

    def case(*shape):
        ab = torch.rand(shape[0], generator=g, dtype=torch.float64) * 0.9 + 0.05
        return (torch.randn(*shape, generator=g, dtype=torch.float64), ab,
                torch.randn(*shape, generator=g, dtype=torch.float64))

    cases = [case(4, 2), case(3, 1, 2, 2)]
    mistakes = [
        Mistake("the noise's standard deviation is sqrt(1 - alpha_bar); 1 - alpha_bar is its variance.",
                _wrong_q(torch.sqrt, lambda a: 1 - a)),
        Mistake("scale x0 by sqrt(alpha_bar), not alpha_bar: alpha_bar is the variance kept, not the scale.",
                _wrong_q(lambda a: a, lambda a: (1 - a).sqrt())),
        Mistake("take square roots: x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps.",
                _wrong_q(lambda a: a, lambda a: 1 - a)),
        Mistake("signal and noise are swapped: x0 gets sqrt(alpha_bar), eps gets sqrt(1 - alpha_bar).",
                _wrong_q(lambda a: (1 - a).sqrt(), torch.sqrt)),
    ]
    return check_function("q_sample by hand", fn, cases, _q_sample, mistakes)


# --- where the SNR crosses a level -------------------------------------------------------------------

def _crossing(schedule, level):
    return schedule.t_from_log_snr(torch.tensor(math.log(level), dtype=torch.float64))


def snr_crossing(fn) -> Feedback:
    """fn(schedule, level) returns the time t in [0, 1] at which schedule.snr(t) = level (to 1e-4)."""
    cases = [(VPLinear(), 1.0), (VPCosine(), 1.0), (VE(0.1, 10.0), 1.0), (VPCosine(), 0.1),
             (VPLinear(), 10.0), (DiscreteDDPM(linear_betas(100, 1e-3, 0.2)), 0.5), (VE(0.1, 10.0), 4.0)]
    mistakes = [
        Mistake("SNR is alpha^2 / sigma^2 (squares); alpha / sigma is its square root.",
                lambda s, level: _crossing(s, level**2)),
        Mistake("upside down: SNR = alpha^2 / sigma^2 is signal over noise, not noise over signal.",
                lambda s, level: _crossing(s, 1 / level)),
        Mistake("t runs from 0 (clean) to 1 (pure noise); yours counts from the noisy end.",
                lambda s, level: 1 - _crossing(s, level)),
    ]
    return check_function("SNR crossing", fn, cases, _crossing, mistakes, rtol=0.0, atol=1e-4)
