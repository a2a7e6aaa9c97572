"""The lesson-06 checkers accept the right answers and name the typical wrong ones."""

import torch

from minidiff import check


def todo(*args):
    raise NotImplementedError


def test_dsm_target():
    assert check.dsm_target(lambda x0, xt, sigma: (x0 - xt) / sigma**2).status == "correct"
    fb = check.dsm_target(lambda x0, xt, sigma: (xt - x0) / sigma**2)
    assert fb.status == "wrong" and "sign is flipped" in fb.message
    fb = check.dsm_target(lambda x0, xt, sigma: -(xt - x0) / sigma)
    assert fb.status == "wrong" and "not by sigma" in fb.message
    assert check.dsm_target(todo).status == "not attempted"


def right_loss(score, x0, xt, sigma):
    target = -(xt - x0) / sigma**2
    return 0.5 * (sigma**2 * (score - target) ** 2).sum(dim=1).mean()


def test_dsm_loss():
    assert check.dsm_loss(right_loss).status == "correct"
    # The same loss written as ||sigma score + eps||^2 is right too.
    fb = check.dsm_loss(lambda s, x0, xt, sigma: 0.5 * ((sigma * s + (xt - x0) / sigma) ** 2).sum(1).mean())
    assert fb.status == "correct"
    unweighted = lambda s, x0, xt, sigma: 0.5 * ((s + (xt - x0) / sigma**2) ** 2).sum(1).mean()  # noqa: E731
    fb = check.dsm_loss(unweighted)
    assert fb.status == "wrong" and "lambda(sigma) = sigma^2" in fb.message
    fb = check.dsm_loss(lambda s, x0, xt, sigma: 0.5 * (sigma**2 * (s + (xt - x0) / sigma**2) ** 2).mean())
    assert fb.status == "wrong" and "sum the squared error over the coordinates" in fb.message
    fb = check.dsm_loss(lambda *a: 2 * right_loss(*a))
    assert fb.status == "wrong" and "factor 1/2" in fb.message
    assert check.dsm_loss(todo).status == "not attempted"


def test_tweedie_denoise():
    assert check.tweedie_denoise(lambda xt, score, sigma: xt + sigma**2 * score).status == "correct"
    fb = check.tweedie_denoise(lambda xt, score, sigma: xt - sigma**2 * score)
    assert fb.status == "wrong" and "not minus" in fb.message
    fb = check.tweedie_denoise(lambda xt, score, sigma: xt + sigma * score)
    assert fb.status == "wrong" and "sigma^2 times the score" in fb.message
    assert check.tweedie_denoise(todo).status == "not attempted"
    # A broken answer is reported, not raised.
    assert check.tweedie_denoise(lambda xt, score, sigma: xt @ torch.ones(5)).status == "error"
