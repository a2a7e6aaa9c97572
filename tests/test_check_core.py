"""The checker machinery: right answers pass, typical mistakes are named, nothing raises."""

import torch

from minidiff.course.check import Mistake, check_function

CASES = [(torch.tensor([1.0, 2.0, 3.0]), 2.0), (torch.tensor([-0.5, 4.0]), 0.5)]


def ref(x, s):
    return -x / s**2


MISTAKES = [Mistake("divide by the variance s**2, not by s.", lambda x, s: -x / s)]


def run(fn):
    return check_function("gaussian score", fn, CASES, ref, MISTAKES)


def test_right_answer_passes():
    fb = run(lambda x, s: -x / (s * s))
    assert fb and fb.status == "correct" and "2 test cases" in repr(fb)


def test_named_mistake_is_recognised():
    fb = run(lambda x, s: -x / s)
    assert fb.status == "wrong" and "not by s" in fb.message


def test_sign_and_scale_are_recognised_without_a_named_mistake():
    assert "sign is flipped" in run(lambda x, s: x / s**2).message
    assert "constant factor of 2" in run(lambda x, s: -2 * x / s**2).message


def test_unattempted_broken_and_shapeless_answers_do_not_raise():
    def todo(x, s):
        raise NotImplementedError

    assert run(todo).status == "not attempted"
    assert run(lambda x, s: x.foo).status == "error"
    assert "forget `return`" in run(lambda x, s: None).message
    assert "wrong shape" in run(lambda x, s: (-x / s**2)[None]).message
    assert "NaN" in run(lambda x, s: x / 0 * 0).message


def test_learner_cannot_spoil_the_reference_in_place():
    def sneaky(x, s):
        x.mul_(0)
        return x

    assert run(sneaky).status == "wrong"
    assert CASES[0][0].tolist() == [1.0, 2.0, 3.0]
