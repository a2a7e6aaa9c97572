"""Samplers: each one is a generator that yields every step it takes, so a lesson can plot or
animate a trajectory, stop early, or just run it to the end with `run`.

Every diffusion sampler has one signature, sampler(model, x, ts, schedule, ..., generator=None),
and keeps one contract:
- model(x, t) returns a prediction with fields eps and x0 (a params.Denoiser); `predict` is the
  one place it is called, `check_grid` the one place the inputs are checked;
- ts is a decreasing grid of times in [0, 1] on the schedule's clock (schedules.uniform_grid,
  karras_grid); the coefficients are computed in float64 on the CPU, then used in x's dtype;
  ts[0] may be a time where alpha = 0 (t = 1 of schedules.ZeroTerminalSNR) for the samplers in
  ZERO_SNR_STARTS, given a model that predicts x0 or v; the others refuse it with the reason;
- x (B, ...) is never changed in place; device and dtype follow x; the noise comes from
  `generator` (None: torch's global one); nothing builds a graph (torch.no_grad);
- after each step it yields `Step(t, x, x0)`: t the time reached, x the sample there, x0 the
  denoised estimate of the step's last model call; the start is not yielded (the caller has it),
  so `run` returns the last x.
`langevin` samples a fixed density with no schedule: its Step.t is the Langevin time k h.
"""

import functools
import math
from typing import Callable, Iterator, NamedTuple

import torch

from .forward import q_transition
from .params import Denoiser, Prediction
from .runtime import randn_like  # also reachable as samplers.randn_like
from .schedules import VE, Schedule
from .sde import reverse_sde_drift, sde_coefficients


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


def _without_grad(sampler):
    """torch.no_grad for a sampler's generator, as torch's decorator does it (grad mode off while a step
    runs, the caller's own again at each yield) but with one context object per run: the decorator
    builds a new one at every step, which costs about as much as one tensor operation on 2-D points."""

    @functools.wraps(sampler)
    def steps(*args, **kwargs):
        body, off = sampler(*args, **kwargs), torch.no_grad()
        while True:
            with off:
                step = next(body, None)
            if step is None:
                return
            yield step

    return steps


@_without_grad  # no graph through the steps; a score that needs autograd enables it itself
def langevin(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, step_size: float,
             n_steps: int, generator: torch.Generator | None = None) -> Iterator[Step]:
    """Unadjusted Langevin dynamics: x <- x + h score(x) + sqrt(2 h) z, z ~ N(0, I), h = step_size
    (Roberts & Tweedie 1996; Welling & Teh 2011 write the same step as eps/2 score + sqrt(eps) z).

    score(x) returns grad log p at x (the same shape as x) for one fixed density p: there is no
    schedule, so this is the one sampler whose Step.t is not a time on a schedule's clock but
    Langevin time, t = k * step_size, the time of the continuous Langevin diffusion that k steps
    simulate. Yields Step(t, x) after each step.
    """
    h = _positive(step_size, "step_size", "langevin")
    _count(n_steps, "n_steps", "langevin")
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


@_without_grad  # like every sampler: no graph through the steps
def annealed_langevin(model, x: torch.Tensor, ts, schedule, step_size: float = 1e-5,
                      n_steps_each: int = 100, generator: torch.Generator | None = None) -> Iterator[Step]:
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): n_steps_each Langevin steps
    x <- x + h_i score(x, t_i) + sqrt(2 h_i) z at each level t_1 > ... > t_L of a VE schedule, with
    score = -eps / sigma(t_i) (model(x, t).eps, a params.Denoiser) and h_i = step_size sigma_i^2 / sigma_L^2.

    ts are the levels as times, largest first; from the paper's noise levels, ts =
    schedule.t_from_sigma(sigmas). The paper writes the step as alpha_i/2 score + sqrt(alpha_i) z, so
    its alpha_i is our 2 h_i and its eps = 2e-5 (images in [0, 1], 100 steps each) is our
    step_size = 1e-5, the default. Yields Step(t=t_i, x) after every step (n_steps_each per level).
    """
    grid = _Grid(ts, x, schedule, "annealed_langevin")
    if not isinstance(schedule, VE):  # Algorithm 1 perturbs x0 + sigma eps: alpha = 1
        raise ValueError(f"annealed_langevin: Song & Ermon's sampler runs on a VE schedule (x_t = x0 + "
                         f"sigma eps), got {schedule!r}; for a VP schedule use predictor_corrector")
    if repr(getattr(model, "schedule", schedule)) != repr(schedule):
        raise ValueError(f"annealed_langevin: the model was built on {model.schedule!r} but the sampler "
                         f"got {schedule!r}; pass the model's own: schedule=model.schedule")
    eps = _positive(step_size, "step_size", "annealed_langevin")
    _count(n_steps_each, "n_steps_each", "annealed_langevin")
    sigma = grid.sigma64  # (L,) the noise levels, largest first
    call, draw = Caller(model, x, grid), _draw(x, generator)
    for i in range(len(grid.ts)):
        # h grows with sigma^2: the score's size goes like 1 / sigma, so the drift h * score against
        # the noise sqrt(2 h) z keeps the same ratio at every level (Song & Ermon 2019, sec. 4.3).
        h, sigma_i = eps * (sigma[i] / sigma[-1]).item() ** 2, sigma[i].item()
        noise_scale = math.sqrt(2 * h)
        for _ in range(n_steps_each):
            score = -call(x, i).eps / sigma_i  # the Denoiser's eps as a score
            x = x + h * score + noise_scale * draw(x)
            yield Step(grid.t_out[i], x)


# ---- the time grid, the model call, the start ---------------------------------------------------

# The samplers whose step from alpha = 0 (t = 1 of a zero-terminal-SNR schedule) is well defined from
# an x0 prediction: DDIM's x_s = alpha_s x0 + sigma_s eps (eps = x_t there) and DDPM's posterior mean
# alpha_s x0 need no division by alpha_t, and DPM-Solver++'s first step is DDIM's (h = inf, e^-h = 0).
ZERO_SNR_STARTS = ("ddim", "euler", "ddpm", "dpm_solver_pp")
_NO_ZERO_SNR_START = {  # why the others cannot take a step from alpha = 0
    "heun": "its step lives in y = x / alpha and s = sigma / alpha, both infinite there",
    "euler_maruyama": "the reverse SDE's drift d log alpha / dt is -inf there",
    "predictor_corrector": "the reverse SDE's drift d log alpha / dt is -inf there",
}


def _grid(ts, x: torch.Tensor, schedule, where: str,
          zero_snr_start: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(ts in x's dtype and device, the same times in float64 on the CPU), all checked.
    zero_snr_start: the sampler can start where alpha = 0 (ts[0] only; never later in the grid)."""
    if not isinstance(schedule, Schedule):
        hint = " (a name is not enough: pass the object, e.g. schedules.VPLinear())" if isinstance(schedule, str) else ""
        raise ValueError(f"{where}: schedule must be a schedules.Schedule{hint}, got {type(schedule).__name__} "
                         f"{schedule!r}")
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{where}: x must be a batch (B, ...) with the batch first, got {shape}; "
                         "for one point use x[None]")
    if not torch.isfinite(x).all():
        raise ValueError(f"{where}: x contains NaN or inf; start from finite points, e.g. samplers.prior_sample(...)")
    # The exact times, float64 on the CPU (MPS has no float64): the coefficients and Step.t come from them.
    # (a list goes straight to float64: through float32 first, 0.9 would become 0.8999999762)
    t64 = ts.detach().cpu().double() if isinstance(ts, torch.Tensor) else torch.as_tensor(ts, dtype=torch.float64)
    if t64.ndim != 1 or len(t64) < 2:
        raise ValueError(f"{where}: ts must be a 1-D tensor of at least 2 times (steps + 1), got shape "
                         f"{tuple(t64.shape)}; e.g. schedules.uniform_grid(1000)")
    if not (t64[1:] < t64[:-1]).all() or t64[-1] < 0 or t64[0] > 1:
        raise ValueError(f"{where}: ts must decrease strictly within [0, 1] (from noise to data), "
                         f"got {t64.tolist()[:4]}...")
    alpha = schedule.alpha(t64)
    if not (alpha[1:] > 0).all():
        bad = t64[1:][~(alpha[1:] > 0)][0].item()
        raise ValueError(f"{where}: alpha(t) = 0 at t = {bad:g}, where x0 = (x - sigma eps) / alpha "
                         "is infinite; start the grid a little earlier, e.g. t = 0.999")
    if not alpha[0] > 0 and not zero_snr_start:
        why = _NO_ZERO_SNR_START.get(where, "it divides by alpha")
        raise ValueError(f"{where}: alpha(t) = 0 at the grid's start t = {t64[0].item():g} (zero terminal SNR, "
                         f"{schedule!r}), and {where} cannot step from there: {why}. The samplers that can "
                         f"start at alpha = 0, given a model that predicts x0 or v: {', '.join(ZERO_SNR_STARTS)}; "
                         "or start the grid a little earlier, e.g. t = 0.999")
    return t64.to(x.dtype).to(x.device), t64  # dtype first: the conversion happens on the CPU


def check_grid(ts, x: torch.Tensor, schedule: Schedule, where: str) -> torch.Tensor:
    """The one check of a sampler's inputs: schedule a Schedule, x a finite batch (B, ...), ts 1-D,
    at least 2 times, strictly decreasing in [0, 1]. Returns ts in x's dtype, on x's device."""
    return _grid(ts, x, schedule, where)[0]


def _on(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # float64 coefficients, computed on the CPU, moved to x's dtype and device (dtype first, for MPS)
    return values.to(x.dtype).to(x.device)


class _Grid:
    """One run's checked grid and the sampler's schedule on it, each worked out once: the times (ts in
    x's dtype and device, t64 in float64 on the CPU, t_out as Python floats for Step.t), alpha64 and
    sigma64 in float64, and on first use `alpha`, `sigma` and `times` as tuples in x's dtype and device.

    Tables are tuples of 0-d tensors, one per grid time: the cheapest form to read inside the loop
    (indexing a tensor makes a new view at every step; unbind makes them all at once, at half the cost)."""

    def __init__(self, ts, x: torch.Tensor, schedule: Schedule, where: str, zero_snr_start: bool = False):
        self.ts, self.t64 = _grid(ts, x, schedule, where, zero_snr_start)
        self.schedule, self.x = schedule, x  # x: only its dtype, device and batch size are used
        self.steps, self.t_out = len(self.ts) - 1, self.t64.tolist()
        self.alpha64, self.sigma64 = schedule.alpha(self.t64), schedule.sigma(self.t64)

    def table(self, values: torch.Tensor) -> tuple:
        """A float64 table as 0-d tensors in x's dtype and device, converted at once."""
        return _on(values, self.x).unbind()

    @functools.cached_property
    def alpha(self) -> tuple:
        return self.table(self.alpha64)

    @functools.cached_property
    def sigma(self) -> tuple:
        return self.table(self.sigma64)

    @functools.cached_property
    def times(self) -> tuple:
        """(B,) per grid time, one time per point: what the network is called with."""
        return self.ts[:, None].expand(len(self.ts), self.x.shape[0]).unbind()

    def coefficients(self, schedule: Schedule) -> tuple:
        """(alpha, sigma, alpha64, sigma64) of another schedule (the model's own) on this grid: the
        sampler's tables when the numbers are the same, which they are unless the two schedules differ."""
        if schedule is self.schedule:
            return self.alpha, self.sigma, self.alpha64, self.sigma64
        alpha64, sigma64 = schedule.alpha(self.t64), schedule.sigma(self.t64)
        if torch.equal(alpha64, self.alpha64) and torch.equal(sigma64, self.sigma64):
            return self.alpha, self.sigma, alpha64, sigma64
        return self.table(alpha64), self.table(sigma64), alpha64, sigma64


def predict(model, x: torch.Tensor, t: torch.Tensor) -> Prediction:
    """The one place a sampler calls the model: model(x, t) at one time t for the whole batch."""
    out = model(x, t.expand(x.shape[0]))  # t as a (B,) tensor, one time per point
    if not (hasattr(out, "eps") and hasattr(out, "x0")):
        raise TypeError(f"the model returned a {type(out).__name__}, not a prediction with .eps and .x0: "
                        "wrap the network: params.Denoiser(net, schedule, target='eps')")
    return out


class Caller:
    """The model, called at the times of one checked grid: `call(x, i)` is predict(model, x, ts[i]).

    A params.Denoiser is checked once here (x's dtype and device against its weights, the grid times at
    which it cannot predict) and then called through Denoiser.predict_with, with alpha(t) and sigma(t)
    computed once for the whole grid: its own forward re-validates t and re-evaluates the schedule on
    every call, most of a sampler's per-step cost when the network is small
    (benchmarks/sampler_overhead.py). Any other model (a guidance wrapper, an exact denoiser, a
    CountCalls) is called as model(x, t), each time."""

    def __init__(self, model, x: torch.Tensor, grid: _Grid):
        self.model, self.ts = model, grid.ts
        self.direct = isinstance(model, Denoiser) and type(model).forward is Denoiser.forward
        if self.direct:
            model._check(x)
            self.alpha, self.sigma, alpha64, sigma64 = grid.coefficients(model.schedule)
            self.refusal = _refusals(model, grid.t_out, alpha64, sigma64)
            self.batch, self.t, self.predict = x.shape[0], grid.times, model.predict_with

    def __call__(self, x: torch.Tensor, i: int) -> Prediction:
        if not self.direct or x.shape[0] != self.batch:
            return predict(self.model, x, self.ts[i])
        if i in self.refusal:
            raise ValueError(self.refusal[i])
        return self.predict(x, self.t[i], self.alpha[i], self.sigma[i])


def _refusals(model: Denoiser, t: list, alpha64: torch.Tensor, sigma64: torch.Tensor) -> dict:
    """{i: why} for the grid times at which the Denoiser cannot predict, found once per run and raised
    only if the sampler calls the model there: sigma = 0 for an x0 or v target or clip, alpha = 0 for
    an eps or score target (the checks of Denoiser.forward, with its messages)."""
    no_noise, no_signal = (sigma64 == 0) & model.needs_noise, (alpha64 == 0) & model.needs_signal
    return {i: model._no_noise_message(t[i]) if no_noise[i] else model._no_signal_message(t[i])
            for i in (no_noise | no_signal).nonzero().flatten().tolist()}


def _draw(x: torch.Tensor, generator: torch.Generator | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """randn_like(x, generator) for one run, with its arguments worked out once: x keeps its shape,
    dtype and device through a run. The same numbers as randn_like."""
    if generator is None or generator.device != x.device:
        return lambda x: randn_like(x, generator)
    shape, dtype, device = x.shape, x.dtype, x.device
    return lambda x: torch.randn(shape, generator=generator, device=device, dtype=dtype)


def prior_sample(n: int, dim: int, schedule: Schedule, t, device=None,
                 generator: torch.Generator | None = None, dtype=None) -> torch.Tensor:
    """n draws of N(0, (alpha^2 + sigma^2) I) at time t: the law of x_t for data of unit variance,
    the usual start of every sampler (N(0, I) for a VP schedule, about N(0, sigma^2 I) for VE)."""
    dtype = dtype or torch.get_default_dtype()
    t = torch.as_tensor(float(t), dtype=torch.float64)
    std = torch.sqrt(schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2).item()
    gen_device = generator.device if generator is not None else torch.device("cpu")
    z = torch.randn(n, dim, generator=generator, device=gen_device, dtype=dtype)  # (n, dim)
    return (std * z).to(device if device is not None else gen_device)


class CountCalls:
    """Wraps a model and counts its calls: `model.calls` is the number of network evaluations (NFE)."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor, *args, **kwargs):
        self.calls += 1
        return self.model(x, t, *args, **kwargs)


# ---- DDPM ancestral sampling (Ho et al. 2020) ---------------------------------------------------

VARIANCES = ("beta", "posterior")


@_without_grad  # no graph through 1000 steps; grad mode is the caller's again at each yield
def ddpm(model, x: torch.Tensor, ts, schedule: Schedule, variance: str = "beta",
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
    grid = _Grid(ts, x, schedule, "ddpm", zero_snr_start=True)
    t64, t_out = grid.t64, grid.t_out
    # The chain's coefficients in float64: 1 - alpha_bar(t) / alpha_bar(s) loses digits in float32.
    alpha_step, beta_sqrt = q_transition(t64[1:], t64[:-1], schedule)  # (steps,): sqrt(1 - beta), sqrt(beta)
    beta, sigma = beta_sqrt**2, grid.sigma64  # (steps,), (steps + 1,)
    var = beta if variance == "beta" else beta * sigma[1:] ** 2 / sigma[:-1] ** 2
    # From alpha_t = 0 (zero terminal SNR) line 4 is 0 / 0; there the posterior mean of eq. 7 is alpha_s x0.
    from_zero, noisy = (alpha_step == 0).tolist(), [t > 0 for t in t_out[1:]]
    coef, alpha_step, noise = grid.table(beta / sigma[:-1]), grid.table(alpha_step), grid.table(var.sqrt())
    call, draw = Caller(model, x, grid), _draw(x, generator)
    for i in range(grid.steps):
        pred = call(x, i)
        if from_zero[i]:
            x = grid.alpha[i + 1] * pred.x0  # eq. 7's mean with sqrt(alpha_bar_t) = 0: x_t carries no weight
        else:  # Algorithm 2, line 4: x_s = (x_t - beta / sqrt(1 - alpha_bar_t) eps) / sqrt(1 - beta) + sigma z
            x = (x - coef[i] * pred.eps) / alpha_step[i]
        if noisy[i]:
            x = x + noise[i] * draw(x)
        yield Step(t_out[i + 1], x, pred.x0)


# ---- DDIM (Song, Meng & Ermon 2021), which with eta = 0 is Euler's method -----------------------

@_without_grad
def ddim(model, x: torch.Tensor, ts, schedule: Schedule, eta: float = 0.0,
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
    grid = _Grid(ts, x, schedule, "ddim", zero_snr_start=True)  # from alpha = 0: eps = x_t, c^2 = eta^2 sigma_s^2
    alpha, t_out = grid.alpha, grid.t_out
    keep, c = _ddim_noise(grid, eta) if eta > 0 else (grid.sigma[1:], None)  # eta = 0: c = 0, keep = sigma_s
    noisy = [eta > 0 and t > 0 for t in t_out[1:]]  # the fresh noise, as in ddpm: none on a step to t = 0
    call, draw = Caller(model, x, grid), _draw(x, generator)
    for i in range(grid.steps):
        pred = call(x, i)
        x = alpha[i + 1] * pred.x0 + keep[i] * pred.eps  # eq. 12 without its fresh noise
        if noisy[i]:
            x = x + c[i] * draw(x)
        yield Step(t_out[i + 1], x, pred.x0)


def _ddim_noise(grid: _Grid, eta: float) -> tuple:
    """(keep, c) per step for eta > 0: c = eta sigma_s sqrt(1 - snr_t / snr_s), keep = sqrt(sigma_s^2 - c^2)."""
    sigma, log_snr = grid.sigma64, grid.schedule.log_snr(grid.t64)
    # 1 - snr_t / snr_s = -expm1(log_snr_t - log_snr_s): 1 where s = 0 (log-SNR +inf there)
    c2 = eta**2 * sigma[1:] ** 2 * -torch.expm1(log_snr[:-1] - log_snr[1:])  # (steps,)
    keep = (sigma[1:] ** 2 - c2).clamp(min=0).sqrt()  # the part of the noise that stays pointed
    return grid.table(keep), grid.table(c2.sqrt())


def euler(model, x: torch.Tensor, ts, schedule: Schedule,
          generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler's method for the probability-flow ODE dy/ds = eps_hat in y = x / alpha, s = sigma / alpha
    (Karras et al. 2022, Algorithm 1 without line 6's correction). It is ddim with eta = 0 (Song, Meng &
    Ermon 2021, section 4.3): y_s = x0 + s_s eps = y_t + (s_s - s_t) eps is DDIM's step divided by alpha_s.
    So it is that one implementation under a second name; generator is unused. NFE = steps."""
    return ddim(model, x, ts, schedule, eta=0.0, generator=generator)


# ---- Heun (Karras et al. 2022) ------------------------------------------------------------------

@_without_grad
def heun(model, x: torch.Tensor, ts, schedule: Schedule,
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """Heun's method (explicit trapezoid) for dy/ds = eps_hat (Karras et al. 2022, Algorithm 1): an Euler
    step, then the average of the slopes at both ends; the step to s = 0 stays Euler. NFE = 2 steps - 1
    (2 steps when the grid ends above s = 0). Deterministic: generator is unused."""
    grid = _Grid(ts, x, schedule, "heun")
    s64 = grid.sigma64 / grid.alpha64  # the noise level, the ODE's clock
    half_ds, last = grid.table(0.5 * (s64[1:] - s64[:-1])), (s64 == 0).tolist()  # (steps,): (s_s - s_t) / 2
    alpha, sigma, t_out, call = grid.alpha, grid.sigma, grid.t_out, Caller(model, x, grid)
    for i in range(grid.steps):
        pred = call(x, i)
        x_euler = alpha[i + 1] * pred.x0 + sigma[i + 1] * pred.eps  # the Euler predictor (line 5)
        if last[i + 1]:
            x, x0 = x_euler, pred.x0  # the slope at s = 0 is not defined: the last step is Euler (line 6)
        else:
            pred_next = call(x_euler, i + 1)  # the slope at the end of the step (line 7)
            y = x / alpha[i] + half_ds[i] * (pred.eps + pred_next.eps)  # (B, ...): line 8
            x, x0 = alpha[i + 1] * y, pred_next.x0  # x0: the latest guess, made at the new time
        yield Step(t_out[i + 1], x, x0)


# ---- DPM-Solver++(2M) (Lu et al. 2022) ----------------------------------------------------------

@_without_grad
def dpm_solver_pp(model, x: torch.Tensor, ts, schedule: Schedule,
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
    grid = _Grid(ts, x, schedule, "dpm_solver_pp", zero_snr_start=True)
    alpha64, sigma64 = grid.alpha64, grid.sigma64  # (steps + 1,) each
    lam = 0.5 * schedule.log_snr(grid.t64)  # lambda = log(alpha / sigma) is HALF the log-SNR; +inf at sigma = 0
    h = lam[1:] - lam[:-1]  # (steps,) > 0, the step in lambda
    # 1 / (2r) = h / (2 h_prev) on each step that has a previous call; 0 means a first-order step.
    half_inv_r = torch.zeros_like(h)  # (steps,)
    half_inv_r[1:] = h[1:] / (2 * h[:-1])
    half_inv_r[torch.isinf(h)] = 0.0  # the step to sigma = 0: first order
    ratio = sigma64[1:] / sigma64[:-1]  # (steps,) sigma_s / sigma_t: 0 on a step to sigma = 0
    coef = alpha64[1:] * -torch.expm1(-h)  # (steps,) alpha_s (1 - e^-h): alpha_s where h = inf
    second = (half_inv_r > 0).tolist()  # plain bools: no tensor comparison inside the loop
    ratio, coef, extra = grid.table(ratio), grid.table(coef), grid.table(half_inv_r)
    call, t_out, x0_prev = Caller(model, x, grid), grid.t_out, None
    for i in range(grid.steps):
        pred = call(x, i)
        d = pred.x0  # (B, ...) first order: D = x0_t
        if second[i]:  # second order: D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev, rearranged
            d = pred.x0 + extra[i] * (pred.x0 - x0_prev)
        x = ratio[i] * x + coef[i] * d  # the linear part exactly, the x0 part to second order
        x0_prev = pred.x0
        yield Step(t_out[i + 1], x, pred.x0)


# ---- the reverse SDE (Song et al. 2021) ---------------------------------------------------------

class _SDE(NamedTuple):
    """The reverse SDE's coefficients on a grid, per step, in x's dtype: at every time but the last,
    where sigma may be 0 and g^2 is not needed."""

    f: tuple  # (steps,)
    g2: tuple  # (steps,)
    dt: tuple  # (steps,) > 0: time runs backwards
    noise: tuple  # (steps,) sqrt(g^2 dt), the scale of each step's fresh noise


def _sde(grid: _Grid) -> _SDE:
    f, g2 = sde_coefficients(grid.schedule, grid.t64[:-1])
    dt = grid.t64[:-1] - grid.t64[1:]
    return _SDE(*(grid.table(v) for v in (f, g2, dt, (g2 * dt).sqrt())))


def _em_step(call, x, i, grid: _Grid, sde: _SDE, draw):
    """One Euler-Maruyama step of the reverse SDE from ts[i] to ts[i + 1]; returns (x_next, prediction)."""
    pred = call(x, i)
    if grid.t_out[i + 1] == 0:  # the last step lands on clean data: take it without noise (as ddpm does)
        return grid.alpha[i + 1] * pred.x0 + grid.sigma[i + 1] * pred.eps, pred
    score = -pred.eps / grid.sigma[i]  # (B, ...): grad log p_t(x) = -eps / sigma (Vincent 2011)
    drift = reverse_sde_drift(x, score, sde.f[i], sde.g2[i])  # f x - g^2 score, eq. 6
    return x - drift * sde.dt[i] + sde.noise[i] * draw(x), pred


@_without_grad
def euler_maruyama(model, x: torch.Tensor, ts, schedule: Schedule,
                   generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler-Maruyama for the reverse SDE dx = [f x - g^2 score] dt + g dw-bar (Song et al. 2021,
    eq. 6), stepping in t with f and g^2 from the schedule; a step that lands on t = 0 adds no noise
    (the deterministic DDIM step, as ddpm does). NFE = steps."""
    grid = _Grid(ts, x, schedule, "euler_maruyama")
    sde, call, draw = _sde(grid), Caller(model, x, grid), _draw(x, generator)
    for i in range(grid.steps):
        x, pred = _em_step(call, x, i, grid, sde, draw)
        yield Step(grid.t_out[i + 1], x, pred.x0)


@_without_grad
def predictor_corrector(model, x: torch.Tensor, ts, schedule: Schedule, snr: float = 0.16,
                        generator: torch.Generator | None = None) -> Iterator[Step]:
    """Predictor-corrector sampling (Song et al. 2021, Algorithms 1-3): an Euler-Maruyama step of the
    reverse SDE, then one Langevin step at the new time with step size 2 (snr |z| / |score|)^2
    (norms averaged over the batch, as in the paper's code). NFE = 2 steps - 1."""
    if not snr > 0:
        raise ValueError(f"predictor_corrector: snr must be > 0 (0.16 in the paper), got {snr}")
    grid = _Grid(ts, x, schedule, "predictor_corrector")
    sde, call, draw = _sde(grid), Caller(model, x, grid), _draw(x, generator)
    for i in range(grid.steps):
        x, pred = _em_step(call, x, i, grid, sde, draw)  # the predictor
        if grid.t_out[i + 1] > 0:  # the corrector: Langevin dynamics for p at the new time (Algorithm 4)
            pred = call(x, i + 1)
            score = -pred.eps / grid.sigma[i + 1]  # (B, ...): grad log p_t(x) = -eps / sigma
            z = draw(x)
            ratio = _mean_norm(z) / _mean_norm(score)  # 0-d, stays on x's device: no .item() per step
            step_size = 2 * (snr * ratio) ** 2
            x = x + step_size * score + torch.sqrt(2 * step_size) * z
        yield Step(grid.t_out[i + 1], x, pred.x0)


def _mean_norm(v: torch.Tensor) -> torch.Tensor:
    """The Euclidean norm of each sample, averaged over the batch (0-d)."""
    return torch.linalg.vector_norm(v.flatten(1), dim=1).mean()  # what v.flatten(1).norm(dim=1) calls


# Every diffusion sampler by name, all called as sampler(model, x, ts, schedule, generator=...).
SAMPLERS: dict[str, Callable[..., Iterator[Step]]] = {
    "ddpm": ddpm, "ddim": ddim, "euler": euler, "heun": heun, "dpm_solver_pp": dpm_solver_pp,
    "euler_maruyama": euler_maruyama, "predictor_corrector": predictor_corrector,
}
