"""Diffusion as a tool (lesson 13): a trained denoiser, with no new training, solves inverse problems.

What is seen of an image x is an orthogonal projection P x (a mask keeps some pixels, average pooling
keeps a low-resolution copy), held in a `Seen` with the seen part of the truth:

    seen = inverse.masked(x_true, mask)                  # inpainting: P x = mask * x
    seen = inverse.pooled(x_true, 4, noise=0.05)         # super-resolution from 7x7 to 28x28
    x = samplers.run(inverse.replacement(model, noise, ts, seen, generator=g))

Every method takes any model a sampler takes (model(x, t) -> Prediction with eps and x0: a
params.Denoiser, an exact denoiser, a guidance wrapper), and yields samplers.Step like a sampler:

    replacement  Song et al. 2021 (imputation): after each reverse step the seen part is replaced by a
                 fresh noisy copy of the observation
    repaint      Lugmayr et al. 2022: the same, going back up `jump` steps `resample` times to harmonise
    dps          Chung et al. 2023: each step pushed down the gradient of |seen - P x0_hat(x_t)|

and three uses of a denoiser as it is: `tweedie` (the MMSE estimate of x from y = x + s n),
`posterior_denoise` (a sample of p(x | y): the reverse process started from y) and `sdedit`
(Meng et al. 2022: noise an image to a strength, then denoise).
"""

from typing import Callable, Iterator, NamedTuple

import torch
import torch.nn.functional as F

from ..runtime import check_generator, randn_like
from .samplers import SAMPLERS, run
from .sampling import Step, positive, whole_number
from .schedules import uniform_grid


# ---- what is seen: an orthogonal projection and the truth's part in it -----------------------------

class Seen(NamedTuple):
    """The observation of an inverse problem: project(x) = P x, the part of x that is seen (P an
    orthogonal projection, so P P = P), and value = P x_true (+ noise), the seen part of the truth."""

    project: Callable[[torch.Tensor], torch.Tensor]
    value: torch.Tensor  # (B, ...) like x

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """value - P x: what x gets wrong about the observation (0 when x agrees with it)."""
        return self.value - self.project(x)


def masked(x: torch.Tensor, mask: torch.Tensor) -> Seen:
    """Inpainting: the pixels where mask is 1 are seen, the others hidden; P x = mask * x.
    mask broadcasts against x (one (1, H, W) mask for a batch of images, or one per image)."""
    mask = torch.as_tensor(mask).to(x)
    if not ((mask == 0) | (mask == 1)).all():
        raise ValueError("masked: mask must hold only 0 (hidden) and 1 (seen); threshold it first: (m > 0.5).float()")
    try:
        torch.broadcast_shapes(mask.shape, x.shape)
    except RuntimeError:
        raise ValueError(f"masked: mask {tuple(mask.shape)} does not broadcast against x {tuple(x.shape)}; "
                         "give it x's shape, or one image's shape without the batch") from None
    return Seen(lambda v: mask * v, mask * x)


def pool(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Average pooling of images (B, C, H, W) by `factor`: the low-resolution copy A x."""
    whole_number(factor, "factor", "pool")
    if x.ndim != 4 or x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"pool: x must be images (B, C, H, W) with H and W divisible by {factor}, got {tuple(x.shape)}")
    return F.avg_pool2d(x, factor)


def unpool(y: torch.Tensor, factor: int) -> torch.Tensor:
    """Each low-resolution pixel copied into a factor x factor block: A's pseudo-inverse, so that
    unpool(pool(x)) is the orthogonal projection of x onto block-constant images."""
    return y.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def pooled(x: torch.Tensor, factor: int, noise: float = 0.0, generator: torch.Generator | None = None) -> Seen:
    """Super-resolution: a factor-times smaller copy A x (average pooling) + noise * n is seen; the
    seen part of an image is its block averages, P x = unpool(pool(x))."""
    check_generator(generator, "pooled")
    y = pool(x, factor)
    if noise:
        y = y + float(noise) * randn_like(y, generator)
    return from_low_resolution(y, factor)


def from_low_resolution(y: torch.Tensor, factor: int) -> Seen:
    """The Seen of a low-resolution image y (B, C, h, w) to be enlarged `factor` times."""
    return Seen(lambda v: unpool(pool(v, factor), factor), unpool(y, factor))


# ---- one reverse step, and one step back up ------------------------------------------------------

def _coefficients(model, ts) -> tuple[list, list, list]:
    """(t, alpha, sigma) on the grid ts, as Python floats from float64 (the model's schedule)."""
    schedule = getattr(model, "schedule", None)
    if schedule is None:
        raise ValueError(f"inverse: the model must carry its schedule (a params.Denoiser or a guidance wrapper), "
                         f"got {type(model).__name__}")
    t64 = torch.as_tensor(ts, dtype=torch.float64).cpu()
    if t64.ndim != 1 or len(t64) < 2 or not (t64[1:] < t64[:-1]).all() or t64[0] > 1 or t64[-1] < 0:
        raise ValueError(f"inverse: ts must be a strictly decreasing grid of at least 2 times in [0, 1], got "
                         f"{t64.tolist()[:4]}...; e.g. schedules.uniform_grid(50)")
    return t64.tolist(), schedule.alpha(t64).tolist(), schedule.sigma(t64).tolist()


def reverse_step(x: torch.Tensor, eps: torch.Tensor, a_t: float, s_t: float, a_s: float, s_s: float,
                 z: torch.Tensor) -> torch.Tensor:
    """DDPM's ancestral step from t to s < t (Ho et al. 2020, Algorithm 2, with sigma^2 = beta, as
    samplers.ddpm): x_s = (x_t - beta / sigma_t eps) / sqrt(1 - beta) + sqrt(beta) z, 1 - beta = (alpha_t /
    alpha_s)^2, beta = sigma_t^2 - (1 - beta) sigma_s^2; no noise on the step to s = 0. Of the two variances
    it is the one that keeps a narrow mode's spread on a coarse grid (the posterior's loses it)."""
    keep = a_t / a_s  # sqrt(1 - beta)
    beta = s_t**2 - keep**2 * s_s**2
    x = (x - beta / s_t * eps) / keep
    return x if s_s == 0 else x + beta**0.5 * z


def forward_step(x: torch.Tensor, a_s: float, s_s: float, a_t: float, s_t: float, z: torch.Tensor) -> torch.Tensor:
    """A draw of q(x_t | x_s) for t > s: x_t = (alpha_t / alpha_s) x_s + sqrt(sigma_t^2 - (alpha_t sigma_s / alpha_s)^2) z."""
    ratio = a_t / a_s
    return ratio * x + (s_t**2 - (ratio * s_s) ** 2) ** 0.5 * z


def replace(x: torch.Tensor, seen: Seen, a: float, s: float, z: torch.Tensor) -> torch.Tensor:
    """x with its seen part swapped for a fresh noisy copy of the observation at (alpha, sigma):
    x - P x + P (alpha value + sigma z) (Song et al. 2021, appendix I.2, imputation)."""
    return x - seen.project(x) + seen.project(a * seen.value + s * z)


def _predict(model, x: torch.Tensor, t: float):
    """The model's prediction at one time for the whole batch, without a graph."""
    with torch.no_grad():
        return model(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))


# ---- the three inpainting methods -----------------------------------------------------------------

def replacement(model, x: torch.Tensor, ts, seen: Seen, generator: torch.Generator | None = None) -> Iterator[Step]:
    """Inpainting by replacement (Song et al. 2021, imputation): a DDPM step for the whole image, then
    the seen part replaced by the observation noised to the new time. Not an exact posterior sampler:
    the hidden part never learns what the seen part will be, only what it is now (Trippe et al. 2023)."""
    check_generator(generator, "replacement")
    t, a, s = _coefficients(model, ts)
    x = replace(x, seen, a[0], s[0], randn_like(x, generator))
    for i in range(len(t) - 1):
        pred = _predict(model, x, t[i])
        x = reverse_step(x, pred.eps, a[i], s[i], a[i + 1], s[i + 1], randn_like(x, generator))
        x = replace(x, seen, a[i + 1], s[i + 1], randn_like(x, generator))
        yield Step(t[i + 1], x, pred.x0)


def repaint_path(steps: int, jump: int = 10, resample: int = 10) -> list[int]:
    """The indices into a grid of `steps` steps that RePaint visits (Lugmayr et al. 2022, section 4.2):
    down `jump` steps, back up `jump`, down again, `resample` times over each block, then on."""
    for name, v in (("steps", steps), ("jump", jump), ("resample", resample)):
        whole_number(v, name, "repaint_path")
    path, i = [0], 0
    while i < steps:
        end = min(i + jump, steps)
        for r in range(resample):
            path += list(range(i + 1, end + 1))  # down the block
            if r < resample - 1:
                path += list(range(end - 1, i - 1, -1))  # and back up to its start
        i = end
    return path


def repaint(model, x: torch.Tensor, ts, seen: Seen, jump: int = 10, resample: int = 10,
            generator: torch.Generator | None = None) -> Iterator[Step]:
    """RePaint (Lugmayr et al. 2022, Algorithm 1 with their jumps): replacement's steps down, and steps
    back up by the forward process q(x_t | x_s), so the hidden part is made again around a seen part
    it has already met. NFE = about steps * resample. Yields every step down."""
    check_generator(generator, "repaint")
    t, a, s = _coefficients(model, ts)
    path = repaint_path(len(t) - 1, jump, resample)
    x = replace(x, seen, a[0], s[0], randn_like(x, generator))
    for i, j in zip(path[:-1], path[1:]):
        if j < i:  # back up one step: noise, no model call
            x = forward_step(x, a[i], s[i], a[j], s[j], randn_like(x, generator))
            continue
        pred = _predict(model, x, t[i])
        x = reverse_step(x, pred.eps, a[i], s[i], a[j], s[j], randn_like(x, generator))
        x = replace(x, seen, a[j], s[j], randn_like(x, generator))
        yield Step(t[j], x, pred.x0)


def dps(model, x: torch.Tensor, ts, seen: Seen, zeta: float = 1.0,
        generator: torch.Generator | None = None) -> Iterator[Step]:
    """Diffusion posterior sampling (Chung et al. 2023, Algorithm 1): a DDPM step, then a step down the
    gradient of |seen - P x0_hat(x_t)| through the network: x_s <- x_s - zeta grad_x_t |residual|. The
    paper's zeta_i = zeta' / |residual| on the squared norm is this with zeta = 2 zeta'. The seen part is
    never pasted in: the observation may be noisy, or any differentiable P."""
    check_generator(generator, "dps")
    zeta = positive(zeta, "zeta", "dps")
    t, a, s = _coefficients(model, ts)
    for i in range(len(t) - 1):
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            pred = model(xg, torch.full((x.shape[0],), t[i], dtype=x.dtype, device=x.device))
            distance = seen.residual(pred.x0).flatten(1).norm(dim=1)  # (B,) each sample its own
            (grad,) = torch.autograd.grad(distance.sum(), xg)
        x0, eps = pred.x0.detach(), pred.eps.detach()
        x = reverse_step(x, eps, a[i], s[i], a[i + 1], s[i + 1], randn_like(x, generator)) - zeta * grad
        yield Step(t[i + 1], x.detach(), x0)


# ---- denoising and editing with the denoiser as it is ----------------------------------------------

def matching_time(schedule, s: float) -> float:
    """The time t at which sigma(t) / alpha(t) = s: y = x + s n is x_t / alpha(t) there."""
    s = positive(s, "s", "matching_time")
    lam = torch.tensor(-2.0 * float(torch.log(torch.tensor(s, dtype=torch.float64))), dtype=torch.float64)
    return float(schedule.t_from_log_snr(lam))  # log snr = log alpha^2 / sigma^2 = -2 log s


def tweedie(model, y: torch.Tensor, s: float) -> torch.Tensor:
    """E[x | y] for y = x + s n (the MMSE estimate): the denoiser's x0 at the matching time, fed
    alpha(t) y, which is x_t (Tweedie's formula, Efron 2011: y + s^2 grad log p_s(y))."""
    t = matching_time(model.schedule, s)
    alpha = float(model.schedule.alpha(torch.tensor(t, dtype=torch.float64)))
    return _predict(model, alpha * y, t).x0


def posterior_denoise(model, y: torch.Tensor, s: float, steps: int = 50, sampler: str = "ddpm",
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample of p(x | y) for y = x + s n: alpha(t) y is x_t at the matching time, so the reverse
    process from there, `steps` steps of `sampler` (ancestral by default), draws the posterior."""
    t = matching_time(model.schedule, s)
    alpha = float(model.schedule.alpha(torch.tensor(t, dtype=torch.float64)))
    ts = uniform_grid(whole_number(steps, "steps", "posterior_denoise"), t_max=t)
    return run(SAMPLERS[sampler](model, alpha * y, ts, generator=generator))


def sdedit(model, x0: torch.Tensor, strength: float, steps: int = 50, sampler: str = "ddpm",
           generator: torch.Generator | None = None) -> torch.Tensor:
    """SDEdit (Meng et al. 2022): x0 noised to t = strength by q(x_t | x0), then the reverse process
    from there over about steps * strength steps (at least 1). strength 0 returns x0; 1 forgets it."""
    strength = float(strength)
    if not 0 <= strength <= 1:
        raise ValueError(f"sdedit: strength must be in [0, 1] (0: keep the input, 1: ignore it), got {strength}")
    check_generator(generator, "sdedit")
    if strength == 0:
        return x0.clone()
    t = torch.tensor(strength, dtype=torch.float64)
    a, s = float(model.schedule.alpha(t)), float(model.schedule.sigma(t))
    xt = a * x0 + s * randn_like(x0, generator)
    ts = uniform_grid(max(1, round(whole_number(steps, "steps", "sdedit") * strength)), t_max=strength)
    return run(SAMPLERS[sampler](model, xt, ts, generator=generator))
