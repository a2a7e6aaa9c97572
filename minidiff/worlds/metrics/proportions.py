"""A share of successes out of n, with the interval it deserves: a percentage printed without its n
and interval says more than the samples behind it can."""

from statistics import NormalDist


def share_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion k / n (Wilson 1927): unlike p +- z sqrt(p(1-p)/n), it
    stays inside [0, 1] and is not of width 0 at k = 0 or k = n."""
    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"share_interval: {name} must be a whole number (a count), got {v!r}")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"share_interval: need 0 <= k <= n and n >= 1, got k = {k}, n = {n}")
    if not 0 < level < 1:
        raise ValueError(f"share_interval: level must be in (0, 1), e.g. 0.95, got {level}")
    z = NormalDist().inv_cdf((1 + level) / 2)
    p, z2 = k / n, z * z / n
    centre = (p + z2 / 2) / (1 + z2)
    half = z * ((p * (1 - p) + z2 / 4) / n) ** 0.5 / (1 + z2)
    return max(0.0, centre - half), min(1.0, centre + half)


def share_text(k: int, n: int, level: float = 0.95) -> str:
    """'91% of 200 (87-94%)': the share, how many it is out of, and its Wilson interval."""
    low, high = share_interval(k, n, level)
    return f"{k / n:.0%} of {n} ({100 * low:.0f}-{100 * high:.0f}%)"
