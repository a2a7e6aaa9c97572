"""Guidance: steer a diffusion model towards a class y, by a classifier's gradient or without one.

Bayes' rule on the noised data: grad log p_t(x | y) = grad log p_t(x) + grad log p_t(y | x). Scaling
the second term by w gives the guided score grad log p_t(x) + w grad log p_t(y | x), or in eps units
(eps = -sigma score):

    classifier guidance       eps - sigma(t) w grad_x log p(y | x_t)      (Dhariwal & Nichol 2021)
    classifier-free guidance  eps_uncond + w (eps_cond - eps_uncond)       (Ho & Salimans 2022)

The two are the same thing when the models are exact, since grad log p_t(y | x) =
(eps_uncond - eps_cond) / sigma. Our convention: w = 0 unconditional, w = 1 plain conditional, w > 1
sharper. Ho & Salimans write (1 + w') eps_cond - w' eps_uncond, so w = 1 + w'; diffusers'
`guidance_scale` is our w.

Both wrappers are called like a params.Denoiser, guided(x, t) -> Prediction(eps, x0), and carry the
model's `.schedule`, so every sampler in samplers.SAMPLERS takes them unchanged.
"""

import math

import torch
from torch import nn

from .params import Denoiser, Prediction, eps_to_x0, expand_like, x0_to_eps


def _weight(w, name: str, where: str) -> float:
    w = float(w)
    if not (math.isfinite(w) and w >= 0):
        raise ValueError(f"{where}: {name} must be a finite number >= 0 (0: unconditional, 1: conditional, "
                         f"> 1: sharper), got {w}")
    return w


def cfg_eps(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, w) -> torch.Tensor:
    """eps_uncond + w (eps_cond - eps_uncond): Ho & Salimans 2022, eq. 6, with their 1 + w written w."""
    return eps_uncond + w * (eps_cond - eps_uncond)


def ho_salimans_w(w: float) -> float:
    """Our w as Ho & Salimans' w' in (1 + w') eps_cond - w' eps_uncond (2022, eq. 6): w' = w - 1."""
    return float(w) - 1.0


def from_ho_salimans(w_hs: float) -> float:
    """Ho & Salimans' w' (2022, eq. 6) as our w = 1 + w' (their w' = 0 is plain conditional, our w = 1).
    diffusers' guidance_scale needs no conversion: it is our w."""
    return 1.0 + float(w_hs)


def drop_labels(labels: torch.Tensor, p: float, null: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Label dropout for classifier-free guidance: each label becomes `null` with probability p, so one
    network learns p(x | y) and p(x) together (Ho & Salimans 2022). The coin flips are drawn on the
    generator's device (the CPU by default) and moved to the labels', so one seed drops the same rows on
    every device. text.drop_captions does the same for captions."""
    if not 0 <= p <= 1:
        raise ValueError(f"drop_labels: p must be in [0, 1], got {p}")
    drop = torch.rand(labels.shape[0], generator=generator).to(labels.device) < p  # (B,)
    return torch.where(drop, torch.full_like(labels, null), labels)


def _time(t, x: torch.Tensor) -> torch.Tensor:
    """t as a (B,) tensor in x's dtype and device (samplers pass one; a number is for the whole batch)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device) if not torch.is_tensor(t) else t.to(x)
    return t.expand(x.shape[0]) if t.ndim == 0 else t


def _labels(y, x: torch.Tensor, high: int, where: str, name: str) -> torch.Tensor:
    """y (an int, or a (B,) tensor of ints) as a (B,) long tensor on x's device, each in 0..high-1."""
    y = torch.as_tensor(y, device=x.device)
    if y.is_floating_point() or y.is_complex():
        raise ValueError(f"{where}: {name} must hold whole class labels, got dtype {y.dtype}")
    y = y.long().expand(x.shape[0]) if y.ndim == 0 else y.long()
    if y.shape != (x.shape[0],):
        raise ValueError(f"{where}: {name} must be one label or one per sample, shape ({x.shape[0]},); "
                         f"got shape {tuple(y.shape)}")
    if ((y < 0) | (y >= high)).any():
        raise ValueError(f"{where}: {name} must be in 0..{high - 1}, got {y[(y < 0) | (y >= high)][0].item()}")
    return y


def _clipped(eps: torch.Tensor, x: torch.Tensor, alpha, sigma, clip) -> Prediction:
    """Prediction(eps, x0) from a guided eps: x0 = (x - sigma eps) / alpha, clipped like the model's."""
    x0 = eps_to_x0(eps, x, alpha, sigma)
    if clip is None:
        return Prediction(eps=eps, x0=x0)
    x0 = x0.clamp(-clip, clip)  # as params.Denoiser does: clip x0, then recompute eps from it
    return Prediction(eps=x0_to_eps(x0, x, alpha, sigma), x0=x0)


class ClassifierFree(nn.Module):
    """Classifier-free guidance (Ho & Salimans 2022, eq. 6, written with w = 1 + their w):
    eps = eps(x, t, null) + w (eps(x, t, cond) - eps(x, t, null)).

    model: a params.Denoiser whose net takes (x, t, cond) and has `num_classes` (the null label is
    num_classes); cond: one int for the whole batch, a (B,) tensor of labels, or None (unconditional:
    then w does not matter). For a caption model (a net with `null_cond`, nets.TextUNet) cond is word
    ids, one caption (L,) or one per sample (B, L), and the null half gets the empty caption. Each call is ONE network call on a batch of 2B: the conditional half and
    the null half together. The combination is made on the raw eps; the model's clip, if any, is then
    applied once to the guided x0. Ho & Salimans' w' is ho_salimans_w(w); diffusers' guidance_scale is w.
    """

    def __init__(self, model: Denoiser, cond, w: float):
        super().__init__()
        net = getattr(model, "net", None)
        num_classes = getattr(net, "num_classes", None)
        self.text = callable(getattr(net, "null_cond", None))  # a caption model: cond is word ids (B, L)
        if not isinstance(model, Denoiser) or not (num_classes or self.text):
            raise ValueError("ClassifierFree: model must be a params.Denoiser whose net takes class labels "
                             "(net.num_classes set, e.g. nets.UNet(..., num_classes=10) or "
                             "exact.conditional_mixture_denoiser) or captions (net.null_cond, e.g. "
                             f"nets.TextUNet); got {type(model).__name__} with net.num_classes = {num_classes}")
        self.model, self.cond, self.w = model, cond, _weight(w, "w", "ClassifierFree")
        self.num_classes = int(num_classes) if num_classes else None
        # The same network, unclipped: the halves are combined first, and clipped once after.
        self.raw = Denoiser(model.net, model.schedule, target=model.target)

    @property
    def schedule(self):
        return self.model.schedule

    def _null(self, x: torch.Tensor) -> torch.Tensor:
        if self.text:  # the empty caption
            return self.model.net.null_cond(x.shape[0], x.device)
        return torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)  # (B,)

    def _cond(self, x: torch.Tensor) -> torch.Tensor:
        if not self.text:
            return _labels(self.cond, x, self.num_classes, "ClassifierFree", "cond")  # (B,)
        ids = torch.as_tensor(self.cond, device=x.device)
        ids = ids.expand(x.shape[0], -1) if ids.ndim == 1 else ids  # one caption for the whole batch
        if ids.dtype != torch.long or ids.ndim != 2 or ids.shape[0] != x.shape[0]:
            raise ValueError(f"ClassifierFree: cond must be caption ids from a Tokenizer, one (L,) row or one "
                             f"per sample ({x.shape[0]}, L), dtype long; got {tuple(ids.shape)} {ids.dtype}")
        return ids

    def forward(self, x: torch.Tensor, t) -> Prediction:
        t = _time(t, x)  # (B,)
        null = self._null(x)
        if self.cond is None:  # unconditional: the null condition alone, one call of B
            return self.model(x, t, null)
        cond = self._cond(x)
        # One batched call: rows 0..B-1 conditional, rows B..2B-1 with the null label or caption.
        pred = self.raw(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, null]))  # (2B, ...)
        eps_cond, eps_uncond = pred.eps.chunk(2)
        guided = cfg_eps(eps_uncond, eps_cond, self.w)  # (B, ...)
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)
        if (alpha == 0).any():  # zero terminal SNR, at t = 1: x0 cannot come from eps there, so the same
            # weights combine the x0 predictions (the two are equivalent wherever alpha > 0)
            x0_cond, x0_uncond = pred.x0.chunk(2)
            x0 = cfg_eps(x0_uncond, x0_cond, self.w)
            x0 = x0.clamp(-self.model.clip, self.model.clip) if self.model.clip is not None else x0
            return Prediction(eps=x0_to_eps(x0, x, alpha, sigma), x0=x0)
        return _clipped(guided, x, alpha, sigma, self.model.clip)

    def extra_repr(self) -> str:
        cond = f"captions {tuple(self.cond.shape)}" if self.text and torch.is_tensor(self.cond) else self.cond
        return f"cond={cond}, w={self.w:g}"


class ClassifierGuided(nn.Module):
    """Classifier guidance (Dhariwal & Nichol 2021, section 4.2, eq. 14 and Algorithm 2; Algorithm 1 of
    section 4.1 is the same shift of DDPM's mean):
    eps = eps(x, t) - sigma(t) scale grad_x log p(y | x_t), p(y | x_t) = softmax(classifier(x, t))[y].

    classifier(x, t) -> logits (B, C): a noise-aware classifier, trained on x_t at every t (a classifier
    of clean data gives useless gradients at high noise), or the exact one of a toy mixture. The gradient
    is taken with autograd enabled here, so this works inside samplers that run under torch.no_grad.
    scale = 1 samples p(y | x) exactly when both models are exact; > 1 sharpens (the paper's s).
    """

    def __init__(self, model, classifier, y, scale: float):
        super().__init__()
        if not callable(classifier):
            raise ValueError(f"ClassifierGuided: classifier must be callable as classifier(x, t) -> logits "
                             f"(B, C), got {type(classifier).__name__}")
        self.model, self.classifier, self.y = model, classifier, y
        self.scale = _weight(scale, "scale", "ClassifierGuided")

    @property
    def schedule(self):
        return self.model.schedule

    def grad_log_prob(self, x: torch.Tensor, t) -> torch.Tensor:
        """grad_x log p(y | x_t) from the classifier, shape of x (autograd enabled locally)."""
        t = _time(t, x)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            logits = self.classifier(xg, t)  # (B, C)
            if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != x.shape[0]:
                raise ValueError(f"ClassifierGuided: classifier(x, t) must return logits of shape "
                                 f"({x.shape[0]}, C), got {getattr(logits, 'shape', type(logits).__name__)}")
            y = _labels(self.y, x, logits.shape[1], "ClassifierGuided", "y")  # (B,)
            log_p = torch.log_softmax(logits, dim=1).gather(1, y[:, None])  # (B, 1): log p(y | x_t)
            # Each sample's log p depends only on its own x: the gradient of the sum is per-sample.
            (grad,) = torch.autograd.grad(log_p.sum(), xg)
        return grad.to(x.dtype)

    def forward(self, x: torch.Tensor, t) -> Prediction:
        t = _time(t, x)  # (B,)
        pred = self.model(x, t)
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)  # (B,) each
        if (alpha == 0).any():
            raise ValueError("ClassifierGuided: alpha(t) = 0 (zero terminal SNR, t = 1), where x_t holds no "
                             "trace of the label and x0 = (x - sigma eps) / alpha is undefined; start the grid "
                             "just below t = 1, or use ClassifierFree, which combines x0 predictions there")
        # eps = -sigma score, so adding scale * grad log p(y | x) to the score subtracts sigma times it.
        eps = pred.eps - expand_like(sigma, x) * self.scale * self.grad_log_prob(x, t)
        return _clipped(eps, x, alpha, sigma, getattr(self.model, "clip", None))

    def extra_repr(self) -> str:
        return f"y={self.y}, scale={self.scale:g}"
