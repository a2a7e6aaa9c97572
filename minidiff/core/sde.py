"""The SDE view of diffusion (Song et al. 2021): the coefficients of the forward SDE and the drifts
of its reverse SDE and probability-flow ODE. The samplers that solve them live in `samplers`.

Any schedule's forward process x_t = alpha(t) x0 + sigma(t) eps is the solution of the SDE
dx = f(t) x dt + g(t) dw (eq. 5) with f = d log alpha / dt and g^2 = d sigma^2 / dt - 2 f sigma^2.
Run backwards it is the reverse SDE (eq. 6); its probability-flow ODE (eq. 13) has the same marginals.
"""

import torch

from .schedules import Schedule, as_time


def sde_coefficients(schedule: Schedule, t) -> tuple[torch.Tensor, torch.Tensor]:
    """(f(t), g(t)^2) of the forward SDE dx = f x dt + g dw (Song et al. 2021, eq. 5) whose solution has
    mean alpha x0 and variance sigma^2: f = d log alpha / dt, g^2 = -sigma^2 d log-SNR / dt."""
    t = as_time(t, "sde_coefficients")
    # closed forms for the course's schedules; the base class differentiates any other by autograd
    f, dlog_snr = schedule.d_log_alpha(t), schedule.d_log_snr(t)
    # d sigma^2/dt - 2 f sigma^2 = 2 sigma^2 (d log sigma - d log alpha)/dt = -sigma^2 d log-SNR/dt
    return f, -schedule.sigma(t) ** 2 * dlog_snr


def pf_ode_drift(x: torch.Tensor, score: torch.Tensor, f, g2) -> torch.Tensor:
    """dx/dt of the probability-flow ODE, f x - 1/2 g^2 score (Song et al. 2021, eq. 13)."""
    return f * x - 0.5 * g2 * score


def reverse_sde_drift(x: torch.Tensor, score: torch.Tensor, f, g2) -> torch.Tensor:
    """The drift of the reverse SDE, f x - g^2 score; its noise is g dw-bar (Song et al. 2021, eq. 6)."""
    return f * x - g2 * score
