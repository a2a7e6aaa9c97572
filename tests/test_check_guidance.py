"""Lesson 09's checkers: the right answer passes, typical mistakes are named, a stub is 'not attempted'."""

import pytest

from minidiff import check


def todo(*args):
    raise NotImplementedError


@pytest.mark.parametrize("wrong,words", [
    (lambda eu, ec, w: ec + w * (eu - ec), "swapped"),
    (lambda eu, ec, w: (1 + w) * ec - w * eu, "Ho & Salimans"),
    (lambda eu, ec, w: w * (ec - eu), "starting point"),
    (lambda eu, ec, w: eu + w * ec, "not eps_cond alone"),
])
def test_cfg_combination(wrong, words):
    assert check.cfg_combination(lambda eu, ec, w: eu + w * (ec - eu)).status == "correct"
    assert check.cfg_combination(lambda eu, ec, w: (1 - w) * eu + w * ec).status == "correct"  # the same, rearranged
    fb = check.cfg_combination(wrong)
    assert fb.status == "wrong" and words in fb.message, fb
    assert check.cfg_combination(todo).status == "not attempted"


@pytest.mark.parametrize("wrong,words", [
    (lambda e, gr, s, w: e + s * w * gr, "the sign"),
    (lambda e, gr, s, w: e - w * gr, "multiply the classifier's gradient by sigma"),
    (lambda e, gr, s, w: e - w * gr / s, "do not divide"),
    (lambda e, gr, s, w: e - s * gr, "scale is missing"),
    (lambda e, gr, s, w: -e / s + w * gr, "guided score"),
])
def test_guided_eps(wrong, words):
    assert check.guided_eps(lambda e, gr, s, w: e - s * w * gr).status == "correct"
    fb = check.guided_eps(wrong)
    assert fb.status == "wrong" and words in fb.message, fb
    assert check.guided_eps(todo).status == "not attempted"


def test_ho_salimans_to_scale():
    assert check.ho_salimans_to_scale(lambda w: w + 1).status == "correct"
    assert check.ho_salimans_to_scale(lambda w: 1.0 + float(w)).status == "correct"  # a plain number is fine
    fb = check.ho_salimans_to_scale(lambda w: w)
    assert fb.status == "wrong" and "differ by one" in fb.message, fb
    fb = check.ho_salimans_to_scale(lambda w: w - 1)
    assert fb.status == "wrong" and "other direction" in fb.message, fb
    assert check.ho_salimans_to_scale(todo).status == "not attempted"


# per-class Frechet over w as the 8x8 model gives it: falling, then rising
MEASURED = {0.0: 70.0, 0.5: 34.0, 1.0: 9.3, 2.0: 2.4, 3.0: 2.6, 5.0: 4.5, 8.0: 4.1}


def test_closest_to_real_w_judges_by_the_measurement():
    assert check.closest_to_real_w(None).status == "not attempted"
    assert check.closest_to_real_w(2, MEASURED).status == "correct"
    assert check.closest_to_real_w(3.0, MEASURED).status == "correct"  # within measuring noise of w = 2
    fb = check.closest_to_real_w(1, MEASURED)
    assert fb.status == "wrong" and "more guidance" in fb.message, fb
    fb = check.closest_to_real_w(5, MEASURED)
    assert fb.status == "wrong" and "less guidance" in fb.message, fb
    assert check.closest_to_real_w(4, MEASURED).status == "wrong"       # not one of the weights measured
    assert check.closest_to_real_w("two", MEASURED).status == "error"


def test_closest_to_real_w_measures_itself():
    fd = check.guidance.guidance_frechet(ws=(0.0, 2.0), per_digit=8, steps=5)  # 8: guidance_scores' least
    assert fd[2.0] < fd[0.0]  # with w = 0 most samples are another digit: far from the requested class


@pytest.mark.parametrize("answer, measured, status, words", [
    ("narrower", 0.7, "correct", "0.70 times"),
    ("Tighter ", 0.7, "correct", "0.70 times"),            # a synonym, any case and spacing
    ("wider", 0.7, "wrong", "narrower"),                    # the typical wrong guess: guidance spreads samples
    ("about the same", 0.7, "wrong", "squeeze"),           # the guess that guidance samples the target
    ("about the same", 1.05, "correct", "1.05"),
    ("narrower", 1.3, "wrong", "wider, not narrower"),
    (None, 0.7, "not attempted", "replace None"),
    (0.7, 0.7, "error", "one of"),                          # a number instead of a word
])
def test_ddim_spread_judges_the_prediction(answer, measured, status, words):
    fb = check.guidance.ddim_spread(answer, measured)
    assert fb.status == status and words in fb.message, fb


def test_ddim_spread_measures_itself():
    # exact scores: at w = 1 DDIM draws p(x | y) itself, at w = 4 its cloud is narrower than the target's
    assert abs(check.guidance.ddim_spread_ratio(w=1.0) - 1) < check.guidance.SPREAD_BAND
    assert check.guidance.ddim_spread_ratio(w=4.0) < 1 - check.guidance.SPREAD_BAND
    assert check.guidance.ddim_spread("narrower").status == "correct"
