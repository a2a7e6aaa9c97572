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


@torch.no_grad()  # no graph through the steps; a score that needs autograd enables it itself
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


@torch.no_grad()  # like every sampler: no graph through the steps
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
    ts, t64 = _grid(ts, x, schedule, "annealed_langevin")  # t64: the exact times, float64 on the CPU
    if not isinstance(schedule, VE):  # Algorithm 1 perturbs x0 + sigma eps: alpha = 1
        raise ValueError(f"annealed_langevin: Song & Ermon's sampler runs on a VE schedule (x_t = x0 + "
                         f"sigma eps), got {schedule!r}; for a VP schedule use predictor_corrector")
    if repr(getattr(model, "schedule", schedule)) != repr(schedule):
        raise ValueError(f"annealed_langevin: the model was built on {model.schedule!r} but the sampler "
                         f"got {schedule!r}; pass the model's own: schedule=model.schedule")
    eps = _positive(step_size, "step_size", "annealed_langevin")
    _count(n_steps_each, "n_steps_each", "annealed_langevin")
    sigma = schedule.sigma(t64)  # (L,) the noise levels, largest first
    for i in range(len(ts)):
        # h grows with sigma^2: the score's size goes like 1 / sigma, so the drift h * score against
        # the noise sqrt(2 h) z keeps the same ratio at every level (Song & Ermon 2019, sec. 4.3).
        h = eps * (sigma[i] / sigma[-1]).item() ** 2
        noise_scale = math.sqrt(2 * h)
        for _ in range(n_steps_each):
            score = -predict(model, x, ts[i]).eps / sigma[i].item()  # the Denoiser's eps as a score
            x = x + h * score + noise_scale * randn_like(x, generator)
            yield Step(float(t64[i]), x)


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


def predict(model, x: torch.Tensor, t: torch.Tensor) -> Prediction:
    """The one place a sampler calls the model: model(x, t) at one time t for the whole batch."""
    out = model(x, t.expand(x.shape[0]))  # t as a (B,) tensor, one time per point
    if not (hasattr(out, "eps") and hasattr(out, "x0")):
        raise TypeError(f"the model returned a {type(out).__name__}, not a prediction with .eps and .x0: "
                        "wrap the network: params.Denoiser(net, schedule, target='eps')")
    return out


class Caller:
    """The model, called at the times of one checked grid: `call(x, i)` is predict(model, x, ts[i]).

    A params.Denoiser is checked once here (x's dtype and device against its weights) and then called
    through Denoiser.predict_with, with alpha(t) and sigma(t) computed once for the whole grid: its own
    forward re-validates t and re-evaluates the schedule on every call, most of a sampler's per-step cost
    when the network is small (benchmarks/sampler_overhead.py). Any other model (a guidance wrapper, an
    exact denoiser, a CountCalls) is called as model(x, t), each time."""

    def __init__(self, model, x: torch.Tensor, ts: torch.Tensor, t64: torch.Tensor):
        self.model, self.ts = model, ts
        self.direct = isinstance(model, Denoiser) and type(model).forward is Denoiser.forward
        if self.direct:
            model._check(x)
            alpha, sigma = model.schedule.alpha(t64), model.schedule.sigma(t64)  # float64, once
            self.alpha, self.sigma = list(_on(alpha, x).unbind()), list(_on(sigma, x).unbind())
            # the times at which this model cannot predict, found once: None, or why not (raised at the call)
            self.refusal = [model._no_noise_message(t) if model.needs_noise and s == 0 else
                            model._no_signal_message(t) if model.needs_signal and a == 0 else None
                            for t, a, s in zip(t64.tolist(), alpha.tolist(), sigma.tolist())]
            self.batch = x.shape[0]
            self.t = [t.expand(self.batch) for t in ts.unbind()]  # (B,) per grid time

    def __call__(self, x: torch.Tensor, i: int) -> Prediction:
        if not self.direct or x.shape[0] != self.batch:
            return predict(self.model, x, self.ts[i])
        if self.refusal[i] is not None:
            raise ValueError(self.refusal[i])
        return self.model.predict_with(x, self.t[i], self.alpha[i], self.sigma[i])


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


@torch.no_grad()  # no graph through 1000 steps; torch's decorator re-enters it around each yield
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
    ts, t64 = _grid(ts, x, schedule, "ddpm", zero_snr_start=True)
    # The chain's coefficients in float64: 1 - alpha_bar(t) / alpha_bar(s) loses digits in float32.
    alpha_step, beta_sqrt = q_transition(t64[1:], t64[:-1], schedule)  # (steps,): sqrt(1 - beta), sqrt(beta)
    beta, sigma = beta_sqrt**2, schedule.sigma(t64)  # (steps,), (steps + 1,)
    var = beta if variance == "beta" else beta * sigma[1:] ** 2 / sigma[:-1] ** 2
    # From alpha_t = 0 (zero terminal SNR) line 4 is 0 / 0; there the posterior mean of eq. 7 is alpha_s x0.
    from_zero, alpha_next = (alpha_step == 0).tolist(), _on(schedule.alpha(t64[1:]), x).unbind()
    coef, alpha_step, noise = _on(beta / sigma[:-1], x), _on(alpha_step, x), _on(var.sqrt(), x)
    call, t_out = Caller(model, x, ts, t64), t64.tolist()
    for i in range(len(ts) - 1):
        pred = call(x, i)
        if from_zero[i]:
            x = alpha_next[i] * pred.x0  # eq. 7's mean with sqrt(alpha_bar_t) = 0: x_t carries no weight
        else:  # Algorithm 2, line 4: x_s = (x_t - beta / sqrt(1 - alpha_bar_t) eps) / sqrt(1 - beta) + sigma z
            x = (x - coef[i] * pred.eps) / alpha_step[i]
        if t_out[i + 1] > 0:
            x = x + noise[i] * randn_like(x, generator)
        yield Step(t=t_out[i + 1], x=x, x0=pred.x0)


# ---- DDIM (Song, Meng & Ermon 2021), which with eta = 0 is Euler's method -----------------------

@torch.no_grad()
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
    ts, t64 = _grid(ts, x, schedule, "ddim", zero_snr_start=True)  # from alpha = 0: eps = x_t, c^2 = eta^2 sigma_s^2
    alpha, sigma, log_snr = schedule.alpha(t64), schedule.sigma(t64), schedule.log_snr(t64)
    # 1 - snr_t / snr_s = -expm1(log_snr_t - log_snr_s): 1 where s = 0 (log-SNR +inf there)
    c2 = eta**2 * sigma[1:] ** 2 * -torch.expm1(log_snr[:-1] - log_snr[1:])  # (steps,)
    keep = (sigma[1:] ** 2 - c2).clamp(min=0).sqrt()  # the part of the noise that stays pointed
    alpha, keep, c = _on(alpha, x).unbind(), _on(keep, x).unbind(), _on(c2.sqrt(), x).unbind()
    call, t_out = Caller(model, x, ts, t64), t64.tolist()
    for i in range(len(ts) - 1):
        pred = call(x, i)
        x = alpha[i + 1] * pred.x0 + keep[i] * pred.eps  # eq. 12 without its fresh noise
        if eta > 0 and t_out[i + 1] > 0:
            x = x + c[i] * randn_like(x, generator)  # the fresh noise, as in ddpm
        yield Step(t=t_out[i + 1], x=x, x0=pred.x0)


def euler(model, x: torch.Tensor, ts, schedule: Schedule,
          generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler's method for the probability-flow ODE dy/ds = eps_hat in y = x / alpha, s = sigma / alpha
    (Karras et al. 2022, Algorithm 1 without line 6's correction). It is ddim with eta = 0 (Song, Meng &
    Ermon 2021, section 4.3): y_s = x0 + s_s eps = y_t + (s_s - s_t) eps is DDIM's step divided by alpha_s.
    So it is that one implementation under a second name; generator is unused. NFE = steps."""
    return ddim(model, x, ts, schedule, eta=0.0, generator=generator)


# ---- Heun (Karras et al. 2022) ------------------------------------------------------------------

@torch.no_grad()
def heun(model, x: torch.Tensor, ts, schedule: Schedule,
         generator: torch.Generator | None = None) -> Iterator[Step]:
    """Heun's method (explicit trapezoid) for dy/ds = eps_hat (Karras et al. 2022, Algorithm 1): an Euler
    step, then the average of the slopes at both ends; the step to s = 0 stays Euler. NFE = 2 steps - 1
    (2 steps when the grid ends above s = 0). Deterministic: generator is unused."""
    ts, t64 = _grid(ts, x, schedule, "heun")
    alpha64, sigma64 = schedule.alpha(t64), schedule.sigma(t64)
    s64 = sigma64 / alpha64  # the noise level, the ODE's clock
    alpha, sigma, s = _on(alpha64, x).unbind(), _on(sigma64, x).unbind(), _on(s64, x).unbind()
    call, t_out, last = Caller(model, x, ts, t64), t64.tolist(), (s64 == 0).tolist()
    for i in range(len(ts) - 1):
        pred = call(x, i)
        x_euler = alpha[i + 1] * pred.x0 + sigma[i + 1] * pred.eps  # the Euler predictor (line 5)
        if last[i + 1]:
            x, x0 = x_euler, pred.x0  # the slope at s = 0 is not defined: the last step is Euler (line 6)
        else:
            pred_next = call(x_euler, i + 1)  # the slope at the end of the step (line 7)
            y = x / alpha[i] + (s[i + 1] - s[i]) * 0.5 * (pred.eps + pred_next.eps)  # (B, ...): line 8
            x, x0 = alpha[i + 1] * y, pred_next.x0  # x0: the latest guess, made at the new time
        yield Step(t=t_out[i + 1], x=x, x0=x0)


# ---- DPM-Solver++(2M) (Lu et al. 2022) ----------------------------------------------------------

@torch.no_grad()
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
    ts, t64 = _grid(ts, x, schedule, "dpm_solver_pp", zero_snr_start=True)
    alpha64, sigma64 = schedule.alpha(t64), schedule.sigma(t64)  # (steps + 1,) each
    lam = 0.5 * schedule.log_snr(t64)  # lambda = log(alpha / sigma) is HALF the log-SNR; +inf at sigma = 0
    h = lam[1:] - lam[:-1]  # (steps,) > 0, the step in lambda
    # 1 / (2r) = h / (2 h_prev) on each step that has a previous call; 0 means a first-order step.
    half_inv_r = torch.zeros_like(h)  # (steps,)
    half_inv_r[1:] = h[1:] / (2 * h[:-1])
    half_inv_r[torch.isinf(h)] = 0.0  # the step to sigma = 0: first order
    ratio = sigma64[1:] / sigma64[:-1]  # (steps,) sigma_s / sigma_t: 0 on a step to sigma = 0
    coef = alpha64[1:] * -torch.expm1(-h)  # (steps,) alpha_s (1 - e^-h): alpha_s where h = inf
    second = (half_inv_r > 0).tolist()  # plain bools: no tensor comparison inside the loop
    ratio, coef, extra = _on(ratio, x).unbind(), _on(coef, x).unbind(), _on(half_inv_r, x).unbind()
    call, t_out, x0_prev = Caller(model, x, ts, t64), t64.tolist(), None
    for i in range(len(ts) - 1):
        pred = call(x, i)
        d = pred.x0  # (B, ...) first order: D = x0_t
        if second[i]:  # second order: D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev, rearranged
            d = pred.x0 + extra[i] * (pred.x0 - x0_prev)
        x = ratio[i] * x + coef[i] * d  # the linear part exactly, the x0 part to second order
        x0_prev = pred.x0
        yield Step(t=t_out[i + 1], x=x, x0=pred.x0)


# ---- the reverse SDE (Song et al. 2021) ---------------------------------------------------------

class _SDEGrid(NamedTuple):
    """A checked grid with the reverse SDE's coefficients: float64 times on the CPU, the rest in x's dtype."""

    ts: torch.Tensor  # (steps + 1,) the times, for the model
    t64: torch.Tensor  # (steps + 1,) the same times in float64, for Step.t and the tests on t
    alpha: torch.Tensor  # (steps + 1,)
    sigma: torch.Tensor  # (steps + 1,)
    f: torch.Tensor  # (steps,) at every time but the last, where sigma may be 0 and g^2 is not needed
    g2: torch.Tensor  # (steps,)
    dt: torch.Tensor  # (steps,) > 0: time runs backwards
    noise: torch.Tensor  # (steps,) sqrt(g^2 dt), the scale of each step's fresh noise
    t_out: list  # the times as Python floats, for Step.t and the tests on t inside the loop


def _sde_grid(ts, x, schedule, where) -> _SDEGrid:
    ts, t64 = _grid(ts, x, schedule, where)
    f, g2 = sde_coefficients(schedule, t64[:-1])
    # tuples of 0-d tensors: indexing them in the loop costs nothing, unlike indexing a tensor
    dt = t64[:-1] - t64[1:]
    return _SDEGrid(ts, t64, *(_on(v, x).unbind() for v in (schedule.alpha(t64), schedule.sigma(t64), f, g2, dt,
                                                          (g2 * dt).sqrt())), t64.tolist())


def _em_step(call, x, i, grid: _SDEGrid, generator):
    """One Euler-Maruyama step of the reverse SDE from ts[i] to ts[i + 1]; returns (x_next, prediction)."""
    pred = call(x, i)
    if grid.t_out[i + 1] == 0:  # the last step lands on clean data: take it without noise (as ddpm does)
        return grid.alpha[i + 1] * pred.x0 + grid.sigma[i + 1] * pred.eps, pred
    score = -pred.eps / grid.sigma[i]  # (B, ...): grad log p_t(x) = -eps / sigma (Vincent 2011)
    drift = reverse_sde_drift(x, score, grid.f[i], grid.g2[i])  # f x - g^2 score, eq. 6
    return x - drift * grid.dt[i] + grid.noise[i] * randn_like(x, generator), pred


@torch.no_grad()
def euler_maruyama(model, x: torch.Tensor, ts, schedule: Schedule,
                   generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler-Maruyama for the reverse SDE dx = [f x - g^2 score] dt + g dw-bar (Song et al. 2021,
    eq. 6), stepping in t with f and g^2 from the schedule; a step that lands on t = 0 adds no noise
    (the deterministic DDIM step, as ddpm does). NFE = steps."""
    grid = _sde_grid(ts, x, schedule, "euler_maruyama")
    call = Caller(model, x, grid.ts, grid.t64)
    for i in range(len(grid.ts) - 1):
        x, pred = _em_step(call, x, i, grid, generator)
        yield Step(t=grid.t_out[i + 1], x=x, x0=pred.x0)


@torch.no_grad()
def predictor_corrector(model, x: torch.Tensor, ts, schedule: Schedule, snr: float = 0.16,
                        generator: torch.Generator | None = None) -> Iterator[Step]:
    """Predictor-corrector sampling (Song et al. 2021, Algorithms 1-3): an Euler-Maruyama step of the
    reverse SDE, then one Langevin step at the new time with step size 2 (snr |z| / |score|)^2
    (norms averaged over the batch, as in the paper's code). NFE = 2 steps - 1."""
    if not snr > 0:
        raise ValueError(f"predictor_corrector: snr must be > 0 (0.16 in the paper), got {snr}")
    grid = _sde_grid(ts, x, schedule, "predictor_corrector")
    call = Caller(model, x, grid.ts, grid.t64)
    for i in range(len(grid.ts) - 1):
        x, pred = _em_step(call, x, i, grid, generator)  # the predictor
        if grid.t_out[i + 1] > 0:  # the corrector: Langevin dynamics for p at the new time (Algorithm 4)
            pred = call(x, i + 1)
            score = -pred.eps / grid.sigma[i + 1]  # (B, ...): grad log p_t(x) = -eps / sigma
            z = randn_like(x, generator)
            ratio = z.flatten(1).norm(dim=1).mean() / score.flatten(1).norm(dim=1).mean()
            step_size = 2 * (snr * ratio) ** 2
            x = x + step_size * score + torch.sqrt(2 * step_size) * z
        yield Step(t=grid.t_out[i + 1], x=x, x0=pred.x0)


# Every diffusion sampler by name, all called as sampler(model, x, ts, schedule, generator=...).
SAMPLERS: dict[str, Callable[..., Iterator[Step]]] = {
    "ddpm": ddpm, "ddim": ddim, "euler": euler, "heun": heun, "dpm_solver_pp": dpm_solver_pp,
    "euler_maruyama": euler_maruyama, "predictor_corrector": predictor_corrector,
}
