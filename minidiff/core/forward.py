"""The forward (noising) process: the closed form q(x_t | x0) and the step-by-step chain it summarises."""

import torch

from ..runtime import check_generator
from .schedules import Schedule, as_time


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # Draw on the generator's device (a seeded CPU generator gives the same noise on every device).
    if generator is None:
        return torch.randn_like(x)
    return torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)


def _per_sample(t: torch.Tensor, x: torch.Tensor, where: str) -> torch.Tensor:
    """t of shape () or (B,) -> a shape that broadcasts over x of shape (B, ...)."""
    if t.ndim == 0:
        return t
    if t.ndim != 1 or x.ndim == 0 or t.shape[0] != x.shape[0]:
        raise ValueError(f"{where}: t must be one number or one per batch element; got t of shape "
                         f"{tuple(t.shape)} for a batch of shape {tuple(x.shape)} (batch sizes must match)")
    return t.reshape(-1, *([1] * (x.ndim - 1)))  # (B, 1, ..., 1)


def q_sample(x0: torch.Tensor, t, schedule: Schedule, eps: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t = alpha(t) x0 + sigma(t) eps, a draw from q(x_t | x0) (Ho et al. 2020, eq. 4). Returns (xt, eps).

    t is one number or one per batch element (shape (B,)); x0 is (B, ...) of any data shape.
    eps is drawn when not given (with `generator` when given).
    """
    check_generator(generator, "q_sample")
    if not isinstance(schedule, Schedule):
        raise ValueError(f"q_sample: schedule must be a minidiff.schedules.Schedule, got {type(schedule).__name__}")
    if eps is None:
        eps = _noise_like(x0, generator)
    elif eps.shape != x0.shape:
        raise ValueError(f"q_sample: eps must have the shape of x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
    t = _per_sample(as_time(t, "q_sample").to(x0.device), x0, "q_sample")
    alpha, sigma = schedule.alpha(t).to(x0.dtype), schedule.sigma(t).to(x0.dtype)
    return alpha * x0 + sigma * eps, eps


def q_transition(s, t, schedule: Schedule) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha_ts, sigma_ts) with q(x_t | x_s) = N(alpha_ts x_s, sigma_ts^2 I) for s <= t
    (Kingma et al. 2021, section 3): alpha_ts = alpha_t / alpha_s, sigma_ts^2 = sigma_t^2 - alpha_ts^2 sigma_s^2."""
    s, t = as_time(s, "q_transition"), as_time(t, "q_transition")
    if (s > t).any():
        raise ValueError("q_transition: need s <= t (the chain only adds noise forward in time)")
    alpha_ts = schedule.alpha(t) / schedule.alpha(s)
    sigma2 = schedule.sigma(t) ** 2 - alpha_ts**2 * schedule.sigma(s) ** 2
    return alpha_ts, sigma2.clamp(min=0).sqrt()  # clamp: rounding can leave -1e-16 when s = t


def q_step(x: torch.Tensor, beta, eps: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One step of the DDPM chain, x_k = sqrt(1 - beta_k) x_{k-1} + sqrt(beta_k) eps (Ho et al. 2020, eq. 2)."""
    check_generator(generator, "q_step")
    beta = torch.as_tensor(beta, dtype=x.dtype, device=x.device)
    if not ((beta > 0) & (beta < 1)).all():
        raise ValueError(f"q_step: beta must be in (0, 1), got {beta.flatten()[0].item():g}")
    beta = _per_sample(beta, x, "q_step")
    if eps is None:
        eps = _noise_like(x, generator)
    return torch.sqrt(1 - beta) * x + torch.sqrt(beta) * eps


def q_chain(x0: torch.Tensor, betas, generator: torch.Generator | None = None,
            keep: bool = False) -> torch.Tensor:
    """Run the chain through every beta in turn: x_T, or every x_k (k = 0..T) stacked when keep=True."""
    check_generator(generator, "q_chain")
    betas = torch.as_tensor(betas)
    if betas.ndim != 1:
        raise ValueError(f"q_chain: betas must be a 1-D tensor, got shape {tuple(betas.shape)}")
    x, xs = x0, [x0]
    for beta in betas:
        x = q_step(x, beta, generator=generator)
        if keep:
            xs.append(x)
    return torch.stack(xs) if keep else x  # (T + 1, B, ...) or (B, ...)
