"""Exact posteriors of inverse problems (exact.seen_posterior, exact.linear_posterior) against an
independent truth: Bayes' rule evaluated numerically on a fine grid, and known limits."""

import pytest
import torch

from minidiff import exact, toy


def _pair() -> toy.GaussianMixture:
    # three components with different widths per axis, so the conditional weights really move
    return toy.GaussianMixture(torch.tensor([[-1.0, -0.8], [1.0, 1.2], [0.6, -1.0]], dtype=torch.float64),
                               torch.tensor([[0.3, 0.2], [0.4, 0.5], [0.25, 0.3]], dtype=torch.float64),
                               torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))


def _grid(lim=5.0, n=801):
    xs = torch.linspace(-lim, lim, n, dtype=torch.float64)
    return xs, xs[1] - xs[0]


@pytest.mark.parametrize("value", [-1.0, 0.3, 0.9])
def test_one_pixel_given_the_other_is_the_joint_density_sliced_and_renormalised(value):
    gm = _pair()
    xs, h = _grid()
    joint = gm.log_prob(torch.stack([torch.full_like(xs, value), xs], 1)).exp()  # p(value, x2) along x2
    truth = joint / (joint.sum() * h)
    post = exact.seen_posterior(gm, torch.tensor([True, False]), [value])
    assert torch.allclose(post.log_prob(xs[:, None]).exp(), truth, atol=1e-6)
    # and seeing the second pixel instead
    joint2 = gm.log_prob(torch.stack([xs, torch.full_like(xs, value)], 1)).exp()
    post2 = exact.seen_posterior(gm, torch.tensor([False, True]), [value])
    assert torch.allclose(post2.log_prob(xs[:, None]).exp(), joint2 / (joint2.sum() * h), atol=1e-6)


def test_two_pixel_images_edge_against_flat():
    # seeing a bright left pixel leaves two live clusters: bright (0.25) and bright|dark edge (0.10),
    # reweighted by how well each explains the level seen (equal widths: by their weights)
    gm = toy.two_pixel_mixture()
    post = exact.seen_posterior(gm, torch.tensor([True, False]), [210 / 127.5 - 1])
    assert post.weights[1] == pytest.approx(0.25 / 0.35, abs=1e-3) and post.weights[3] == pytest.approx(0.10 / 0.35, abs=1e-3)


def _grid_posterior(gm, A, y, s, lim=4.0, n=401):
    """Bayes' rule on an n x n grid: p(x) N(y; A x, s^2 I), normalised; its mean and covariance."""
    xs = torch.linspace(-lim, lim, n, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, xs, indexing="ij")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    log_w = gm.log_prob(pts) - ((pts @ A.T - y) ** 2).sum(1) / (2 * s**2)
    w = torch.softmax(log_w, 0)
    mean = w @ pts
    c = pts - mean
    return pts, w, mean, (w[:, None] * c).T @ c


@pytest.mark.parametrize("A,y,s", [
    (torch.eye(2, dtype=torch.float64), torch.tensor([0.2, 0.1], dtype=torch.float64), 0.5),   # denoising
    (torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64), 0.2),  # a noisy mask
    (torch.tensor([[0.5, 0.5]], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64), 0.1),  # a projection (pooling)
])
def test_linear_posterior_matches_bayes_rule_on_a_grid(A, y, s):
    gm = _pair()
    post = exact.linear_posterior(gm, A, y, s)
    pts, w, mean, cov = _grid_posterior(gm, A, y, s)
    assert torch.allclose(post.mean(), mean, atol=1e-4)
    centred = post.means - post.mean()
    post_cov = (post.weights[:, None, None] * post.covs).sum(0) + (post.weights[:, None] * centred).T @ centred
    assert torch.allclose(post_cov, cov, atol=1e-4)
    # the density itself, where the posterior has mass
    h2 = (pts[1, 1] - pts[0, 1]) ** 2
    top = w > w.max() * 1e-3
    assert torch.allclose(post.log_prob(pts[top]).exp() * h2, w[top], rtol=2e-2)


def test_linear_posterior_limits():
    gm, eye = _pair(), torch.eye(2, dtype=torch.float64)
    y = torch.tensor([0.3, -0.2], dtype=torch.float64)
    # a huge noise says nothing: the posterior is the prior
    far = exact.linear_posterior(gm, eye, y, 1e4)
    assert torch.allclose(far.mean(), gm.mean(), atol=1e-5) and torch.allclose(far.weights, gm.weights, atol=1e-5)
    # a tiny noise says everything: the posterior sits on y
    near = exact.linear_posterior(gm, eye, y, 1e-4)
    assert torch.allclose(near.mean(), y, atol=1e-6)


def test_full_mixture_samples_have_its_mean_and_covariance():
    post = exact.linear_posterior(_pair(), torch.tensor([[0.5, 0.5]], dtype=torch.float64),
                                  torch.tensor([0.2], dtype=torch.float64), 0.3)
    x = post.sample(200_000, generator=torch.Generator().manual_seed(0))
    _, _, mean, cov = _grid_posterior(_pair(), torch.tensor([[0.5, 0.5]], dtype=torch.float64),
                                      torch.tensor([0.2], dtype=torch.float64), 0.3)
    # standard error of a mean from 200,000 draws of spread <= 1: about 0.002; 4 of them
    assert torch.allclose(x.mean(0), mean, atol=0.01)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.01)


def test_bad_inputs_are_refused_with_what_to_do():
    gm = _pair()
    with pytest.raises(ValueError, match="some True"):
        exact.seen_posterior(gm, torch.tensor([True, True]), [0.0, 0.0])
    with pytest.raises(ValueError, match="one number per seen"):
        exact.seen_posterior(gm, torch.tensor([True, False]), [0.0, 1.0])
    with pytest.raises(ValueError, match="s must be > 0"):
        exact.linear_posterior(gm, torch.eye(2), torch.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"A must be \(M, 2\)"):
        exact.linear_posterior(gm, torch.eye(3), torch.zeros(3), 0.1)
