"""A sample's distance to the truth in units of the noise floor: the course's one floor estimator.

Two finite samples of the same law are never at distance 0. The floor is how far exact samples of
the truth are from each other: draw `repeats` exact samples of x's size, score each by its median
distance to the others, and take the median of those scores. x is scored the same way, against the
same exact samples, so an exact x scores about 1 and the scores of the exact samples themselves say
how far 1 can wander at this size: an exact 2,000-point sample of the 8-Gaussian ring scores 0.78 to
1.33 over 20 draws (sd 0.17). `parts` cuts x into equal parts and compares part with part (the median
over parts), which averages out x's own luck: 16 parts of 500 points give sd 0.06.
"""

import math
import statistics

import torch

from ...core.nets import _checks
from .distances import Metric, Sampler, sliced_wasserstein


class FloorUnits(float):
    """A distance in floor units (a plain float for < and f"{u:.2f}") that carries the range low..high
    that exact samples of the truth scored in the same measurement, and the size n of each part."""

    # A float, not a tuple: `units < 1.5`, f"{units:.2f}" and statistics.median(...) in lessons and
    # learners' scripts keep working, while print(units) shows the spread beside the number.

    def __new__(cls, value: float, low: float = math.nan, high: float = math.nan, n: int = 0, parts: int = 1):
        self = super().__new__(cls, value)
        self.low, self.high, self.n, self.parts = float(low), float(high), int(n), int(parts)
        return self

    def __repr__(self) -> str:
        size = f"{self.parts} parts of {self.n} points" if self.parts > 1 else f"{self.n} points"
        return (f"{float(self):.2f}x the floor (exact samples of the truth scored "
                f"{self.low:.2f} to {self.high:.2f}; {size})")


def _split_metric(metric: Metric, size: int, parts: int) -> Metric:
    # With parts > 1, two samples are compared part k with part k and the median is kept.
    if parts == 1:
        return metric
    return lambda a, b: statistics.median(metric(p, q) for p, q in zip(a.split(size), b.split(size)))


# The fewest points per part at which a distance in floor units means anything. Measured on the
# 8-Gaussian ring over 40 draws each: at 32 points a Gaussian with the ring's mean and covariance and no
# modes at all scores inside the exact samples' range 40% of the time (an exact sample: 65%), at 50
# points 48%, at 100 points 12%; at 2 to 20 points it scores like an exact sample (0.93 to 1.12x).
MIN_POINTS = 100


def _check(where: str, n: int, repeats: int, parts: int) -> None:
    if repeats < 3 or parts < 1:
        raise ValueError(f"{where}: need repeats >= 3 (each exact sample is compared with the others) and "
                         f"parts >= 1; got repeats={repeats}, parts={parts}")
    if n < MIN_POINTS * parts:
        raise ValueError(f"{where}: need at least {MIN_POINTS} points per part, got {n} points in {parts} "
                         f"part{'s' if parts > 1 else ''}: below {MIN_POINTS}, samples with none of the 8-Gaussian "
                         "ring's modes score like exact ones; draw more points (or fewer parts)")


def _sampler(sample, where: str) -> Sampler:
    # A distribution object (toy.ring(), toy.moons()) stands for its own .sample.
    if not callable(sample) and callable(getattr(sample, "sample", None)):
        return sample.sample
    if not callable(sample):
        raise ValueError(f"{where}: sample must be a function (n, generator) -> points (n, D), or an object with "
                         f".sample such as toy.ring(); got {type(sample).__name__}")
    return sample


def _draw(sample: Sampler, n: int, generator, where: str) -> torch.Tensor:
    x = sample(n, generator)
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or len(x) != n:
        raise ValueError(f"{where}: sample(n, generator) must return points of shape (n, D) = ({n}, D), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    return x


def _exact_scores(sample: Sampler, n: int, metric: Metric, repeats: int, generator, where: str) -> tuple[list, list]:
    """`repeats` exact samples of n points, and each one's median distance to the others."""
    exact = [_draw(sample, n, generator, where) for _ in range(repeats)]
    d = [[0.0] * repeats for _ in range(repeats)]
    for i in range(repeats):
        for j in range(i + 1, repeats):
            d[i][j] = d[j][i] = metric(exact[i], exact[j])
    return exact, [statistics.median(d[i][j] for j in range(repeats) if j != i) for i in range(repeats)]


def noise_floor(sample: Sampler, n: int, metric: Metric = sliced_wasserstein, repeats: int = 7,
                generator: torch.Generator | None = None, parts: int = 1) -> float:
    """The distance exact n-point samples of the truth have from it: the median over `repeats` exact
    samples of each one's median distance to the others. `sample(n, generator)` draws the truth (a data
    set such as toy.ring() stands for its own .sample)."""
    _check("noise_floor", n, repeats, parts)
    sample = _sampler(sample, "noise_floor")
    size = n // parts
    _, scores = _exact_scores(sample, size * parts, _split_metric(metric, size, parts), repeats, generator,
                             "noise_floor")
    return float(statistics.median(scores))


def in_floor_units(x: torch.Tensor, sample: Sampler, metric: Metric = sliced_wasserstein, repeats: int = 7,
                   generator: torch.Generator | None = None, parts: int = 1) -> FloorUnits:
    """x's median distance to `repeats` exact samples of its size over the noise floor (noise_floor):
    about 1 means 'as good as n points can tell'. .low and .high are what the exact samples scored;
    an exact x lands between them with probability (repeats - 1) / (repeats + 1), 3 in 4 at 7."""
    x = _checks.points(x, "in_floor_units")
    _check("in_floor_units", len(x), repeats, parts)
    sample = _sampler(sample, "in_floor_units")
    size = len(x) // parts
    split = _split_metric(metric, size, parts)
    exact, scores = _exact_scores(sample, size * parts, split, repeats, generator, "in_floor_units")
    if exact[0].shape[1] != x.shape[1]:
        raise ValueError(f"in_floor_units: x has {x.shape[1]} numbers per point but the truth's samples have "
                         f"{exact[0].shape[1]}; compare samples with the law they were meant to draw")
    floor = statistics.median(scores)
    if not floor > 0 or not math.isfinite(floor):
        raise ValueError(f"in_floor_units: the noise floor is {floor}, cannot divide by it "
                         "(use a metric that is > 0 between independent samples, e.g. sliced_wasserstein)")
    x = x[:size * parts]  # the points past the last whole part are left out
    ours = statistics.median(split(x, e.to(x)) for e in exact)
    return FloorUnits(ours / floor, min(scores) / floor, max(scores) / floor, size, parts)
