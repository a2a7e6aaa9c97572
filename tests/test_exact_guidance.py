"""The exact ground truth of guidance on a labelled mixture, checked against independent truths
(Bayes' rule from torch.distributions, autograd), and the misconception it exists to show: guided
samplers at w > 1 do not draw p(x|y)^w p(x)^(1-w) (Bradley & Nakkiran 2024)."""

import functools

import pytest
import torch
from torch.distributions import MultivariateNormal

from minidiff import exact, guidance, metrics, samplers, schedules, toy

SCHEDULE = schedules.VPLinear()
# Four components, three classes, class 0 has two of them; unequal weights and per-axis stds.
GM = toy.GaussianMixture(torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, 1.5], [0.5, -1.0]], dtype=torch.float64),
                         torch.tensor([[0.5, 0.3], [0.4, 0.4], [0.6, 0.2], [0.3, 0.5]], dtype=torch.float64),
                         torch.tensor([0.2, 0.3, 0.1, 0.4], dtype=torch.float64))
LABELS = torch.tensor([0, 1, 0, 2])


def _points(n=64, seed=0):
    return 1.5 * torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _log_joint(x, t):
    """log w_k + log N(x; alpha mu_k, diag(alpha^2 s_k^2 + sigma^2)) per component, (N, K), by
    torch.distributions: independent of toy.GaussianMixture."""
    t = torch.tensor(t, dtype=torch.float64)
    alpha, sigma = SCHEDULE.alpha(t), SCHEDULE.sigma(t)
    return torch.stack([GM.weights[k].log() + MultivariateNormal(alpha * GM.means[k], torch.diag(
        alpha**2 * GM.stds[k] ** 2 + sigma**2)).log_prob(x) for k in range(4)], dim=1)


def _log_p_y(x, t, y):
    """log p_t(y | x) = log sum_{k in y} p(k, x) - log sum_k p(k, x): Bayes' rule, directly."""
    joint = _log_joint(x, t)
    return torch.logsumexp(joint[:, LABELS == y], 1) - torch.logsumexp(joint, 1)


@pytest.mark.parametrize("t", [0.05, 0.4, 0.9])
def test_the_exact_classifier_is_bayes_rule_and_sums_to_one(t):
    x = _points()
    log_p = exact.mixture_classifier(GM, LABELS, SCHEDULE)(x, torch.full((64,), t, dtype=torch.float64))
    assert log_p.shape == (64, 3)
    assert torch.allclose(log_p.exp().sum(1), torch.ones(64, dtype=torch.float64), atol=1e-12)
    direct = torch.stack([_log_p_y(x, t, y) for y in range(3)], dim=1)
    assert torch.allclose(log_p, direct, atol=1e-10)


@pytest.mark.parametrize("w", [0.0, 1.0, 3.0])
def test_the_guided_score_is_the_gradient_of_log_p_plus_w_log_p_y(w):
    t, y = 0.3, 0
    x = _points(seed=1).requires_grad_(True)
    target = torch.logsumexp(_log_joint(x, t), 1) + w * _log_p_y(x, t, y)  # log p_t(x) + w log p_t(y | x)
    (expected,) = torch.autograd.grad(target.sum(), x)
    guided = guidance.ClassifierFree(exact.conditional_mixture_denoiser(GM, LABELS, SCHEDULE), y, w)
    tt = torch.full((64,), t, dtype=torch.float64)
    score = -guided(x.detach(), tt).eps / SCHEDULE.sigma(tt)[:, None]  # score = -eps / sigma
    assert torch.allclose(score, expected, atol=1e-9)


def test_the_conditional_denoiser_is_the_class_mixture_and_the_null_label_the_whole():
    model = exact.conditional_mixture_denoiser(GM, LABELS, SCHEDULE)
    x, t = _points(seed=2), torch.full((64,), 0.5, dtype=torch.float64)
    whole = exact.mixture_denoiser(GM, SCHEDULE)(x, t).eps
    assert torch.allclose(model(x, t, torch.full((64,), 3)).eps, whole, atol=1e-12)
    assert torch.allclose(model(x, t).eps, whole, atol=1e-12)
    class0 = exact.mixture_denoiser(exact.class_mixture(GM, LABELS, 0), SCHEDULE)(x, t).eps
    assert torch.allclose(model(x, t, torch.zeros(64, dtype=torch.long)).eps, class0, atol=1e-12)


@pytest.mark.parametrize("w", [0.5, 2.0, 5.0])
def test_cfg_with_the_exact_model_is_classifier_guidance_with_the_exact_classifier(w):
    # eps_u + w (eps_c - eps_u) = eps_u - sigma w grad log p(y | x): the same thing, for exact models
    free = guidance.ClassifierFree(exact.conditional_mixture_denoiser(GM, LABELS, SCHEDULE), 2, w)
    guided = guidance.ClassifierGuided(exact.mixture_denoiser(GM, SCHEDULE),
                                       exact.mixture_classifier(GM, LABELS, SCHEDULE), 2, w)
    for t in (0.02, 0.5, 0.95):
        x, tt = _points(seed=3), torch.full((64,), t, dtype=torch.float64)
        assert torch.allclose(free(x, tt).eps, guided(x, tt).eps, atol=1e-9)
    ts, x = torch.linspace(0.99, 0.0, 21, dtype=torch.float64), _points(seed=4)
    assert torch.allclose(samplers.run(samplers.ddim(free, x, ts, SCHEDULE)),
                          samplers.run(samplers.ddim(guided, x, ts, SCHEDULE)), atol=1e-7)


def test_powered_density_is_normalised_and_is_p_x_given_y_at_w_1():
    gm, labels = toy.labelled_mixture()
    grid = exact.powered_density(gm, labels, 1, 1.0, lim=4.0, n=400)
    h = (grid.x[1] - grid.x[0]).item()
    assert grid.density.shape == (400, 400) and abs(grid.density.sum().item() * h**2 - 1) < 1e-9
    gy, gx = torch.meshgrid(grid.y, grid.x, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)  # density[i, j] is at (x[j], y[i])
    truth = exact.class_mixture(gm.to(torch.float64), labels, 1).log_prob(points).exp().reshape(400, 400)
    # the numerical normaliser misses only the mass outside [-4, 4]^2 and the midpoint rule's O(h^2)
    assert torch.allclose(grid.density, truth, rtol=1e-3, atol=1e-8)
    whole = exact.powered_density(gm, labels, 1, 0.0, lim=4.0, n=400).density
    assert torch.allclose(whole, gm.to(torch.float64).log_prob(points).exp().reshape(400, 400), rtol=1e-3, atol=1e-8)


def test_sample_powered_is_a_sampler_of_p_x_given_y_at_w_1():
    gm, labels = toy.labelled_mixture()
    draw = functools.partial(exact.sample_powered, gm, labels, 2, 1.0)  # the Sampler signature (n, generator)
    x = draw(3000, torch.Generator().manual_seed(0))
    assert x.shape == (3000, 2) and x.dtype == gm.means.dtype
    exact_x = exact.class_mixture(gm, labels, 2).sample(3000, torch.Generator().manual_seed(1))
    units = metrics.in_floor_units(exact_x, draw, generator=torch.Generator().manual_seed(2))
    assert units < 1.3, units  # exact points of p(x | y) are as close to its draws as its own draws are
    # and its moments: the mean within 4 standard errors (std 0.6 / sqrt(3000) = 0.011), the std within 3%
    truth = exact.class_mixture(gm, labels, 2)
    assert (x.mean(0) - truth.mean()).abs().max() < 4 * 0.6 / 3000**0.5
    assert torch.allclose(x.std(0), truth.cov().diagonal().sqrt(), rtol=0.03)


def _guided_samples(name, w, n, steps, seed=0):
    gm, labels = toy.labelled_mixture()
    gm = gm.to(torch.float64)
    model = guidance.ClassifierFree(exact.conditional_mixture_denoiser(gm, labels, SCHEDULE), 0, w)
    ts = schedules.uniform_grid(steps) * 0.999  # start just short of t = 1, where alpha = 0
    gen = torch.Generator().manual_seed(seed)
    x = samplers.prior_sample(n, 2, SCHEDULE, ts[0], generator=gen, dtype=torch.float64)
    out = samplers.run(samplers.SAMPLERS[name](model, x, ts, SCHEDULE, generator=gen))
    truth = functools.partial(exact.sample_powered, gm, labels, 0, w)
    return metrics.in_floor_units(out, truth, generator=torch.Generator().manual_seed(100 + seed))


@pytest.mark.parametrize("name", ["ddpm", "ddim"])
def test_guided_sampling_at_w_1_draws_p_x_given_y(name):
    # Measured over seeds 0-5: DDPM 0.86-1.10, DDIM 0.92-1.24 (DDIM keeps a small discretisation bias)
    units = _guided_samples(name, 1.0, n=2000, steps=200)
    assert units < 1.3, units


def test_guided_samplers_at_w_4_draw_neither_the_powered_target_nor_the_same_law():
    # Measured over seeds 0-5 (1,000 points, 100 steps): DDPM 5.3-7.2, DDIM 14.5-18.4 times the floor
    ddpm, ddim = (_guided_samples(name, 4.0, n=1000, steps=100) for name in ("ddpm", "ddim"))
    assert ddim > 2.0 and ddpm > 2.0, (ddpm, ddim)
    assert ddim > 1.5 * ddpm, (ddpm, ddim)  # and they disagree: DDIM pushes further than DDPM


def test_mixed_times_and_labels_in_one_batch_match_one_sample_at_a_time():
    x = _points(6, seed=5)
    t = torch.tensor([0.1, 0.5, 0.1, 0.9, 0.5, 0.1], dtype=torch.float64)
    cond = torch.tensor([0, 1, 3, 2, 3, 0])
    classifier = exact.mixture_classifier(GM, LABELS, SCHEDULE)
    model = exact.conditional_mixture_denoiser(GM, LABELS, SCHEDULE)
    one_by_one = [(classifier(x[i:i + 1], t[i:i + 1]), model(x[i:i + 1], t[i:i + 1], cond[i:i + 1]).eps)
                  for i in range(6)]
    assert torch.allclose(classifier(x, t), torch.cat([a for a, _ in one_by_one]), atol=1e-12)
    assert torch.allclose(model(x, t, cond).eps, torch.cat([b for _, b in one_by_one]), atol=1e-12)


def test_bad_labels_are_refused_with_a_message():
    with pytest.raises(ValueError, match="one class per component"):
        exact.mixture_classifier(GM, [0, 1, 0], SCHEDULE)
    with pytest.raises(ValueError, match="each used by some component"):
        exact.conditional_mixture_denoiser(GM, [0, 2, 0, 2], SCHEDULE)
    with pytest.raises(ValueError, match=r"labels in 0..3 \(3: no label\)"):
        exact.conditional_mixture_denoiser(GM, LABELS, SCHEDULE)(_points(2), 0.5, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="w must be a finite number >= 0"):
        exact.powered_density(GM, LABELS, 0, -1.0)
