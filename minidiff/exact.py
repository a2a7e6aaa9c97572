"""Exact denoisers: for a Gaussian mixture the noised law at every t is known in closed form, so the
ideal network can be written down, and any sampler can run with no training at all (its error is
then the sampler's own, not the network's).

    model = exact.mixture_denoiser(toy.ring(), VPLinear())    # model(x, t).eps, .x0
"""

import torch
from torch import nn

from .schedules import Schedule
from .toy import GaussianMixture


class MixtureEps(nn.Module):
    """The exact noise predictor of a mixture: eps(x, t) = -sigma(t) grad log p_t(x) (the ideal network).

    p_t is the law of x_t = alpha(t) x0 + sigma(t) eps, GaussianMixture.noised(alpha, sigma); since
    E[eps | x_t] = -sigma(t) grad log p_t(x_t) (Vincent 2011; Ho et al. 2020, eq. 11 and section 3.2),
    this is the best possible eps-prediction in the mean-square sense.
    """

    def __init__(self, gm: GaussianMixture, schedule: Schedule):
        super().__init__()
        if not isinstance(gm, GaussianMixture):
            raise ValueError(f"MixtureEps: gm must be a toy.GaussianMixture, got {type(gm).__name__}")
        self.gm, self.schedule = gm, schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.gm.dim:
            raise ValueError(f"MixtureEps: x must have shape (B, {self.gm.dim}), got {tuple(x.shape)}")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t  # (B,)
        if t.shape != (x.shape[0],):
            raise ValueError(f"MixtureEps: t must be one time or shape ({x.shape[0]},), got {tuple(t.shape)}")
        eps = torch.empty_like(x)  # (B, D)
        # noised() takes one (alpha, sigma) pair: one pass per distinct time (a sampler has only one).
        for time in t.unique():
            rows = t == time
            t64 = time.cpu().double()  # float64 on the CPU: MPS has no float64
            alpha, sigma = self.schedule.alpha(t64).item(), self.schedule.sigma(t64).item()
            eps[rows] = -sigma * self.gm.noised(alpha, sigma).score(x[rows])
        return eps


def mixture_denoiser(gm: GaussianMixture, schedule: Schedule, clip: float | None = None):
    """The exact denoiser of a Gaussian mixture under `schedule`, as a params.Denoiser: model(x, t)
    gives the exact eps and x0 = E[x0 | x_t] (Tweedie's formula, Efron 2011)."""
    from .params import Denoiser  # params imports nothing from here; lazily to keep imports light

    return Denoiser(MixtureEps(gm, schedule), schedule, target="eps", clip=clip)


def reverse_step_density(gm: GaussianMixture, alpha_prev: float, sigma_prev: float, beta: float,
                         xt: float, ys: torch.Tensor) -> torch.Tensor:
    """The exact density of one reverse step, q(x_{t-1} = y | x_t) on a grid ys, for 1-D data.

    Bayes' rule: q(y | x_t) is proportional to q(x_t | y) q_{t-1}(y), with q(x_t | y) = N(sqrt(1 - beta) y,
    beta) (Ho et al. 2020, eq. 2) and q_{t-1} the data noised to (alpha_prev, sigma_prev). For small
    beta the first factor is so narrow that the second is nearly log-linear across it, which makes
    the product nearly Gaussian (Feller 1949; Sohl-Dickstein et al. 2015, section 2.2).
    Normalised so that it sums to 1 / spacing on the (uniform) grid.
    """
    if gm.dim != 1:
        raise ValueError(f"reverse_step_density: needs a 1-D mixture, got D = {gm.dim}")
    if not 0 < beta < 1:
        raise ValueError(f"reverse_step_density: beta must be in (0, 1), got {beta}")
    ys = torch.as_tensor(ys, dtype=torch.float64)
    prior = gm.to(torch.float64).noised(alpha_prev, sigma_prev).log_prob(ys[:, None])  # (G,)
    forward = torch.distributions.Normal((1 - beta) ** 0.5 * ys, beta**0.5).log_prob(torch.tensor(float(xt), dtype=torch.float64))
    log_p = prior + forward
    p = torch.exp(log_p - log_p.max())
    return p / (p.sum() * (ys[1] - ys[0]))
