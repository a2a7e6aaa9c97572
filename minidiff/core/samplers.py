"""Samplers: each one is a generator that yields every step it takes, so a lesson can plot or
animate a trajectory, stop early, or just run it to the end with `run`.

Every diffusion sampler has one signature, sampler(model, x, ts, schedule=None, ..., generator=None),
and keeps one contract:
- model(x, t) returns a prediction with fields eps and x0 (a params.Denoiser, a guidance wrapper);
  a sampler prepares it once for its grid (params.prepare) and calls model(x, i) at the grid's i-th
  time; schedule is the model's own (model.schedule) unless given;
- ts is a decreasing grid of times in [0, 1] on the schedule's clock (schedules.uniform_grid,
  karras_grid), checked by `check_grid`; the coefficients are computed in float64 on the CPU, then
  used in x's dtype; ts[0] may be a time where alpha = 0 (t = 1 of schedules.ZeroTerminalSNR) for
  the samplers in ZERO_SNR_STARTS, given a model that predicts x0 or v; the others refuse it;
- x (B, ...) is never changed in place; device and dtype follow x; the noise comes from
  `generator` (None: torch's global one); nothing builds a graph (torch.no_grad);
- after each step it yields `Step(t, x, x0)`: t the time reached, x the sample there, x0 the
  denoised estimate of the step's last model call; the start is not yielded (the caller has it),
  so `run` returns the last x.
`langevin` samples a fixed density with no schedule: its Step.t is the Langevin time k h.
What every loop does before it starts (the checks, the model prepared, its noise) is in `sampling`.
"""

import math
from typing import Callable, Iterator

import torch

from .forward import q_transition
from .params import Grid, predict, prepare, table  # noqa: F401 (predict: also reachable as samplers.predict)
from ..runtime import check_generator, randn_like  # noqa: F401 (randn_like: also samplers.randn_like)
from .sampling import (ZERO_SNR_STARTS, CountCalls, Step, check_grid, checked_times, draw_like,  # noqa: F401
                       positive, prior_sample, run, start, whole_number, without_grad)
from .schedules import VE, Schedule
from .sde import sde_coefficients


# ---- DDPM ancestral sampling (Ho et al. 2020) ---------------------------------------------------

VARIANCES = ("beta", "posterior")


@without_grad  # no graph through 1000 steps; grad mode is the caller's again at each yield
def ddpm(model, x: torch.Tensor, ts, schedule: Schedule | None = None, variance: str = "beta",
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """Ancestral sampling, Ho et al. 2020, Algorithm 2, over a decreasing grid of times ts.

    A step from t to s < t is one step of the paper's chain with 1 - beta = alpha_bar(t) / alpha_bar(s)
    (for any schedule: 1 - beta = (alpha(t) / alpha(s))^2 and beta = sigma(t)^2 - (1 - beta) sigma(s)^2,
    the variance of q(x_t | x_s); Kingma et al. 2021, eq. 33). The added noise has variance beta
    (variance='beta', sigma_t^2 = beta_t) or the posterior's beta (1 - alpha_bar(s)) / (1 - alpha_bar(t))
    (variance='posterior', eq. 7); none on a step that lands on t = 0 (Algorithm 2, z = 0 at the end).
    """
    if variance not in VARIANCES:
        raise ValueError(f"ddpm: variance must be one of {VARIANCES}, got {variance!r}")
    model, grid = start(model, x, ts, schedule, "ddpm", zero_snr_start=True)
    t64, t = grid.t64, grid.t64.tolist()
    # The chain's coefficients in float64: 1 - alpha_bar(t) / alpha_bar(s) loses digits in float32.
    alpha_step, beta_sqrt = q_transition(t64[1:], t64[:-1], grid.schedule)  # (steps,): sqrt(1 - beta), sqrt(beta)
    beta, sigma = beta_sqrt**2, grid.sigma64  # (steps,), (steps + 1,)
    var = beta if variance == "beta" else beta * sigma[1:] ** 2 / sigma[:-1] ** 2
    # From alpha_t = 0 (zero terminal SNR) line 4 is 0 / 0; there the posterior mean of eq. 7 is alpha_s x0.
    from_zero, noisy = (alpha_step == 0).tolist(), [s > 0 for s in t[1:]]
    coef, alpha_step, noise = table(beta / sigma[:-1], x), table(alpha_step, x), table(var.sqrt(), x)
    alpha, draw = grid.alpha, draw_like(x, generator)
    for i in range(len(t) - 1):
        pred = model(x, i)
        if from_zero[i]:
            x = alpha[i + 1] * pred.x0  # eq. 7's mean with sqrt(alpha_bar_t) = 0: x_t carries no weight
        else:  # Algorithm 2, line 4: x_s = (x_t - beta / sqrt(1 - alpha_bar_t) eps) / sqrt(1 - beta) + sigma z
            x = (x - coef[i] * pred.eps) / alpha_step[i]
        if noisy[i]:
            x = x + noise[i] * draw(x)
        yield Step(t[i + 1], x, pred.x0)


# ---- DDIM (Song, Meng & Ermon 2021), which with eta = 0 is Euler's method -----------------------

@without_grad
def ddim(model, x: torch.Tensor, ts, schedule: Schedule | None = None, eta: float = 0.0,
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """DDIM, Song, Meng & Ermon 2021, eq. 12, over a decreasing grid of times ts: from t to s < t,
    x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z,  with c^2 = eta^2 sigma_s^2 (1 - snr_t / snr_s).

    c^2 is eta^2 times the variance of q(x_s | x_t, x0) (eq. 16: for VP the paper's sigma_t(eta)^2),
    so eta = 1 takes the steps of ddpm(variance='posterior'), drawing the same noise in the same
    order, and eta = 0 is deterministic. No noise on a step that lands on t = 0, as in ddpm.
    eta = 1 is also "Euler a" (k-diffusion's sample_euler_ancestral): its noise s_up and step to s_down
    in s = sigma / alpha are c / alpha_s and sqrt(sigma_s^2 - c^2) / alpha_s, so there is no separate one.
    """
    eta = float(eta)
    if not 0 <= eta <= 1:
        raise ValueError(f"ddim: eta must be in [0, 1] (0: deterministic, 1: DDPM), got {eta}")
    model, grid = start(model, x, ts, schedule, "ddim", zero_snr_start=True)  # from alpha = 0: eps = x_t
    alpha, t = grid.alpha, grid.t64.tolist()
    keep, c = _ddim_noise(grid, eta, x) if eta > 0 else (grid.sigma[1:], None)  # eta = 0: c = 0, keep = sigma_s
    noisy = [eta > 0 and s > 0 for s in t[1:]]  # the fresh noise, as in ddpm: none on a step to t = 0
    draw = draw_like(x, generator)
    for i in range(len(t) - 1):
        pred = model(x, i)
        x = alpha[i + 1] * pred.x0 + keep[i] * pred.eps  # eq. 12 without its fresh noise
        if noisy[i]:
            x = x + c[i] * draw(x)
        yield Step(t[i + 1], x, pred.x0)


def _ddim_noise(grid: Grid, eta: float, x: torch.Tensor) -> tuple:
    """(keep, c) per step for eta > 0: c = eta sigma_s sqrt(1 - snr_t / snr_s), keep = sqrt(sigma_s^2 - c^2)."""
    sigma, log_snr = grid.sigma64, grid.schedule.log_snr(grid.t64)
    # 1 - snr_t / snr_s = -expm1(log_snr_t - log_snr_s): 1 where s = 0 (log-SNR +inf there)
    c2 = eta**2 * sigma[1:] ** 2 * -torch.expm1(log_snr[:-1] - log_snr[1:])  # (steps,)
    keep = (sigma[1:] ** 2 - c2).clamp(min=0).sqrt()  # the part of the noise that stays pointed
    return table(keep, x), table(c2.sqrt(), x)


def euler(model, x: torch.Tensor, ts, schedule: Schedule | None = None,
          generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler's method for the probability-flow ODE dy/ds = eps_hat in y = x / alpha, s = sigma / alpha
    (Karras et al. 2022, Algorithm 1 without line 6's correction). It is ddim with eta = 0 (Song, Meng &
    Ermon 2021, section 4.3): y_s = x0 + s_s eps = y_t + (s_s - s_t) eps is DDIM's step divided by alpha_s.
    So it is that one implementation under a second name; generator is unused. NFE = steps."""
    check_generator(generator, "euler")  # here, so that the message names euler, not ddim
    return ddim(model, x, ts, schedule, eta=0.0, generator=generator)


# ---- Heun (Karras et al. 2022) ------------------------------------------------------------------

@without_grad
def heun(model, x: torch.Tensor, ts, schedule: Schedule | None = None,
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """Heun's method (explicit trapezoid) for dy/ds = eps_hat (Karras et al. 2022, Algorithm 1): an Euler
    step, then the average of the slopes at both ends; the step to s = 0 stays Euler. NFE = 2 steps - 1
    (2 steps when the grid ends above s = 0). Deterministic: generator is unused."""
    model, grid = start(model, x, ts, schedule, "heun")
    s64 = grid.sigma64 / grid.alpha64  # the noise level, the ODE's clock
    half_ds, last = table(0.5 * (s64[1:] - s64[:-1]), x), (s64 == 0).tolist()  # (steps,): (s_s - s_t) / 2
    alpha, sigma, t = grid.alpha, grid.sigma, grid.t64.tolist()
    for i in range(len(t) - 1):
        pred = model(x, i)
        x_euler = alpha[i + 1] * pred.x0 + sigma[i + 1] * pred.eps  # the Euler predictor (line 5)
        if last[i + 1]:
            x, x0 = x_euler, pred.x0  # the slope at s = 0 is not defined: the last step is Euler (line 6)
        else:
            pred_next = model(x_euler, i + 1)  # the slope at the end of the step (line 7)
            y = x / alpha[i] + half_ds[i] * (pred.eps + pred_next.eps)  # (B, ...): line 8
            x, x0 = alpha[i + 1] * y, pred_next.x0  # x0: the latest guess, made at the new time
        yield Step(t[i + 1], x, x0)


# ---- DPM-Solver++(2M) (Lu et al. 2022) ----------------------------------------------------------

@without_grad
def dpm_solver_pp(model, x: torch.Tensor, ts, schedule: Schedule | None = None,
                  generator: torch.Generator | None = None) -> Iterator[Step]:
    """DPM-Solver++(2M), Lu et al. 2022 ("DPM-Solver++", Algorithm 2): the probability-flow ODE in
    lambda = log(alpha / sigma), its linear part solved exactly, the data prediction x0 extrapolated:
    x_s = (sigma_s / sigma_t) x_t + alpha_s (1 - e^-h) D,  h = lambda_s - lambda_t,  r = h_prev / h,
    D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev: second order with ONE model call per step, because the
    previous step's x0 is reused. D = x0_t (first order, which is DDIM) on the first step, with no
    previous call, and on a step to sigma = 0 (lambda = +inf, h = inf: x_s = alpha_s x0_t), as the
    paper's code does. NFE = steps. Deterministic: generator is unused."""
    # From alpha = 0 (lambda = -inf): h = inf, so the first step is DDIM's, and 1/(2r) = h / (2 inf) = 0
    # makes the second one first order too (the prediction at lambda = -inf is no point to extrapolate from).
    model, grid = start(model, x, ts, schedule, "dpm_solver_pp", zero_snr_start=True)
    alpha64, sigma64 = grid.alpha64, grid.sigma64  # (steps + 1,) each
    lam = 0.5 * grid.schedule.log_snr(grid.t64)  # lambda = log(alpha / sigma) is HALF the log-SNR; +inf at sigma = 0
    h = lam[1:] - lam[:-1]  # (steps,) > 0, the step in lambda
    # 1 / (2r) = h / (2 h_prev) on each step that has a previous call; 0 means a first-order step.
    half_inv_r = torch.zeros_like(h)  # (steps,)
    half_inv_r[1:] = h[1:] / (2 * h[:-1])
    half_inv_r[torch.isinf(h)] = 0.0  # the step to sigma = 0: first order
    ratio = table(sigma64[1:] / sigma64[:-1], x)  # (steps,) sigma_s / sigma_t: 0 on a step to sigma = 0
    coef = table(alpha64[1:] * -torch.expm1(-h), x)  # (steps,) alpha_s (1 - e^-h): alpha_s where h = inf
    second, extra = (half_inv_r > 0).tolist(), table(half_inv_r, x)  # plain bools: no tensor test in the loop
    t, x0_prev = grid.t64.tolist(), None
    for i in range(len(t) - 1):
        pred = model(x, i)
        d = pred.x0  # (B, ...) first order: D = x0_t
        if second[i]:  # second order: D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev, rearranged
            d = pred.x0 + extra[i] * (pred.x0 - x0_prev)
        x = ratio[i] * x + coef[i] * d  # the linear part exactly, the x0 part to second order
        x0_prev = pred.x0
        yield Step(t[i + 1], x, pred.x0)


# ---- the reverse SDE (Song et al. 2021) ---------------------------------------------------------

@without_grad
def euler_maruyama(model, x: torch.Tensor, ts, schedule: Schedule | None = None,
                   generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler-Maruyama for the reverse SDE dx = [f x - g^2 score] dt + g dw-bar (Song et al. 2021,
    eq. 6), stepping in t with f and g^2 from the schedule; a step that lands on t = 0 adds no noise
    (the deterministic DDIM step, as ddpm does). NFE = steps."""
    model, grid = start(model, x, ts, schedule, "euler_maruyama")
    shrink, push, noise = _sde(grid, x)
    alpha, sigma, t, draw = grid.alpha, grid.sigma, grid.t64.tolist(), draw_like(x, generator)
    for i in range(len(t) - 1):
        pred = model(x, i)
        if t[i + 1] == 0:  # the last step lands on clean data: take it without noise (as ddpm does)
            x = alpha[i + 1] * pred.x0 + sigma[i + 1] * pred.eps
        else:  # eq. 6 backwards in time: x - (f x - g^2 score) dt + sqrt(g^2 dt) z, score = -eps / sigma
            x = shrink[i] * x - push[i] * pred.eps + noise[i] * draw(x)
        yield Step(t[i + 1], x, pred.x0)


@without_grad
def predictor_corrector(model, x: torch.Tensor, ts, schedule: Schedule | None = None, snr: float = 0.16,
                        generator: torch.Generator | None = None) -> Iterator[Step]:
    """Predictor-corrector sampling (Song et al. 2021, Algorithms 1-3): an Euler-Maruyama step of the
    reverse SDE, then one Langevin step at the new time with step size 2 (snr |z| / |score|)^2
    (norms averaged over the batch, as in the paper's code). NFE = 2 steps - 1."""
    if not snr > 0:
        raise ValueError(f"predictor_corrector: snr must be > 0 (0.16 in the paper), got {snr}")
    model, grid = start(model, x, ts, schedule, "predictor_corrector")
    shrink, push, noise = _sde(grid, x)
    two_snr_sigma, half_inv_sigma = table(2 * snr * grid.sigma64, x), table(0.5 / grid.sigma64, x)
    alpha, sigma, t, draw = grid.alpha, grid.sigma, grid.t64.tolist(), draw_like(x, generator)
    for i in range(len(t) - 1):
        pred = model(x, i)  # the predictor: as euler_maruyama
        if t[i + 1] == 0:
            x = alpha[i + 1] * pred.x0 + sigma[i + 1] * pred.eps
        else:
            x = shrink[i] * x - push[i] * pred.eps + noise[i] * draw(x)
            # the corrector: one Langevin step for p at the new time (Algorithm 4), step size
            # h = 2 (snr |z| / |score|)^2; with score = -eps / sigma, |score| = |eps| / sigma and
            # sqrt(2 h) = 2 snr sigma |z| / |eps| (0-d, on x's device: no .item() per step)
            pred, z = model(x, i + 1), draw(x)
            root = two_snr_sigma[i + 1] * (_mean_norm(z) / _mean_norm(pred.eps))  # sqrt(2 h)
            x = x + root * (z - root * half_inv_sigma[i + 1] * pred.eps)  # x + h score + sqrt(2 h) z
        yield Step(t[i + 1], x, pred.x0)


class UnknownSampler(KeyError, ValueError):
    """SAMPLERS[name] for a name it lacks: a KeyError (as from any dict) whose message lists the names."""

    def __str__(self) -> str:  # KeyError's own would show the message in quotes
        return str(self.args[0])


class _Names(dict):
    """A dict whose failed lookup says which keys there are."""

    def __missing__(self, name):
        raise UnknownSampler(f"samplers.SAMPLERS: no sampler named {name!r}; the names are {', '.join(self)}")


# Every diffusion sampler by name, all called as sampler(model, x, ts, schedule, generator=...).
SAMPLERS: dict[str, Callable[..., Iterator[Step]]] = _Names({
    "ddpm": ddpm, "ddim": ddim, "euler": euler, "heun": heun, "dpm_solver_pp": dpm_solver_pp,
    "euler_maruyama": euler_maruyama, "predictor_corrector": predictor_corrector,
})


# ---- Langevin dynamics (Song & Ermon 2019) ------------------------------------------------------

@without_grad  # no graph through the steps; a score that needs autograd enables it itself
def langevin(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, step_size: float,
             n_steps: int, generator: torch.Generator | None = None) -> Iterator[Step]:
    """Unadjusted Langevin dynamics: x <- x + h score(x) + sqrt(2 h) z, z ~ N(0, I), h = step_size
    (Roberts & Tweedie 1996; Welling & Teh 2011 write the same step as eps/2 score + sqrt(eps) z).

    score(x) returns grad log p at x (the same shape as x) for one fixed density p: there is no
    schedule, so this is the one sampler whose Step.t is not a time on a schedule's clock but
    Langevin time, t = k * step_size, the time of the continuous Langevin diffusion that k steps
    simulate. Yields Step(t, x) after each step.
    """
    h = positive(step_size, "step_size", "langevin")
    whole_number(n_steps, "n_steps", "langevin")
    if x.ndim < 2:
        raise ValueError(f"langevin: x must be a batch of points (B, ...), got shape {tuple(x.shape)}; "
                         "for one point pass x[None]")
    if not torch.isfinite(x).all():
        raise ValueError("langevin: x holds NaN or inf; start from finite points")
    noise_scale = math.sqrt(2 * h)
    for k in range(1, n_steps + 1):
        # Drift up the slope of log p, plus just enough noise to spread over all of p, not its peak.
        x = x + h * score(x) + noise_scale * randn_like(x, generator)
        yield Step(k * h, x)


@without_grad  # like every sampler: no graph through the steps
def annealed_langevin(model, x: torch.Tensor, ts, schedule: Schedule | None = None, step_size: float = 1e-5,
                      n_steps_each: int = 100, generator: torch.Generator | None = None) -> Iterator[Step]:
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): n_steps_each Langevin steps
    x <- x + h_i score(x, t_i) + sqrt(2 h_i) z at each level t_1 > ... > t_L of a VE schedule, with
    score = -eps / sigma(t_i) (model(x, t).eps, a params.Denoiser) and h_i = step_size sigma_i^2 / sigma_L^2.

    ts are the levels as times, largest first; from the paper's noise levels, ts =
    schedule.t_from_sigma(sigmas). The paper writes the step as alpha_i/2 score + sqrt(alpha_i) z, so
    its alpha_i is our 2 h_i and its eps = 2e-5 (images in [0, 1], 100 steps each) is our
    step_size = 1e-5, the default. Yields Step(t=t_i, x) after every step (n_steps_each per level).
    """
    schedule = schedule if schedule is not None else getattr(model, "schedule", None)
    t64 = checked_times(ts, x, schedule, "annealed_langevin")
    if not isinstance(schedule, VE):  # Algorithm 1 perturbs x0 + sigma eps: alpha = 1
        raise ValueError(f"annealed_langevin: Song & Ermon's sampler runs on a VE schedule (x_t = x0 + "
                         f"sigma eps), got {schedule!r}; for a VP schedule use predictor_corrector")
    if repr(getattr(model, "schedule", schedule)) != repr(schedule):
        raise ValueError(f"annealed_langevin: the model was built on {model.schedule!r} but the sampler "
                         f"got {schedule!r}; pass the model's own: schedule=model.schedule")
    eps = positive(step_size, "step_size", "annealed_langevin")
    whole_number(n_steps_each, "n_steps_each", "annealed_langevin")
    model, t, sigma = prepare(model, t64, x), t64.tolist(), schedule.sigma(t64)  # (L,) the levels, largest first
    draw = draw_like(x, generator)
    for i in range(len(t)):
        # h grows with sigma^2: the score's size goes like 1 / sigma, so the drift h * score against
        # the noise sqrt(2 h) z keeps the same ratio at every level (Song & Ermon 2019, sec. 4.3).
        h, sigma_i = eps * (sigma[i] / sigma[-1]).item() ** 2, sigma[i].item()
        noise_scale = math.sqrt(2 * h)
        for _ in range(n_steps_each):
            score = -model(x, i).eps / sigma_i  # the Denoiser's eps as a score
            x = x + h * score + noise_scale * draw(x)
            yield Step(t[i], x)


# ---- the reverse SDE as tables (euler_maruyama, predictor_corrector) ---------------------------

def _sde(grid: Grid, x: torch.Tensor) -> list:
    """An Euler-Maruyama step of the reverse SDE, x - (f x + g^2 eps / sigma) dt + sqrt(g^2 dt) z, as
    shrink x - push eps + noise z: (1 - f dt, g^2 dt / sigma, sqrt(g^2 dt)) per step, as tables."""
    f, g2 = sde_coefficients(grid.schedule, grid.t64[:-1])  # at every time but the last (sigma may be 0)
    dt = grid.t64[:-1] - grid.t64[1:]  # > 0: time runs backwards
    return [table(v, x) for v in (1 - f * dt, g2 * dt / grid.sigma64[:-1], (g2 * dt).sqrt())]


def _mean_norm(v: torch.Tensor) -> torch.Tensor:
    """The Euclidean norm of each sample, averaged over the batch (0-d)."""
    return torch.linalg.vector_norm(v.flatten(1), dim=1).mean()  # what v.flatten(1).norm(dim=1) calls
