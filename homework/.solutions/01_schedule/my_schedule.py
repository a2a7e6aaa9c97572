"""Reference solution of homework 1: the sigmoid schedule (Jabri et al. 2022, section 3.2; Chen 2023,
Algorithm 1), clipped at alpha_bar = 1e-9 as VPCosine is, with its log-SNR, derivatives and inverse exact."""

import torch

from minidiff import schedules


class MySchedule(schedules.Schedule):
    """alpha_bar(t) = (v(1) - v(t)) / (v(1) - v(0)), v(t) = sigmoid((start + t (end - start)) / tau).

    Unclipped, alpha(1) = 0: an eps-predicting model then gives x0 = (x - sigma eps) / alpha = 0 / 0 at the
    grid's first time, and the samplers refuse that grid. So alpha_bar is clipped from below at
    alpha_bar_min (log-SNR -20.7), as in VPCosine; that changes it only within about 3e-9 of t = 1.
    """

    def __init__(self, start: float = -3.0, end: float = 3.0, tau: float = 1.0, alpha_bar_min: float = 1e-9):
        self.start, self.end, self.tau, self.alpha_bar_min = float(start), float(end), float(tau), float(alpha_bar_min)
        if not (self.start < self.end and self.tau > 0 and 0 < self.alpha_bar_min < 1):
            raise ValueError(f"MySchedule: need start < end, tau > 0 and 0 < alpha_bar_min < 1, got "
                             f"start={start}, end={end}, tau={tau}, alpha_bar_min={alpha_bar_min}")
        self._a, self._b = self.start / self.tau, self.end / self.tau  # the sigmoid's argument at t = 0 and 1
        self._span = _gap(torch.tensor(self._b, dtype=torch.float64), torch.tensor(self._a, dtype=torch.float64)).item()

    def _z(self, t: torch.Tensor) -> torch.Tensor:
        return self._a + t * (self._b - self._a)  # the sigmoid's argument at t

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        # v(1) - v(t) without cancellation: near t = 1 both are sigmoid(3) = 0.95 to seven digits
        z = self._z(t)
        return (_gap(torch.full_like(z, self._b), z) / self._span).clamp(self.alpha_bar_min, 1.0)

    def _sigma2(self, t: torch.Tensor) -> torch.Tensor:
        # 1 - alpha_bar = (v(t) - v(0)) / (v(1) - v(0)): exactly 0 at t = 0, no cancellation near it
        z = self._z(t)
        return (_gap(z, torch.full_like(z, self._a)) / self._span).clamp(0.0, 1.0 - self.alpha_bar_min)

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return self.alpha_bar(t).sqrt()

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self._sigma2(t).sqrt()

    def log_snr(self, t: torch.Tensor) -> torch.Tensor:
        return self.alpha_bar(t).log() - self._sigma2(t).log()  # +inf at t = 0

    def d_log_alpha(self, t: torch.Tensor) -> torch.Tensor:
        """(1/2) alpha_bar' / alpha_bar, alpha_bar' = -v (1 - v) (end - start) / (tau (v(1) - v(0)))."""
        v = torch.sigmoid(self._z(t))
        slope = -v * (1 - v) * (self._b - self._a) / self._span  # d alpha_bar / dt
        return 0.5 * slope / self.alpha_bar(t)

    def d_log_snr(self, t: torch.Tensor) -> torch.Tensor:
        """2 d_log_alpha / sigma^2 (variance preserving); -inf at t = 0."""
        return 2 * self.d_log_alpha(t) / self._sigma2(t)

    def t_from_log_snr(self, lam) -> torch.Tensor:
        """Exact: 1 - alpha_bar = sigmoid(-lam), so v(t) = v(0) + sigmoid(-lam) (v(1) - v(0)), then the logit."""
        lam = torch.as_tensor(lam, dtype=torch.get_default_dtype()) if not torch.is_tensor(lam) else lam
        v = torch.sigmoid(torch.tensor(self._a, dtype=lam.dtype)) + torch.sigmoid(-lam) * self._span
        t = ((torch.logit(v) - self._a) / (self._b - self._a)).clamp(0, 1)
        return torch.where(torch.sigmoid(lam) < self.alpha_bar_min, torch.ones_like(t), t)


def _gap(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """sigmoid(z1) - sigmoid(z2) = sinh((z1 - z2) / 2) / (2 cosh(z1 / 2) cosh(z2 / 2)): no digits cancel."""
    return torch.sinh((z1 - z2) / 2) / (2 * torch.cosh(z1 / 2) * torch.cosh(z2 / 2))

