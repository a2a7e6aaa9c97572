"""The one noise-floor estimator: its arithmetic on a known table, about 1 for exact samples (with
the spread exact samples show), clearly more for a wrong law, and a float a learner can compare."""

import pickle
import statistics

import pytest
import torch

from minidiff import metrics, toy

RING = toy.ring()


def sample(n, generator):
    return RING.sample(n, generator=generator)


def numbered():
    # The k-th draw is n copies of the number k; the stub metric below is |k - j|.
    count = iter(range(100))
    return lambda n, g: torch.full((n, 1), float(next(count)))


def gap(a, b):
    return abs(a[0, 0] - b[0, 0]).item()


def test_floor_is_the_median_of_each_exact_samples_median_distance_to_the_others():
    # Exact draws 0..6 (each n copies of one number): draw i's distances to the others have medians 3.5, 2.5, 2, 2, 2, 2.5, 3.5.
    assert metrics.noise_floor(numbered(), 100, metric=gap, repeats=7) == 2.5
    # x = 3 is at median distance 2 from the draws 0..6: 2 / 2.5 = 0.8, and the exact draws scored
    # 2 / 2.5 to 3.5 / 2.5.
    u = metrics.in_floor_units(torch.full((100, 1), 3.0), numbered(), metric=gap, repeats=7)
    assert (u, u.low, u.high, u.n, u.parts) == (pytest.approx(0.8), 0.8, 1.4, 100, 1)


def test_parts_compare_part_with_part():
    # x's parts are 3 and 5; draw k's parts are k and k: the median of |3 - k| and |5 - k| is
    # 4, 3, 2, 1, 1, 2, 3 for k = 0..6, whose median is 2; the floor is 2.5 as above.
    x = torch.tensor([[3.0]] * 100 + [[5.0]] * 100)
    u = metrics.in_floor_units(x, numbered(), metric=gap, parts=2)
    assert u == pytest.approx(0.8) and u.n == 100 and u.parts == 2 and "2 parts of 100 points" in repr(u)


def test_a_result_is_a_float_that_shows_its_spread():
    u = metrics.FloorUnits(1.234, 0.9, 1.3, 500)
    assert u < 1.5 and f"{u:.2f}" == "1.23" and u * 2 == pytest.approx(2.468)
    assert repr(u) == str(u) == "1.23x the floor (exact samples of the truth scored 0.90 to 1.30; 500 points)"
    back = pickle.loads(pickle.dumps(u))
    assert back == u and back.high == 1.3


def test_exact_samples_score_about_one_and_land_in_the_band_most_of_the_time():
    # One 500-point draw scores anywhere from about 0.7 to 1.5 (measured: sd 0.215 over 100 draws,
    # median 1.02). With 7 exact draws an exact x is exchangeable with them, so it falls between
    # the lowest and the highest of them with probability 6/8 = 0.75 (measured 0.70 over 100).
    found = []
    for seed in range(40):
        g = torch.Generator().manual_seed(seed)
        found.append(metrics.in_floor_units(sample(500, g), sample, generator=g))
    # the median of 40 has sd about 1.25 * 0.215 / sqrt(40) = 0.043: 3 sd is 0.13
    assert abs(statistics.median(found) - 1) < 0.13
    inside = sum(u.low <= u <= u.high for u in found) / len(found)
    assert 0.5 <= inside <= 0.95  # 0.75 +- 3.6 binomial sd (0.068 at 40 draws)


def test_parts_average_out_luck_and_a_wrong_law_scores_clearly_more():
    g = torch.Generator().manual_seed(0)
    # 16 parts of 500: measured sd 0.058 over 20 draws (range 0.89 to 1.09); 4 sd is 0.23.
    exact = metrics.in_floor_units(sample(8000, g), sample, generator=g, parts=16)
    assert abs(exact - 1) < 0.25 and exact.high - exact.low < 0.5
    # every point moved by 0.3; then the ring widened to radius 2.4
    shifted = metrics.in_floor_units(sample(8000, g) + 0.3, sample, generator=g, parts=16)
    widened = metrics.in_floor_units(sample(8000, g) * 1.2, sample, generator=g, parts=16)
    # shifted: measured 1.83 to 2.1 over 20 draws, more than 10 sd above 1
    assert shifted > 1.5 and widened > 1.5, (shifted, widened)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="at least 100 points per part, got 790 points in 8 parts"):
        metrics.in_floor_units(torch.zeros(790, 2), sample, parts=8)
    with pytest.raises(ValueError, match="repeats >= 3"):
        metrics.noise_floor(sample, 100, repeats=2)
    with pytest.raises(ValueError, match="cannot divide"):
        metrics.in_floor_units(torch.zeros(100, 2), lambda n, g: torch.zeros(n, 2))
