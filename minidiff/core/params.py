"""What a network predicts, and how to turn one prediction into another.

Everything rests on x_t = alpha x0 + sigma eps, eps ~ N(0, I). Given xt, alpha and sigma, any one
of four quantities fixes the other three:

    eps    the noise that was added
    x0     the clean point (Tweedie's denoised estimate when predicted)
    score  grad log p_t(xt) = -E[eps | xt] / sigma                (Vincent 2011; Song & Ermon 2019)
    v      alpha eps - sigma x0                                   (Salimans & Ho 2022, section 4)

Every conversion has the same signature `a_to_b(a, xt, alpha, sigma)`; alpha and sigma are numbers
or tensors that `expand_like` broadcasts against xt (a (B,) tensor holds one value per sample).
The eps conversions are written out; the others go through eps (`convert`).
"""

from typing import NamedTuple

import torch
from torch import nn

from .schedules import Schedule

PREDICTIONS = ("eps", "x0", "score", "v")


def expand_like(value, xt: torch.Tensor) -> torch.Tensor:
    """A number, a 0-dim tensor or a per-sample (B,) tensor, shaped to broadcast against xt (B, ...)."""
    if type(value) is torch.Tensor and value.ndim == 0 and value.dtype is xt.dtype and value.device == xt.device:
        return value  # a prepared table's entry (Prepared): nothing to convert, at every step of a sampler
    # A Python number goes straight to xt's dtype (through float32 first, 0.87 would lose digits).
    value = torch.as_tensor(value, device=xt.device, dtype=xt.dtype)
    if value.ndim == 0 or value.shape == xt.shape:
        return value
    if value.ndim == 1 and xt.ndim >= 1 and value.shape[0] == xt.shape[0]:
        return value.reshape(-1, *([1] * (xt.ndim - 1)))  # (B,) -> (B, 1, ..., 1)
    raise ValueError(f"expand_like: expected a number, one value per sample ({xt.shape[0]},) or "
                     f"the shape of xt {tuple(xt.shape)}; got a tensor of shape {tuple(value.shape)}")


def _coefs(xt, alpha, sigma):
    return expand_like(alpha, xt), expand_like(sigma, xt)


# ---- to and from eps, written out --------------------------------------------------------------

def eps_to_x0(eps: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """x0 = (xt - sigma eps) / alpha (Ho et al. 2020, eq. 15)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (xt - sigma * eps) / alpha


def x0_to_eps(x0: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """eps = (xt - alpha x0) / sigma: x_t = alpha x0 + sigma eps solved for eps."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (xt - alpha * x0) / sigma


def eps_to_score(eps: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """score = -eps / sigma: grad log N(xt; alpha x0, sigma^2 I) = -eps / sigma (Vincent 2011)."""
    _, sigma = _coefs(xt, alpha, sigma)
    return -eps / sigma


def score_to_eps(score: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """eps = -sigma score: the noise prediction is a scaled score (Ho et al. 2020, section 3.2)."""
    _, sigma = _coefs(xt, alpha, sigma)
    return -sigma * score


def eps_to_v(eps: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """v = alpha eps - sigma x0 = ((alpha^2 + sigma^2) eps - sigma xt) / alpha (Salimans & Ho 2022)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return ((alpha**2 + sigma**2) * eps - sigma * xt) / alpha


def v_to_eps(v: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """eps = (sigma xt + alpha v) / (alpha^2 + sigma^2) (Salimans & Ho 2022, section 4)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (sigma * xt + alpha * v) / (alpha**2 + sigma**2)


# ---- the other pairs -----------------------------------------------------------------------------

def x0_to_score(x0: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """score = (alpha x0 - xt) / sigma^2: Tweedie's formula read backwards (Efron 2011)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (alpha * x0 - xt) / sigma**2


def score_to_x0(score: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """E[x0 | xt] = (xt + sigma^2 score) / alpha: Tweedie's formula (Efron 2011)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (xt + sigma**2 * score) / alpha


def v_to_x0(v: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """x0 = (alpha xt - sigma v) / (alpha^2 + sigma^2) (Salimans & Ho 2022, section 4)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (alpha * xt - sigma * v) / (alpha**2 + sigma**2)


def x0_to_v(x0: torch.Tensor, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """v = alpha eps - sigma x0 = (alpha xt - (alpha^2 + sigma^2) x0) / sigma (Salimans & Ho 2022)."""
    alpha, sigma = _coefs(xt, alpha, sigma)
    return (alpha * xt - (alpha**2 + sigma**2) * x0) / sigma


def score_to_v(score, xt, alpha, sigma) -> torch.Tensor:
    """v from the score, through eps = -sigma score."""
    return eps_to_v(score_to_eps(score, xt, alpha, sigma), xt, alpha, sigma)


def v_to_score(v, xt, alpha, sigma) -> torch.Tensor:
    """The score from v, through eps."""
    return eps_to_score(v_to_eps(v, xt, alpha, sigma), xt, alpha, sigma)


_TO_EPS = {"eps": lambda e, xt, a, s: e, "x0": x0_to_eps, "score": score_to_eps, "v": v_to_eps}
_FROM_EPS = {"eps": lambda e, xt, a, s: e, "x0": eps_to_x0, "score": eps_to_score, "v": eps_to_v}


def convert(value: torch.Tensor, source: str, target: str, xt: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """Turn a prediction of kind `source` into kind `target` (each one of PREDICTIONS), through eps."""
    for name in (source, target):
        if name not in PREDICTIONS:
            raise ValueError(f"convert: prediction kind must be one of {PREDICTIONS}, got {name!r}")
    if source == target:
        return value
    return _FROM_EPS[target](_TO_EPS[source](value, xt, alpha, sigma), xt, alpha, sigma)


# ---- a network as a denoiser: its prediction type interpreted, on any t or prepared for a grid ----

# x0 and eps from each target: the formulas above, on alpha and sigma that broadcast against xt already
# (0-d, or (B, 1, ...) as forward shapes them once), without expand_like, whose checks would cost a
# quarter of a sampler's own work per step on 2-D points.
_X0_OF = {"eps": lambda eps, xt, a, s: (xt - s * eps) / a, "x0": lambda x0, xt, a, s: x0,
          "score": lambda score, xt, a, s: (xt + s**2 * score) / a,
          "v": lambda v, xt, a, s: (a * xt - s * v) / (a**2 + s**2)}
_EPS_OF = {"eps": lambda eps, xt, a, s: eps, "x0": lambda x0, xt, a, s: (xt - a * x0) / s,
           "score": lambda score, xt, a, s: -s * score,
           "v": lambda v, xt, a, s: (s * xt + a * v) / (a**2 + s**2)}


class Prediction(NamedTuple):
    """What a denoiser says about x_t: the noise in it and the clean point it came from."""

    eps: torch.Tensor  # (B, ...) the predicted noise
    x0: torch.Tensor  # (B, ...) the predicted clean data, E[x0 | x_t] for an ideal network


class Denoiser(nn.Module):
    """Any network, whatever it predicts, as a model that samplers call: model(x, t) -> Prediction(eps, x0).

    net(x, t) (x of shape (B, ...), t of shape (B,)) returns its raw prediction of `target`
    ('eps', 'x0', 'score' or 'v'), interpreted here for sampling (predict_with), by the conversions
    above; losses and exact make their own targets from the same definitions. clip: when a number c,
    the predicted x0 is clipped to [-c, c] (the data's range; Ho et al. 2020's sampler clips to
    [-1, 1]) and eps is recomputed from it, so the pair stays
    consistent with x_t = alpha x0 + sigma eps. sample_shape: the shape of one sample, e.g. (1, 28, 28),
    when known (checkpoints record it); `config` is what `train.save` stores besides the network.
    """

    def __init__(self, net, schedule: Schedule, target: str = "eps", clip: float | None = None,
                 sample_shape: tuple | None = None):
        super().__init__()
        if not isinstance(schedule, Schedule):
            raise ValueError(f"Denoiser: schedule must be a minidiff.schedules.Schedule (e.g. "
                             f"schedules.VPLinear()), got {type(schedule).__name__} {schedule!r}")
        if target not in PREDICTIONS:
            raise ValueError(f"Denoiser: target must be one of {PREDICTIONS}, got {target!r}")
        if clip is not None and not clip > 0:
            raise ValueError(f"Denoiser: clip must be a number > 0 or None, got {clip}")
        self.net, self.schedule, self.target, self.clip = net, schedule, target, clip
        self.sample_shape = tuple(int(d) for d in sample_shape) if sample_shape is not None else None

    @property
    def config(self) -> dict:
        """The denoiser's spec as plain data (the network is saved on its own): see train.save."""
        return dict(schedule=self.schedule.config, target=self.target, clip=self.clip,
                    sample_shape=list(self.sample_shape) if self.sample_shape is not None else None)

    def _check(self, x) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Denoiser: x must be a batch of shape (B, ...), got {shape}; for one "
                             "point or image add a batch dimension: x[None]")
        weight = next((p for p in self.net.parameters() if p.is_floating_point()), None) \
            if isinstance(self.net, nn.Module) else None
        if weight is not None and x.dtype != weight.dtype:
            fix = "x.float()" if weight.dtype == torch.float32 else f"x.to({weight.dtype})"
            raise ValueError(f"Denoiser: x is {x.dtype} but the network's weights are {weight.dtype}; "
                             f"convert the data ({fix}) or the network (net.to({x.dtype}), e.g. net.double())")
        if weight is not None and x.device != weight.device:
            raise ValueError(f"Denoiser: x is on {x.device} but the network is on {weight.device}; "
                             f"move one of them (x.to(device) or model.to(device))")

    def forward(self, x: torch.Tensor, t, cond: torch.Tensor | None = None) -> Prediction:
        self._check(x)
        # A number goes straight to x's dtype (0.4 via float32 is not 0.4 in float64).
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device) if not torch.is_tensor(t) else t.to(x)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t  # one time for the whole batch -> (B,)
        if t.shape != (x.shape[0],):
            raise ValueError(f"Denoiser: t must be one time or one per sample, shape ({x.shape[0]},); "
                             f"got shape {tuple(t.shape)}")
        alpha, sigma = self.schedule.alpha(t), self.schedule.sigma(t)  # (B,) each
        refused = self.refusals(t, alpha, sigma)
        if refused:
            raise ValueError(next(iter(refused.values())))
        return self.predict_with(x, t, expand_like(alpha, x), expand_like(sigma, x), cond)  # (B, 1, ...)

    def prepare(self, ts, x: torch.Tensor, cond=None) -> "Prepared":
        """This denoiser on one grid of times ts for batches like x (and cond, fixed for the run): the
        checks of x, alpha(t), sigma(t) and the times it refuses worked out once. Samplers call it once
        per run, then prepared(x, i) at each step, where forward would redo all of it at every call."""
        if type(self).forward is not Denoiser.forward:  # its change would be skipped without a word
            raise TypeError(f"{type(self).__name__} overrides forward, which samplers do not call (they prepare "
                            "the model once per run and call predict_with at each step); override predict_with "
                            "instead, which forward calls too")
        self._check(x)
        return Prepared(self, on_grid(self.schedule, ts, x), x, cond)

    def refusals(self, t: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor) -> dict[int, str]:
        """{i: why} for the times t[i] at which this denoiser cannot predict, given alpha(t[i]) and sigma(t[i]):
        the one check of what it may do at a t, made by forward at every call and by prepare once per grid."""
        found = {}
        for needed, zero, why in ((self.needs_noise, sigma, self._no_noise_message),
                                  (self.needs_signal, alpha, self._no_signal_message)):
            if needed and (zero == 0).any():  # one comparison for all the times; a message only where it fails
                for i in (zero == 0).nonzero().flatten().tolist():
                    found.setdefault(i, why(t[i].item()))
        return found

    @property
    def needs_noise(self) -> bool:
        """True when a prediction needs sigma(t) > 0: an x0 or v network, or clipping, recovers eps as
        (xt - alpha x0) / sigma, which is 0 / 0 on clean data."""
        return self.target in ("x0", "v") or self.clip is not None

    @property
    def needs_signal(self) -> bool:
        """True when a prediction needs alpha(t) > 0: an eps or score network gives x0 as
        (xt - sigma eps) / alpha, which is 0 / 0 where x_t holds no signal (t = 1 of a zero-terminal-SNR
        schedule). An x0 or v network gives x0 there directly (for v: x0 = -v at alpha = 0)."""
        return self.target in ("eps", "score")

    def _no_signal_message(self, t: float) -> str:
        return (f"Denoiser: alpha(t) = 0 at t = {t:g} (zero terminal SNR: x_t holds no signal), where x0 = "
                f"(xt - sigma eps) / alpha is 0 / 0 for a target={self.target!r} network; use a network that "
                f"predicts target='x0' or 'v' (exact.mixture_denoiser(gm, schedule, target='x0')), or start "
                f"the grid where alpha > 0")

    def _no_noise_message(self, t: float) -> str:
        why = f"target={self.target!r}" if self.target in ("x0", "v") else f"clip={self.clip}"
        return (f"Denoiser: sigma(t) = 0 at t = {t:g}, where eps = (xt - alpha x0) / sigma is undefined for a "
                f"{why} denoiser; call it at t > 0 (samplers never call the model at their last time, t = 0)")

    def predict_with(self, x: torch.Tensor, t: torch.Tensor, alpha, sigma, cond=None) -> Prediction:
        """The prediction at x_t from alpha(t) and sigma(t) given, without forward's checks (forward and
        Prepared make them): where the target is interpreted. t: (B,) in x's dtype; alpha, sigma: tensors in
        x's dtype and device that broadcast against x (0-d, or (B, 1, ...)), sigma > 0 where the target
        or clip needs it. A subclass that changes what the denoiser predicts overrides this: forward
        and every sampler (through prepare) see the change."""
        # self.net, without nn.Module's slower lookup of a submodule: this runs at every step of a sampler
        net = self._modules["net"] if "net" in self._modules else self.net
        raw = net(x, t) if cond is None else net(x, t, cond)
        if not isinstance(raw, torch.Tensor) or raw.shape != x.shape:
            raise ValueError(f"Denoiser: the network must return a tensor shaped like x {tuple(x.shape)}, "
                             f"got {getattr(raw, 'shape', type(raw).__name__)}")
        x0 = _X0_OF[self.target](raw, x, alpha, sigma)
        if self.clip is None:
            return Prediction(_EPS_OF[self.target](raw, x, alpha, sigma), x0)  # (eps, x0)
        x0 = x0.clamp(-self.clip, self.clip)
        return Prediction(_EPS_OF["x0"](x0, x, alpha, sigma), x0)

    def extra_repr(self) -> str:
        return f"target={self.target!r}, schedule={self.schedule!r}, clip={self.clip}"


# ---- a model prepared for one grid of times: what samplers call ----------------------------------

def float64_times(ts) -> torch.Tensor:
    """A grid of times as float64 on the CPU, where coefficients are computed (MPS has no float64); a
    list goes straight there (through float32 first, 0.9 would become 0.8999999762)."""
    return ts.detach().cpu().double() if isinstance(ts, torch.Tensor) else torch.as_tensor(ts, dtype=torch.float64)


def table(values: torch.Tensor, x: torch.Tensor) -> tuple:
    """Float64 values as a tuple of 0-d tensors in x's dtype and device (dtype first: converted on the
    CPU), the cheapest form to read inside a loop: indexing a tensor makes a new view at every step."""
    return values.to(x.dtype).to(x.device).unbind()


class Grid(NamedTuple):
    """A schedule on one grid of times, worked out once for batches like x (on_grid)."""

    schedule: Schedule
    t64: torch.Tensor  # (N,) the times, float64 on the CPU
    alpha64: torch.Tensor  # (N,) alpha(t), float64
    sigma64: torch.Tensor  # (N,) sigma(t), float64
    alpha: tuple  # N 0-d tensors in x's dtype and device
    sigma: tuple  # the same for sigma(t)


def on_grid(schedule: Schedule, ts, x: torch.Tensor) -> Grid:
    """`schedule` on the grid ts: alpha and sigma in float64, and as tables in x's dtype and device."""
    t64 = float64_times(ts)
    alpha64, sigma64 = schedule.alpha(t64), schedule.sigma(t64)
    return Grid(schedule, t64, alpha64, sigma64, table(alpha64, x), table(sigma64, x))


class Prepared:
    """A Denoiser on one grid of times, for batches like x (Denoiser.prepare): prepared(x, i) is its
    Prediction at the grid's i-th time, from alpha and sigma computed once; at a time where it cannot
    predict, a call is refused with forward's message (found once, raised only if called there)."""

    def __init__(self, model: Denoiser, grid: Grid, x: torch.Tensor, cond=None):
        self.grid, self.alpha, self.sigma = grid, grid.alpha, grid.sigma
        self.cond, self.predict = cond, model.predict_with
        ts = grid.t64.to(x.dtype).to(x.device)  # what the network is called with: (B,) per grid time
        self.times = ts[:, None].expand(len(ts), x.shape[0]).unbind()
        self.refusals = model.refusals(grid.t64, grid.alpha64, grid.sigma64)

    def __call__(self, x: torch.Tensor, i: int) -> Prediction:
        if i in self.refusals:
            raise ValueError(self.refusals[i])
        return self.predict(x, self.times[i], self.alpha[i], self.sigma[i], self.cond)


def predict(model, x: torch.Tensor, t: torch.Tensor) -> Prediction:
    """model(x, t) at one time t (0-d) for the whole batch, its answer checked to be a prediction."""
    out = model(x, t.expand(x.shape[0]))  # t as a (B,) tensor, one time per point
    if not (hasattr(out, "eps") and hasattr(out, "x0")):
        raise TypeError(f"the model returned a {type(out).__name__}, not a prediction with .eps and .x0: "
                        "wrap the network: params.Denoiser(net, schedule, target='eps')")
    return out


def prepare(model, ts, x: torch.Tensor):
    """`model` on the grid ts for batches like x, called as prepared(x, i) -> Prediction at ts[i]: its own
    prepare when it has one (a Denoiser, a subclass, a guidance wrapper), else model(x, t) at each call
    (an exact or hand-written denoiser, samplers.CountCalls)."""
    if callable(getattr(model, "prepare", None)):
        return model.prepare(ts, x)
    times = float64_times(ts).to(x.dtype).to(x.device).unbind()  # dtype first: converted on the CPU
    return lambda x, i: predict(model, x, times[i])
