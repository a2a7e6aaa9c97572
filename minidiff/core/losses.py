"""Training losses: what a network is asked to predict, and how each error is weighted.

Denoising score matching (Vincent 2011) over a ladder of noise levels (Song & Ermon 2019) lives
here, on the one clock of the course: a level is a time t on a VE schedule, sigma = sigma(t); the
diffusion losses with their prediction targets (eps, x0, v, score) sit beside it.
Every loss takes the model first and the clean batch x0 second, and returns a scalar.
"""

from typing import Callable

import torch

from ..runtime import check_generator, randn_like
from .schedules import VE, Schedule

WRAP = "wrap the network: params.Denoiser(net, VE(sigma_min, sigma_max), target='eps')"


# --- Denoising score matching -------------------------------------------------------------------

def dsm_target(x0: torch.Tensor, xt: torch.Tensor, sigma) -> torch.Tensor:
    """grad log q(xt | x0) = -(xt - x0) / sigma^2, the score DSM regresses on (Vincent 2011, eq. 11)."""
    sigma = _per_point(_like(sigma, xt), xt)
    return -(xt - x0) / sigma**2


def dsm_loss(model, x0: torch.Tensor, ts, generator: torch.Generator | None = None,
             eps: torch.Tensor | None = None) -> torch.Tensor:
    """Denoising score matching over noise levels (Song & Ermon 2019, eq. 5-6, lambda = sigma^2).

    model is a params.Denoiser on a VE schedule; its score at (xt, t) is -eps / sigma(t). Each point
    of x0 (B, ...) gets a time drawn uniformly from `ts` (a number or a 1-D sequence of times in
    [0, 1]; from noise levels: schedule.t_from_sigma(sigmas)) and noise eps (drawn with `generator`
    unless given), and xt = x0 + sigma(t) eps. The loss is the mean over points of
    1/2 sigma^2 ||score - dsm_target(x0, xt, sigma)||^2, summed over coordinates.
    """
    check_generator(generator, "losses.dsm_loss")
    schedule = _ve_schedule(model, "dsm_loss")
    ts = _times(ts, x0, "dsm_loss")  # (L,)
    if eps is None:
        eps = randn_like(x0, generator)
    elif eps.shape != x0.shape:
        raise ValueError(f"dsm_loss: eps must have the shape of x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")
    # A uniform random level per point: an unbiased estimate of eq. 6's average over the L levels.
    index = torch.randint(len(ts), (x0.shape[0],), generator=generator,
                          device=_gen_device(generator, x0)).to(x0.device)
    t = ts[index]  # (B,)
    sigma = _per_point(schedule.sigma(t), x0)  # (B, 1, ...), broadcasts against x0
    xt = x0 + sigma * eps  # the perturbed data, alpha = 1
    score = -_eps(model, xt, t, "dsm_loss") / sigma  # the Denoiser's eps as a score
    # lambda(sigma) = sigma^2 makes every level's term of size about 1 (Song & Ermon 2019, sec. 4.2):
    # sigma^2 ||score + eps / sigma||^2 = ||eps - eps_model||^2, the DDPM loss of lesson 07.
    per_point = (sigma**2 * (score - dsm_target(x0, xt, sigma)) ** 2).flatten(1).sum(1)  # (B,)
    return 0.5 * per_point.mean()


def score_error(model, mixture, t: float, n: int = 4000, generator: torch.Generator | None = None,
                device=None, relative: bool = False) -> float:
    """sqrt(E ||sigma (score_model - exact score)||^2) = RMS of eps_model - E[eps | xt], over the
    mixture noised to time t of the model's schedule: the error in units of the noise, weighted by
    where the noised data is. Its square is twice the DSM loss above its minimum at that level
    (Vincent 2011, eq. 11 = eq. 7 + a constant). relative=True divides it by the same quantity for
    a score of 0 (so 1 means: no better than no slope at all)."""
    check_generator(generator, "losses.score_error")
    schedule = _schedule(model, "score_error")
    t = float(t)
    if not 0 <= t <= 1:
        raise ValueError(f"score_error: t must be a time in [0, 1] (from a noise level: "
                         f"schedule.t_from_sigma(sigma)), got {t}")
    t64 = torch.tensor(t, dtype=torch.float64)  # the coefficients in float64, on the CPU
    sigma = schedule.sigma(t64).item()
    noised = mixture.noised(schedule.alpha(t64).item(), sigma)  # the exact law of x_t
    xt = noised.sample(n, generator=generator, device=device)  # (n, D)
    exact = -sigma * noised.score(xt)  # E[eps | xt] = -sigma grad log p_t (Tweedie)
    with torch.no_grad():
        diff = _eps(model, xt, torch.full((n,), t, dtype=xt.dtype, device=xt.device), "score_error") - exact
    error = diff.pow(2).sum(1).mean().sqrt().item()
    return error / exact.pow(2).sum(1).mean().sqrt().item() if relative else error


# --- helpers ------------------------------------------------------------------------------------

def _schedule(model, where: str) -> Schedule:
    """The model's schedule: a network called bare has none, and its output would not say what it is."""
    schedule = getattr(model, "schedule", None)
    if not isinstance(schedule, Schedule):
        raise ValueError(f"{where}: model must be a params.Denoiser (it knows its schedule and what "
                         f"its network predicts), got a {type(model).__name__}; {WRAP}")
    return schedule


def _ve_schedule(model, where: str) -> VE:
    schedule = _schedule(model, where)
    if not isinstance(schedule, VE):  # Song & Ermon's levels perturb x0 + sigma eps: alpha = 1
        raise ValueError(f"{where}: needs a Denoiser on a VE schedule (x_t = x0 + sigma eps, Song & "
                         f"Ermon 2019), got {schedule!r}; for a VP schedule use diffusion_loss")
    return schedule


def _eps(model, xt: torch.Tensor, t: torch.Tensor, where: str) -> torch.Tensor:
    """The model's predicted noise at (xt, t); a bare network's tensor says nothing about what it is."""
    pred = model(xt, t)
    if not hasattr(pred, "eps"):
        raise ValueError(f"{where}: the model returned a {type(pred).__name__}, not a prediction "
                         f"with .eps; {WRAP}")
    return pred.eps


def _times(ts, x0: torch.Tensor, where: str) -> torch.Tensor:
    ts = _like(ts, x0).reshape(-1)  # a number becomes one level
    if len(ts) == 0 or not ((ts >= 0) & (ts <= 1)).all():
        raise ValueError(f"{where}: ts must be one or more times in [0, 1] on the VE schedule (from "
                         f"noise levels: schedule.t_from_sigma(sigmas)), got {ts.tolist()[:6]}")
    return ts


def _like(value, x: torch.Tensor) -> torch.Tensor:
    """Numbers become tensors in x's dtype directly (0.9 via float32 would not be 0.9 in float64)."""
    if isinstance(value, torch.Tensor):
        return value.to(x)
    return torch.as_tensor(value, dtype=x.dtype, device=x.device)


def _per_point(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A number or a (B,) tensor -> shape (B, 1, ...) so it broadcasts over x's other axes."""
    return value.reshape(-1, *([1] * (x.ndim - 1))) if value.ndim else value


def _gen_device(generator: torch.Generator | None, x: torch.Tensor) -> torch.device:
    return generator.device if generator is not None else x.device


# --- Diffusion losses (Ho et al. 2020) ----------------------------------------------------------

TARGETS = ("eps", "x0", "v", "score")


def diffusion_target(x0: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
                     target: str) -> torch.Tensor:
    """What a network predicting `target` should output for x_t = alpha x0 + sigma eps: eps, x0,
    v = alpha eps - sigma x0 (Salimans & Ho 2022, eq. 9) or the score -eps / sigma (Song et al. 2021)."""
    if target == "eps":
        return eps
    if target == "x0":
        return x0
    if target == "v":
        return alpha * eps - sigma * x0
    if target == "score":
        return -eps / sigma  # grad log q(x_t | x0); infinite at sigma = 0
    raise ValueError(f"diffusion_target: target must be one of {TARGETS}, got {target!r}")


def diffusion_loss(model, x0: torch.Tensor, schedule, target: str = "eps",
                   weighting: Callable | None = None, generator: torch.Generator | None = None, *,
                   t: torch.Tensor | None = None, eps: torch.Tensor | None = None,
                   cond: torch.Tensor | None = None) -> torch.Tensor:
    """E_t E_eps w(t) ||target - model(x_t, t)||^2 with x_t = alpha(t) x0 + sigma(t) eps: for target
    'eps' and w = 1 the 'simple' loss of Ho et al. 2020 (eq. 14, Algorithm 1).

    model(x_t, t) (t of shape (B,)) returns its prediction of `target` ('eps', 'x0', 'v', 'score'),
    shaped like x0. t ~ U(0, 1] and eps ~ N(0, I) are drawn per example (with `generator`) unless
    given. The squared error is averaged over each example's coordinates (as in Ho et al.'s code),
    multiplied by weighting(t) (a (B,) tensor; None means 1) and averaged over the batch. With
    target 'score' the error grows like 1 / sigma^2 near t = 0: weight it by sigma(t)^2
    (Song et al. 2021, eq. 7) to make it the eps loss. `cond` (labels, ...) is passed on as model(x_t, t, cond).
    """
    if target not in TARGETS:
        raise ValueError(f"diffusion_loss: target must be one of {TARGETS}, got {target!r}")
    check_generator(generator, "diffusion_loss")
    if eps is None:
        eps = randn_like(x0, generator)
    elif eps.shape != x0.shape:
        raise ValueError(f"diffusion_loss: eps must have the shape of x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")
    if t is None:
        # 1 - U with U in [0, 1): t in (0, 1], so sigma(t) > 0 and the score target stays finite.
        u = torch.rand(x0.shape[0], generator=generator, device=_gen_device(generator, x0), dtype=x0.dtype)
        t = 1 - u.to(x0.device)  # (B,)
    else:
        t = _like(t, x0)
        t = t.expand(x0.shape[0]) if t.ndim == 0 else t  # one time for the whole batch
        if t.shape != (x0.shape[0],):
            raise ValueError(f"diffusion_loss: t must be one time or one per example, shape "
                             f"({x0.shape[0]},), got shape {tuple(t.shape)}")
        bad = ~((t >= 0) & (t <= 1))  # also catches NaN
        if bad.any():
            raise ValueError(f"diffusion_loss: t must be in [0, 1] (0 clean, 1 pure noise), got "
                             f"{t[bad][0].item():g}; a step index k of T steps is the time t = k / T")
    alpha, sigma = _per_point(schedule.alpha(t), x0), _per_point(schedule.sigma(t), x0)  # (B, 1, ...)
    xt = alpha * x0 + sigma * eps  # q(x_t | x0), Ho et al. 2020, eq. 4
    out = model(xt, t) if cond is None else model(xt, t, cond)
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"diffusion_loss: model returned a {type(out).__name__}, not a tensor; pass the raw "
                         "network (for a Denoiser: denoiser.net, with target=denoiser.target)")
    if out.shape != x0.shape:
        raise ValueError(f"diffusion_loss: model returned shape {tuple(out.shape)}, expected {tuple(x0.shape)}")
    per_example = ((out - diffusion_target(x0, eps, alpha, sigma, target)) ** 2).flatten(1).mean(1)  # (B,)
    if weighting is not None:
        w = _like(weighting(t), x0)
        if w.shape != per_example.shape:
            raise ValueError(f"diffusion_loss: weighting(t) must return shape ({x0.shape[0]},), got {tuple(w.shape)}")
        per_example = w * per_example
    return per_example.mean()
