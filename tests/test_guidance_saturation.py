"""guidance in one dimension (the closed-form guided target against numerical normalisation) and the two
fixes for saturation at high w, dynamic thresholding and CFG rescale, against hand computations."""

import math

import pytest
import torch

from minidiff import exact, guidance, params, samplers, schedules, toy
from test_guidance import LabelNet

SCHEDULE = schedules.VPLinear()


def normal(x, mean, var):
    return torch.exp(-(x - mean) ** 2 / (2 * var)) / math.sqrt(2 * math.pi * var)


@pytest.mark.parametrize("y, prior_var, noise_var, w", [(1.5, 1.0, 0.5, 0.0), (1.5, 1.0, 0.5, 1.0),
                                                        (1.5, 1.0, 0.5, 3.0), (-2.0, 2.0, 1.5, 8.0),
                                                        (0.7, 0.5, 2.0, 0.4)])
def test_gaussian_guided_target_matches_numerical_normalisation(y, prior_var, noise_var, w):
    # p(x | y) by Bayes' rule for x ~ N(0, v), y | x ~ N(x, r): the posterior N(v y / (v + r), v r / (v + r));
    # the product p(x | y) p(y | x)^(w - 1) normalised on a fine grid by the trapezoidal rule
    x = torch.linspace(-15, 15, 60001, dtype=torch.float64)
    v, r = prior_var, noise_var
    product = normal(x, v * y / (v + r), v * r / (v + r)) * normal(torch.tensor(y, dtype=torch.float64), x, r) ** (w - 1)
    density = product / torch.trapezoid(product, x)
    mean = torch.trapezoid(x * density, x).item()
    var = torch.trapezoid((x - mean) ** 2 * density, x).item()
    m, s2 = guidance.gaussian_guided_target(y, prior_var, noise_var, w)
    assert m == pytest.approx(mean, abs=1e-7) and s2 == pytest.approx(var, rel=1e-6)


def test_gaussian_guided_target_limits():
    assert guidance.gaussian_guided_target(2.0, 1.0, 0.5, 0.0) == (0.0, 1.0)  # w = 0: the prior
    m, s2 = guidance.gaussian_guided_target(2.0, 1.0, 1.0, 1.0)  # w = 1: the posterior, mean y/2, variance 1/2
    assert m == pytest.approx(1.0) and s2 == pytest.approx(0.5)
    m, s2 = guidance.gaussian_guided_target(2.0, 1.0, 1.0, 1e6)  # w -> infinity: a point at y
    assert m == pytest.approx(2.0, rel=1e-5) and s2 < 1e-5
    with pytest.raises(ValueError, match="variances > 0"):
        guidance.gaussian_guided_target(1.0, 0.0, 1.0, 2.0)
    with pytest.raises(ValueError, match=">= 0"):
        guidance.gaussian_guided_target(1.0, 1.0, 1.0, -1.0)


def test_dynamic_threshold_by_hand():
    x0 = torch.tensor([[-3.0, 0.5, 2.0, 1.0], [0.2, -0.9, 0.5, 1.0]])
    # row 0: |x0| = 0.5, 1, 2, 3; quantile 1 -> s = 3; quantile 0.5 -> s = 1.5 (linear between 1 and 2)
    # row 1: inside [-1, 1], s = max(quantile, 1) = 1: unchanged
    assert torch.allclose(guidance.dynamic_threshold(x0, 1.0),
                          torch.tensor([[-1.0, 1 / 6, 2 / 3, 1 / 3], [0.2, -0.9, 0.5, 1.0]]))
    assert torch.allclose(guidance.dynamic_threshold(x0, 0.5),
                          torch.tensor([[-1.0, 1 / 3, 1.0, 2 / 3], [0.2, -0.9, 0.5, 1.0]]))
    assert guidance.dynamic_threshold(x0.double(), 0.9).dtype == torch.float64
    with pytest.raises(ValueError, match="quantile"):
        guidance.dynamic_threshold(x0, 99.5)


def test_rescale_guided_by_hand():
    guided, cond = torch.tensor([[0.0, 2.0, 4.0, 6.0]]), torch.tensor([[5.0, 6.0, 7.0, 8.0]])
    # std(guided) = 2 std(cond): fully rescaled, guided / 2 = [0, 1, 2, 3]; phi = 0.7 mixes 0.7 of it with 0.3 of guided
    assert torch.allclose(guidance.rescale_guided(guided, cond, 1.0), torch.tensor([[0.0, 1.0, 2.0, 3.0]]))
    assert torch.allclose(guidance.rescale_guided(guided, cond, 0.7), torch.tensor([[0.0, 1.3, 2.6, 3.9]]))
    assert torch.equal(guidance.rescale_guided(guided, cond, 0.0), guided)
    with pytest.raises(ValueError, match="phi"):
        guidance.rescale_guided(guided, cond, 7.0)
    with pytest.raises(ValueError, match="one shape"):
        guidance.rescale_guided(guided, cond[:, :2], 0.7)


@pytest.mark.parametrize("clip", [None, 1.0])
def test_fixed_guidance_without_fixes_is_classifier_free(clip):
    model = params.Denoiser(LabelNet(), SCHEDULE, clip=clip)
    x, grid = torch.randn(16, 2, generator=torch.Generator().manual_seed(0)), schedules.uniform_grid(12)
    plain = samplers.run(samplers.ddim(guidance.ClassifierFree(model, 1, 5.0), x, grid, SCHEDULE))
    fixed = samplers.run(samplers.ddim(guidance.ClassifierFreeFixed(model, 1, 5.0), x, grid, SCHEDULE))
    assert torch.allclose(plain, fixed, atol=1e-5)
    t = torch.full((16,), 0.6)
    assert torch.allclose(guidance.ClassifierFree(model, 1, 5.0)(x, t).eps,
                          guidance.ClassifierFreeFixed(model, 1, 5.0)(x, t).eps, atol=1e-5)


@pytest.mark.parametrize("w", [6.0, 1.0, 0.0])  # at 1 and 0 too, where plain guidance needs one half only
def test_fixed_guidance_applies_the_fixes_to_the_guided_x0(w):
    gm, labels = toy.labelled_mixture()
    cond_model = exact.conditional_mixture_denoiser(gm, labels, SCHEDULE)
    x, t = torch.randn(32, 2, generator=torch.Generator().manual_seed(1)) * 2, torch.full((32,), 0.5)
    plain = guidance.ClassifierFree(cond_model, 0, w)(x, t)  # no clip on the exact model: the raw guided x0
    x0_cond = cond_model(x, t, torch.zeros(32, dtype=torch.long)).x0
    out = guidance.ClassifierFreeFixed(cond_model, 0, w, rescale=0.7, threshold=0.9)(x, t)
    expected = guidance.dynamic_threshold(guidance.rescale_guided(plain.x0, x0_cond, 0.7), 0.9)
    assert torch.allclose(out.x0, expected, atol=1e-5)
    alpha, sigma = SCHEDULE.alpha(t)[:, None], SCHEDULE.sigma(t)[:, None]
    assert torch.allclose(out.eps, (x - alpha * out.x0) / sigma, atol=1e-5)  # eps and x0 describe one x_t
    with pytest.raises(ValueError, match="rescale"):
        guidance.ClassifierFreeFixed(cond_model, 0, w, rescale=2.0)
