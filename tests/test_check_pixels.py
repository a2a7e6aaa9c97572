"""Checkers of lessons 00 and 01: right answers pass, typical mistakes are named, and the
references agree with independent truths (torch.distributions, exact integer arithmetic)."""

import math

import pytest
import torch
from torch import distributions as D

from minidiff import check, toy


def todo(*args):
    raise NotImplementedError


def assert_named(feedback, *words):
    assert feedback.status == "wrong", feedback
    for w in words:
        assert w in feedback.message, feedback.message


# --- squared norm (lesson 00) -------------------------------------------------------------------

def test_squared_norm():
    assert check.squared_norm(lambda x: (x * x).sum(1)).status == "correct"
    assert check.squared_norm(lambda x: torch.linalg.vector_norm(x, dim=1) ** 2).status == "correct"
    assert_named(check.squared_norm(lambda x: x.norm(dim=1)), "square root")
    assert_named(check.squared_norm(lambda x: x.sum(1)), "square each coordinate")
    assert_named(check.squared_norm(lambda x: (x**2).mean(1)), "do not average")
    assert_named(check.squared_norm(lambda x: (x**2).sum(0)), "wrong shape")
    assert check.squared_norm(todo).status == "not attempted"


# --- image to point (lesson 01) ------------------------------------------------------------------

def test_image_to_point_reference_is_the_library_scaling():
    levels = torch.arange(256.0).reshape(128, 2)
    assert check.image_to_point(lambda v: toy.image_to_point(v)).status == "correct"
    assert check.image_to_point(lambda v: 2 * v / 255 - 1).status == "correct"
    ends = torch.tensor([[-1.0, 2 / 255 - 1], [1 - 2 / 255, 1.0]])
    assert torch.allclose(toy.image_to_point(levels)[[0, -1]], ends)


@pytest.mark.parametrize("wrong,words", [
    (lambda v: v / 255, ["[0, 1]"]),
    (lambda v: v / 127.5, ["shift it by -1"]),
    (lambda v: v / 128 - 1, ["off by one", "not 128"]),
    (lambda v: v / 128.0 - 1.0, ["off by one", "not 128"]),
    (lambda v: 2 * v / 256 - 1, ["off by one", "not 256"]),
    (lambda v: (v - 127.5) / 255, ["[-0.5, 0.5]"]),
    (lambda v: 1 - v / 127.5, ["sign is flipped"]),
])
def test_image_to_point_names_the_mistake(wrong, words):
    assert_named(check.image_to_point(wrong), *words)


def test_image_to_point_not_attempted_and_broken():
    assert check.image_to_point(todo).status == "not attempted"
    assert check.image_to_point(lambda v: v[:, 0] / 127.5 - 1).status == "wrong"  # one pixel only


# --- log-density of a round 2-D Gaussian (lesson 01) -----------------------------------------------

def truth(x, mu, sigma):
    return D.MultivariateNormal(mu, sigma**2 * torch.eye(2, dtype=x.dtype)).log_prob(x)


def test_gaussian_reference_equals_torch_distributions():
    # The checker's reference is what the learner is compared with, so it must be the truth.
    assert check.gaussian_log_density(truth).status == "correct"
    gm = lambda x, mu, s: toy.GaussianMixture(mu[None], torch.tensor([s], dtype=x.dtype)).log_prob(x)
    assert check.gaussian_log_density(gm).status == "correct"


@pytest.mark.parametrize("wrong,words", [
    (lambda x, mu, s: -((x - mu) ** 2).sum(1) / s**2 - math.log(2 * math.pi * s**2), ["1/2 is missing"]),
    (lambda x, mu, s: -((x - mu) ** 2).sum(1) / (2 * s) - math.log(2 * math.pi * s), ["not by sigma"]),
    (lambda x, mu, s: -((x - mu) ** 2).sum(1) / (2 * s) - math.log(2 * math.pi * s**2), ["not by sigma"]),
    (lambda x, mu, s: -((x - mu) ** 2).sum(1) / (2 * s**2) - math.log(2 * math.pi * s),
     ["square sigma there"]),
    (lambda x, mu, s: -((x - mu) ** 2).sum(1) / (2 * s**2) - 0.5 * math.log(2 * math.pi * s**2),
     ["one 1/sqrt(2 pi sigma^2) per coordinate"]),
    (lambda x, mu, s: -((x - mu) ** 2).sum(1) / (2 * s**2), ["normalising constant is missing"]),
    (lambda x, mu, s: truth(x, mu, s).exp(), ["density p(x)"]),
])
def test_gaussian_names_the_mistake(wrong, words):
    assert_named(check.gaussian_log_density(wrong), *words)


def test_gaussian_not_attempted_and_wrong_shape():
    assert check.gaussian_log_density(todo).status == "not attempted"
    assert_named(check.gaussian_log_density(lambda x, mu, s: truth(x, mu, s)[:, None]), "wrong shape")


# --- how big a table would be (lesson 01) ----------------------------------------------------------

def test_table_size_reference_equals_exact_integer_arithmetic():
    # Python integers are exact: count the digits of levels**d itself (d up to 784 here).
    exact = lambda d, L: math.log10(L**d)
    assert check.table_size_log10(exact).status == "correct"
    assert len(str(256**784)) == math.floor(784 * math.log10(256)) + 1
    assert check.table_size_log10(lambda d, L: d * math.log10(L)).status == "correct"


@pytest.mark.parametrize("wrong,words", [
    (lambda d, L: d * math.log(L), ["natural log"]),
    (lambda d, L: L * math.log10(d), ["swapped"]),
    (lambda d, L: math.log10(d * L), ["not d * levels"]),
    (lambda d, L: math.log10(float(L) ** d), ["OverflowError", "take the log first"]),
])
def test_table_size_names_the_mistake(wrong, words):
    fb = check.table_size_log10(wrong)
    assert fb.status in ("wrong", "error") and all(w in fb.message for w in words), fb


def test_table_size_not_attempted():
    assert check.table_size_log10(todo).status == "not attempted"
