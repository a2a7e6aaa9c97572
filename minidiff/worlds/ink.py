"""Ink in water: particles doing random walks, the heat equation on a grid, and two measures of
how far a cloud is from its target (lesson 02).

Time here is physical time t >= 0 (Einstein 1905). The Ornstein-Uhlenbeck process of the lesson's
second half needs nothing here: it is the VP SDE of Song et al. (2021, eq. 11) with constant beta,
VPLinear(beta_min=T, beta_max=T) on the course's clock t = tau / T.
Particles are torch tensors (N, 2); densities on a grid are NumPy arrays (ny, nx), row = y.
"""

import math
from typing import Iterator

import numpy as np
import torch
from scipy import ndimage

from ..runtime import check_generator, randn_like
from ..core.samplers import Step  # (t, x): the time reached and the particles there


def _positive(name: str, value: float, fn: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{fn}: {name} must be a finite number {sign}, got {value}")
    return value


# --- A drop of ink: Brownian particles and the heat equation -----------------------------------

def brownian_step(x: torch.Tensor, D: float, dt: float, generator=None) -> torch.Tensor:
    """One step of Brownian motion: x + sqrt(2 D dt) eps, each axis gains variance 2 D dt (Einstein 1905)."""
    check_generator(generator, "ink.brownian_step")
    D, dt = _positive("D", D, "brownian_step", True), _positive("dt", dt, "brownian_step")
    return x + math.sqrt(2 * D * dt) * randn_like(x, generator)


def random_walk(x0: torch.Tensor, D: float, dt: float, n_steps: int, generator=None) -> Iterator[Step]:
    """Yield Step(t, x) at t = 0, dt, ..., n_steps * dt for particles started at x0 (N, 2)."""
    check_generator(generator, "ink.random_walk")
    x = x0
    yield Step(0.0, x)
    for k in range(1, n_steps + 1):
        x = brownian_step(x, D, dt, generator)
        yield Step(k * dt, x)


def ink_drop(n: int, radius: float = 0.5, center=(0.0, 0.0), device=None, generator=None) -> torch.Tensor:
    """n particles spread uniformly over a disc (a drop of ink), shape (n, 2)."""
    check_generator(generator, "ink.ink_drop")
    radius = _positive("radius", radius, "ink_drop")
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    r = radius * u[:, 0].sqrt()  # sqrt: uniform in area, not in radius
    angle = 2 * math.pi * u[:, 1]
    x = torch.stack([r * angle.cos(), r * angle.sin()], 1) + torch.tensor(center, dtype=torch.float64)
    return x.to(device=device, dtype=torch.get_default_dtype())


def grid(extent: float, n: int) -> tuple[np.ndarray, float]:
    """Cell centres (n,) of a square grid on [-extent, extent]^2, and the cell width h."""
    h = 2 * extent / n
    return -extent + h * (np.arange(n) + 0.5), h


def disc_density(xs: np.ndarray, radius: float = 0.5, center=(0.0, 0.0)) -> np.ndarray:
    """The drop's density on the grid (ny, nx): 1 / area inside the disc, normalised to sum * h^2 = 1."""
    xx, yy = np.meshgrid(xs, xs, indexing="xy")
    p = ((xx - center[0]) ** 2 + (yy - center[1]) ** 2 <= radius**2).astype(float)
    if p.sum() == 0:
        raise ValueError(f"disc_density: radius {radius} is smaller than a grid cell; use a finer grid")
    return p / (p.sum() * (xs[1] - xs[0]) ** 2)


def gaussian_density(xs: np.ndarray, std: float, center=(0.0, 0.0)) -> np.ndarray:
    """A round Gaussian N(center, std^2 I) on the grid (ny, nx): the heat equation's closed form."""
    xx, yy = np.meshgrid(xs, xs, indexing="xy")
    r2 = (xx - center[0]) ** 2 + (yy - center[1]) ** 2
    return np.exp(-r2 / (2 * std**2)) / (2 * math.pi * std**2)


def heat_equation(p0: np.ndarray, D: float, t: float, h: float) -> np.ndarray:
    """Solve dp/dt = D Laplacian(p) for time t: blur p0 with a Gaussian of variance 2 D t.

    The Gaussian of variance 2 D t per axis is the heat equation's Green's function on the whole
    plane, so one convolution gives the exact solution at any t, with no time steps to make
    stable. Ink is 0 beyond the grid (mode="constant"): ink that leaves the window is lost, as on
    an unbounded domain seen through it. Accurate when the grid resolves the drop (h << its size).
    """
    D, t = _positive("D", D, "heat_equation", True), _positive("t", t, "heat_equation", True)
    width = math.sqrt(2 * D * t) / h  # the blur's standard deviation, in grid cells
    if width == 0:
        return p0.copy()
    return ndimage.gaussian_filter(p0, width, mode="constant", cval=0.0, truncate=5.0)


def laplacian(p: np.ndarray, h: float) -> np.ndarray:
    """The five-point finite-difference Laplacian of a grid density, for checking the PDE."""
    return ndimage.laplace(p, mode="constant") / h**2


def density_moments(p: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (2,) and per-axis variance (2,) of a density on the grid, as (x, y)."""
    w = p / p.sum()
    px, py = w.sum(0), w.sum(1)  # marginals along x (columns) and y (rows)
    mean = np.array([px @ xs, py @ xs])
    var = np.array([px @ (xs - mean[0]) ** 2, py @ (xs - mean[1]) ** 2])
    return mean, var


def histogram(x: torch.Tensor, xs: np.ndarray) -> np.ndarray:
    """Particle counts in the grid's cells (ny, nx), for comparison with a density times N h^2."""
    h = xs[1] - xs[0]
    edges = np.concatenate([xs - h / 2, xs[-1:] + h / 2])
    pts = x.detach().cpu().double().numpy()
    counts, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=[edges, edges])  # rows = y
    return counts


# --- Measuring a cloud ------------------------------------------------------------------------
# The pull toward the origin and its reversal are the library's own: the Ornstein-Uhlenbeck process
# dx = -x/2 dtau + dW at physical time tau is schedules.VPLinear(beta_min=T, beta_max=T) at
# t = tau / T, run forward by forward.q_chain and backward by samplers.euler_maruyama.

def spread_around_modes(mixture, x: torch.Tensor) -> float:
    """Root-mean-square distance per axis of each point to its most likely component's mean."""
    k = mixture.responsibilities(x).argmax(1)  # (N,) the bump each point belongs to
    return (x - mixture.means.to(x)[k]).pow(2).mean().sqrt().item()


def moment_gaps(x: torch.Tensor) -> tuple[float, float]:
    """How far a cloud (N, D) is from N(0, I): |mean| and the Frobenius norm of cov - I."""
    mean = x.mean(0)
    cov = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return mean.norm().item(), (cov - eye).norm().item()
