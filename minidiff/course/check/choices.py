"""Checkers for the exercises that ask for a prediction, a choice or a measurement (lessons 00-04).

The answer is a value, not a function. The checker finds the truth itself (exactly, or by measuring
with a fixed seed) and says how far off a wrong answer is and why. The placeholder None means
"not attempted yet", so a lesson with the exercise unsolved still runs to the end.
"""

import math
import os
import random
from contextlib import contextmanager

import numpy as np
import torch

from ._core import CORRECT, ERROR, NOT_ATTEMPTED, WRONG, Feedback

TODO = "not attempted yet: replace None with your answer."


def number(exercise: str, answer, integer: bool = False):
    """answer as a float (or an int >= 1), or the Feedback that says why it is not one."""
    if answer is None or answer is ...:
        return Feedback(exercise, NOT_ATTEMPTED, TODO)
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        return Feedback(exercise, ERROR, f"expected a number, got {type(answer).__name__}")
    if not math.isfinite(answer):
        return Feedback(exercise, ERROR, f"expected a finite number, got {answer}")
    if integer:
        if answer != int(answer) or answer < 1:
            return Feedback(exercise, ERROR, f"expected a whole number of steps >= 1, got {answer}")
        return int(answer)
    return float(answer)


# --- lesson 00: which pairs of draws give the same numbers? -----------------------------------------

@contextmanager
def _rng_kept():
    # The checker reseeds while it measures; the learner's random streams must not notice.
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


@contextmanager
def _fast_env(value: str):
    from ...runtime import FAST_ENV

    old = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[FAST_ENV]
        else:
            os.environ[FAST_ENV] = old


def _same_numbers_truth() -> dict:
    from ...runtime import by_mode, seed_all

    with _rng_kept():
        a = torch.equal(torch.randn(3, generator=seed_all(7)), torch.randn(3, generator=seed_all(7)))
        g = seed_all(7)
        b = torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=g))
    with _fast_env("1"):
        in_tests = by_mode(full=4000, fast=100)
    with _fast_env("0"):
        in_lab = by_mode(full=4000, fast=100)
    return {"A": a, "B": b, "C": in_tests == in_lab}


_SAME_HINTS = {
    "A": "A: seed_all(7) makes a fresh generator in the same state each time, so the same numbers "
         "come out: that is what makes a lesson repeatable.",
    "B": "B: a generator moves on with every draw; the second call continues where the first "
         "stopped, so the numbers differ. Seed again to repeat them.",
    "C": "C: by_mode returns `fast` when MINIDIFF_FAST=1 (the automatic tests) and `full` otherwise "
         "(JupyterLab): 100 steps against 4000.",
}


def same_numbers(answers) -> Feedback:
    """Lesson 00: answers = {'A': True/False, 'B': ..., 'C': ...}, does each pair give the same numbers?"""
    ex = "same numbers?"
    if answers is None or answers is ... or (isinstance(answers, dict)
                                             and all(answers.get(k) is None for k in "ABC")):
        return Feedback(ex, NOT_ATTEMPTED, "not attempted yet: replace each None with True or False.")
    if not isinstance(answers, dict) or set(answers) != set("ABC"):
        return Feedback(ex, ERROR, "expected a dict with the keys 'A', 'B' and 'C', "
                                   "e.g. {'A': True, 'B': False, 'C': True}")
    if not all(isinstance(v, bool) for v in answers.values()):
        return Feedback(ex, ERROR, "answer each of 'A', 'B', 'C' with True or False.")
    truth = _same_numbers_truth()
    wrong = [k for k in "ABC" if answers[k] != truth[k]]
    if not wrong:
        return Feedback(ex, CORRECT, "all three predictions match what the checker measured.")
    return Feedback(ex, WRONG, f"{3 - len(wrong)} of 3 right. " + " ".join(_SAME_HINTS[k] for k in wrong))


# --- lesson 01: the probability of a region ---------------------------------------------------------

def _mass_left_darker() -> float:
    from ...worlds.toy import two_pixel_mixture

    gm = two_pixel_mixture().to(torch.float64)
    # x1 - x2 is Gaussian for each bump: mean mu1 - mu2, variance s1^2 + s2^2.
    z = (gm.means[:, 1] - gm.means[:, 0]) / (gm.stds[:, 0] ** 2 + gm.stds[:, 1] ** 2).sqrt()
    return (gm.weights * 0.5 * (1 + torch.erf(z / math.sqrt(2)))).sum().item()


def mass_left_darker(p) -> Feedback:
    """Lesson 01: p = the probability that an image's left pixel is darker than its right one."""
    ex = "mass of a region"
    p = number(ex, p)
    if isinstance(p, Feedback):
        return p
    exact, tol = _mass_left_darker(), 0.015  # tol: rounding to whole levels moves ties by about 0.007
    if abs(p - exact) <= tol:
        return Feedback(ex, CORRECT, f"{p:.3f}; the exact volume over the region is {exact:.4f}.")
    if p > 1 and abs(p / 100 - exact) <= tol:
        hint = "that looks like a percentage: give a probability between 0 and 1."
    elif abs(p - (1 - exact)) <= tol:
        hint = "that is the other side, the left pixel brighter: darker means a smaller level, so x1 < x2."
    elif abs(p - 0.5) <= tol:
        hint = ("half would be right for a law that is symmetric about the diagonal, but the two edge "
                "kinds are not: dark | bright has 15% of the images, bright | dark 10%.")
    elif abs(p - 0.15) <= tol:
        hint = ("the dark, bright and mid-grey kinds sit on the diagonal x1 = x2: half of each of "
                "them lies on the darker-left side too.")
    else:
        hint = (f"off by {p - exact:+.3f}: add up, kind by kind, its weight times the share of its bump "
                "on the darker-left side; or count it in `images`.")
    return Feedback(ex, WRONG, hint)


# --- lesson 02: when does a point drop's spread double? ---------------------------------------------

def _spread_ratio(t: float) -> tuple[float, float]:
    """Measured: the time at which a point drop's std is twice its value at t = 1, and std(t) / std(1)."""
    from ...worlds.ink import random_walk
    from ...runtime import by_mode

    n, D, dt = by_mode(full=4000, fast=2000), 0.25, 0.02
    g = torch.Generator().manual_seed(0)
    x0 = torch.zeros(n, 2, dtype=torch.float64)  # every particle starts at the origin
    t_max = max(8.0, min(t, 50.0))
    times, stds = zip(*[(s.t, s.x.std(0).mean().item())
                        for s in random_walk(x0, D, dt, round(t_max / dt), generator=g)])
    times, stds = np.array(times), np.array(stds)
    s1 = np.interp(1.0, times, stds)
    k = int(np.argmax(stds >= 2 * s1))  # the first frame at twice the spread
    t2 = np.interp(2 * s1, stds[k - 1:k + 1], times[k - 1:k + 1])
    return float(t2), float(np.interp(min(t, t_max), times, stds) / s1)


def doubling_time(t) -> Feedback:
    """Lesson 02: t = the time at which a drop released at one point has twice its spread at t = 1."""
    ex = "doubling time"
    t = number(ex, t)
    if isinstance(t, Feedback):
        return t
    if t <= 1:
        return Feedback(ex, WRONG, "the drop only spreads: at t <= 1 it is never wider than at t = 1.")
    t2, ratio = _spread_ratio(t)
    if abs(t - t2) <= 0.1 * t2:
        return Feedback(ex, CORRECT, f"measured: the spread doubles at t = {t2:.2f}, "
                                     "so it grows like sqrt(t) (variance 2Dt).")
    if abs(t - 2) <= 0.2:
        hint = ("that is how a spread growing like t would double. The variance 2Dt grows like t; "
                "the spread (standard deviation) is its square root.")
    elif abs(t - math.sqrt(2)) <= 0.15:
        hint = ("that is how a spread growing like t^2 would double; random steps partly cancel, "
                "so it grows slower.")
    else:
        hint = "how does the variance 2Dt grow with t, and the standard deviation with it?"
    return Feedback(ex, WRONG, f"measured: at t = {t:g} the spread is {ratio:.2f}x its value at t = 1, "
                               f"not 2x. {hint}")


# --- lesson 03: how many steps make x_T pure noise? -------------------------------------------------

def _alpha_bar_T(T: int) -> float:
    from ...core.schedules import linear_betas

    return torch.prod(1 - linear_betas(T, 1e-4, 0.02)).item()


def _fewest(target: float) -> int:
    # alpha_bar_T falls as T grows (more betas, each at least 1e-4): bisect for the first T under target.
    lo, hi = 1, 1
    while _alpha_bar_T(hi) > target:
        lo, hi = hi, 2 * hi
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if _alpha_bar_T(mid) > target else (lo, mid)
    return lo


def fewest_steps_to_noise(T) -> Feedback:
    """Lesson 03: T = the fewest steps of Ho's betas (1e-4 .. 0.02) with alpha_bar_T <= 1e-3."""
    ex = "steps to pure noise"
    target = 1e-3
    T = number(ex, T, integer=True)
    if isinstance(T, Feedback):
        return T
    best, ab = _fewest(target), _alpha_bar_T(T)
    if T == best:
        return Feedback(ex, CORRECT, f"T = {T}: alpha_bar_T = {ab:.2e}, and T = {T - 1} gives "
                                     f"{_alpha_bar_T(T - 1):.2e}, still above 1e-3.")
    if T > best:
        return Feedback(ex, WRONG, f"T = {T} works (alpha_bar_T = {ab:.2e}), but fewer steps do too: "
                                   "find the fewest.")
    hint = (" alpha_bar_T is the product of the (1 - beta_k); 1 - (sum of the betas) is only its "
            "first-order approximation, far off once the sum nears 1." if T < 0.2 * best else "")
    return Feedback(ex, WRONG, f"with T = {T} steps alpha_bar_T = {ab:.3g}: {ab:.2%} of the signal's "
                               f"variance is still there at the end; more steps are needed.{hint}")


# --- lesson 04: how much noise merges the bumps into one? -------------------------------------------

def n_modes(mixture, lim: float = 4.0, k: int = 241) -> int:
    """The number of local maxima of a 2-D density on a k x k grid over [-lim, lim]^2."""
    grid = torch.linspace(-lim, lim, k, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="xy")
    lp = mixture.to(torch.float64).log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).reshape(k, k)
    inner = lp[1:-1, 1:-1]
    peak = torch.ones_like(inner, dtype=torch.bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:  # higher than all 8 neighbours
                peak &= inner > lp[1 + di:k - 1 + di, 1 + dj:k - 1 + dj]
    return int(peak.sum())


def _merge_sigma(mixture) -> float:
    # Bisect on sigma for the smallest level with one mode (found to 2e-3).
    lo, hi = 0.0, 1.0
    while n_modes(mixture.noised(1.0, hi)) > 1:
        lo, hi = hi, 2 * hi
    while hi - lo > 2e-3:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if n_modes(mixture.noised(1.0, mid)) > 1 else (lo, mid)
    return hi


def merge_level(sigma, mixture) -> Feedback:
    """Lesson 04: sigma = the smallest noise level at which mixture.noised(1, sigma) has a single mode."""
    ex = "noise that merges the bumps"
    sigma = number(ex, sigma)
    if isinstance(sigma, Feedback):
        return sigma
    if sigma < 0:
        return Feedback(ex, WRONG, f"a noise level is a standard deviation, >= 0; got {sigma}.")
    merge = _merge_sigma(mixture)
    if abs(sigma - merge) <= 0.1 * merge:
        return Feedback(ex, CORRECT, f"measured on a fine grid: one mode from sigma = {merge:.3f} on.")
    if abs(sigma - merge**2) <= 0.1 * merge**2:
        return Feedback(ex, WRONG, "that looks like the variance sigma^2; the question asks for sigma.")
    if sigma < merge:
        k = n_modes(mixture.noised(1.0, sigma)) if sigma > 0 else n_modes(mixture)
        return Feedback(ex, WRONG, f"at sigma = {sigma:g} the noised density still has {k} modes: more noise.")
    return Feedback(ex, WRONG, f"at sigma = {sigma:g} there is one mode, but less noise already merges "
                               "them: look for the smallest sigma (count the modes on a finer ladder).")
