"""Noise schedules: how much signal and noise x_t = alpha(t) * x0 + sigma(t) * eps holds at time t.

Continuous time t in [0, 1], t = 0 clean. alpha_bar = alpha^2 (the DDPM name), snr = alpha^2 / sigma^2.
Every method takes a number or a tensor of times; the result has the dtype and device of t.
A new schedule subclasses `Schedule` and writes alpha(t) and sigma(t) for tensors: the base class
checks and converts t (numbers included) before any method of a subclass sees it.
"""

import functools
import math
from fractions import Fraction

import torch
import torch.nn.functional as F


def as_time(t, where: str) -> torch.Tensor:
    """t as a float tensor (a number becomes a 0-d tensor of the default dtype), checked to be in [0, 1]."""
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=torch.get_default_dtype())
    elif not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    bad = ~((t >= 0) & (t <= 1))  # also catches NaN
    if bad.any():
        raise ValueError(f"{where}: t must be in [0, 1], got {t[bad].flatten()[0].item():g}")
    return t


def _as_log_snr(lam, where: str) -> torch.Tensor:
    if not isinstance(lam, torch.Tensor) or not lam.is_floating_point():
        lam = torch.as_tensor(lam, dtype=torch.get_default_dtype())
    if lam.isnan().any():
        raise ValueError(f"{where}: log-SNR must not be NaN")
    return lam


# The methods that take a time: in every subclass they receive t already checked by as_time.
TIME_METHODS = ("alpha", "sigma", "alpha_bar", "snr", "log_snr", "d_log_alpha", "d_log_snr", "beta")


def _takes_time(method):
    """Wrap method(self, t) so that t arrives as a float tensor in [0, 1] (a number included)."""
    if getattr(method, "_takes_time", False):
        return method

    @functools.wraps(method)
    def wrapped(self, t, *args, **kwargs):
        return method(self, as_time(t, f"{type(self).__name__}.{method.__name__}"), *args, **kwargs)

    wrapped._takes_time = True
    return wrapped


class Schedule:
    """The base: a subclass gives alpha(t) and sigma(t); the rest follows (override for accuracy)."""

    def __init_subclass__(cls, **kwargs):
        # A subclass writes its methods for tensors; wrapping them here means s.alpha(0.5) works
        # on a learner's schedule too, and a t outside [0, 1] is refused with one clear message.
        super().__init_subclass__(**kwargs)
        for name in TIME_METHODS:
            if name in vars(cls):
                setattr(cls, name, _takes_time(vars(cls)[name]))

    def alpha(self, t) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define alpha(t) and sigma(t)")

    def sigma(self, t) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define alpha(t) and sigma(t)")

    def alpha_bar(self, t) -> torch.Tensor:
        """alpha(t)^2, the fraction of the signal's variance left (Ho et al. 2020, eq. 4)."""
        return self.alpha(t) ** 2

    def snr(self, t) -> torch.Tensor:
        """Signal-to-noise ratio alpha^2 / sigma^2 (Kingma et al. 2021, eq. 2); inf where sigma = 0."""
        return self.alpha(t) ** 2 / self.sigma(t) ** 2

    def log_snr(self, t) -> torch.Tensor:
        """log(alpha^2 / sigma^2), strictly decreasing in t; +inf where sigma = 0."""
        return 2 * (self.alpha(t).log() - self.sigma(t).log())

    def d_log_alpha(self, t) -> torch.Tensor:
        """d log alpha / dt, the drift rate f(t) of the forward SDE (Song et al. 2021, eq. 5), by autograd."""
        return _derivative(lambda u: self.alpha(u).log(), t)

    def d_log_snr(self, t) -> torch.Tensor:
        """d log-SNR / dt (< 0); g(t)^2 = -sigma^2 d_log_snr (Kingma et al. 2021, appendix), by autograd."""
        return _derivative(self.log_snr, t)

    @property
    def config(self) -> dict:
        """The schedule as plain numbers, {'name': ..., **arguments}: from_config(config) rebuilds it."""
        return {"name": type(self).__name__, **{k: v for k, v in vars(self).items()
                                                if isinstance(v, float) and not k.startswith("_")}}

    def t_from_log_snr(self, lam) -> torch.Tensor:
        """The time at which log_snr(t) = lam, clamped to [0, 1] (bisection; subclasses solve it exactly)."""
        lam = _as_log_snr(lam, f"{type(self).__name__}.t_from_log_snr")
        lo, hi = torch.zeros_like(lam), torch.ones_like(lam)
        for _ in range(60):  # each halving gains a bit; 60 is past float64 resolution
            mid = (lo + hi) / 2
            above = self.log_snr(mid) > lam  # log-SNR falls with t, so the answer lies later
            lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
        return (lo + hi) / 2

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:g}" for k, v in vars(self).items()
                           if isinstance(v, float) and not k.startswith("_"))
        return f"{type(self).__name__}({params})"


for _name in TIME_METHODS:  # the base's own methods check t the same way
    if _name in vars(Schedule):
        setattr(Schedule, _name, _takes_time(vars(Schedule)[_name]))


def _derivative(fn, t: torch.Tensor) -> torch.Tensor:
    """d fn / dt elementwise by autograd (each output depends only on its own t)."""
    with torch.enable_grad():
        t = t.detach().clone().requires_grad_(True)
        y = fn(t)
        if not y.requires_grad:  # fn does not depend on t (a constant alpha, say)
            return torch.zeros_like(t)
        (grad,) = torch.autograd.grad(y.sum(), t)
    return grad


class VPLinear(Schedule):
    """Variance preserving with beta(t) = beta_min + t (beta_max - beta_min): Ho et al. 2020's linear
    betas 1e-4 .. 0.02 over T = 1000 steps, in the continuous form of Song et al. 2021 (eq. 11, App. B)."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        if not (0 <= self.beta_min <= self.beta_max and 0 < self.beta_max < math.inf):
            raise ValueError(f"VPLinear: need 0 <= beta_min <= beta_max, beta_max > 0 (else sigma does "
                             f"not increase), got beta_min={beta_min}, beta_max={beta_max}")

    def beta(self, t) -> torch.Tensor:
        """The instantaneous noise rate beta(t) (Song et al. 2021, eq. 11)."""
        return self.beta_min + as_time(t, "VPLinear") * (self.beta_max - self.beta_min)

    def _integral(self, t) -> torch.Tensor:
        # -log alpha_bar(t) = integral of beta from 0 to t
        t = as_time(t, "VPLinear")
        return t * self.beta_min + 0.5 * t**2 * (self.beta_max - self.beta_min)

    def alpha(self, t) -> torch.Tensor:
        return torch.exp(-0.5 * self._integral(t))

    def sigma(self, t) -> torch.Tensor:
        return torch.sqrt(-torch.expm1(-self._integral(t)))  # expm1: accurate for small t

    def log_snr(self, t) -> torch.Tensor:
        c = self._integral(t)
        return -c - torch.log(-torch.expm1(-c))

    def d_log_alpha(self, t) -> torch.Tensor:
        """-beta(t) / 2: alpha = exp(-1/2 integral of beta) (Song et al. 2021, eq. 11)."""
        return -0.5 * self.beta(t)

    def d_log_snr(self, t) -> torch.Tensor:
        """-beta(t) / sigma^2(t), from log-SNR = -c - log(1 - e^-c) with c' = beta; -inf at t = 0."""
        return -self.beta(t) / -torch.expm1(-self._integral(t))

    def t_from_log_snr(self, lam) -> torch.Tensor:
        """Exact: -log alpha_bar = softplus(-lam) = beta_min t + (beta_max - beta_min) t^2 / 2, solved for t."""
        lam = _as_log_snr(lam, "VPLinear.t_from_log_snr")
        c = F.softplus(-lam)
        root = torch.sqrt(self.beta_min**2 + 2 * (self.beta_max - self.beta_min) * c)
        t = 2 * c / (self.beta_min + root)  # the quadratic's root, written to avoid cancellation
        return torch.where(c > 0, t, torch.zeros_like(t)).clamp(0, 1)


class VPCosine(Schedule):
    """alpha_bar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t + s) / (1 + s)) (Nichol & Dhariwal 2021, eq. 17).

    At t = 1 the formula gives alpha = 0: log-SNR is -inf and x0 = (xt - sigma eps) / alpha divides by
    zero. The paper clips beta_t at 0.999 for that reason (its T = 1000 table ends at alpha_bar 2.4e-9).
    Here alpha_bar is clipped from below at alpha_bar_min (default 1e-9, log-SNR -20.7), which changes
    it only for t > 1 - 2e-5. alpha_bar_min = 0 gives the unclipped formula.
    """

    def __init__(self, s: float = 0.008, alpha_bar_min: float = 1e-9):
        self.s, self.alpha_bar_min = float(s), float(alpha_bar_min)
        if not 0 <= self.s < math.inf:
            raise ValueError(f"VPCosine: the offset s must be >= 0, got {s}")
        if not 0 <= self.alpha_bar_min < 1:
            raise ValueError(f"VPCosine: alpha_bar_min must be in [0, 1), got {alpha_bar_min}")
        self._b = math.pi / 2 * self.s / (1 + self.s)  # the angle at t = 0
        # The time where alpha_bar reaches its floor (1 when unclipped): sin a = sqrt(floor) cos b.
        to_end = math.asin(math.sqrt(self.alpha_bar_min) * math.cos(self._b))
        self._t_clip = 1 - to_end * (1 + self.s) / (math.pi / 2)

    def _angles(self, t):
        t = as_time(t, "VPCosine")
        return (1 - t) * (math.pi / 2 / (1 + self.s)), t * (math.pi / 2 / (1 + self.s))

    def alpha(self, t) -> torch.Tensor:
        # cos(pi/2 (t + s)/(1 + s)) written as sin(pi/2 (1 - t)/(1 + s)): the same number, but the
        # sine of a small angle keeps its digits near t = 1, where the cosine of ~pi/2 loses them.
        to_end, _ = self._angles(t)
        return (torch.sin(to_end) / math.cos(self._b)).clamp(math.sqrt(self.alpha_bar_min), 1.0)

    def _sigma2(self, t) -> torch.Tensor:
        # 1 - cos^2(a)/cos^2(b) = sin(a - b) sin(a + b) / cos^2(b): no cancellation near t = 0
        _, a_minus_b = self._angles(t)
        sigma2 = torch.sin(a_minus_b) * torch.sin(a_minus_b + 2 * self._b) / math.cos(self._b) ** 2
        return sigma2.clamp(max=1 - self.alpha_bar_min)  # the clip of alpha_bar, seen from sigma

    def sigma(self, t) -> torch.Tensor:
        return torch.sqrt(self._sigma2(t))

    def log_snr(self, t) -> torch.Tensor:
        return 2 * self.alpha(t).log() - self._sigma2(t).log()

    def d_log_alpha(self, t) -> torch.Tensor:
        """-k cot(k (1 - t)), k = pi / (2 (1 + s)). Past the clip, the value at the clip: alpha is
        flat there, but a drift of 0 would make the reverse SDE's first step from t = 1 do nothing."""
        k = math.pi / 2 / (1 + self.s)
        return -k / torch.tan(k * (1 - t.clamp(max=self._t_clip)))

    def d_log_snr(self, t) -> torch.Tensor:
        """2 d_log_alpha / sigma^2 (variance preserving: sigma^2 = 1 - alpha^2); -inf at t = 0."""
        return 2 * self.d_log_alpha(t) / self._sigma2(t)

    def t_from_log_snr(self, lam) -> torch.Tensor:
        """Exact: the angle a with cos a = sqrt(alpha_bar) cos b, via atan2 so that no digits cancel."""
        lam = _as_log_snr(lam, "VPCosine.t_from_log_snr")
        alpha_bar, sigma2 = torch.sigmoid(lam), torch.sigmoid(-lam)
        sin_a = torch.sqrt(sigma2 + alpha_bar * math.sin(self._b) ** 2)  # sqrt(1 - alpha_bar cos^2 b)
        a = torch.atan2(sin_a, alpha_bar.sqrt() * math.cos(self._b))
        t = (a * (2 / math.pi) * (1 + self.s) - self.s).clamp(0, 1)
        return torch.where(alpha_bar < self.alpha_bar_min, torch.ones_like(t), t)


class VE(Schedule):
    """Variance exploding: alpha = 1, sigma(t) = sigma_min (sigma_max / sigma_min)^t, the geometric
    noise levels of score networks (Song & Ermon 2019; Song et al. 2021, eq. 9). Note sigma(0) = sigma_min."""

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        if not 0 < self.sigma_min < self.sigma_max < math.inf:
            raise ValueError(f"VE: need 0 < sigma_min < sigma_max (sigma must increase with t), "
                             f"got sigma_min={sigma_min}, sigma_max={sigma_max}")
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def alpha(self, t) -> torch.Tensor:
        return torch.ones_like(as_time(t, "VE"))

    def sigma(self, t) -> torch.Tensor:
        return self.sigma_min * torch.exp(as_time(t, "VE") * self._log_ratio)

    def log_snr(self, t) -> torch.Tensor:
        return -2 * (math.log(self.sigma_min) + as_time(t, "VE") * self._log_ratio)

    def d_log_alpha(self, t) -> torch.Tensor:
        """0: alpha = 1, no drift (Song et al. 2021, eq. 9)."""
        return torch.zeros_like(t)

    def d_log_snr(self, t) -> torch.Tensor:
        """-2 log(sigma_max / sigma_min): log sigma is linear in t."""
        return torch.full_like(t, -2 * self._log_ratio)

    def t_from_sigma(self, sigma) -> torch.Tensor:
        """The time at which sigma(t) = sigma: t = log(sigma / sigma_min) / log(sigma_max / sigma_min)
        (the noise levels of Song & Ermon 2019 on this schedule's clock)."""
        if not isinstance(sigma, torch.Tensor) or not sigma.is_floating_point():
            sigma = torch.as_tensor(sigma, dtype=torch.get_default_dtype())
        t = torch.log(sigma / self.sigma_min) / self._log_ratio
        bad = ~((t > -1e-6) & (t < 1 + 1e-6))  # a little slack for round-off; also catches NaN
        if bad.any():
            raise ValueError(f"VE.t_from_sigma: sigma must be in [sigma_min, sigma_max] = "
                             f"[{self.sigma_min:g}, {self.sigma_max:g}], got {sigma[bad].flatten()[0].item():g}")
        return t.clamp(0, 1)

    def t_from_log_snr(self, lam) -> torch.Tensor:
        """Exact: log sigma = -lam / 2 is linear in t."""
        lam = _as_log_snr(lam, "VE.t_from_log_snr")
        return ((-lam / 2 - math.log(self.sigma_min)) / self._log_ratio).clamp(0, 1)


class DiscreteDDPM(Schedule):
    """A table of T betas: at t = k / T, alpha_bar = prod_{i<=k} (1 - beta_i) (Ho et al. 2020, eq. 4).

    Between grid points log alpha_bar is linear in t (a constant noise rate within each step), so
    alpha_bar is continuous, strictly decreasing, exact at every grid point, and inverts exactly.
    """

    def __init__(self, betas):
        # the table lives on the CPU in float64 (a list goes straight there: via float32 it would lose digits)
        betas = betas.detach().to("cpu", torch.float64) if torch.is_tensor(betas) else \
            torch.tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or len(betas) == 0:
            raise ValueError(f"DiscreteDDPM: betas must be a 1-D tensor of length T >= 1, got shape "
                             f"{tuple(betas.shape)}")
        bad = ~((betas > 0) & (betas < 1))
        if bad.any():
            k = int(bad.nonzero()[0])
            raise ValueError(f"DiscreteDDPM: every beta must be in (0, 1), got beta[{k}] = {betas[k].item():g}")
        self.betas = betas  # (T,)
        zero = torch.zeros(1, dtype=torch.float64)
        self.log_alpha_bars = torch.cat([zero, torch.cumsum(torch.log1p(-self.betas), 0)])  # (T + 1,)

    @property
    def T(self) -> int:
        return len(self.betas)

    def __repr__(self) -> str:
        return f"DiscreteDDPM(T={self.T}, betas {self.betas[0]:.3g} .. {self.betas[-1]:.3g})"

    def log_alpha_bar(self, t) -> torch.Tensor:
        """log alpha_bar(t), linear between the table's entries at t = k / T."""
        t = as_time(t, "DiscreteDDPM")
        table = self.log_alpha_bars.to(device=t.device, dtype=t.dtype)
        pos = t * self.T
        k = pos.floor().clamp(max=self.T - 1).long()
        return table[k] + (pos - k) * (table[k + 1] - table[k])

    def alpha(self, t) -> torch.Tensor:
        return torch.exp(0.5 * self.log_alpha_bar(t))

    def sigma(self, t) -> torch.Tensor:
        return torch.sqrt(-torch.expm1(self.log_alpha_bar(t)))

    def log_snr(self, t) -> torch.Tensor:
        log_ab = self.log_alpha_bar(t)
        return log_ab - torch.log(-torch.expm1(log_ab))

    def d_log_alpha(self, t) -> torch.Tensor:
        """Half the slope of log alpha_bar on the table's piece that holds t (the later piece at a grid point)."""
        table = self.log_alpha_bars.to(device=t.device, dtype=t.dtype)
        k = (t * self.T).floor().clamp(max=self.T - 1).long()
        return 0.5 * self.T * (table[k + 1] - table[k])

    def d_log_snr(self, t) -> torch.Tensor:
        """2 d_log_alpha / sigma^2 (variance preserving); -inf at t = 0."""
        return 2 * self.d_log_alpha(t) / -torch.expm1(self.log_alpha_bar(t))

    @property
    def config(self) -> dict:
        return {"name": "DiscreteDDPM", "betas": self.betas.tolist()}

    def t_from_log_snr(self, lam) -> torch.Tensor:
        """Exact: log alpha_bar = logsigmoid(lam), then the linear piece of the table it falls on."""
        lam = _as_log_snr(lam, "DiscreteDDPM.t_from_log_snr")
        depth = -F.logsigmoid(lam)  # -log alpha_bar, increasing in t
        table = (-self.log_alpha_bars).to(device=lam.device, dtype=lam.dtype)  # (T + 1,) increasing
        k = (torch.searchsorted(table, depth.contiguous(), right=True) - 1).clamp(0, self.T - 1)
        frac = (depth - table[k]) / (table[k + 1] - table[k])
        return ((k + frac) / self.T).clamp(0, 1)


class ZeroTerminalSNR(Schedule):
    """A variance-preserving schedule rescaled so that alpha(1) = 0 exactly (zero terminal SNR), keeping
    alpha(0): alpha(t) = a0 (a(t) - a1) / (a0 - a1), sigma = sqrt(1 - alpha^2), where a is the base's
    alpha, a0 = a(0), a1 = a(1) (Lin et al. 2024, "Common diffusion noise schedules and sample steps are
    flawed", Algorithm 1, in continuous time; diffusers calls it rescale_betas_zero_snr).

    Why: with alpha(1) > 0, x_1 still holds alpha(1) x0, so N(0, I) is not its law and a deterministic
    sampler carries the mismatch to its samples. Here x_1 ~ N(0, I) exactly; the price is that an eps
    prediction says nothing about x0 at t = 1 (x0 = (x - sigma eps) / alpha is 0 / 0): a model on this
    schedule predicts x0 or v (exact.mixture_denoiser(..., target='x0')).
    base: a variance-preserving Schedule (alpha^2 + sigma^2 = 1) whose alpha falls from t = 0 to 1,
    or its config (default VPLinear()). Where the base's alpha is flat before t = 1 (VPCosine's clip,
    t > 1 - 2e-5), the rescaled alpha is 0 on that whole stretch. Samplers start at t = 1 itself
    (samplers.ZERO_SNR_STARTS); schedules.karras_grid starts at noise level 80, so put t = 1 in front.
    """

    def __init__(self, base=None):
        base = VPLinear() if base is None else from_config(base) if isinstance(base, dict) else base
        if not isinstance(base, Schedule):
            raise ValueError(f"ZeroTerminalSNR: base must be a Schedule (e.g. VPLinear()) or its config, "
                             f"got {type(base).__name__} {base!r}")
        ends = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
        a, s = base.alpha(ends), base.sigma(ends)
        if not torch.allclose(a**2 + s**2, torch.ones_like(a), rtol=0, atol=1e-9):
            raise ValueError(f"ZeroTerminalSNR: the base must be variance preserving (alpha^2 + sigma^2 = 1, "
                             f"e.g. VPLinear, VPCosine, DiscreteDDPM), got {base!r}")
        if not a[0] > a[2]:
            raise ValueError(f"ZeroTerminalSNR: the base's alpha must fall from t = 0 to t = 1, got "
                             f"alpha(0) = {a[0].item():g}, alpha(1) = {a[2].item():g} for {base!r}")
        self.base = base
        self._a0, self._a1, self._sigma0_sq = a[0].item(), a[2].item(), s[0].item() ** 2

    def _a_minus_a1(self, t) -> torch.Tensor:
        # a(t) - a(1) with a(1) evaluated in t's dtype: exactly 0 at t = 1 in float32 too (a float64 a1
        # would leave a float32 a(1) a rounding error away from it, and alpha(1) > 0)
        return self.base.alpha(t) - self.base.alpha(torch.ones_like(t))

    def alpha(self, t) -> torch.Tensor:
        return (self._a0 * self._a_minus_a1(t) / (self._a0 - self._a1)).clamp(min=0)

    def _one_minus_alpha(self, t) -> torch.Tensor:
        # 1 - alpha without cancellation near t = 0, where alpha -> 1: a0 - a = (sigma_b^2 - sigma_b(0)^2) / (a0 + a)
        # for a variance-preserving base, so 1 - alpha = ((1 - a0)(a0 - a1) + a0 (a0 - a)) / (a0 - a1).
        a = self.base.alpha(t)
        a0_minus_a = (self.base.sigma(t) ** 2 - self._sigma0_sq) / (self._a0 + a)
        return ((1 - self._a0) * (self._a0 - self._a1) + self._a0 * a0_minus_a) / (self._a0 - self._a1)

    def _sigma2(self, t) -> torch.Tensor:
        # exactly 1 where alpha is 0: the formula's roundings (which differ between torch builds) would
        # leave x_1 a hair away from pure noise, and eps = x at t = 1 is what the lesson relies on
        alpha = self.alpha(t)
        sigma2 = (self._one_minus_alpha(t) * (1 + alpha)).clamp(0, 1)
        return torch.where(alpha == 0, torch.ones_like(sigma2), sigma2)

    def sigma(self, t) -> torch.Tensor:
        return torch.sqrt(self._sigma2(t))

    def log_snr(self, t) -> torch.Tensor:
        return 2 * self.alpha(t).log() - self._sigma2(t).log()  # -inf at t = 1, +inf at t = 0

    def d_log_alpha(self, t) -> torch.Tensor:
        """alpha'/alpha = a'(t) / (a(t) - a1) = a d_log_alpha_base / (a - a1); -inf at t = 1."""
        return self.base.alpha(t) * self.base.d_log_alpha(t) / self._a_minus_a1(t)

    def d_log_snr(self, t) -> torch.Tensor:
        """2 d_log_alpha / sigma^2 (variance preserving); -inf at both ends."""
        return 2 * self.d_log_alpha(t) / self._sigma2(t)

    @property
    def config(self) -> dict:
        return {"name": "ZeroTerminalSNR", "base": self.base.config}

    def __repr__(self) -> str:
        return f"ZeroTerminalSNR({self.base!r})"


def discrete_betas(schedule: Schedule, T: int, max_beta: float = 0.999) -> torch.Tensor:
    """The T betas whose chain hits schedule.alpha_bar at t = k / T: beta_k = 1 - alpha_bar_k / alpha_bar_{k-1},
    clipped at max_beta as in Nichol & Dhariwal 2021 (section 3.2)."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"discrete_betas: T must be an int >= 1, got {T!r}")
    alpha_bar = schedule.alpha_bar(torch.arange(T + 1, dtype=torch.float64) / T)  # (T + 1,)
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. 2020's table (section 4): T betas spaced linearly from 1e-4 to 0.02, float64."""
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"linear_betas: T must be an int >= 1, got {T!r}")
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal 2021's table: eq. 17 unclipped, then betas clipped at max_beta."""
    return discrete_betas(VPCosine(s, alpha_bar_min=0.0), T, max_beta)


SCHEDULES = {"VPLinear": VPLinear, "VPCosine": VPCosine, "VE": VE, "DiscreteDDPM": DiscreteDDPM,
             "ZeroTerminalSNR": ZeroTerminalSNR}


def from_config(config: dict) -> Schedule:
    """The schedule that `config` (a Schedule.config, e.g. from a checkpoint) describes."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"from_config: need a dict with a 'name' (a Schedule.config), got {config!r}")
    args = dict(config)
    name = args.pop("name")
    if name not in SCHEDULES:
        raise ValueError(f"from_config: unknown schedule {name!r}; known: {sorted(SCHEDULES)} "
                         "(a schedule of your own: build it yourself from its config)")
    return SCHEDULES[name](**args)


# Grids are float64 on the CPU: exact times (0.9, not 0.8999999762) that every device can hold;
# samplers convert them to the data's dtype and device (samplers.check_grid).

def uniform_grid(n: int, t_max: float = 1.0, t_min: float = 0.0) -> torch.Tensor:
    """n + 1 equally spaced times, decreasing from t_max to t_min: the grid of n sampler steps (float64)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"uniform_grid: n (the number of steps) must be an int >= 1, got {n!r}")
    if not 0 <= t_min < t_max <= 1:
        raise ValueError(f"uniform_grid: need 0 <= t_min < t_max <= 1, got t_min={t_min}, t_max={t_max}")
    # In exact fractions of the decimals given, rounded once: each time is the float64 nearest to
    # its decimal value (t_max - i (t_max - t_min) / n), so 0.9 is 0.9 (float arithmetic can be 1 ulp off).
    hi, lo = Fraction(repr(float(t_max))), Fraction(repr(float(t_min)))
    return torch.tensor([float(hi + (lo - hi) * Fraction(i, n)) for i in range(n + 1)], dtype=torch.float64)


def log_snr_grid(n: int, schedule: Schedule, sigma_min: float = 0.01, sigma_max: float = 80.0) -> torch.Tensor:
    """n steps whose noise levels sigma / alpha are evenly spaced in log (so in the log-SNR, 2 lambda)
    from sigma_max to sigma_min, then t = 0: the 'logSNR' grid of DPM-Solver (Lu et al. 2022,
    section 3.3), which suits solvers that step in lambda. It is karras_grid's rho -> infinity limit.
    sigma_min = 0.01 is about where DPM-Solver's code stops for a model of 1000 training steps
    (t = 1e-3: noise level 0.0105 on VPLinear); sigma_max = 80 is Karras et al.'s, so that both grids
    start at the same noise level."""
    return karras_grid(n, schedule, sigma_min, sigma_max, rho=math.inf)


def karras_grid(n: int, schedule: Schedule, sigma_min: float = 0.002, sigma_max: float = 80.0,
                rho: float = 7.0) -> torch.Tensor:
    """Decreasing times in [0, 1], n + 1 of them (n steps), the last t = 0, placed so that the noise
    level sigma(t) / alpha(t) follows Karras et al. 2022, eq. 5:
    (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho for i < n.

    sigma_min and sigma_max (defaults: the paper's 0.002 and 80) are first clipped to the levels the
    schedule reaches at t = 0 and t = 1. When sigma_min is at or below the level at t = 0 (a VE
    schedule), the n + 1 points are all rho-spaced (i / n), the last one being t = 0. float64, CPU.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"karras_grid: n (the number of steps) must be an int >= 1, got {n!r}")
    if not rho > 0:
        raise ValueError(f"karras_grid: rho must be > 0 (math.inf: log-uniform levels), got {rho}")
    ends = torch.exp(-0.5 * schedule.log_snr(torch.tensor([0.0, 1.0], dtype=torch.float64)))
    lo, hi = max(sigma_min, ends[0].item()), min(sigma_max, ends[1].item())
    if not 0 < lo < hi:
        raise ValueError(f"karras_grid: need 0 < sigma_min < sigma_max within the schedule's range "
                         f"{ends[0].item():.3g} .. {ends[1].item():.3g}, got {sigma_min}, {sigma_max}")
    reaches_start = lo <= ends[0].item()
    steps = n if reaches_start else n - 1
    i = torch.arange(steps + 1, dtype=torch.float64) / max(steps, 1)
    if math.isinf(rho):  # the limit rho -> inf: geometric levels, i.e. evenly spaced in log-SNR
        levels = torch.exp(math.log(hi) + i * (math.log(lo) - math.log(hi)))  # (steps + 1,)
    else:
        levels = (hi ** (1 / rho) + i * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho  # (steps + 1,)
    ts = schedule.t_from_log_snr(-2 * levels.log())
    if reaches_start:
        ts[-1] = 0.0  # the level at t = 0 itself
    else:
        ts = torch.cat([ts[: n], ts.new_zeros(1)])  # Karras's sigma_N = 0 is t = 0
    return ts
