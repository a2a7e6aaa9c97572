"""Checkers of lessons 04 and 05: right answers pass, typical mistakes are named, stubs are 'not
attempted'. Right answers are written here independently (autograd for the Gaussian scores)."""

import math

import pytest
import torch

from minidiff import check


def todo(*args):
    raise NotImplementedError


def assert_names(feedback, *words):
    assert feedback.status == "wrong", feedback
    for word in words:
        assert word in feedback.message, feedback


def autograd_score(log_density):
    """The score as the derivative of a log density, by autograd: an independent right answer."""
    def score(x, *params):
        x = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(log_density(x, *params).sum(), x)
        return grad
    return score


def test_gaussian_score():
    right = autograd_score(lambda x, mu, s: torch.distributions.Normal(mu, s).log_prob(x))
    assert check.gaussian_score(right).status == "correct"
    assert_names(check.gaussian_score(lambda x, mu, s: (x - mu) / s**2), "sign is flipped")
    assert_names(check.gaussian_score(lambda x, mu, s: -(x - mu) / s), "variance s^2")
    assert check.gaussian_score(todo).status == "not attempted"


def test_noised_gaussian_score():
    def log_density(x, mu, s, alpha, sigma):
        return torch.distributions.Normal(alpha * mu, math.sqrt(alpha**2 * s**2 + sigma**2)).log_prob(x)

    assert check.noised_gaussian_score(autograd_score(log_density)).status == "correct"
    assert_names(check.noised_gaussian_score(lambda x, mu, s, a, sg: -(x - a * mu) / (a**2 * s**2)),
                 "adds its variance")
    assert_names(check.noised_gaussian_score(lambda x, mu, s, a, sg: -(x - a * mu) / (a * s + sg) ** 2),
                 "add variances, not standard deviations")
    assert_names(check.noised_gaussian_score(lambda x, mu, s, a, sg: -(x - mu) / (a**2 * s**2 + sg**2)),
                 "alpha mu, not mu")
    assert check.noised_gaussian_score(todo).status == "not attempted"


def test_eps_to_score():
    # Right answer from its meaning: for x_t = x0 + sigma eps the score of N(x0, sigma^2) at x_t.
    def right(eps, sigma):
        x0 = torch.zeros_like(eps)
        return autograd_score(lambda x: torch.distributions.Normal(x0, sigma).log_prob(x))(x0 + sigma * eps)

    assert check.eps_to_score(right).status == "correct"
    assert_names(check.eps_to_score(lambda eps, sigma: eps / sigma), "missing minus")
    assert_names(check.eps_to_score(lambda eps, sigma: -eps / sigma**2), "not sigma^2")
    assert check.eps_to_score(todo).status == "not attempted"


def test_langevin_step():
    def right(x, score, step_size, z):
        drift = step_size * score(x)
        return x + drift + (2 * step_size) ** 0.5 * z

    assert check.langevin_step(right).status == "correct"
    assert_names(check.langevin_step(lambda x, s, h, z: x + h * s(x) + h**0.5 * z),
                 "sqrt(2 * step_size)")
    assert_names(check.langevin_step(lambda x, s, h, z: x - h * s(x) + (2 * h) ** 0.5 * z),
                 "with a plus")
    assert_names(check.langevin_step(lambda x, s, h, z: x + h * s(x)), "forgot the noise")
    assert check.langevin_step(todo).status == "not attempted"


def test_annealed_step_sizes():
    def right(sigmas, step_size):
        return torch.stack([step_size * (s / sigmas[-1]) ** 2 for s in sigmas])

    assert check.annealed_step_sizes(right).status == "correct"
    assert_names(check.annealed_step_sizes(lambda sg, h: h * sg / sg[-1]), "square the ratio")
    assert_names(check.annealed_step_sizes(lambda sg, h: h * sg**2 / sg[0] ** 2), "smallest noise level")
    assert check.annealed_step_sizes(todo).status == "not attempted"


@pytest.mark.parametrize("checker", [check.gaussian_score, check.eps_to_score])
def test_an_unknown_wrong_answer_is_still_wrong(checker):
    feedback = checker(lambda x, *rest: x * 0 + 1.0)
    assert feedback.status == "wrong" and "test case" in feedback.message
