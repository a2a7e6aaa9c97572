"""The prediction / choice / measurement exercises: a right answer passes, each typical wrong answer
is told apart with its own message, and the placeholder None reads as not attempted."""

import math
from types import SimpleNamespace

import pytest
import torch

from minidiff import check, toy
from minidiff.course.check import measures
from minidiff.core.schedules import VE


def assert_wrong(feedback, *words):
    assert feedback.status == "wrong", feedback
    for w in words:
        assert w in feedback.message, feedback.message


GM = toy.GaussianMixture(torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.2, 1.8]]),
                         torch.tensor([[0.4, 0.7], [0.9, 0.3], [0.5, 0.5]]), weights=[0.5, 0.3, 0.2])

ALL = [lambda a: check.same_numbers(a), check.mass_left_darker, check.doubling_time, check.fewest_steps_to_noise,
       lambda a: check.merge_level(a, GM), lambda a: check.langevin_step_size(a, GM), check.fewest_ddpm_steps,
       check.fewest_ddim_steps, lambda a: check.worst_score_level(a, None, None, [1.0])]


@pytest.mark.parametrize("checker", ALL)
def test_placeholder_is_not_attempted(checker):
    assert checker(None).status == "not attempted"


@pytest.mark.parametrize("bad", ["0.5", float("nan"), True, [1, 2]])
def test_a_non_number_is_an_error_not_a_crash(bad):
    assert check.mass_left_darker(bad).status == "error"
    assert check.fewest_steps_to_noise(2.5).status == "error"  # steps are whole numbers


def test_same_numbers():
    assert check.same_numbers({"A": True, "B": False, "C": False}).status == "correct"
    assert_wrong(check.same_numbers({"A": True, "B": True, "C": False}), "2 of 3", "moves on")
    assert_wrong(check.same_numbers({"A": False, "B": False, "C": True}), "fresh generator", "MINIDIFF_FAST")
    assert check.same_numbers({"A": None, "B": None, "C": None}).status == "not attempted"
    assert check.same_numbers({"A": True}).status == "error"


def test_same_numbers_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.same_numbers({"A": True, "B": False, "C": False})
    assert torch.equal(torch.rand(3), expected)


def test_mass_left_darker_matches_a_count():
    exact = measures_free_count()
    assert check.mass_left_darker(exact).status == "correct"
    assert_wrong(check.mass_left_darker(1 - exact), "other side")
    assert_wrong(check.mass_left_darker(0.5), "symmetric")
    assert_wrong(check.mass_left_darker(0.15), "diagonal")
    assert_wrong(check.mass_left_darker(100 * exact), "percentage")
    assert_wrong(check.mass_left_darker(0.7), "off by")


def measures_free_count() -> float:
    # An independent truth: the share of a large sample of the mixture with x1 < x2.
    x = toy.two_pixel_mixture().sample(400_000, generator=torch.Generator().manual_seed(5))
    return (x[:, 0] < x[:, 1]).float().mean().item()


def test_doubling_time():
    assert check.doubling_time(4.0).status == "correct"  # sqrt(t): four times the time
    assert_wrong(check.doubling_time(2.0), "like t", "square root")
    assert_wrong(check.doubling_time(math.sqrt(2)), "t^2")
    assert_wrong(check.doubling_time(8.0), "2.8")  # the measured ratio at t = 8 is about sqrt(8)
    assert_wrong(check.doubling_time(0.5), "never wider")


def test_fewest_steps_to_noise_is_exact():
    from minidiff.core.schedules import linear_betas

    ab = lambda T: torch.prod(1 - linear_betas(T, 1e-4, 0.02)).item()  # noqa: E731
    best = next(T for T in range(600, 800) if ab(T) <= 1e-3)
    assert check.fewest_steps_to_noise(best).status == "correct"
    assert_wrong(check.fewest_steps_to_noise(best - 1), "more steps")
    assert_wrong(check.fewest_steps_to_noise(1000), "fewer steps do too")  # Ho's T works, but is not the fewest
    assert_wrong(check.fewest_steps_to_noise(100), "first-order")          # 1 - sum(beta) reaches 0 near T = 100


def test_merge_level():
    n_modes = check.choices.n_modes
    assert n_modes(GM) == 3 and n_modes(GM.noised(1.0, 3.0)) == 1  # lesson 04 counts the same
    sigma = check.choices._merge_sigma(GM)
    assert n_modes(GM.noised(1.0, 0.98 * sigma)) > 1 == n_modes(GM.noised(1.0, 1.02 * sigma))
    assert check.merge_level(sigma, GM).status == "correct"
    assert_wrong(check.merge_level(0.5 * sigma, GM), "still has 2 modes")
    assert_wrong(check.merge_level(2.0 * sigma, GM), "smallest sigma")
    assert_wrong(check.merge_level(sigma**2, GM), "variance")


def test_langevin_step_size():
    assert check.langevin_step_size(0.01, GM).status == "correct"
    assert_wrong(check.langevin_step_size(0.001, GM), "not arrived")
    assert_wrong(check.langevin_step_size(0.3, GM), "unstable")
    assert_wrong(check.langevin_step_size(0.12, GM), "overshoots")
    assert_wrong(check.langevin_step_size(-0.1, GM), "> 0")


def test_fewest_steps_logic(monkeypatch):
    # The rule on a made-up quality curve: the fewest k under the target, give or take the slack.
    curve = {k: 10.0 / k for k in range(1, 60)}  # reaches 1.2 at k = 9
    monkeypatch.setattr(measures, "_ring_quality", lambda sampler, ks: {k: curve[k] for k in ks})
    assert check.fewest_ddim_steps(9).status == "correct"
    assert check.fewest_ddim_steps(11).status == "correct"
    assert_wrong(check.fewest_ddim_steps(8), "not there yet")
    assert_wrong(check.fewest_ddim_steps(20), "fewer steps get there too")
    assert_wrong(check.fewest_ddim_steps(500), "far fewer")


@pytest.mark.parametrize("checker,sampler,target", [(check.fewest_ddpm_steps, "ddpm", 1.5),
                                                    (check.fewest_ddim_steps, "ddim", 1.2)])
def test_fewest_steps_measured(checker, sampler, target):
    curve = measures._ring_quality(sampler, range(1 if sampler == "ddpm" else 2, 16))
    best = min(k for k, q in curve.items() if q <= target)
    assert 4 <= best <= 15  # the samplers need a few steps, not one and not hundreds
    assert checker(best).status == "correct"
    assert_wrong(checker(best - 1), "not there yet")
    assert_wrong(checker(best + 10), "fewer steps")


def test_worst_score_level(monkeypatch):
    from types import SimpleNamespace

    from minidiff.core.schedules import VE

    model = SimpleNamespace(schedule=VE(0.02, 4.0))  # only its clock is used: score_error is faked
    rel = {0.02: 0.9, 0.1: 0.3, 1.0: 0.1, 4.0: 0.05}  # a made-up network, worst at the smallest level
    by_t = {round(model.schedule.t_from_sigma(s).item(), 6): r for s, r in rel.items()}
    monkeypatch.setattr("minidiff.core.losses.score_error", lambda model, mix, t, **kw: by_t[round(t, 6)])
    levels = list(rel)
    assert check.worst_score_level(0.02, model, None, levels).status == "correct"
    assert check.worst_score_level(torch.tensor(0.02), model, None, levels).status == "correct"  # sigmas[-1]
    assert_wrong(check.worst_score_level(4.0, model, None, levels), "larger at smaller noise")
    assert_wrong(check.worst_score_level(0.5, model, None, levels), "not one of the levels")
