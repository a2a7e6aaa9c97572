"""Checkers for the exercises of lesson 06 (score matching)."""

import torch

from ...core.losses import dsm_target as _target
from ._core import Feedback, Mistake, check_function


def _points(seed: int, n: int, d: int) -> torch.Tensor:
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def dsm_target(fn) -> Feedback:
    """Exercise: fn(x0, xt, sigma) = grad_xt log N(xt; x0, sigma^2 I) = -(xt - x0) / sigma^2."""
    cases = [(_points(0, 4, 2), _points(1, 4, 2), 0.5), (_points(2, 3, 2), _points(3, 3, 2), 2.0),
             (_points(4, 2, 3), _points(5, 2, 3), 0.1)]
    return check_function(
        "DSM target for one noise level", fn, cases, reference=_target,
        mistakes=[
            Mistake("the sign is flipped: the target points from xt back toward the clean x0, "
                    "so it is -(xt - x0) / sigma^2 = (x0 - xt) / sigma^2.",
                    lambda x0, xt, sigma: (xt - x0) / sigma**2),
            Mistake("divide by the variance sigma^2, not by sigma: -(xt - x0) / sigma is minus the "
                    "noise eps itself, not the score of N(x0, sigma^2 I).",
                    lambda x0, xt, sigma: -(xt - x0) / sigma),
            Mistake("the sign is flipped and you divided by sigma instead of sigma^2.",
                    lambda x0, xt, sigma: (xt - x0) / sigma),
        ])


def _ref_loss(score, x0, xt, sigma):
    # sigma (B, 1): lambda(sigma) = sigma^2 times the squared error, summed over coordinates,
    # halved and averaged over points (Song & Ermon 2019, eq. 5-6).
    return 0.5 * (sigma**2 * (score - _target(x0, xt, sigma)) ** 2).sum(dim=1).mean()


def _loss_cases():
    cases = []
    for seed, (n, d) in enumerate([(5, 3), (4, 4), (6, 3)]):
        x0, eps = _points(10 * seed, n, d), _points(10 * seed + 1, n, d)
        sigma = torch.linspace(0.05, 2.0, n, dtype=torch.float64)[:, None]  # (B, 1): levels differ
        score = _points(10 * seed + 2, n, d)
        cases.append((score, x0, x0 + sigma * eps, sigma))
    return cases


def dsm_loss(fn) -> Feedback:
    """Exercise: fn(score, x0, xt, sigma) with sigma of shape (B, 1) = the weighted DSM loss
    1/2 mean over points of sigma^2 ||score + (xt - x0) / sigma^2||^2 (sum over coordinates)."""
    def weighted(power, half=0.5, reduce=lambda e: e.sum(dim=1).mean(), sign=1.0):
        def loss(score, x0, xt, sigma):
            return half * reduce(sigma**power * (score - sign * _target(x0, xt, sigma)) ** 2)
        return loss

    return check_function(
        "DSM loss with lambda = sigma^2", fn, _loss_cases(), reference=_ref_loss,
        mistakes=[
            Mistake("weight each point's squared error by lambda(sigma) = sigma^2 (Song & Ermon 2019, "
                    "eq. 6); without it the smallest noise levels, whose targets are of size 1/sigma, "
                    "drown out all the others.", weighted(0)),
            Mistake("the weight is sigma^2, not sigma: sigma^2 ||s - target||^2 = ||sigma s + eps||^2 "
                    "is of size 1 at every noise level.", weighted(1)),
            Mistake("sum the squared error over the coordinates of each point, then average over the "
                    "points (.sum(dim=1).mean()); .mean() over everything also divides by the dimension.",
                    weighted(2, reduce=lambda e: e.mean())),
            Mistake("keep the factor 1/2 of Song & Ermon's eq. 5.", weighted(2, half=1.0)),
            Mistake("the target has the wrong sign: it is -(xt - x0) / sigma^2.", weighted(2, sign=-1.0)),
        ])


def tweedie_denoise(fn) -> Feedback:
    """Exercise: fn(xt, score, sigma) = E[x0 | xt] = xt + sigma^2 score (Tweedie's formula, Efron 2011)."""
    cases = [(_points(20, 4, 2), _points(21, 4, 2), 0.5), (_points(22, 3, 2), _points(23, 3, 2), 1.5),
             (_points(24, 2, 3), _points(25, 2, 3), 0.1)]
    return check_function(
        "denoising with the score (Tweedie)", fn, cases,
        reference=lambda xt, score, sigma: xt + sigma**2 * score,
        mistakes=[
            Mistake("the score points toward the data, so step along it: xt + sigma^2 score, not minus.",
                    lambda xt, score, sigma: xt - sigma**2 * score),
            Mistake("the step is sigma^2 times the score, not sigma times it (the score is of size "
                    "1 / sigma, the distance to the clean point of size sigma).",
                    lambda xt, score, sigma: xt + sigma * score),
            Mistake("start from xt: the score gives the step from xt to the clean point, not the point.",
                    lambda xt, score, sigma: sigma**2 * score),
        ])
