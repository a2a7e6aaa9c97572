"""Lesson 02's checkers pass the right answers, name the typical mistakes, and wait for a stub."""

import math

import pytest
import torch

from minidiff import check


def todo(*args):
    raise NotImplementedError


def assert_named(feedback, words: str) -> None:
    assert feedback.status == "wrong", feedback
    assert words in feedback.message, feedback


def test_brownian_step():
    right = lambda x, D, dt, eps: x + torch.sqrt(torch.tensor(2 * D * dt)) * eps  # noqa: E731
    assert check.brownian_step(right).status == "correct"
    assert_named(check.brownian_step(lambda x, D, dt, eps: x + 2 * D * dt * eps), "square root")
    assert_named(check.brownian_step(lambda x, D, dt, eps: x + math.sqrt(2 * D) * dt * eps), "sqrt(dt)")
    assert_named(check.brownian_step(lambda x, D, dt, eps: x + math.sqrt(D * dt) * eps), "factor 2")
    assert_named(check.brownian_step(lambda x, D, dt, eps: math.sqrt(2 * D * dt) * eps), "add it to")
    assert check.brownian_step(todo).status == "not attempted"


def test_drop_spread():
    assert check.drop_spread(lambda s0, D, t: (s0**2 + 2 * D * t) ** 0.5).status == "correct"
    assert_named(check.drop_spread(lambda s0, D, t: s0 + math.sqrt(2 * D * t)), "add their variances")
    assert_named(check.drop_spread(lambda s0, D, t: s0**2 + 2 * D * t), "standard deviation")
    assert_named(check.drop_spread(lambda s0, D, t: math.sqrt(s0**2 + D * t)), "not D t")
    assert check.drop_spread(todo).status == "not attempted"


def test_ou_sample():
    def right(x0, t, eps):
        alpha = torch.exp(torch.tensor(-t / 2, dtype=torch.float64))
        return alpha * x0 + (1 - alpha**2).sqrt() * eps

    assert check.ou_sample(right).status == "correct"
    exp_t = lambda x0, t, eps: math.exp(-t) * x0 + math.sqrt(1 - math.exp(-2 * t)) * eps  # noqa: E731
    assert_named(check.ou_sample(exp_t), "exp(-t/2), not exp(-t)")
    one_minus = lambda x0, t, eps: math.exp(-t / 2) * x0 + (1 - math.exp(-t / 2)) * eps  # noqa: E731
    assert_named(check.ou_sample(one_minus), "not 1 - alpha")
    no_square = lambda x0, t, eps: math.exp(-t / 2) * x0 + math.sqrt(1 - math.exp(-t / 2)) * eps  # noqa: E731
    assert_named(check.ou_sample(no_square), "not sqrt(1 - alpha)")
    assert check.ou_sample(todo).status == "not attempted"


@pytest.mark.parametrize("score_sign, drift_sign, words", [
    (-1, 1, "pull toward the data"), (1, -1, "turns into a push"), (-1, -1, "each flips")])
def test_ou_reverse_step_signs(score_sign, drift_sign, words):
    def wrong(x, score, dt, eps):
        return x + (drift_sign * x / 2 + score_sign * score) * dt + dt**0.5 * eps

    assert_named(check.ou_reverse_step(wrong), words)


def test_ou_reverse_step():
    assert check.ou_reverse_step(lambda x, s, dt, eps: x + (x / 2 + s) * dt + dt**0.5 * eps).status == "correct"
    assert_named(check.ou_reverse_step(lambda x, s, dt, eps: x + (x / 2 + s) * dt + dt * eps), "sqrt(dt), not dt")
    assert_named(check.ou_reverse_step(lambda x, s, dt, eps: x + (x / 2 + s) * dt), "random too")
    assert check.ou_reverse_step(todo).status == "not attempted"
