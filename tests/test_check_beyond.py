"""Lesson 12's checkers: right answers (written independently of the checker's reference) pass, each
typical mistake is named with its own message, a stub is 'not attempted'."""

import pytest
import torch

from minidiff import check, exact, metrics, toy
from minidiff.course.check import beyond as cb


def todo(*args):
    raise NotImplementedError


def assert_wrong(feedback, *words):
    assert feedback.status == "wrong", feedback
    for w in words:
        assert w in feedback.message, feedback.message


# --- the ideal denoiser -------------------------------------------------------------------------------

def ideal_by_library(points, x, alpha, sigma):
    b = len(x)
    return exact.EmpiricalX0(points)(x, torch.full((b,), alpha, dtype=x.dtype), torch.full((b,), sigma, dtype=x.dtype))


def ideal_by_loop(points, x, alpha, sigma):
    out = []
    for row in x:
        logw = torch.stack([-((row - alpha * p) ** 2).sum() / (2 * sigma**2) for p in points])
        w = (logw - logw.logsumexp(0)).exp()
        out.append((w[:, None] * points).sum(0))
    return torch.stack(out)


@pytest.mark.parametrize("right", [ideal_by_library, ideal_by_loop])
def test_ideal_denoiser_right(right):
    assert check.ideal_denoiser(right).status == "correct"


def d2(points, x, alpha):
    return ((x[:, None] - alpha * points[None]) ** 2).sum(-1)


@pytest.mark.parametrize("wrong, words", [
    (lambda p, x, a, s: (-((x[:, None] - p[None]) ** 2).sum(-1) / (2 * s**2)).softmax(1) @ p, ["alpha * x_i"]),
    (lambda p, x, a, s: (-d2(p, x, a) / (2 * s)).softmax(1) @ p, ["sigma^2, not sigma"]),
    (lambda p, x, a, s: (-d2(p, x, a) / s**2).softmax(1) @ p, ["has a 1/2"]),
    (lambda p, x, a, s: (d2(p, x, a) / (2 * s**2)).softmax(1) @ p, ["sign", "farthest"]),
    (lambda p, x, a, s: p[d2(p, x, a).argmin(1)], ["nearest training point alone"]),
    (lambda p, x, a, s: p.mean(0).repeat(len(x), 1), ["plain mean"]),
    (lambda p, x, a, s: (-d2(p, x, a) / (2 * s**2)).softmax(1) @ (a * p), ["not of alpha * x_i"]),
    (lambda p, x, a, s: (-d2(p, x, a) / (2 * s**2)).softmax(0) @ p, ["over the training points"]),
])
def test_ideal_denoiser_mistakes(wrong, words):
    assert_wrong(check.ideal_denoiser(wrong), *words)


def test_ideal_denoiser_stub_and_shape():
    assert check.ideal_denoiser(todo).status == "not attempted"
    fb = check.ideal_denoiser(lambda p, x, a, s: ideal_by_loop(p, x, a, s).sum(1))
    assert_wrong(fb, "wrong shape", "(B, D)")


def test_the_cases_separate_hard_and_soft_answers():
    # On every case the soft average is far from the nearest point (else that mistake could pass).
    for p, x, a, s in cb._ideal_cases():
        hard = p[d2(p, x, a).argmin(1)]
        assert (ideal_by_loop(p, x, a, s) - hard).abs().max() > 0.05


# --- the mode-coverage count --------------------------------------------------------------------------

def coverage_by_library(x, means, std):
    c = metrics.mode_coverage(x, toy.GaussianMixture(means, std))
    return c.modes, c.high_quality


def coverage_by_loop(x, means, std):
    covered, good = set(), 0
    for point in x:
        dist = [((point - m) ** 2).sum().sqrt().item() for m in means]
        k = min(range(len(means)), key=dist.__getitem__)
        if dist[k] <= 3 * std:
            covered.add(k)
            good += 1
    return len(covered), good / len(x)


@pytest.mark.parametrize("right", [coverage_by_library, coverage_by_loop])
def test_mode_coverage_right(right):
    assert check.mode_coverage(right).status == "correct"


def count(x, means, std, within=3.0, quality=True, share=True):
    d, k = torch.cdist(x, means).min(1)
    good = d <= within * std
    modes = len(k[good].unique()) if quality else len(k.unique())
    return modes, (good.double().mean() if share else good.sum()).item()


@pytest.mark.parametrize("wrong, words", [
    (lambda x, m, s: count(x, m, s, quality=False), ["stray"]),
    (lambda x, m, s: count(x, m, s, within=1.0), ["3 * std"]),
    (lambda x, m, s: count(x, m, s, share=False), ["share"]),
    (lambda x, m, s: (len(torch.cdist(x, m).min(1)[1][torch.cdist(x, m).min(1)[0] ** 2 <= 3 * s].unique()),
                      (torch.cdist(x, m).min(1)[0] ** 2 <= 3 * s).double().mean().item()), ["squared"]),
])
def test_mode_coverage_mistakes(wrong, words):
    assert_wrong(check.mode_coverage(wrong), *words)


def test_mode_coverage_stub_and_shape():
    assert check.mode_coverage(todo).status == "not attempted"
    assert check.mode_coverage(lambda x, m, s: None).status == "error"
    assert_wrong(check.mode_coverage(lambda x, m, s: coverage_by_loop(x, m, s)[0]), "two numbers")


CURVE = [dict(size=4, copies=0.98, chance=0.60), dict(size=8, copies=0.52, chance=0.50),
         dict(size=16, copies=0.20, chance=0.40), dict(size=64, copies=0.12, chance=0.14)]


@pytest.mark.parametrize("answer, status, words", [
    (16, "correct", "N = 16: 20.0% near-copies against 40.0%"),
    (8, "wrong", "still copies"),       # off by one size: 52% against 50% is not below
    (4, "wrong", "still copies"),
    (64, "wrong", "earlier, at N = 16"),  # the guess that only a large set stops copying
    (32, "wrong", "pick one of"),       # not a size measured
    (None, "not attempted", "replace None"),
    ("16", "error", "number"),
])
def test_copy_below_chance(answer, status, words):
    fb = check.beyond.copy_below_chance(answer, CURVE)
    assert fb.status == status and words in fb.message, fb


def test_copy_below_chance_when_it_never_falls():
    curve = [dict(size=4, copies=0.98, chance=0.6), dict(size=8, copies=0.7, chance=0.5)]
    assert check.beyond.first_below_chance(curve) is None
    assert check.beyond.copy_below_chance(8, curve).status == "wrong"
