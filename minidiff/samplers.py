"""Samplers: each one is a generator that yields every step it takes, so a lesson can plot or
animate a trajectory, stop early, or just run it to the end with `run`.

The contract every sampler here keeps:
- it takes the starting points x (B, ...) and never changes them in place; device and dtype
  follow x; the noise comes from `generator` (None: torch's global one);
- after each update it yields a `Step(t, x, x0)`: x is the new sample, t the time or noise level
  that x belongs to (each sampler says which), x0 a denoised estimate when it has one, else None;
- the starting point is not yielded (the caller has it), so `run` returns the last x.
"""

import math
from typing import Callable, Iterator, NamedTuple

import torch

from .forward import q_transition
from .runtime import randn_like  # also reachable as samplers.randn_like


class Step(NamedTuple):
    """One step of a sampler: where it is now (x), at what time or noise level (t), and, when the
    sampler has one, its current guess of the clean sample (x0)."""

    t: float
    x: torch.Tensor
    x0: torch.Tensor | None = None


def run(sampler: Iterator[Step]) -> torch.Tensor:
    """Run a sampler to the end and return its final x."""
    last = None
    for last in sampler:
        pass
    if last is None:
        raise ValueError("run: the sampler yielded no step (was the number of steps 0?)")
    return last.x


def _positive(value, name: str, caller: str) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{caller}: {name} must be a finite number > 0, got {value}")
    return value


def _count(value, name: str, caller: str) -> int:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{caller}: {name} must be a whole number >= 1, got {value!r}")
    return value


def langevin(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, step_size: float,
             n_steps: int, generator: torch.Generator | None = None) -> Iterator[Step]:
    """Unadjusted Langevin dynamics: x <- x + h score(x) + sqrt(2 h) z, z ~ N(0, I), h = step_size
    (Roberts & Tweedie 1996; Welling & Teh 2011 write the same step as eps/2 score + sqrt(eps) z).

    score(x) returns grad log p at x (the same shape as x). Yields Step(t, x) after each step,
    with t = k * step_size, the time of the continuous Langevin diffusion that k steps simulate.
    """
    h = _positive(step_size, "step_size", "langevin")
    _count(n_steps, "n_steps", "langevin")
    noise_scale = math.sqrt(2 * h)
    for k in range(1, n_steps + 1):
        # Drift up the slope of log p, plus just enough noise to spread over all of p, not its peak.
        x = x + h * score(x) + noise_scale * randn_like(x, generator)
        yield Step(k * h, x)


def _sigma_sequence(sigmas) -> list[float]:
    sigmas = [float(s) for s in torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)]
    if not sigmas or min(sigmas) <= 0 or any(a <= b for a, b in zip(sigmas, sigmas[1:])):
        raise ValueError("annealed_langevin: sigmas must be positive and strictly decreasing "
                         f"(largest noise level first), got {sigmas}")
    return sigmas


def annealed_langevin(score: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor,
                      sigmas, step_size: float = 1e-5, n_steps_each: int = 100,
                      generator: torch.Generator | None = None) -> Iterator[Step]:
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): n_steps_each Langevin steps
    x <- x + h_i score(x, sigma_i) + sqrt(2 h_i) z at each noise level sigma_1 > ... > sigma_L,
    with h_i = step_size * sigma_i^2 / sigma_L^2.

    The paper writes the step as alpha_i/2 score + sqrt(alpha_i) z, so its alpha_i is our 2 h_i and
    its eps = 2e-5 (for images in [0, 1], with 100 steps each) is our step_size = 1e-5, the default.
    score(x, sigma) returns the score of the data noised to level sigma (sigma a Python float).
    Yields Step(t=sigma_i, x) after every step: t is the noise level the step used.
    """
    sigmas = _sigma_sequence(sigmas)
    eps = _positive(step_size, "step_size", "annealed_langevin")
    _count(n_steps_each, "n_steps_each", "annealed_langevin")
    for sigma in sigmas:
        # h grows with sigma^2: the score's size goes like 1 / sigma, so the drift h * score against
        # the noise sqrt(2 h) z keeps the same ratio at every level (Song & Ermon 2019, sec. 4.3).
        h = eps * sigma**2 / sigmas[-1] ** 2
        noise_scale = math.sqrt(2 * h)
        for _ in range(n_steps_each):
            x = x + h * score(x, sigma) + noise_scale * randn_like(x, generator)
            yield Step(sigma, x)


# ---- DDPM ancestral sampling (Ho et al. 2020) ---------------------------------------------------

VARIANCES = ("beta", "posterior")


@torch.no_grad()  # no graph through 1000 steps; torch's decorator re-enters it around each yield
def ddpm(model, x: torch.Tensor, ts, schedule, variance: str = "beta",
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """Ancestral sampling, Ho et al. 2020, Algorithm 2, over a decreasing grid of times ts.

    model(x, t) (t of shape (B,)) returns a prediction with fields eps and x0 (a params.Denoiser).
    A step from t to s < t is one step of the paper's chain with 1 - beta = alpha_bar(t) / alpha_bar(s)
    (for any schedule: 1 - beta = (alpha(t) / alpha(s))^2 and beta = sigma(t)^2 - (1 - beta) sigma(s)^2,
    the variance of q(x_t | x_s); Kingma et al. 2021, eq. 33). The added noise has variance beta
    (variance='beta', sigma_t^2 = beta_t) or the posterior's beta (1 - alpha_bar(s)) / (1 - alpha_bar(t))
    (variance='posterior', eq. 7); none on a step that lands on t = 0 (Algorithm 2, z = 0 at the end).
    Yields Step(t=s, x=x_s, x0=the x0 predicted at t) after each step.
    """
    if variance not in VARIANCES:
        raise ValueError(f"ddpm: variance must be one of {VARIANCES}, got {variance!r}")
    ts = _decreasing_grid(ts, x, "ddpm")
    # The chain's coefficients in float64: 1 - alpha_bar(t) / alpha_bar(s) loses digits in float32.
    t64 = ts.detach().double().cpu()
    alpha_step, beta_sqrt = q_transition(t64[1:], t64[:-1], schedule)  # (steps,): sqrt(1 - beta), sqrt(beta)
    beta = beta_sqrt**2
    sigma = schedule.sigma(t64)  # (steps + 1,)
    for i in range(len(ts) - 1):
        pred = model(x, ts[i].expand(x.shape[0]))  # eps and x0 at the current time, t of shape (B,)
        # Algorithm 2, line 4: x_s = (x_t - beta / sqrt(1 - alpha_bar_t) eps) / sqrt(1 - beta) + sigma z
        coef = (beta[i] / sigma[i]).to(x)  # beta / sqrt(1 - alpha_bar_t) for a VP schedule
        x = (x - coef * pred.eps) / alpha_step[i].to(x)
        if t64[i + 1] > 0:
            var = beta[i] if variance == "beta" else beta[i] * sigma[i + 1] ** 2 / sigma[i] ** 2
            x = x + var.sqrt().to(x) * randn_like(x, generator)
        yield Step(t=float(t64[i + 1]), x=x, x0=pred.x0)


def _decreasing_grid(ts, x: torch.Tensor, where: str) -> torch.Tensor:
    """ts as a 1-D tensor on x's device and dtype, checked: at least 2 times in [0, 1], strictly decreasing."""
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or len(ts) < 2:
        raise ValueError(f"{where}: ts must be a 1-D tensor of at least 2 times (steps + 1), got shape "
                         f"{tuple(ts.shape)}; e.g. schedules.uniform_grid(1000)")
    if not (ts[1:] < ts[:-1]).all() or ts[-1] < 0 or ts[0] > 1:
        raise ValueError(f"{where}: ts must decrease strictly within [0, 1] (from noise to data), "
                         f"got {ts.tolist()[:4]}...")
    return ts.to(device=x.device, dtype=x.dtype)



# ---- DDIM (Song, Meng & Ermon 2021) ----------------------------------------------------------------

@torch.no_grad()
def ddim(model, x: torch.Tensor, ts, schedule, eta: float = 0.0,
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """DDIM, Song, Meng & Ermon 2021, eq. 12, over a decreasing grid of times ts: from t to s < t,
    x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z,  with c^2 = eta^2 sigma_s^2 (1 - snr_t / snr_s).

    c^2 is eta^2 times the variance of q(x_s | x_t, x0) (eq. 16: for VP the paper's sigma_t(eta)^2),
    so eta = 1 takes the steps of ddpm(variance='posterior'), drawing the same noise in the same
    order, and eta = 0 is deterministic: Euler's method for the probability-flow ODE in y = x / alpha
    (section 4.3; `minidiff.sde.euler`). No noise on a step that lands on t = 0, as in ddpm.
    model(x, t) (t of shape (B,)) returns a prediction with fields eps and x0 (a params.Denoiser).
    Yields Step(t=s, x=x_s, x0=the x0 predicted at t) after each step.
    """
    eta = float(eta)
    if not 0 <= eta <= 1:
        raise ValueError(f"ddim: eta must be in [0, 1] (0: deterministic, 1: DDPM), got {eta}")
    ts = _decreasing_grid(ts, x, "ddim")
    t64 = ts.detach().double().cpu()  # the coefficients in float64, as in ddpm
    alpha, sigma, log_snr = schedule.alpha(t64), schedule.sigma(t64), schedule.log_snr(t64)
    for i in range(len(ts) - 1):
        pred = model(x, ts[i].expand(x.shape[0]))  # eps and x0 at the current time
        # 1 - snr_t / snr_s = -expm1(log_snr_t - log_snr_s): 1 where s = 0 (log-SNR +inf there)
        c2 = eta**2 * sigma[i + 1] ** 2 * -torch.expm1(log_snr[i] - log_snr[i + 1])
        # eq. 12: the predicted x0 at the new level, plus the part of the noise that stays pointed
        x = alpha[i + 1].to(x) * pred.x0 + (sigma[i + 1] ** 2 - c2).clamp(min=0).sqrt().to(x) * pred.eps
        if eta > 0 and t64[i + 1] > 0:
            x = x + c2.sqrt().to(x) * randn_like(x, generator)  # the fresh noise, as in ddpm
        yield Step(t=float(t64[i + 1]), x=x, x0=pred.x0)
