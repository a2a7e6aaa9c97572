"""Mode coverage of 2-D samples from a mixture whose modes are known: how many modes, how sharp.

    c = metrics.mode_coverage(x, toy.grid())     # c.modes (of 25), c.high_quality (share), c.counts

The two numbers of the GAN mode-collapse literature (Srivastava et al. 2017, VEEGAN, section 5.1;
Lin et al. 2018, PacGAN): a sample is "high quality" when it lies within `within` (3) standard
deviations of its nearest mode's mean, and a mode is "covered" when at least `min_count` high-quality
samples have it as their nearest mode (VEEGAN: one; with 2,500 samples and 25 equal modes a covered
mode expects 100).
"""

from typing import NamedTuple

import torch

from ...core.nets import _checks
from ..toy import GaussianMixture


class Coverage(NamedTuple):
    modes: int  # modes with at least min_count high-quality samples
    high_quality: float  # share of samples within `within` standard deviations of their nearest mode
    counts: torch.Tensor  # (K,) high-quality samples per mode


def mode_coverage(x: torch.Tensor, gm: GaussianMixture, within: float = 3.0, min_count: int = 1) -> Coverage:
    """Modes covered and the high-quality share of samples x (N, D) of the mixture gm (round modes)."""
    if not isinstance(gm, GaussianMixture):
        raise ValueError(f"mode_coverage: gm must be a toy.GaussianMixture, got {type(gm).__name__}")
    x = _checks.points(x, "mode_coverage", dim=gm.dim)  # NaN would silently count as "no mode"
    if not within > 0 or min_count < 1:
        raise ValueError(f"mode_coverage: within must be > 0 and min_count >= 1, got {within}, {min_count}")
    means, stds = gm.means.to(x), gm.stds.to(x)[:, 0]  # round modes: one std per mode
    if not torch.allclose(gm.stds, gm.stds[:, :1].expand_as(gm.stds)):
        raise ValueError("mode_coverage: needs round modes (the same std on every axis), as toy.grid and toy.ring")
    dist, nearest = torch.cdist(x, means).min(dim=1)  # (N,) each
    good = dist <= within * stds[nearest]
    counts = torch.bincount(nearest[good], minlength=len(means))
    return Coverage(int((counts >= min_count).sum()), good.double().mean().item(), counts)
