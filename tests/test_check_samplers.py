"""Lesson 08's checkers: the right answer passes, typical mistakes are named, a stub is 'not attempted'."""

import math

import pytest

from minidiff import check


def todo(*args):
    raise NotImplementedError


# --- one DDIM step --------------------------------------------------------------------------------

def ddim_right(x, eps, alpha, sigma, alpha_next, sigma_next):
    x0 = (x - sigma * eps) / alpha
    return alpha_next * x0 + sigma_next * eps


@pytest.mark.parametrize("wrong,words", [
    (lambda x, e, a, s, an, sn: an * x + sn * e, "x0 belongs"),
    (lambda x, e, a, s, an, sn: an * (x - s * e) / a + s * e, "sigma_next"),
    (lambda x, e, a, s, an, sn: an * (x - s * e) / a**2 + sn * e, "not by alpha**2"),
])
def test_ddim_step(wrong, words):
    assert check.ddim_step(ddim_right).status == "correct"
    fb = check.ddim_step(wrong)
    assert fb.status == "wrong" and words in fb.message, fb
    assert check.ddim_step(todo).status == "not attempted"


# --- one Heun step --------------------------------------------------------------------------------

def heun_right(eps_fn, y, s, s_next):
    d = eps_fn(y, s)
    y_next = y + (s_next - s) * d
    if s_next == 0:
        return y_next
    return y + (s_next - s) * (d + eps_fn(y_next, s_next)) / 2


def heun_no_last_rule(eps_fn, y, s, s_next):
    d = eps_fn(y, s)
    return y + (s_next - s) * (d + eps_fn(y + (s_next - s) * d, s_next)) / 2


def heun_at_y(eps_fn, y, s, s_next):
    d = eps_fn(y, s)
    if s_next == 0:
        return y + (s_next - s) * d
    return y + (s_next - s) * (d + eps_fn(y, s_next)) / 2  # second slope at the wrong point


@pytest.mark.parametrize("wrong,words", [
    (lambda f, y, s, sn: y + (sn - s) * f(y, s), "Euler's step"),
    (heun_no_last_rule, "s_next = 0"),
    (heun_at_y, "at the Euler guess"),
])
def test_heun_step(wrong, words):
    assert check.heun_step(heun_right).status == "correct"
    fb = check.heun_step(wrong)
    assert fb.status == "wrong" and words in fb.message, fb
    assert check.heun_step(todo).status == "not attempted"


# --- the probability-flow drift -------------------------------------------------------------------

@pytest.mark.parametrize("wrong,words", [
    (lambda x, score, f, g: f * x - g**2 * score, "half the score"),
    (lambda x, score, f, g: f * x + 0.5 * g**2 * score, "minus sign"),
    (lambda x, score, f, g: -0.5 * g**2 * score, "f(x, t)"),
    (lambda x, score, f, g: f * x - 0.5 * g * score, "g squared"),
])
def test_ode_drift(wrong, words):
    assert check.ode_drift(lambda x, score, f, g: f * x - 0.5 * g**2 * score).status == "correct"
    fb = check.ode_drift(wrong)
    assert fb.status == "wrong" and words in fb.message, fb
    assert check.ode_drift(todo).status == "not attempted"


# --- one DPM-Solver++(2M) update ------------------------------------------------------------------

def dpm_right(x, x0, x0_prev, alpha_prev, sigma_prev, alpha, sigma, alpha_next, sigma_next):
    lam_prev, lam, lam_next = (math.log(a / s) for a, s in
                               ((alpha_prev, sigma_prev), (alpha, sigma), (alpha_next, sigma_next)))
    h, r = lam_next - lam, (lam - lam_prev) / (lam_next - lam)
    d = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * x0_prev
    return sigma_next / sigma * x + alpha_next * (1 - math.exp(-h)) * d


def dpm_with(first_order=False, flip_r=False, log_snr=False, sign=1.0):
    def step(x, x0, x0_prev, alpha_prev, sigma_prev, alpha, sigma, alpha_next, sigma_next):
        k = 2 if log_snr else 1  # log-SNR is twice lambda
        lam_prev, lam, lam_next = (k * math.log(a / s) for a, s in
                                   ((alpha_prev, sigma_prev), (alpha, sigma), (alpha_next, sigma_next)))
        h, r = lam_next - lam, (lam - lam_prev) / (lam_next - lam)
        r = 1 / r if flip_r else r
        d = x0 if first_order else (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * x0_prev
        return sigma_next / sigma * x + sign * alpha_next * (1 - math.exp(-h)) * d
    return step


@pytest.mark.parametrize("wrong,words", [
    (dpm_with(first_order=True), "first-order"),
    (dpm_with(flip_r=True), "h_prev / h"),
    (dpm_with(log_snr=True), "half the log-SNR"),
    (dpm_with(sign=-1.0), "sign"),
    (lambda x, x0, x0p, *rest: dpm_right(x, x0p, x0, *rest), "larger weight"),
])
def test_dpm_solver_pp_step(wrong, words):
    assert check.dpm_solver_pp_step(dpm_right).status == "correct"
    fb = check.dpm_solver_pp_step(wrong)
    assert fb.status == "wrong" and words in fb.message, fb
    assert check.dpm_solver_pp_step(todo).status == "not attempted"
