"""Toy data with known truth: Gaussian mixtures (exact density and score at every noise level), a
labelled one for guidance, two-pixel images, and 2-D shapes (moons, spirals, checkerboard). Every 2-D
data set is an object with .sample(n, generator=None, device=None): toy.ring(), toy.moons(), ..."""

import math
from typing import NamedTuple

import torch

from ..runtime import check_generator

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
        check_generator(generator, "GaussianMixture.sample")
        if n < 0:
            raise ValueError(f"GaussianMixture.sample: n must be >= 0, got {n}")
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
    if not isinstance(k, int) or not 1 <= k <= 64:  # toy.ring(20000) builds 20,000 Gaussians, not samples
        raise ValueError(f"ring: k is the number of Gaussians on the circle (1 to 64), got {k!r}; "
                         "for samples, draw from the ring: toy.ring().sample(n, generator=g)")
    angles = torch.arange(k) * (2 * math.pi / k)
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(means, torch.full((k,), std))


def grid(k: int = 5, spacing: float = 2.0, std: float = 0.1) -> GaussianMixture:
    """k x k equal round Gaussians on a square grid centred at 0 (the 25-Gaussian grid of the GAN
    mode-collapse literature for k = 5: means at -4, -2, 0, 2, 4 on each axis)."""
    if k < 1:
        raise ValueError(f"grid: k must be >= 1, got {k}")
    ticks = (torch.arange(k) - (k - 1) / 2) * spacing
    means = torch.cartesian_prod(ticks, ticks)  # (k*k, 2), row-major
    return GaussianMixture(means, torch.full((k * k,), std))


def two_modes(distance: float = 6.0, std: float = 0.5, weights=(0.8, 0.2)) -> GaussianMixture:
    """Two well separated round Gaussians on the x axis, unequal weights (0.8 left, 0.2 right)."""
    means = torch.tensor([[-distance / 2, 0.0], [distance / 2, 0.0]])
    return GaussianMixture(means, torch.full((2,), std), torch.tensor(weights))


class LabelledMixture(NamedTuple):
    """A Gaussian mixture whose components carry class labels: labels[k] is component k's class."""

    gm: GaussianMixture
    labels: torch.Tensor  # (K,) long, classes 0..C-1


def labelled_mixture(std: float = 0.6, radius: float = 1.4) -> LabelledMixture:
    """Three overlapping round Gaussians on a triangle, one class each (0 lower left, 1 lower right,
    2 top): close enough that p(y | x) is uncertain between them, where guidance acts. On it guided
    DDPM and DDIM at w > 1 draw neither p(x|y)^w p(x)^(1-w) nor the same law (Bradley & Nakkiran 2024)."""
    angles = torch.tensor([210.0, 330.0, 90.0]) * (math.pi / 180)  # lower left, lower right, top
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # (3, 2)
    return LabelledMixture(GaussianMixture(means, torch.full((3,), std)), torch.arange(3))


# --- Two-pixel images ----------------------------------------------------------------------------
# A grey image of two pixels (values 0..255) is a point in the plane. The course scales every image
# to [-1, 1] (as DDPM does, Ho et al. 2020, section 4): grey level 0 -> -1, 255 -> +1.

# (name, grey levels of pixel 1 and pixel 2, std in grey levels, weight): kinds of tiny picture.
TWO_PIXEL_CLUSTERS = (
    ("dark", (45, 45), 14.0, 0.30),
    ("bright", (210, 210), 14.0, 0.25),
    ("edge: dark | bright", (45, 210), 14.0, 0.15),
    ("edge: bright | dark", (210, 45), 14.0, 0.10),
    ("mid grey", (128, 128), 22.0, 0.20),
)


def image_to_point(images: torch.Tensor) -> torch.Tensor:
    """Images (N, ...) with grey levels 0..255 -> points (N, pixels) in [-1, 1]: x = level / 127.5 - 1."""
    images = torch.as_tensor(images)
    if images.ndim < 2:
        raise ValueError(f"image_to_point: expected a batch of images (N, ...), "
                         f"got shape {tuple(images.shape)}")
    if images.numel() and (images.min() < 0 or images.max() > 255):
        raise ValueError(f"image_to_point: grey levels must lie in 0..255, got {images.min().item()}.."
                         f"{images.max().item()}; for points already in [-1, 1] use them as they are")
    levels = images.to(torch.get_default_dtype()) if not images.is_floating_point() else images
    return levels.reshape(len(levels), -1) / 127.5 - 1.0  # (N, pixels)


def point_to_image(x: torch.Tensor, shape: tuple = (1, 2)) -> torch.Tensor:
    """Points (N, pixels) -> uint8 images (N, *shape): level = (x + 1) * 127.5, clipped to 0..255, rounded."""
    if x.ndim != 2 or x.shape[1] != math.prod(shape):
        raise ValueError(f"point_to_image: expected points of shape (N, {math.prod(shape)}) for images "
                         f"of shape {tuple(shape)}, got {tuple(x.shape)}")
    levels = ((x + 1.0) * 127.5).clamp(0, 255).round()
    return levels.to(torch.uint8).reshape(len(x), *shape)  # (N, *shape)


def two_pixel_mixture() -> GaussianMixture:
    """The density of the two-pixel data in point coordinates (before rounding to whole grey levels)."""
    means = torch.tensor([c[1] for c in TWO_PIXEL_CLUSTERS]) / 127.5 - 1.0  # (K, 2)
    stds = torch.tensor([c[2] for c in TWO_PIXEL_CLUSTERS]) / 127.5  # (K,): a level is 1/127.5 wide
    return GaussianMixture(means, stds, torch.tensor([c[3] for c in TWO_PIXEL_CLUSTERS]))


def two_pixel_images(n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """n two-pixel grey images, uint8 of shape (n, 1, 2): mixture points rounded to whole grey levels."""
    _check_n(n, "two_pixel_images")
    return point_to_image(two_pixel_mixture().sample(n, generator=generator, device=device))


def cell_mass(gm: GaussianMixture, x_edges: torch.Tensor, y_edges: torch.Tensor) -> torch.Tensor:
    """Exact probability of each rectangle [x_i, x_i+1) x [y_j, y_j+1) of a 2-D mixture, shape (I, J)."""
    if gm.dim != 2:
        raise ValueError(f"cell_mass: needs a 2-D mixture, got D = {gm.dim}")
    normal = torch.distributions.Normal(gm.means[:, :, None], gm.stds[:, :, None])  # (K, 2, 1)
    edges = torch.stack([torch.as_tensor(x_edges), torch.as_tensor(y_edges)]).to(gm.means)  # (2, E)
    along = normal.cdf(edges[None]).diff(dim=2)  # (K, 2, E-1): each axis separately (diagonal)
    return torch.einsum("k,ki,kj->ij", gm.weights, along[:, 0], along[:, 1])  # (I, J)


def two_pixel_cell_probs(bins: int = 8) -> torch.Tensor:
    """Exact probability that an image of two_pixel_images falls in each cell of 256/bins grey
    levels per pixel, shape (bins, bins), rounding and clipping included."""
    width = _cell_width(bins)
    # Level k collects the continuous values in [k - 0.5, k + 0.5); the end cells collect all the
    # clipped values too, so their outer edges are -inf and +inf.
    inner = (torch.arange(1, bins, dtype=torch.float64) * width - 0.5) / 127.5 - 1.0
    edges = torch.cat([torch.tensor([-math.inf]), inner, torch.tensor([math.inf])]).double()
    return cell_mass(two_pixel_mixture().to(torch.float64), edges, edges)


def two_pixel_cell_counts(images: torch.Tensor, bins: int = 8) -> torch.Tensor:
    """How many images fall in each cell of 256/bins grey levels per pixel, shape (bins, bins)."""
    width = _cell_width(bins)
    cells = images.reshape(len(images), 2).long() // width  # (N, 2): the cell index of each pixel
    return torch.bincount(cells[:, 0] * bins + cells[:, 1], minlength=bins * bins).reshape(bins, bins)


def _cell_width(bins: int) -> int:
    if bins < 1 or 256 % bins:
        raise ValueError(f"bins must divide 256 (1, 2, 4, ..., 256), got {bins}")
    return 256 // bins


# --- 2-D shapes ----------------------------------------------------------------------------------
# Samplers with the same scale as ring() (radius 2): everything lies roughly within [-3, 3].

MOON_RADIUS = 1.6
MOON_CENTRES = ((-0.8, -0.4), (0.8, 0.4))  # upper arc, lower arc


def _check_n(n: int, name: str) -> None:
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"{name}: n must be a non-negative int, got {n!r}")


def _check_noise(noise: float, name: str) -> float:
    if not math.isfinite(float(noise)) or noise < 0:
        raise ValueError(f"{name}: noise must be a finite number >= 0, got {noise}")
    return float(noise)


def _finish(x: torch.Tensor, noise: float, generator, device) -> torch.Tensor:
    # Add isotropic noise, shuffle (so any first m points are a fair sample), move to the device.
    x = x + noise * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    x = x[torch.randperm(len(x), generator=generator, device=x.device)]
    return x.to(device if device is not None else x.device)


def _gen_device(generator) -> torch.device:
    # Random numbers are drawn where the generator lives (the CPU by default), then moved.
    return generator.device if generator is not None else torch.device("cpu")


class Shape:
    """A 2-D data set drawn by a formula (no density): like GaussianMixture, .sample(n, generator=None,
    device=None) gives (n, 2) points, so any toy data set drops in where toy.ring() was."""

    dim = 2

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in vars(self).items())})"

    def sample(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """n points, shape (n, 2); random numbers are drawn where the generator lives, then moved to device."""
        _check_n(n, f"{type(self).__name__}.sample")
        check_generator(generator, f"{type(self).__name__}.sample")
        return self._draw(n, generator, device)


def _no_n(n, name: str) -> None:
    # The data sets used to be drawn directly, toy.moons(n); say how to draw from one now.
    if n is not None:
        raise TypeError(f"toy.{name}() takes no n: it returns the data set, as toy.ring() does; draw points "
                        f"with toy.{name}().sample({n!r}, generator=g)")


class Moons(Shape):
    """Two interleaved half circles (radius 1.6, centres MOON_CENTRES), half the points each, plus
    N(0, noise^2 I) noise."""

    def __init__(self, noise: float = 0.1):
        self.noise = _check_noise(noise, "moons")

    def _draw(self, n: int, generator, device) -> torch.Tensor:
        lower = torch.arange(n, device=_gen_device(generator)) >= (n + 1) // 2  # (n,)
        u = torch.rand(n, generator=generator, device=lower.device)
        angle = math.pi * (u + lower)  # upper arc: 0..pi, lower arc: pi..2pi
        centres = torch.tensor(MOON_CENTRES, device=lower.device)[lower.long()]  # (n, 2)
        x = centres + MOON_RADIUS * torch.stack([angle.cos(), angle.sin()], dim=1)
        return _finish(x, self.noise, generator, device)


def moons(n: None = None, /, *, noise: float = 0.1) -> Moons:
    """The two-moons data set (see Moons); draw with .sample(n, generator=g)."""
    _no_n(n, "moons")
    return Moons(noise)


SPIRAL_TURNS, SPIRAL_RADIUS = 1.5, 2.5


class Spirals(Shape):
    """Two interleaved Archimedean spirals r = 2.5 theta / theta_max (1.5 turns, the second arm turned by
    pi), about uniform along the curve, plus N(0, noise^2 I) noise."""

    def __init__(self, noise: float = 0.05):
        self.noise = _check_noise(noise, "spirals")

    def _draw(self, n: int, generator, device) -> torch.Tensor:
        u = torch.rand(n, generator=generator, device=_gen_device(generator))
        # Arc length grows like theta^2, so theta = theta_max sqrt(u) spreads points evenly along it.
        theta = 2 * math.pi * SPIRAL_TURNS * u.sqrt()  # (n,)
        r = SPIRAL_RADIUS * u.sqrt()
        second = torch.arange(n, device=u.device) >= (n + 1) // 2
        angle = theta + math.pi * second
        x = r[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)  # (n, 2)
        return _finish(x, self.noise, generator, device)


def spirals(n: None = None, /, *, noise: float = 0.05) -> Spirals:
    """The two-spirals data set (see Spirals); draw with .sample(n, generator=g)."""
    _no_n(n, "spirals")
    return Spirals(noise)


class Checkerboard(Shape):
    """Uniform on the dark squares of a squares x squares board covering [-size/2, size/2]^2 (the squares
    whose column + row is even)."""

    def __init__(self, squares: int = 4, size: float = 4.0):
        if not isinstance(squares, int) or squares < 2 or squares % 2:
            # An even board has squares/2 dark squares in every row, so a uniform row is fair.
            raise ValueError(f"checkerboard: squares must be an even int >= 2, got {squares!r}")
        if not math.isfinite(float(size)) or size <= 0:
            raise ValueError(f"checkerboard: size must be a finite number > 0, got {size}")
        self.squares, self.size = squares, float(size)

    def _draw(self, n: int, generator, device) -> torch.Tensor:
        squares, gen_device = self.squares, _gen_device(generator)
        row = torch.randint(squares, (n,), generator=generator, device=gen_device)
        # Pick one of the row's dark squares: columns of the same parity as the row.
        col = 2 * torch.randint(squares // 2, (n,), generator=generator, device=gen_device) + row % 2
        cell = torch.stack([col, row], dim=1).float()  # (n, 2)
        x = (cell + torch.rand(n, 2, generator=generator, device=gen_device)) * (self.size / squares) - self.size / 2
        return x.to(device if device is not None else gen_device)


def checkerboard(n: None = None, /, *, squares: int = 4, size: float = 4.0) -> Checkerboard:
    """The checkerboard data set (see Checkerboard); draw with .sample(n, generator=g)."""
    _no_n(n, "checkerboard")
    return Checkerboard(squares, size)
