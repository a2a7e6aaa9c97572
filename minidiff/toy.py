"""Toy data with known truth: Gaussian mixtures (exact density and score at every noise level),
two-pixel images, and 2-D shapes (moons, spirals, checkerboard)."""

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def _scalar(value, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"noised: {name} must be a finite number >= 0, got {value}")
    return value


class GaussianMixture:
    """A mixture of K Gaussians with diagonal covariances in D dimensions; everything exact.

    means: (K, D); stds: (K,) for round components or (K, D) per axis; weights: (K,), summing to 1
    (normalised for you; equal weights when None).
    """

    def __init__(self, means, stds, weights=None):
        means = torch.as_tensor(means)
        if not means.is_floating_point():
            means = means.to(torch.get_default_dtype())  # keep float64 when given, else float32
        if means.ndim != 2:
            raise ValueError(f"GaussianMixture: means must have shape (K, D), got {tuple(means.shape)}")
        k, d = means.shape
        stds = torch.as_tensor(stds, dtype=means.dtype, device=means.device)
        if stds.ndim == 0:
            stds = stds.expand(k)
        if stds.ndim == 1:
            if stds.shape[0] != k:
                raise ValueError(f"GaussianMixture: {k} means but {stds.shape[0]} stds")
            stds = stds[:, None].expand(k, d)
        if stds.shape != (k, d):
            raise ValueError(f"GaussianMixture: stds must have shape ({k},) or ({k}, {d}), got {tuple(stds.shape)}")
        if not (stds > 0).all():
            raise ValueError("GaussianMixture: every std must be > 0")
        if weights is None:
            weights = torch.full((k,), 1.0 / k, dtype=means.dtype)
        weights = torch.as_tensor(weights, dtype=means.dtype, device=means.device)
        if weights.shape != (k,) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"GaussianMixture: weights must be {k} non-negative numbers, not all 0")
        self.means = means  # (K, D)
        self.stds = stds.contiguous()  # (K, D)
        self.weights = weights / weights.sum()  # (K,)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def __repr__(self) -> str:
        return f"GaussianMixture(K={len(self.weights)}, D={self.dim})"

    def to(self, *args, **kwargs) -> "GaussianMixture":
        """A copy on another device or dtype, as with tensors."""
        return GaussianMixture(self.means.to(*args, **kwargs), self.stds.to(*args, **kwargs),
                               self.weights.to(*args, **kwargs))

    def _params(self, x: torch.Tensor):
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected points of shape (N, {self.dim}), got {tuple(x.shape)}")
        return self.means.to(x), self.stds.to(x), self.weights.to(x)

    def sample(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """n exact samples, shape (n, D): pick a component by weight, then add its Gaussian noise."""
        gen_device = generator.device if generator is not None else torch.device("cpu")
        means, stds, weights = (p.to(gen_device) for p in (self.means, self.stds, self.weights))
        k = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.dim, generator=generator, device=gen_device, dtype=means.dtype)
        x = means[k] + stds[k] * eps
        return x.to(device if device is not None else self.means.device)

    def _component_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        means, stds, weights = self._params(x)
        z = (x[:, None, :] - means) / stds  # (N, K, D)
        log_normal = -0.5 * (z**2 + LOG_2PI).sum(-1) - stds.log().sum(-1)  # (N, K)
        return log_normal + weights.log()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x), shape (N,): log sum_k w_k N(x; mu_k, diag(s_k^2))."""
        return torch.logsumexp(self._component_log_probs(x), dim=1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """p(component k | x), shape (N, K): which bump each point most likely came from."""
        return torch.softmax(self._component_log_probs(x), dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """grad_x log p(x), shape (N, D): sum_k p(k | x) (mu_k - x) / s_k^2."""
        means, stds, _ = self._params(x)
        r = self.responsibilities(x)  # (N, K)
        pulls = (means - x[:, None, :]) / stds**2  # (N, K, D)
        return (r[:, :, None] * pulls).sum(1)

    def noised(self, alpha: float, sigma: float) -> "GaussianMixture":
        """The exact law of alpha * x0 + sigma * eps: means alpha mu_k, variances alpha^2 s_k^2 + sigma^2."""
        alpha, sigma = _scalar(alpha, "alpha"), _scalar(sigma, "sigma")
        if alpha == 0 and sigma == 0:
            raise ValueError("noised: alpha and sigma cannot both be 0 (every point collapses to 0)")
        stds = torch.sqrt(alpha**2 * self.stds**2 + sigma**2)
        return GaussianMixture(alpha * self.means, stds, self.weights)

    def mean(self) -> torch.Tensor:
        """The mixture's mean, shape (D,)."""
        return self.weights @ self.means

    def cov(self) -> torch.Tensor:
        """The mixture's covariance, shape (D, D): within-component plus between-component."""
        centred = self.means - self.mean()  # (K, D)
        between = (self.weights[:, None] * centred).T @ centred
        within = torch.diag(self.weights @ self.stds**2)
        return between + within


def ring(k: int = 8, radius: float = 2.0, std: float = 0.15) -> GaussianMixture:
    """k equal round Gaussians spaced evenly on a circle (the classic 8-Gaussian ring)."""
    angles = torch.arange(k) * (2 * math.pi / k)
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(means, torch.full((k,), std))


def two_modes(distance: float = 6.0, std: float = 0.5, weights=(0.8, 0.2)) -> GaussianMixture:
    """Two well separated round Gaussians on the x axis, unequal weights (0.8 left, 0.2 right)."""
    means = torch.tensor([[-distance / 2, 0.0], [distance / 2, 0.0]])
    return GaussianMixture(means, torch.full((2,), std), torch.tensor(weights))
