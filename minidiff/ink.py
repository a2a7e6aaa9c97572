"""Ink in water: particles doing random walks, the heat equation, and the Ornstein-Uhlenbeck
process that turns any cloud into N(0, I) and, run backwards with the exact score, gathers it again.

Time here is physical time t in [0, T] with T a few units, not the course's t in [0, 1]: the
forward process dx = -x/2 dt + dW is the VP SDE of Song et al. (2021, eq. 11) with beta = 1, so
x_t = alpha(t) x0 + sigma(t) eps with alpha = exp(-t/2) and sigma^2 = 1 - alpha^2.
Particles are torch tensors (N, 2); densities on a grid are NumPy arrays (ny, nx), row = y.
"""

import math
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from scipy import ndimage

from .runtime import randn_like
from .samplers import Step  # (t, x): the time reached and the particles there


def _positive(name: str, value: float, fn: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        sign = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{fn}: {name} must be a finite number {sign}, got {value}")
    return value


# --- A drop of ink: Brownian particles and the heat equation -----------------------------------

def brownian_step(x: torch.Tensor, D: float, dt: float, generator=None) -> torch.Tensor:
    """One step of Brownian motion: x + sqrt(2 D dt) eps, each axis gains variance 2 D dt (Einstein 1905)."""
    D, dt = _positive("D", D, "brownian_step", True), _positive("dt", dt, "brownian_step")
    return x + math.sqrt(2 * D * dt) * randn_like(x, generator)


def random_walk(x0: torch.Tensor, D: float, dt: float, n_steps: int, generator=None) -> Iterator[Step]:
    """Yield Step(t, x) at t = 0, dt, ..., n_steps * dt for particles started at x0 (N, 2)."""
    x = x0
    yield Step(0.0, x)
    for k in range(1, n_steps + 1):
        x = brownian_step(x, D, dt, generator)
        yield Step(k * dt, x)


def ink_drop(n: int, radius: float = 0.5, center=(0.0, 0.0), device=None, generator=None) -> torch.Tensor:
    """n particles spread uniformly over a disc (a drop of ink), shape (n, 2)."""
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


# --- The forward process: a pull toward the origin plus noise (Ornstein-Uhlenbeck) -------------

def _check_times(t: torch.Tensor, fn: str) -> torch.Tensor:
    if not (t >= 0).all():
        raise ValueError(f"{fn}: t must be >= 0 (physical time from 0 to T), got {t}")
    return t


def ou_alpha(t: float | torch.Tensor) -> float | torch.Tensor:
    """alpha(t) = exp(-t/2): how much of x0 is left at time t (a float, or a tensor of times)."""
    if isinstance(t, torch.Tensor):
        return torch.exp(-_check_times(t, "ou_alpha") / 2)
    return math.exp(-_positive("t", t, "ou_alpha", True) / 2)


def ou_sigma(t: float | torch.Tensor) -> float | torch.Tensor:
    """sigma(t) = sqrt(1 - exp(-t)): the noise's standard deviation, so alpha^2 + sigma^2 = 1."""
    # expm1 keeps sigma accurate for tiny t, where 1 - exp(-t) would cancel to 0.
    if isinstance(t, torch.Tensor):
        return (-torch.expm1(-_check_times(t, "ou_sigma"))).sqrt()
    return math.sqrt(-math.expm1(-_positive("t", t, "ou_sigma", True)))


def ou_sample(x0: torch.Tensor, t: float, eps=None, generator=None) -> torch.Tensor:
    """x_t = alpha(t) x0 + sigma(t) eps in one jump: the closed form of dx = -x/2 dt + dW."""
    eps = randn_like(x0, generator) if eps is None else eps
    return ou_alpha(t) * x0 + ou_sigma(t) * eps


def time_grid(T: float, n_steps: int, rho: float = 1.0) -> list[float]:
    """Increasing times 0 = t_0 < ... < t_n = T, t_k = T (k/n)^rho; rho > 1 puts small steps near 0."""
    T = _positive("T", T, "time_grid")
    if int(n_steps) < 1:
        raise ValueError(f"time_grid: n_steps must be >= 1, got {n_steps}")
    return [T * (k / n_steps) ** rho for k in range(n_steps + 1)]


def ou_forward(x0: torch.Tensor, ts: Sequence[float], generator=None) -> Iterator[Step]:
    """Euler-Maruyama on the increasing grid ts: x += -x/2 dt + sqrt(dt) eps. Yields every Step."""
    x = x0
    yield Step(float(ts[0]), x)
    for t, t_next in zip(ts[:-1], ts[1:]):
        dt = float(t_next) - float(t)
        if dt <= 0:
            raise ValueError("ou_forward: ts must increase (from 0 to T)")
        x = x - 0.5 * x * dt + math.sqrt(dt) * randn_like(x, generator)
        yield Step(float(t_next), x)


def reverse_step(x: torch.Tensor, score: torch.Tensor, dt: float, generator=None) -> torch.Tensor:
    """One step back in time by dt > 0 of dx = [-x/2 - score] dt + dW (Song et al. 2021, eq. 6)."""
    # Run backwards, the pull -x/2 becomes a push +x/2 and the score pulls toward the data.
    return x + (0.5 * x + score) * dt + math.sqrt(dt) * randn_like(x, generator)


def ou_reverse(score: Callable, x: torch.Tensor, ts: Sequence[float], generator=None) -> Iterator[Step]:
    """Run the time reversal (Anderson 1982) from x at ts[0] = T down the decreasing grid ts."""
    yield Step(float(ts[0]), x)
    for t, t_next in zip(ts[:-1], ts[1:]):
        dt = float(t) - float(t_next)
        if dt <= 0:
            raise ValueError("ou_reverse: ts must decrease (from T to 0)")
        x = reverse_step(x, score(x, float(t)), dt, generator)  # score taken where the step starts
        yield Step(float(t_next), x)


def mixture_score(mixture) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """score(x, t): the exact score of the mixture pushed to time t, mixture.noised(alpha, sigma)."""
    return lambda x, t: mixture.noised(ou_alpha(t), ou_sigma(t)).score(x)


def last(steps: Iterator[Step]) -> torch.Tensor:
    """Run a simulation to the end and return the final particles."""
    step = None
    for step in steps:
        pass
    return step.x


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
