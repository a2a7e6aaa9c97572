"""Checkers for lesson 08 (fast samplers): one DDIM step, one Heun step, the probability-flow drift,
one DPM-Solver++(2M) update."""

import math

import torch

from ...worlds.toy import GaussianMixture
from ._core import Feedback, Mistake, check_function


def _points(seed: int, n: int = 6) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- one DDIM step (Song, Meng & Ermon 2021, eq. 12 with eta = 0) ----------------------------------

def _ddim(x, eps, alpha, sigma, alpha_next, sigma_next):
    x0 = (x - sigma * eps) / alpha  # the predicted clean point
    return alpha_next * x0 + sigma_next * eps


DDIM_CASES = [
    (_points(0), _points(1), 0.6, 0.8, 0.8, 0.6),
    (_points(2), _points(3), 0.1, 0.995, 0.5, 0.866),
    (_points(4), _points(5), 0.95, 0.3122, 1.0, 0.0),  # the last step, to clean data
]
DDIM_MISTAKES = [
    Mistake("x0 = (x - sigma * eps) / alpha: divide by alpha, not by alpha**2 (alpha_bar = alpha**2).",
            lambda x, e, a, s, an, sn: an * (x - s * e) / a**2 + sn * e),
    Mistake("first undo the noise: x0 = (x - sigma * eps) / alpha, then rescale x0 by alpha_next "
            "(you used x itself where x0 belongs).",
            lambda x, e, a, s, an, sn: an * x + sn * e),
    Mistake("the new noise term uses sigma_next, the noise level you step to, not sigma.",
            lambda x, e, a, s, an, sn: an * (x - s * e) / a + s * e),
    Mistake("x0 = (x - sigma * eps) / alpha: you forgot to divide by alpha.",
            lambda x, e, a, s, an, sn: an * (x - s * e) + sn * e),
]


def ddim_step(fn) -> Feedback:
    """fn(x, eps, alpha, sigma, alpha_next, sigma_next) -> x_next: one deterministic DDIM step."""
    return check_function("one DDIM step", fn, DDIM_CASES, _ddim, DDIM_MISTAKES)


# --- one Heun step of dy/ds = eps(y, s) (Karras et al. 2022, Algorithm 1) ------------------------

_RING = GaussianMixture(torch.tensor([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], dtype=torch.float64),
                        torch.full((3,), 0.3, dtype=torch.float64))


def ring_eps(y: torch.Tensor, s: float) -> torch.Tensor:
    """The exact eps of a 3-Gaussian ring at noise level s (alpha = 1): -s * grad log p_s(y)."""
    return -s * _RING.noised(1.0, s).score(y)


def _heun(eps_fn, y, s, s_next):
    d = eps_fn(y, s)  # the slope dy/ds at the start
    y_euler = y + (s_next - s) * d
    if s_next == 0:
        return y_euler  # the last step is Euler: the slope at s = 0 is not defined
    d_next = eps_fn(y_euler, s_next)  # the slope at the Euler guess, at the new level
    return y + (s_next - s) * 0.5 * (d + d_next)


def _heun_no_last_rule(eps_fn, y, s, s_next):
    d = eps_fn(y, s)
    y_euler = y + (s_next - s) * d
    return y + (s_next - s) * 0.5 * (d + eps_fn(y_euler, s_next))


HEUN_CASES = [
    (ring_eps, 3 * _points(6), 3.0, 1.5),
    (ring_eps, 2 * _points(7), 1.0, 0.6),
    (ring_eps, _points(8) + 1, 0.4, 0.25),
    (ring_eps, _points(9), 0.05, 0.0),  # the last step
]
HEUN_MISTAKES = [
    Mistake("that is Euler's step: evaluate the slope again at the Euler guess and the new level, "
            "then step with the average of both slopes.",
            lambda f, y, s, sn: y + (sn - s) * f(y, s)),
    Mistake("evaluate the second slope at the Euler guess y + (s_next - s) * d, not at y.",
            lambda f, y, s, sn: y + (sn - s) * 0.5 * (f(y, s) + f(y, sn)) if sn > 0 else y + (sn - s) * f(y, s)),
    Mistake("evaluate the second slope at the new noise level s_next, not at s.",
            lambda f, y, s, sn: y + (sn - s) * 0.5 * (f(y, s) + f(y + (sn - s) * f(y, s), s))
            if sn > 0 else y + (sn - s) * f(y, s)),
    Mistake("step with the average of the two slopes, not with the second slope alone.",
            lambda f, y, s, sn: y + (sn - s) * f(y + (sn - s) * f(y, s), sn)
            if sn > 0 else y + (sn - s) * f(y, s)),
    Mistake("when s_next = 0 take a plain Euler step: the slope at noise level 0 is not defined "
            "(Karras et al. 2022, Algorithm 1, line 6).", _heun_no_last_rule),
]


def heun_step(fn) -> Feedback:
    """fn(eps_fn, y, s, s_next) -> y_next: one Heun step of dy/ds = eps_fn(y, s), Euler when s_next = 0."""
    return check_function("one Heun step", fn, HEUN_CASES, _heun, HEUN_MISTAKES)


# --- the probability-flow drift (Song et al. 2021, eq. 13) ---------------------------------------

def _drift(x, score, f, g):
    return f * x - 0.5 * g**2 * score


DRIFT_CASES = [
    (_points(10), _points(11), -2.5, 2.236),  # VP at beta = 5: f = -beta/2, g = sqrt(beta)
    (_points(12), _points(13), -0.05, 0.316),
    (_points(14), 3 * _points(15), 0.0, 4.0),  # VE: no drift, only noise
]
DRIFT_MISTAKES = [
    Mistake("that is the reverse SDE's drift f x - g^2 score; the ODE takes half the score term: "
            "f x - 1/2 g^2 score (the other half came from the noise the ODE leaves out).",
            lambda x, sc, f, g: f * x - g**2 * sc),
    Mistake("the score term comes in with a minus sign: f x - 1/2 g^2 score (the ODE runs the "
            "forward process's flow, which spreads points down the density's slope).",
            lambda x, sc, f, g: f * x + 0.5 * g**2 * sc),
    Mistake("you left out f(x, t) = f x, the pull of the forward SDE toward 0.",
            lambda x, sc, f, g: -0.5 * g**2 * sc),
    Mistake("the score is multiplied by g squared, not by g.",
            lambda x, sc, f, g: f * x - 0.5 * g * sc),
]


def ode_drift(fn) -> Feedback:
    """fn(x, score, f, g) -> dx/dt of the probability-flow ODE for the SDE dx = f x dt + g dw."""
    return check_function("probability-flow drift", fn, DRIFT_CASES, _drift, DRIFT_MISTAKES)


# --- one DPM-Solver++(2M) update (Lu et al. 2022, Algorithm 2) ------------------------------------

def _vp(t: float) -> tuple[float, float]:
    """alpha(t), sigma(t) of the linear VP schedule (beta from 0.1 to 20), as plain numbers."""
    c = 0.1 * t + 0.5 * t**2 * (20.0 - 0.1)  # the integral of beta from 0 to t
    return math.exp(-0.5 * c), math.sqrt(-math.expm1(-c))


def _dpm_pp(x, x0, x0_prev, alpha_prev, sigma_prev, alpha, sigma, alpha_next, sigma_next, log=torch.log,
            order=2, flip_r=False, sign=1.0):
    def lam(a, s):  # lambda = log(alpha / sigma) (or, for the mistake, whatever `log` makes of it)
        return log(torch.tensor(a / s, dtype=torch.float64))

    h_prev, h = lam(alpha, sigma) - lam(alpha_prev, sigma_prev), lam(alpha_next, sigma_next) - lam(alpha, sigma)
    r = h / h_prev if flip_r else h_prev / h
    d = x0 if order == 1 else (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * x0_prev
    return sigma_next / sigma * x - sign * alpha_next * torch.expm1(-h) * d


def _log_snr(v):
    return 2 * torch.log(v)  # log(alpha^2 / sigma^2): twice lambda


def _dpm_case(seed: int, times) -> tuple:
    (ap, sp), (a, s), (an, sn) = (_vp(t) for t in times)
    return (_points(seed), _points(seed + 1), _points(seed + 2), ap, sp, a, s, an, sn)


DPM_CASES = [_dpm_case(20, (0.7, 0.5, 0.4)), _dpm_case(23, (0.5, 0.3, 0.25)), _dpm_case(26, (0.3, 0.15, 0.05))]
DPM_MISTAKES = [
    Mistake("that is the first-order step (DDIM): use D = (1 + 1/(2r)) x0 - 1/(2r) x0_prev, the previous "
            "call's x0 extrapolated, with r = h_prev / h.", lambda *a: _dpm_pp(*a, order=1)),
    Mistake("r is the ratio h_prev / h (the previous step's length in lambda over this one's), not h / h_prev.",
            lambda *a: _dpm_pp(*a, flip_r=True)),
    Mistake("lambda = log(alpha / sigma), half the log-SNR log(alpha^2 / sigma^2): your h is twice too long.",
            lambda *a: _dpm_pp(*a, log=_log_snr)),
    Mistake("the data term is + alpha_next (1 - e^-h) D: it pulls x towards D (check the sign of expm1(-h)).",
            lambda *a: _dpm_pp(*a, sign=-1.0)),
    Mistake("the extrapolation is D = (1 + 1/(2r)) x0 - 1/(2r) x0_prev: the newest x0 gets the larger weight.",
            lambda x, x0, x0p, *rest: _dpm_pp(x, x0p, x0, *rest)),
]


def dpm_solver_pp_step(fn) -> Feedback:
    """fn(x, x0, x0_prev, alpha_prev, sigma_prev, alpha, sigma, alpha_next, sigma_next) -> x_next:
    one second-order DPM-Solver++(2M) update from t to the next time, x0_prev from the previous time."""
    return check_function("one DPM-Solver++(2M) update", fn, DPM_CASES, _dpm_pp, DPM_MISTAKES)
