"""The SDE view of diffusion (Song et al. 2021) and samplers that solve it step by step.

Any schedule's forward process x_t = alpha(t) x0 + sigma(t) eps is the solution of the SDE
dx = f(t) x dt + g(t) dw (eq. 5) with f = d log alpha / dt and g^2 = d sigma^2 / dt - 2 f sigma^2.
Run backwards it is the reverse SDE (eq. 6); its probability-flow ODE (eq. 13) has the same marginals.

The ODE solvers step in the coordinates y = x / alpha, where the noise level is s = sigma / alpha.
There every schedule is the variance-exploding one, and the probability-flow ODE reads simply
dy / ds = eps_hat (Karras et al. 2022, eqs. 1 and 3 with sigma(t) = t; Song, Meng & Ermon 2021,
eqs. 13-14): Euler there is DDIM with eta = 0, and Heun adds one correction. The SDE solvers step in t
with f and g^2. The grid `ts` is the caller's: a decreasing 1-D tensor of times; `model(x, t)`
returns a prediction with fields `eps` and `x0` (a params.Denoiser).
"""

from typing import Iterator

import torch

from .samplers import Step, randn_like
from .schedules import Schedule


def sde_coefficients(schedule: Schedule, t) -> tuple[torch.Tensor, torch.Tensor]:
    """(f(t), g(t)^2) of the forward SDE dx = f x dt + g dw (Song et al. 2021, eq. 5) whose solution has
    mean alpha x0 and variance sigma^2, by autograd: f = d log alpha / dt, g^2 = -sigma^2 d log-SNR / dt."""
    t = torch.as_tensor(t, dtype=torch.get_default_dtype()) if not torch.is_tensor(t) else t
    with torch.enable_grad():
        t = t.detach().clone().requires_grad_(True)
        f, dlog_snr = (_derivative(value, t) for value in (schedule.alpha(t).log(), schedule.log_snr(t)))
    # d sigma^2/dt - 2 f sigma^2 = 2 sigma^2 (d log sigma - d log alpha)/dt = -sigma^2 d log-SNR/dt
    g2 = -schedule.sigma(t.detach()) ** 2 * dlog_snr
    return f, g2


def _derivative(value: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # elementwise d value / dt; a value that does not depend on t (alpha = 1 for VE) has derivative 0
    if not value.requires_grad:
        return torch.zeros_like(t.detach())
    return torch.autograd.grad(value.sum(), t)[0]


def pf_ode_drift(x: torch.Tensor, score: torch.Tensor, f, g2) -> torch.Tensor:
    """dx/dt of the probability-flow ODE, f x - 1/2 g^2 score (Song et al. 2021, eq. 13)."""
    return f * x - 0.5 * g2 * score


def reverse_sde_drift(x: torch.Tensor, score: torch.Tensor, f, g2) -> torch.Tensor:
    """The drift of the reverse SDE, f x - g^2 score; its noise is g dw-bar (Song et al. 2021, eq. 6)."""
    return f * x - g2 * score


class CountCalls:
    """Wraps a model and counts its calls: `model.calls` is the number of network evaluations (NFE)."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor, *args, **kwargs):
        self.calls += 1
        return self.model(x, t, *args, **kwargs)


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


def time_grid(ts, x: torch.Tensor, schedule: Schedule, where: str):
    """Check a decreasing 1-D grid of times; return it (x's dtype) with alpha, sigma and s = sigma / alpha
    on it (computed in float64, then in x's dtype)."""
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or len(ts) < 2:
        raise ValueError(f"{where}: ts must be a 1-D tensor of at least 2 times (steps + 1), "
                         f"got shape {tuple(ts.shape)}; e.g. schedules.karras_grid(20, schedule)")
    ts = ts.to(device=x.device, dtype=x.dtype)
    if not (ts[1:] < ts[:-1]).all():
        raise ValueError(f"{where}: ts must decrease strictly (from noise to data), got {ts.tolist()[:4]}...")
    t64 = ts.detach().double().cpu()
    alpha, sigma = schedule.alpha(t64), schedule.sigma(t64)  # (steps + 1,), checks t in [0, 1]
    if not (alpha > 0).all():
        raise ValueError(f"{where}: alpha(t) = 0 at t = {t64[0].item():g}, where the noise level "
                         "sigma / alpha is infinite; start the grid a little earlier, e.g. t = 0.999")
    return ts, alpha.to(x), sigma.to(x), (sigma / alpha).to(x)


def _predict(model, x: torch.Tensor, t: torch.Tensor):
    """The model's (eps, x0) at one time t for the whole batch."""
    out = model(x, t.expand(x.shape[0]))  # t as a (B,) tensor, one time per point
    return out.eps, out.x0


@torch.no_grad()  # sampling needs no graph; torch re-enters the mode around each yield
def euler(model, x: torch.Tensor, ts, schedule: Schedule) -> Iterator[Step]:
    """Euler's method for the probability-flow ODE dy/ds = eps_hat in y = x / alpha, s = sigma / alpha
    (Karras et al. 2022, Algorithm 1, lines 4-5 only); the same steps as DDIM with eta = 0. NFE = steps."""
    ts, alpha, sigma, s = time_grid(ts, x, schedule, "euler")
    for i in range(len(ts) - 1):
        eps, x0 = _predict(model, x, ts[i])
        # y' = y + (s' - s) eps with y = x0 + s eps, written in x so that it also holds where s' = 0
        x = alpha[i + 1] * x0 + sigma[i + 1] * eps
        yield Step(t=float(ts[i + 1]), x=x, x0=x0)


@torch.no_grad()
def heun(model, x: torch.Tensor, ts, schedule: Schedule) -> Iterator[Step]:
    """Heun's method (explicit trapezoid) for dy/ds = eps_hat (Karras et al. 2022, Algorithm 1): an Euler
    step, then the average of the slopes at both ends; the step to s = 0 stays Euler. NFE = 2 steps - 1."""
    ts, alpha, sigma, s = time_grid(ts, x, schedule, "heun")
    for i in range(len(ts) - 1):
        eps, x0 = _predict(model, x, ts[i])
        x_euler = alpha[i + 1] * x0 + sigma[i + 1] * eps  # the Euler predictor (Algorithm 1, line 5)
        if s[i + 1] == 0:
            x = x_euler  # the slope at s = 0 is not defined: the last step is Euler (line 6)
        else:
            eps_next, x0 = _predict(model, x_euler, ts[i + 1])
            y = x / alpha[i] + (s[i + 1] - s[i]) * 0.5 * (eps + eps_next)  # (B, ...): line 8
            x = alpha[i + 1] * y
        yield Step(t=float(ts[i + 1]), x=x, x0=x0)


def _em_step(model, x, i, ts, alpha, sigma, coefs, generator):
    """One Euler-Maruyama step of the reverse SDE from ts[i] to ts[i + 1]; returns (x_next, x0 at ts[i])."""
    eps, x0 = _predict(model, x, ts[i])
    if ts[i + 1] == 0:  # the last step lands on clean data: take it without noise (as ddpm does)
        return alpha[i + 1] * x0 + sigma[i + 1] * eps, x0
    f, g2 = coefs
    dt = ts[i] - ts[i + 1]  # > 0: time runs backwards
    score = -eps / sigma[i]  # (B, ...): grad log p_t(x) = -eps / sigma (Vincent 2011)
    drift = f[i] * x - g2[i] * score  # the reverse SDE's drift, eq. 6
    return x - drift * dt + torch.sqrt(g2[i] * dt) * randn_like(x, generator), x0


def _coefficients(ts: torch.Tensor, schedule: Schedule, x: torch.Tensor):
    # f and g^2 at every time but the last (where sigma may be 0 and g^2 is not needed), float64 first
    f, g2 = sde_coefficients(schedule, ts[:-1].detach().double().cpu())
    return f.to(x), g2.to(x)


@torch.no_grad()
def euler_maruyama(model, x: torch.Tensor, ts, schedule: Schedule,
                   generator: torch.Generator | None = None) -> Iterator[Step]:
    """Euler-Maruyama for the reverse SDE dx = [f x - g^2 score] dt + g dw-bar (Song et al. 2021,
    eq. 6), stepping in t with f and g^2 from the schedule; a step that lands on t = 0 adds no noise
    (the deterministic DDIM step, as ddpm does). NFE = steps."""
    ts, alpha, sigma, s = time_grid(ts, x, schedule, "euler_maruyama")
    coefs = _coefficients(ts, schedule, x)
    for i in range(len(ts) - 1):
        x, x0 = _em_step(model, x, i, ts, alpha, sigma, coefs, generator)
        yield Step(t=float(ts[i + 1]), x=x, x0=x0)


@torch.no_grad()
def predictor_corrector(model, x: torch.Tensor, ts, schedule: Schedule, snr: float = 0.16,
                        generator: torch.Generator | None = None) -> Iterator[Step]:
    """Predictor-corrector sampling (Song et al. 2021, Algorithms 1-3): an Euler-Maruyama step of the
    reverse SDE, then one Langevin step at the new time with step size 2 (snr |z| / |score|)^2
    (norms averaged over the batch, as in the paper's code). NFE = 2 steps - 1."""
    if not snr > 0:
        raise ValueError(f"predictor_corrector: snr must be > 0 (0.16 in the paper), got {snr}")
    ts, alpha, sigma, s = time_grid(ts, x, schedule, "predictor_corrector")
    coefs = _coefficients(ts, schedule, x)
    for i in range(len(ts) - 1):
        x, x0 = _em_step(model, x, i, ts, alpha, sigma, coefs, generator)  # the predictor
        if ts[i + 1] > 0:  # the corrector: Langevin dynamics for p at the new time (Algorithm 4)
            eps, _ = _predict(model, x, ts[i + 1])
            score = -eps / sigma[i + 1]  # (B, ...): grad log p_t(x) = -eps / sigma
            z = randn_like(x, generator)
            ratio = z.flatten(1).norm(dim=1).mean() / score.flatten(1).norm(dim=1).mean()
            step_size = 2 * (snr * ratio) ** 2
            x = x + step_size * score + torch.sqrt(2 * step_size) * z
        yield Step(t=float(ts[i + 1]), x=x, x0=x0)
