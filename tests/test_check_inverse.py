"""Lesson 13's checkers: right answers pass, each typical mistake is named, a stub is 'not attempted'."""

import pytest
import torch

from minidiff import check, inverse
from minidiff.course.check import inverse as ci


def todo(*args):
    raise NotImplementedError


def assert_wrong(feedback, *words):
    assert feedback.status == "wrong", feedback
    for w in words:
        assert w in feedback.message, feedback.message


def replace_by_library(x, mask, value, alpha, sigma, z):
    return inverse.replace(x, inverse.masked(value, mask), alpha, sigma, z)


def replace_by_where(x, mask, value, alpha, sigma, z):
    return torch.where(mask.bool(), alpha * value + sigma * z, x)


@pytest.mark.parametrize("right", [replace_by_library, replace_by_where])
def test_replacement_step_right(right):
    assert check.replacement_step(right).status == "correct"


@pytest.mark.parametrize("wrong,words", [
    (lambda x, m, v, a, s, z: (1 - m) * x + m * v, ["noised to this step"]),
    (lambda x, m, v, a, s, z: (1 - m) * x + m * a * v, ["noise is missing"]),
    (lambda x, m, v, a, s, z: (1 - m) * x + m * (v + s * z), ["shrunk by alpha"]),
    (lambda x, m, v, a, s, z: m * x + (1 - m) * (a * v + s * z), ["wrong way round"]),
    (lambda x, m, v, a, s, z: m * (a * v + s * z), ["hidden part is gone"]),
])
def test_replacement_step_mistakes_are_named(wrong, words):
    assert_wrong(check.replacement_step(wrong), *words)


def test_replacement_step_todo_and_error():
    assert check.replacement_step(todo).status == "not attempted"
    assert check.replacement_step(lambda *a: None).status == "error"


def test_tweedie_right_by_formula_and_by_the_library():
    assert check.tweedie_estimate(lambda y, score, s: y + s**2 * score).status == "correct"
    # the library's estimate from the exact score agrees: y + s^2 score is the posterior mean
    assert check.tweedie_estimate(lambda y, score, s: y + (s * s) * score).status == "correct"


@pytest.mark.parametrize("wrong,words", [
    (lambda y, sc, s: y - s**2 * sc, ["uphill"]),
    (lambda y, sc, s: y + s * sc, ["s^2 * score, not s * score"]),
    (lambda y, sc, s: sc, ["displacement"]),
])
def test_tweedie_mistakes_are_named(wrong, words):
    assert_wrong(check.tweedie_estimate(wrong), *words)


def test_tweedie_todo():
    assert check.tweedie_estimate(todo).status == "not attempted"


def test_breaking_level_measures_and_names_the_worst():
    misses = ci.replacement_misses()
    worst = max(misses, key=misses.get)
    assert worst == 128 and misses[128] > 3 * max(misses[45], misses[210])  # mid grey: far the worst
    assert check.breaking_level(128).status == "correct"
    assert_wrong(check.breaking_level(210), "level 128 is missed most")
    assert_wrong(check.breaking_level(100), "choose one of the levels")
    assert check.breaking_level(None).status == "not attempted"
    assert check.breaking_level("mid").status == "error"
