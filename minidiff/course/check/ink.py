"""Checkers for lesson 02 (ink in water): a Brownian step, how a drop spreads, the
Ornstein-Uhlenbeck closed form, and one step of the reversed process."""

import math

import torch

from ._core import Feedback, Mistake, check_function


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _points(seed: int, n: int = 5) -> torch.Tensor:
    return torch.randn(n, 2, generator=_gen(seed), dtype=torch.float64)


# --- brownian_step(x, D, dt, eps) = x + sqrt(2 D dt) eps -------------------------------------------
# D and dt are chosen so that none of the mistakes equals the right answer by chance (2 D dt != 1).
_STEP_CASES = [(_points(0), 0.5, 0.01, _points(1)), (_points(2), 2.0, 0.1, _points(3)),
               (_points(4), 0.1, 0.5, _points(5))]


def brownian_step(fn) -> Feedback:
    """Exercise: one step of a random walk, fn(x, D, dt, eps) -> x + sqrt(2 D dt) eps."""
    mistakes = [
        Mistake("2 D dt is the variance of the step; multiply eps by its square root, sqrt(2 D dt).",
                lambda x, D, dt, eps: x + 2 * D * dt * eps),
        Mistake("the step scales with sqrt(dt), not dt: use sqrt(2 D dt) * eps.",
                lambda x, D, dt, eps: x + math.sqrt(2 * D) * dt * eps),
        Mistake("each axis gains variance 2 D dt, not D dt: you lost the factor 2.",
                lambda x, D, dt, eps: x + math.sqrt(D * dt) * eps),
        Mistake("you returned only the step: add it to the current position x.",
                lambda x, D, dt, eps: math.sqrt(2 * D * dt) * eps),
    ]
    return check_function("brownian_step", fn, _STEP_CASES,
                          lambda x, D, dt, eps: x + math.sqrt(2 * D * dt) * eps, mistakes)


# --- drop_spread(s0, D, t) = sqrt(s0^2 + 2 D t) ---------------------------------------------------------
_SPREAD_CASES = [(0.3, 0.5, 1.0), (1.0, 0.2, 0.5), (0.05, 1.0, 2.0), (0.5, 0.0, 3.0)]


def drop_spread(fn) -> Feedback:
    """Exercise: the standard deviation of a Gaussian drop of std s0 after time t, sqrt(s0^2 + 2 D t)."""
    mistakes = [
        Mistake("independent spreads add their variances, not their standard deviations: "
                "sqrt(s0**2 + 2*D*t), not s0 + sqrt(2*D*t).",
                lambda s0, D, t: s0 + math.sqrt(2 * D * t)),
        Mistake("that is the variance s0^2 + 2 D t; the question asks for the standard deviation.",
                lambda s0, D, t: s0**2 + 2 * D * t),
        Mistake("Brownian motion adds variance 2 D t per axis, not D t.",
                lambda s0, D, t: math.sqrt(s0**2 + D * t)),
    ]
    return check_function("drop_spread", fn, _SPREAD_CASES,
                          lambda s0, D, t: math.sqrt(s0**2 + 2 * D * t), mistakes)


# --- ou_sample(x0, t, eps) = exp(-t/2) x0 + sqrt(1 - exp(-t)) eps ----------------------------------
_OU_CASES = [(_points(6), 0.3, _points(7)), (_points(8), 1.0, _points(9)), (_points(10), 2.5, _points(11))]


def _ou(x0, t, eps, alpha_of=lambda t: math.exp(-t / 2), sigma_of=None):
    alpha = alpha_of(t)
    sigma = math.sqrt(1 - alpha**2) if sigma_of is None else sigma_of(alpha)
    return alpha * x0 + sigma * eps


def ou_sample(fn) -> Feedback:
    """Exercise: the closed form of dx = -x/2 dt + dW, fn(x0, t, eps) -> alpha x0 + sigma eps."""
    mistakes = [
        Mistake("the pull is -x/2, so alpha = exp(-t/2), not exp(-t).",
                lambda x0, t, eps: _ou(x0, t, eps, alpha_of=lambda t: math.exp(-t))),
        Mistake("sigma is the square root of 1 - alpha**2, not 1 - alpha.",
                lambda x0, t, eps: _ou(x0, t, eps, sigma_of=lambda a: 1 - a)),
        Mistake("sigma**2 = 1 - alpha**2 (the variances add up to 1), so sigma = sqrt(1 - alpha**2), "
                "not sqrt(1 - alpha).", lambda x0, t, eps: _ou(x0, t, eps, sigma_of=lambda a: math.sqrt(1 - a))),
        Mistake("sigma = sqrt(1 - alpha**2); you used 1 - alpha**2, the variance.",
                lambda x0, t, eps: _ou(x0, t, eps, sigma_of=lambda a: 1 - a**2)),
        Mistake("the noise has variance 1 - exp(-t), not t: the pull toward 0 keeps it below 1.",
                lambda x0, t, eps: math.exp(-t / 2) * x0 + math.sqrt(t) * eps),
    ]
    return check_function("ou_sample", fn, _OU_CASES, _ou, mistakes)


# --- ou_reverse_step(x, score, dt, eps) = x + (x/2 + score) dt + sqrt(dt) eps ---------------------------
_REV_CASES = [(_points(12), _points(13) * 3, 0.01, _points(14)),
              (_points(15), _points(16) * 3, 0.2, _points(17)),
              (_points(18), _points(19) * 3, 0.05, _points(20))]


def _rev(x, score, dt, eps, drift_sign=1.0, score_sign=1.0, noise=None):
    noise = math.sqrt(dt) if noise is None else noise(dt)
    return x + (drift_sign * 0.5 * x + score_sign * score) * dt + noise * eps


def ou_reverse_step(fn) -> Feedback:
    """Exercise: one step back in time of the reversed process (Song et al. 2021, eq. 6)."""
    mistakes = [
        Mistake("the score must pull toward the data: going back in time x gains + score * dt, not - score * dt.",
                lambda x, s, dt, eps: _rev(x, s, dt, eps, score_sign=-1.0)),
        Mistake("going back in time the pull -x/2 turns into a push: x gains + x/2 * dt, not - x/2 * dt.",
                lambda x, s, dt, eps: _rev(x, s, dt, eps, drift_sign=-1.0)),
        Mistake("both signs are as in the forward process; run backwards, each flips: "
                "x + (x/2 + score) dt + sqrt(dt) eps.",
                lambda x, s, dt, eps: _rev(x, s, dt, eps, drift_sign=-1.0, score_sign=-1.0)),
        Mistake("the noise scales with sqrt(dt), not dt.",
                lambda x, s, dt, eps: _rev(x, s, dt, eps, noise=lambda dt: dt)),
        Mistake("the reversed process is random too: add sqrt(dt) * eps.",
                lambda x, s, dt, eps: _rev(x, s, dt, eps, noise=lambda dt: 0.0)),
    ]
    return check_function("ou_reverse_step", fn, _REV_CASES, _rev, mistakes)
