"""Checkers for the exercises of lessons 04 (scores) and 05 (Langevin sampling)."""

import math

import torch

from ._core import Feedback, Mistake, check_function


def _x(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# ---- lesson 04: scores ----------------------------------------------------------------------------

def gaussian_score(fn) -> Feedback:
    """Exercise: fn(x, mu, s) = d/dx log N(x; mu, s^2), the score of a 1-D Gaussian."""
    cases = [(_x(-1.0, 0.0, 0.5, 2.0), 0.5, 2.0), (_x(3.0, -2.0), -1.0, 0.5), (_x(0.3), 0.0, 1.5)]
    return check_function(
        "score of a 1-D Gaussian", fn, cases,
        reference=lambda x, mu, s: -(x - mu) / s**2,
        mistakes=[
            Mistake("the sign is flipped: the score points toward the mean, so it is -(x - mu) / s^2.",
                    lambda x, mu, s: (x - mu) / s**2),
            Mistake("divide by the variance s^2, not by the standard deviation s.",
                    lambda x, mu, s: -(x - mu) / s),
            Mistake("the sign is flipped and you divided by s instead of s^2.",
                    lambda x, mu, s: (x - mu) / s),
        ])


def noised_gaussian_score(fn) -> Feedback:
    """Exercise: fn(x, mu, s, alpha, sigma) = score of alpha x0 + sigma eps with x0 ~ N(mu, s^2)."""
    cases = [(_x(-1.0, 0.0, 2.5), 1.0, 0.5, 0.8, 0.6), (_x(0.4, -3.0), -2.0, 1.5, 0.3, 2.0),
             (_x(1.0), 0.5, 0.2, 1.0, 0.1)]

    def ref(x, mu, s, alpha, sigma):
        return -(x - alpha * mu) / (alpha**2 * s**2 + sigma**2)

    return check_function(
        "score of a noised Gaussian", fn, cases, reference=ref,
        mistakes=[
            Mistake("the noise adds its variance: use alpha^2 s^2 + sigma^2, not alpha^2 s^2 alone.",
                    lambda x, mu, s, alpha, sigma: -(x - alpha * mu) / (alpha**2 * s**2)),
            Mistake("add variances, not standard deviations: alpha^2 s^2 + sigma^2, not (alpha s + sigma)^2.",
                    lambda x, mu, s, alpha, sigma: -(x - alpha * mu) / (alpha * s + sigma) ** 2),
            Mistake("scaling x0 by alpha scales its variance by alpha^2: use alpha^2 s^2, not alpha s^2.",
                    lambda x, mu, s, alpha, sigma: -(x - alpha * mu) / (alpha * s**2 + sigma**2)),
            Mistake("the noised mean is alpha mu, not mu: x0 is scaled by alpha before the noise is added.",
                    lambda x, mu, s, alpha, sigma: -(x - mu) / (alpha**2 * s**2 + sigma**2)),
            Mistake("sigma is a standard deviation: its variance is sigma^2.",
                    lambda x, mu, s, alpha, sigma: -(x - alpha * mu) / (alpha**2 * s**2 + sigma)),
        ])


def eps_to_score(fn) -> Feedback:
    """Exercise: fn(eps, sigma) = the score that a noise prediction eps stands for, -eps / sigma."""
    cases = [(_x(0.5, -1.0, 2.0), 0.5), (_x(1.5, 0.25), 2.0), (_x(-0.7), 0.1)]
    return check_function(
        "noise prediction to score", fn, cases,
        reference=lambda eps, sigma: -eps / sigma,
        mistakes=[
            Mistake("missing minus: eps points away from the clean point, the score points back to it.",
                    lambda eps, sigma: eps / sigma),
            Mistake("divide by sigma, not sigma^2: x_t - x0 = sigma eps, and the score of "
                    "N(x0, sigma^2) is -(x_t - x0) / sigma^2 = -eps / sigma.",
                    lambda eps, sigma: -eps / sigma**2),
            Mistake("divide by sigma rather than multiply: score = -eps / sigma.",
                    lambda eps, sigma: -eps * sigma),
        ])


# ---- lesson 05: Langevin sampling ---------------------------------------------------------------

def _linear_score(x):
    # The score of N(1, 0.5^2) in every coordinate: a simple, non-zero slope for the test cases.
    return -(x - 1.0) / 0.25


def langevin_step(fn) -> Feedback:
    """Exercise: fn(x, score, step_size, z) = x + step_size * score(x) + sqrt(2 step_size) z."""
    cases = [(_x(0.0, 2.0, -1.0), _linear_score, 0.01, _x(0.3, -1.2, 0.8)),
             (_x(1.5, -0.5), _linear_score, 0.1, _x(-0.4, 1.1)),
             (_x(3.0), _linear_score, 0.002, _x(2.0))]

    def ref(x, score, h, z):
        return x + h * score(x) + math.sqrt(2 * h) * z

    return check_function(
        "one Langevin step", fn, cases, reference=ref,
        mistakes=[
            Mistake("the noise is sqrt(2 * step_size) * z, not sqrt(step_size) * z: "
                    "with sqrt(h) the chain samples p^2 (too narrow), not p.",
                    lambda x, score, h, z: x + h * score(x) + math.sqrt(h) * z),
            Mistake("move up the slope: x + step_size * score(x), with a plus (the score points uphill).",
                    lambda x, score, h, z: x - h * score(x) + math.sqrt(2 * h) * z),
            Mistake("you forgot the noise term sqrt(2 * step_size) * z: without it this is gradient "
                    "ascent, and every point climbs to a peak.",
                    lambda x, score, h, z: x + h * score(x)),
            Mistake("that is the (eps/2, sqrt(eps)) convention of Welling & Teh; here the step is "
                    "x + h score(x) + sqrt(2 h) z with h = step_size.",
                    lambda x, score, h, z: x + h / 2 * score(x) + math.sqrt(h) * z),
        ])


def annealed_step_sizes(fn) -> Feedback:
    """Exercise: fn(sigmas, step_size) = step_size * sigmas^2 / sigmas[-1]^2 (Song & Ermon 2019)."""
    cases = [(_x(10.0, 3.0, 1.0, 0.3, 0.1), 1e-4), (_x(2.0, 1.0, 0.5), 0.01), (_x(1.0, 0.6), 0.05)]
    return check_function(
        "annealed Langevin step sizes", fn, cases,
        reference=lambda sigmas, h: h * sigmas**2 / sigmas[-1] ** 2,
        mistakes=[
            Mistake("square the ratio: the step grows like sigma_i^2 / sigma_L^2, since the score "
                    "shrinks like 1 / sigma.",
                    lambda sigmas, h: h * sigmas / sigmas[-1]),
            Mistake("divide by the smallest noise level sigma_L (the last one), not the largest: "
                    "the last level gets exactly step_size.",
                    lambda sigmas, h: h * sigmas**2 / sigmas[0] ** 2),
            Mistake("the ratio is upside down: large noise levels take large steps, "
                    "sigma_i^2 / sigma_L^2.",
                    lambda sigmas, h: h * sigmas[-1] ** 2 / sigmas**2),
        ])
