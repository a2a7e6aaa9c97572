"""Guidance metrics against independent truths: real digits with their true labels score what real
digits must (the shipped accuracy, Frechet at the real-vs-real floor), shuffled labels score chance, one
image repeated has no spread; and the exact p(y | x_t) of the training digits against Bayes' rule."""

import pytest
import torch

from minidiff.worlds.data import load_digits
from minidiff.worlds.metrics import empirical_log_posterior, guidance_scores
from minidiff.worlds.metrics.guidance import ink
from minidiff.core.schedules import VPLinear


@pytest.mark.parametrize("size", [8, 28])
def test_real_digits_with_true_labels(size):
    g = torch.Generator().manual_seed(0)
    x_test, y_test = load_digits(size, "test")
    # The held-out digits themselves: the shipped classifier's own accuracy (data/CHECKPOINTS.md).
    assert guidance_scores(x_test, y_test, generator=g)["accuracy"] > 0.97
    # Fresh real digits (the train split), 200 of them: each class sits at its floor. Measured over
    # three draws: median over classes 0.90 to 1.06 (8x8), 0.81 to 1.26 (28x28); classes 0.57 to 2.41.
    x, y = load_digits(size, "train")
    index = torch.randperm(len(x), generator=g)[:200]
    scores = guidance_scores(x[index], y[index], generator=g)
    assert scores["accuracy"] > 0.97 and 0.6 < scores["frechet"] < 1.6
    assert len(scores["per_class"]) == 10 and sum(p["n"] for p in scores["per_class"]) == 200
    # As varied as real digits, a little less: the classifier was trained on these (measured 0.75 to 0.93).
    assert 0.6 < scores["spread"] < 1.1


def test_shuffled_labels_score_chance_and_far_from_the_class():
    g = torch.Generator().manual_seed(0)
    x, y = load_digits(8, "test")
    scores = guidance_scores(x, y[torch.randperm(len(y), generator=g)], generator=g)
    # Measured: accuracy 0.11, Frechet 71x the floor, spread 5.5x (every digit mixed in one class).
    assert scores["accuracy"] < 0.2 and scores["frechet"] > 20 and scores["spread"] > 3


def test_one_image_repeated_has_no_spread():
    x, y = load_digits(8, "test")
    scores = guidance_scores(x[:1].repeat(40, 1, 1, 1), y[:1].repeat(40), generator=torch.Generator().manual_seed(0))
    assert scores["accuracy"] in (0.0, 1.0) and scores["spread"] == 0.0 and scores["frechet"] > 5


def test_bad_inputs_are_refused():
    x, y = load_digits(8, "test")
    with pytest.raises(ValueError, match="floats in"):
        guidance_scores(((x + 1) * 127.5).to(torch.uint8), y)
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        guidance_scores(x * 10, y)
    with pytest.raises(ValueError, match="integer labels in 0..9"):
        guidance_scores(x, y.float())
    with pytest.raises(ValueError, match="integer labels in 0..9"):
        guidance_scores(x, y + 1)
    with pytest.raises(ValueError, match=r"integer labels in 0..9"):
        guidance_scores(x, y[:10])
    with pytest.raises(ValueError, match="requested 1 times"):
        guidance_scores(x[:1], y[:1])
    with pytest.raises(ValueError, match=r"\(n, 1, 8, 8\)"):
        guidance_scores(x[:, :, :7], y)


def test_empirical_posterior_is_bayes_rule():
    schedule = VPLinear()
    x0, labels = load_digits(8, "train")
    log_post = empirical_log_posterior(8, schedule)
    g = torch.Generator().manual_seed(0)
    # Little noise: x_t next to one training digit is that digit's class for certain.
    t = 0.02
    xt = schedule.alpha(t) * x0[:20] + schedule.sigma(t) * torch.randn(x0[:20].shape, generator=g)
    assert torch.equal(log_post(xt, t).argmax(1), labels[:20])
    # Much noise: probabilities sum to 1 and equal Bayes' rule written out in float64, class by class.
    t = 0.7
    xt = torch.randn(5, 1, 8, 8, generator=g, dtype=torch.float64)
    lp = log_post(xt, t)
    assert torch.allclose(lp.exp().sum(1), torch.ones(5, dtype=torch.float64))
    a, s = schedule.alpha(t).item(), schedule.sigma(t).item()
    lik = torch.stack([torch.distributions.Normal(a * x0.double().flatten(1), s).log_prob(v.flatten()).sum(1)
                       for v in xt])  # (5, N): log N(x_t; alpha x0_i, sigma^2 I)
    prior = torch.bincount(labels, minlength=10).double() / len(labels)
    # log p(x_t | y): the mean of the likelihoods over the training digits of class y
    per_class = torch.stack([lik[:, labels == c].logsumexp(1) - torch.log(prior[c] * len(labels))
                             for c in range(10)], 1)
    bayes = (per_class + prior.log()).log_softmax(1)  # p(y) p(x_t | y), normalised
    assert torch.allclose(lp, bayes, atol=1e-9)


def test_ink_by_hand():
    # two 2x2 images: ink (x + 1) / 2 of [0, 1, 1, 0] and [0.5, 0.5, 0.95, 0]; full ink (>= 0.9): 2/4 and 1/4
    images = torch.tensor([[[[-1.0, 1.0], [1.0, -1.0]]], [[[0.0, 0.0], [0.9, -1.0]]]])
    out = ink(images)
    assert out["n"] == 2 and out["mean"] == pytest.approx((0.5 + 0.4875) / 2, abs=1e-4)
    # standard errors over the 2 images: std of (0.5, 0.4875) and of (0.5, 0.25), over sqrt(2)
    assert out["mean_se"] == pytest.approx(0.00625, abs=1e-4)
    assert out["full"] == pytest.approx(0.375) and out["full_se"] == pytest.approx(0.125, abs=1e-4)
    with pytest.raises(ValueError, match="at least 2"):
        ink(images[:1])
