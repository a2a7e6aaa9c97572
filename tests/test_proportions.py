"""The Wilson interval of a share, against SciPy's independent implementation."""

import pytest
from scipy import stats

from minidiff import metrics


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (91, 100), (182, 200), (1, 1000), (500, 1000)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_interval_matches_scipy(k, n, level):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    low, high = metrics.share_interval(k, n, level)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12)


def test_it_narrows_as_one_over_root_n():
    # at p = 0.5 the half-width is about z / (2 sqrt n): 4 times the samples, half the width
    w100, w400 = (h - l for l, h in (metrics.share_interval(n // 2, n) for n in (100, 400)))
    assert w100 / w400 == pytest.approx(2.0, rel=0.02)


def test_text_gives_share_count_and_interval():
    assert metrics.share_text(182, 200) == "91% of 200 (86-94%)"


@pytest.mark.parametrize("k,n,message", [(5, 0, "n >= 1"), (11, 10, "0 <= k <= n"), (-1, 10, "0 <= k <= n"),
                                         (0.9, 10, "k must be a whole number"), (True, 10, "k must be a whole")])
def test_counts_that_are_not_counts_are_refused(k, n, message):
    with pytest.raises((ValueError, TypeError), match=message):
        metrics.share_interval(k, n)


def test_a_level_outside_0_1_is_refused():
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\), e.g. 0.95, got 95"):
        metrics.share_interval(5, 10, 95)
