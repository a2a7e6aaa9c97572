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
model's `.schedule`, so every sampler in samplers.SAMPLERS takes them unchanged; like it, each is
prepared once per run for the sampler's grid (`prepare`, params.prepare), then called at each step.
"""

import inspect
import math

import torch
from torch import nn

from .nets.text_unet import EncodedText
from .params import Denoiser, Prediction, eps_to_x0, expand_like, on_grid, prepare, table, x0_to_eps
from ..runtime import check_generator


def _weight(w, name: str, where: str) -> float:
    """w (or scale) as one float >= 0: a number, or a tensor holding one number; anything else refused."""
    values = None
    if not isinstance(w, (str, bool)) and w is not None:
        try:
            values = torch.as_tensor(w, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            pass
    if values is None:
        raise TypeError(f"{where}: {name} must be a number (0: unconditional, 1: conditional, > 1: sharper), "
                        f"got {type(w).__name__} {w!r}"[:300])
    if values.numel() != 1:  # a list of weights, or one per sample
        raise TypeError(f"{where}: {name} must be one number for the whole batch, got {values.numel()} values "
                        f"(shape {tuple(values.shape)}); to compare several, build one wrapper per value: "
                        f"[{where}(..., {name}=v) for v in (1.0, 3.0)], and sample each group of samples with its own")
    w = values.item()
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
    check_generator(generator, "drop_labels")
    _check_training_labels(labels, null, "drop_labels")
    drop = torch.rand(labels.shape[0], generator=generator).to(labels.device) < p  # (B,)
    return torch.where(drop, torch.full_like(labels, null), labels)


def _check_training_labels(labels, num_classes: int, where: str) -> None:
    """Refuse labels a class-conditional model must not be trained on: not a (B,) tensor of whole
    numbers (bool included: True would train as class 1), or outside 0..num_classes-1 (the label
    num_classes is the null label, which label dropout makes; given as data it would silently train
    the unconditional model). One check per call, one device sync."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
        got = f"shape {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"{where}: labels must be a (B,) tensor of class labels, got {got}")
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{where}: labels must be whole class numbers 0..{num_classes - 1} (int64), got dtype "
                        f"{labels.dtype}; e.g. labels.long() for 0/1 classes")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(f"{where}: labels must be in 0..{num_classes - 1}, got {labels[bad][0].item()} "
                         f"({int(bad.sum())} of {len(labels)}); {num_classes} is the null label, which label "
                         f"dropout makes: do not give it as data (a model with more classes needs "
                         f"num_classes larger)")


def _time(t, x: torch.Tensor) -> torch.Tensor:
    """t as a (B,) tensor in x's dtype and device (samplers pass one; a number is for the whole batch)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device) if not torch.is_tensor(t) else t.to(x)
    return t.expand(x.shape[0]) if t.ndim == 0 else t


def _labels(y, x: torch.Tensor, high: int, where: str, name: str) -> torch.Tensor:
    """y (an int, or a (B,) tensor of ints) as a (B,) long tensor on x's device, each in 0..high-1."""
    if isinstance(y, str) or isinstance(y, (list, tuple)) and any(isinstance(v, str) for v in y):
        raise TypeError(f"{where}: {name} must be class labels, an int or one per sample (0..{high - 1}), "
                        f"got text {y!r}"[:300] + "; this model's net takes labels, not captions")
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


def _called_like_a_network(where: str, t, extra: tuple, kwargs: dict) -> TypeError:
    """The refusal of a wrapper called like a raw network: it takes (x, t) alone, its condition fixed."""
    keywords = "".join(f", {k}=..." for k in kwargs)
    got = "no t" if t is None else f"more than (x, t): (x, t{', ...' * len(extra)}{keywords})"
    return TypeError(f"{where}: called with {got}; a guidance wrapper is called like a params.Denoiser, "
                     f"guided(x, t) -> Prediction(eps, x0), with its condition fixed when it was built: for "
                     f"another condition build another {where}(model, ...); the network itself is guided.model.net")


def _not_for_training(where: str) -> TypeError:
    """The refusal of a wrapper put into training mode (train.train calls model.train())."""
    return TypeError(f"{where}: a guidance wrapper is for sampling and has nothing of its own to train; train "
                     "the network it wraps (train.train(guided.model.net, ...), with label or caption dropout "
                     "so that it learns the null condition too), then wrap the trained model again")


class ClassifierFree(nn.Module):
    """Classifier-free guidance (Ho & Salimans 2022, eq. 6, written with w = 1 + their w):
    eps = eps(x, t, null) + w (eps(x, t, cond) - eps(x, t, null)).

    model: a params.Denoiser whose net takes (x, t, cond) and has `num_classes` (the null label is
    num_classes); cond: one int for the whole batch, a (B,) tensor of labels, or None (unconditional:
    then w does not matter). For a caption model (a net with `null_cond`, nets.TextUNet) cond is word
    ids, one caption (L,) or one per sample (B, L), or those captions read once by net.encode (an
    nets.EncodedText, so no step runs the text encoder), and the null half gets the empty caption.
    Each call is ONE network call on a batch of 2B: the conditional half and the null half together. The
    combination is made on the raw eps; the model's clip, if any, is then applied once to the guided x0.
    At w = 1 the formula is eps(x, t, cond) and at w = 0 it is eps(x, t, null): then one call on B, half
    the work. Ho & Salimans' w' is ho_salimans_w(w); diffusers' guidance_scale is w.
    """

    def __init__(self, model: Denoiser, cond, w: float, negative: EncodedText | None = None):
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
        if self.text and cond is not None:
            self._check_captions(cond)
        # The same network, unclipped: the halves are combined first, and clipped once after.
        self.raw = Denoiser(model.net, model.schedule, target=model.target)
        # captions read once before the loop (TextUNet.encode): the empty caption is read once here too. A
        # negative prompt takes the empty caption's place: guidance then pushes away from it, not from "anything"
        if negative is not None and not (isinstance(cond, EncodedText) and isinstance(negative, EncodedText)):
            raise ValueError("ClassifierFree: a negative prompt is for caption models, read like the prompt: "
                             "negative = model.net.encode(tok(['a red fish'])), with cond encoded the same way")
        self.null_text = negative if negative is not None else \
            net.encode(net.null_cond(1, cond.context.device)) if isinstance(cond, EncodedText) else None

    @property
    def schedule(self):
        return self.model.schedule

    def _null(self, x: torch.Tensor) -> torch.Tensor:
        if self.text:  # the empty caption, as ids or read already
            return self.null_text.rows(x.shape[0]) if self.null_text is not None else self.model.net.null_cond(x.shape[0], x.device)
        return torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)  # (B,)

    def _check_captions(self, cond) -> None:
        """Once, when built: cond must be word ids (not the prompt's text) of the network's length."""
        length = self.model.net.null_cond(1).shape[1]  # the network's caption length
        if isinstance(cond, EncodedText):  # read already: only its length can be checked
            return self._check_length(cond.context.shape[1], length)
        texts = cond if isinstance(cond, (list, tuple)) else [cond]
        if any(isinstance(c, str) for c in texts):
            raise TypeError(f"ClassifierFree: cond is text, {cond!r}"[:200] + "; the network takes word ids: "
                            "encode it first, cond = tok(prompts) with tok = model.net.tokenizer(scenes.vocabulary()) "
                            "(or the tok of pretrained.load_text2image), or let text2image.sample(model, tok, "
                            "prompts, w) do both")
        ids = torch.as_tensor(cond)
        if ids.dtype != torch.long or ids.ndim not in (1, 2):
            raise ValueError(f"ClassifierFree: cond must be caption ids from a Tokenizer, one (L,) row or one "
                             f"per sample (B, L), dtype long; got {tuple(ids.shape)} {ids.dtype}")
        self._check_length(ids.shape[-1], length)

    @staticmethod
    def _check_length(got: int, length: int) -> None:
        if got != length:  # the empty caption of the null half has the network's length
            raise ValueError(f"ClassifierFree: the captions have {got} tokens, but the network takes {length}: "
                             f"the tokenizer's max_len is not the model's; make it with "
                             f"model.net.tokenizer(vocabulary), or Tokenizer(vocabulary, max_len={length})")

    def _cond(self, x: torch.Tensor) -> torch.Tensor:
        if not self.text:
            return _labels(self.cond, x, self.num_classes, "ClassifierFree", "cond")  # (B,)
        if isinstance(self.cond, EncodedText):
            return self.cond.rows(x.shape[0])
        ids = torch.as_tensor(self.cond, device=x.device)
        # one caption, (L,) or (1, L), for the whole batch
        ids = ids.expand(x.shape[0], -1) if ids.ndim == 1 or ids.shape[0] == 1 else ids
        if ids.dtype != torch.long or ids.ndim != 2 or ids.shape[0] != x.shape[0]:
            raise ValueError(f"ClassifierFree: cond must be caption ids from a Tokenizer, one (L,) row or one "
                             f"per sample ({x.shape[0]}, L), dtype long; got {tuple(ids.shape)} {ids.dtype}")
        return ids

    def forward(self, x: torch.Tensor, t=None, *extra, **kwargs) -> Prediction:
        if t is None or extra or kwargs:  # one test per call: this runs at every sampler step
            raise _called_like_a_network("ClassifierFree", t, extra, kwargs)
        t = _time(t, x)  # (B,)
        alone = self._alone(x)
        if alone is not None:  # one call of B
            return self.model(x, t, alone)
        null = self._null(x)
        # One batched call: rows 0..B-1 conditional, rows B..2B-1 with the null label or caption.
        pred = self.raw(torch.cat([x, x]), torch.cat([t, t]), self._both(x, null))  # (2B, ...)
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)
        return self._combine(pred, x, alpha, sigma, bool((alpha == 0).any()))

    def prepare(self, ts, x: torch.Tensor):
        """This guidance on one grid of times for batches like x (params.prepare): the conditions built
        and the network prepared once, for its batch of 2B; then prepared(x, i) is forward at ts[i]."""
        alone = self._alone(x)
        if alone is not None:
            return self.model.prepare(ts, x, alone)
        raw = self.raw.prepare(ts, torch.cat([x, x]), self._both(x, self._null(x)))
        alpha, sigma, at_zero = raw.grid.alpha, raw.grid.sigma, (raw.grid.alpha64 == 0).tolist()
        return lambda x, i: self._combine(raw(torch.cat([x, x]), i), x, alpha[i], sigma[i], at_zero[i])

    def _alone(self, x: torch.Tensor):
        """The one condition the formula keeps, or None when it needs both halves: the prompt at w = 1,
        the null condition without a prompt or at w = 0."""
        if self.cond is not None and self.w == 1:
            return self._cond(x)
        return self._null(x) if self.cond is None or self.w == 0 else None

    def _both(self, x: torch.Tensor, null):
        """The conditions of one batched call: the condition for rows 0..B-1, the null one for B..2B-1."""
        cond = self._cond(x)
        return cond.cat(null) if self.null_text is not None else torch.cat([cond, null])

    def _combine(self, pred: Prediction, x: torch.Tensor, alpha, sigma, at_zero: bool) -> Prediction:
        """The guided prediction from the 2B rows of one call: eq. 6 on eps, then the model's clip."""
        eps_cond, eps_uncond = pred.eps.chunk(2)
        guided = cfg_eps(eps_uncond, eps_cond, self.w)  # (B, ...)
        if at_zero:  # zero terminal SNR, at t = 1: x0 cannot come from eps there, so the same
            # weights combine the x0 predictions (the two are equivalent wherever alpha > 0)
            x0_cond, x0_uncond = pred.x0.chunk(2)
            x0 = cfg_eps(x0_uncond, x0_cond, self.w)
            x0 = x0.clamp(-self.model.clip, self.model.clip) if self.model.clip is not None else x0
            return Prediction(eps=x0_to_eps(x0, x, alpha, sigma), x0=x0)
        return _clipped(guided, x, alpha, sigma, self.model.clip)

    def train(self, mode: bool = True):
        if mode:  # train.train and training loops call model.train(); eval() passes mode=False
            raise _not_for_training("ClassifierFree")
        return super().train(False)

    def extra_repr(self) -> str:
        text = self.cond.context if isinstance(self.cond, EncodedText) else self.cond
        cond = f"captions {tuple(text.shape[:2])}" if self.text and torch.is_tensor(text) else self.cond
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
        if not callable(model) or not hasattr(model, "schedule"):
            raise TypeError(f"ClassifierGuided: model must be a params.Denoiser (model(x, t) -> Prediction, with "
                            f"a .schedule), got {type(model).__name__}; wrap the network: "
                            "params.Denoiser(net, schedule)")
        if not callable(classifier):
            raise ValueError(f"ClassifierGuided: classifier must be callable as classifier(x, t) -> logits "
                             f"(B, C), got {type(classifier).__name__}")
        if not _takes_x_and_t(classifier):
            raise TypeError(f"ClassifierGuided: classifier must take (x, t): a noise-aware classifier, trained on "
                            f"x_t at every t, such as metrics.load_classifier(size, noisy=True); this "
                            f"{type(classifier).__name__} takes x alone, a classifier of clean data, whose gradient "
                            "on noisy x_t points nowhere useful. To try it anyway: lambda x, t: classifier(x)")
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

    def forward(self, x: torch.Tensor, t=None, *extra, **kwargs) -> Prediction:
        if t is None or extra or kwargs:
            raise _called_like_a_network("ClassifierGuided", t, extra, kwargs)
        t = _time(t, x)  # (B,)
        pred = self.model(x, t)
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)  # (B,) each
        return self._guide(pred, x, t, alpha, sigma, bool((alpha == 0).any()))

    def prepare(self, ts, x: torch.Tensor):
        """This guidance on one grid of times for batches like x (params.prepare): the model prepared and
        alpha, sigma worked out once; then prepared(x, i) is forward at ts[i]."""
        model, grid = prepare(self.model, ts, x), on_grid(self.schedule, ts, x)
        times, at_zero = table(grid.t64, x), (grid.alpha64 == 0).tolist()  # 0-d times: _time expands them
        return lambda x, i: self._guide(model(x, i), x, times[i], grid.alpha[i], grid.sigma[i], at_zero[i])

    def _guide(self, pred: Prediction, x: torch.Tensor, t, alpha, sigma, at_zero: bool) -> Prediction:
        """The model's prediction moved by the classifier's gradient (eq. 14), then the model's clip."""
        if at_zero:
            raise ValueError("ClassifierGuided: alpha(t) = 0 (zero terminal SNR, t = 1), where x_t holds no "
                             "trace of the label and x0 = (x - sigma eps) / alpha is undefined; start the grid "
                             "just below t = 1, or use ClassifierFree, which combines x0 predictions there")
        # eps = -sigma score, so adding scale * grad log p(y | x) to the score subtracts sigma times it.
        eps = pred.eps - expand_like(sigma, x) * self.scale * self.grad_log_prob(x, t)
        return _clipped(eps, x, alpha, sigma, getattr(self.model, "clip", None))

    def train(self, mode: bool = True):
        if mode:  # as ClassifierFree.train
            raise _not_for_training("ClassifierGuided")
        return super().train(False)

    def extra_repr(self) -> str:
        return f"y={self.y}, scale={self.scale:g}"


def _takes_x_and_t(classifier) -> bool:
    """Whether classifier(x, t) is a valid call by its signature (an nn.Module's is its forward's)."""
    fn = classifier.forward if isinstance(classifier, nn.Module) else classifier
    try:
        inspect.signature(fn).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): the call itself will tell
        pass
    return True


# --- guidance in one dimension, where everything is closed form ------------------------------------------

def gaussian_guided_target(y: float, prior_var: float, noise_var: float, w: float) -> tuple[float, float]:
    """Mean and variance of the guided target p(x | y) p(y | x)^(w - 1), normalised, for x ~ N(0, prior_var)
    and a label that is a noisy reading of x, y | x ~ N(x, noise_var). By Bayes' rule the target is
    p(x) p(y | x)^w: the implicit classifier raised to w is a reading with noise variance noise_var / w, so
    the target is Gaussian with precision 1/prior_var + w/noise_var and mean y (w/noise_var) / precision.
    w = 0 gives the prior p(x), w = 1 the posterior p(x | y), w > 1 a narrower Gaussian nearer y."""
    w = _weight(w, "w", "gaussian_guided_target")
    if not (prior_var > 0 and noise_var > 0):
        raise ValueError(f"gaussian_guided_target: prior_var and noise_var must be variances > 0, "
                         f"got {prior_var} and {noise_var}")
    precision = 1.0 / prior_var + w / noise_var
    return float(y) * (w / noise_var) / precision, 1.0 / precision


# --- fixes for saturation at high w, applied to the guided x0 -------------------------------------------

def dynamic_threshold(x0: torch.Tensor, quantile: float = 0.995) -> torch.Tensor:
    """Dynamic thresholding (Saharia et al. 2022, Imagen, section 2.3): per sample, s = the given quantile
    of |x0| over its pixels, at least 1; x0 is clipped to [-s, s] and divided by s, so a prediction that
    overshoots the data range [-1, 1] is pulled back into it as a whole instead of pinned at +-1."""
    if not 0 < quantile <= 1:
        raise ValueError(f"dynamic_threshold: quantile must be in (0, 1], e.g. 0.995, got {quantile}")
    if x0.ndim < 2:
        raise ValueError(f"dynamic_threshold: x0 must be a batch (B, ...), got shape {tuple(x0.shape)}")
    s = torch.quantile(x0.detach().abs().flatten(1).float(), quantile, dim=1).clamp(min=1.0)  # (B,)
    s = expand_like(s.to(x0.dtype), x0)  # (B, 1, ...)
    return torch.maximum(torch.minimum(x0, s), -s) / s


def rescale_guided(guided: torch.Tensor, cond: torch.Tensor, phi: float = 0.7) -> torch.Tensor:
    """CFG rescale (Lin et al. 2024, section 3.4, Algorithm 2): the guided prediction scaled, per sample,
    to the standard deviation of the conditional one, then mixed back with the unscaled one by phi
    (0: plain guidance, 1: fully rescaled). High w inflates the prediction's spread: that is the saturation."""
    if not 0 <= phi <= 1:
        raise ValueError(f"rescale_guided: phi must be in [0, 1] (0: no rescale; the paper uses 0.7), got {phi}")
    if guided.shape != cond.shape or guided.ndim < 2:
        raise ValueError(f"rescale_guided: guided and cond must be batches (B, ...) of one shape, got "
                         f"{tuple(guided.shape)} and {tuple(cond.shape)}")
    ratio = cond.flatten(1).std(1) / guided.flatten(1).std(1).clamp(min=torch.finfo(guided.dtype).tiny)  # (B,)
    return phi * guided * expand_like(ratio, guided) + (1 - phi) * guided


class ClassifierFreeFixed(ClassifierFree):
    """ClassifierFree with a fix for saturation at high w, applied to the guided x0 at every step before
    the model's clip: rescale = phi of rescale_guided (Lin et al. 2024; they rescale their v prediction,
    diffusers its eps; here x0, where saturation shows), then threshold = the quantile of dynamic_threshold
    (Saharia et al. 2022), each left out when None. The x0 halves combine with the same weights as eps."""

    def __init__(self, model: Denoiser, cond, w: float, rescale: float | None = None,
                 threshold: float | None = None):
        super().__init__(model, cond, w)
        if rescale is not None and not 0 <= rescale <= 1:
            raise ValueError(f"ClassifierFreeFixed: rescale must be phi in [0, 1] or None, got {rescale}")
        if threshold is not None and not 0 < threshold <= 1:
            raise ValueError(f"ClassifierFreeFixed: threshold must be a quantile in (0, 1] or None, got {threshold}")
        self.rescale, self.threshold = rescale, threshold

    def _alone(self, x: torch.Tensor):
        # the fixes read both halves (rescale: the conditional one's spread) and change x0 even where the
        # plain formula keeps one half, so with a prompt every w takes the batched path
        return super()._alone(x) if self.cond is None else None

    def _combine(self, pred: Prediction, x: torch.Tensor, alpha, sigma, at_zero: bool) -> Prediction:
        x0_cond, x0_uncond = pred.x0.chunk(2)  # the raw network's x0, unclipped
        # x0 is affine in eps with weights that sum to 1, so combining x0 equals x0 of the combined eps
        x0 = cfg_eps(x0_uncond, x0_cond, self.w)  # (B, ...)
        if self.rescale is not None:
            x0 = rescale_guided(x0, x0_cond, self.rescale)
        if self.threshold is not None:
            x0 = dynamic_threshold(x0, self.threshold)
        if self.model.clip is not None:
            x0 = x0.clamp(-self.model.clip, self.model.clip)
        return Prediction(eps=x0_to_eps(x0, x, alpha, sigma), x0=x0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rescale={self.rescale}, threshold={self.threshold}"
