"""Training losses: what a network is asked to predict, and how each error is weighted.

Denoising score matching (Vincent 2011) over a ladder of noise levels (Song & Ermon 2019) lives
here; the diffusion losses with their prediction targets (eps, x0, v, score) sit beside it.
Every loss takes the network first and the clean batch x0 second, and returns a scalar.
"""

from typing import Callable

import torch

from .runtime import randn_like

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (xt, sigma (B,)) -> score


# --- Denoising score matching -------------------------------------------------------------------

def dsm_target(x0: torch.Tensor, xt: torch.Tensor, sigma) -> torch.Tensor:
    """grad log q(xt | x0) = -(xt - x0) / sigma^2, the score DSM regresses on (Vincent 2011, eq. 11)."""
    sigma = _per_point(_like(sigma, xt), xt)
    return -(xt - x0) / sigma**2


def dsm_loss(score_net: ScoreFn, x0: torch.Tensor, sigmas, generator: torch.Generator | None = None,
             eps: torch.Tensor | None = None) -> torch.Tensor:
    """Denoising score matching over noise levels (Song & Ermon 2019, eq. 5-6, lambda = sigma^2).

    Each point of x0 (B, ...) gets a level sigma drawn uniformly from `sigmas` (a number or a 1-D
    sequence) and noise eps (drawn with `generator` unless given); score_net(xt, sigma) with sigma
    of shape (B,) must return a score shaped like x0. The loss is the mean over points of
    1/2 sigma^2 ||score_net(xt, sigma) - dsm_target(x0, xt, sigma)||^2, summed over coordinates.
    """
    sigmas = _levels(sigmas, x0)  # (L,)
    if eps is None:
        eps = randn_like(x0, generator)
    elif eps.shape != x0.shape:
        raise ValueError(f"dsm_loss: eps must have the shape of x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")
    # A uniform random level per point: an unbiased estimate of eq. 6's average over the L levels.
    index = torch.randint(len(sigmas), (x0.shape[0],), generator=generator,
                          device=_gen_device(generator, x0)).to(x0.device)
    sigma = sigmas[index]  # (B,)
    s = _per_point(sigma, x0)  # (B, 1, ...), broadcasts against x0
    xt = x0 + s * eps  # the perturbed data, alpha = 1
    score = score_net(xt, sigma)
    if score.shape != x0.shape:
        raise ValueError(f"dsm_loss: score_net returned shape {tuple(score.shape)}, expected {tuple(x0.shape)}")
    # lambda(sigma) = sigma^2 makes every level's term of size about 1 (Song & Ermon 2019, sec. 4.2):
    # sigma^2 ||score + eps / sigma||^2 = ||sigma * score + eps||^2.
    per_point = (s**2 * (score - dsm_target(x0, xt, s)) ** 2).flatten(1).sum(1)  # (B,)
    return 0.5 * per_point.mean()


def score_error(score_net: ScoreFn, mixture, sigma: float, n: int = 4000,
                generator: torch.Generator | None = None, device=None, relative: bool = False) -> float:
    """sqrt(E ||sigma (score_net - exact score)||^2) over the mixture noised to sigma: the error in
    units of the noise, weighted by where the noised data is. Its square is twice the DSM loss
    above its minimum at that level (Vincent 2011, eq. 11 = eq. 7 + a constant). relative=True
    divides it by the same quantity for a score of 0 (so 1 means: no better than no slope at all)."""
    noised = mixture.noised(1.0, sigma)
    xt = noised.sample(n, generator=generator, device=device)  # (n, D)
    exact = noised.score(xt)
    with torch.no_grad():
        diff = score_net(xt, torch.full((n,), float(sigma), dtype=xt.dtype, device=xt.device)) - exact
    error = diff.pow(2).sum(1).mean().sqrt().item() * sigma
    return error / (exact.pow(2).sum(1).mean().sqrt().item() * sigma) if relative else error


# --- helpers ------------------------------------------------------------------------------------

def _levels(sigmas, x0: torch.Tensor) -> torch.Tensor:
    sigmas = _like(sigmas, x0).reshape(-1)  # a number becomes one level
    if len(sigmas) == 0 or not (sigmas > 0).all():
        raise ValueError(f"dsm_loss: sigmas must be one or more noise levels > 0, got {sigmas.tolist()}")
    return sigmas


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
        if t.shape != (x0.shape[0],) or not ((t >= 0) & (t <= 1)).all():
            raise ValueError(f"diffusion_loss: t must be one time in [0, 1] or one per example, "
                             f"shape ({x0.shape[0]},), got {tuple(t.shape)} with values {t.flatten()[:4].tolist()}")
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
