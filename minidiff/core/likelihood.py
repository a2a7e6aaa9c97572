"""Exact log-likelihood through the probability-flow ODE (Song et al. 2021, section 4.3 and App. D).

The ODE is a smooth invertible map from data to noise, so the change of variables holds along it:
d log p_t(x_t) / dt = -div(dx/dt) (the instantaneous change of variables, Chen et al. 2018, thm. 1).
Integrate the ODE from the data up to the noise end, add the divergence along the way, and read
log p of the data off the known Gaussian at the end.

As the samplers do, it works in y = x / alpha with noise level s = sigma / alpha, where the ODE is
dy/ds = eps_hat(alpha y, t); then log p_x(x) = log p_y(x / alpha) - D log alpha.
"""

import math

import torch

from .schedules import Schedule
from .samplers import check_grid
from ..runtime import check_generator

DIVERGENCES = ("exact", "hutchinson")


def velocity_and_divergence(fn, y: torch.Tensor, probe: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(fn(y), div fn(y)) for y of shape (B, D): the exact trace of the Jacobian by autograd (one
    backward pass per coordinate), or Hutchinson's estimate probe^T J probe when a probe is given
    (unbiased when E[probe probe^T] = I; Hutchinson 1989, Grathwohl et al. 2019)."""
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        out = fn(y)  # (B, D)
        if probe is not None:
            (jvp,) = torch.autograd.grad((out * probe).sum(), y)  # probe^T J, one row per point
            return out.detach(), (jvp * probe).sum(1)
        diag = []
        for i in range(y.shape[1]):
            # Points do not interact, so the gradient of the sum over points of out_i is row by row.
            (grad,) = torch.autograd.grad(out[:, i].sum(), y, retain_graph=i < y.shape[1] - 1)
            diag.append(grad[:, i])
    return out.detach(), torch.stack(diag, 1).sum(1)  # (B, D), (B,)


def log_likelihood(model, x: torch.Tensor, ts, schedule: Schedule, divergence: str = "exact",
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """log p(x) in nats for each point of x (B, D), shape (B,), through the probability-flow ODE
    (Song et al. 2021, App. D), solved with Heun's method on the grid ts (decreasing, as for the
    samplers; the data sit at ts[-1], which must have a noise level > 0: drop a final t = 0).

    The law at ts[0] is taken to be N(0, (alpha^2 + sigma^2) I), the law of x_t for data of unit
    variance. divergence: 'exact' (autograd, D backward passes per call: fine in 2-D) or
    'hutchinson' (one Rademacher probe per point, held for the whole path; noisy but one pass)."""
    check_generator(generator, "likelihood.log_likelihood")
    if divergence not in DIVERGENCES:
        raise ValueError(f"log_likelihood: divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if x.ndim != 2:
        raise ValueError(f"log_likelihood: x must be a batch of points (B, D), got shape {tuple(x.shape)}")
    ts = check_grid(ts, x, schedule, "log_likelihood")
    t64 = ts.cpu().double()  # the coefficients in float64 on the CPU, then in x's dtype
    alpha64, sigma64 = schedule.alpha(t64), schedule.sigma(t64)
    alpha, sigma, s = (v.to(x.dtype).to(x.device) for v in (alpha64, sigma64, sigma64 / alpha64))
    if not s[-1] > 0:
        raise ValueError("log_likelihood: the grid must end at a noise level > 0 (the ODE's slope is not "
                         "defined at s = 0); drop a final t = 0, e.g. ts[:-1]")
    probe = None
    if divergence == "hutchinson":
        gen_device = generator.device if generator is not None else x.device
        # Rademacher +-1 entries: E[probe probe^T] = I, and a lower variance than Gaussian probes
        bits = torch.randint(0, 2, x.shape, generator=generator, device=gen_device)
        probe = (2 * bits - 1).to(device=x.device, dtype=x.dtype)  # (B, D)

    def slope(i):
        # dy/ds = eps_hat(alpha y, t): the velocity field in y at grid point i
        return lambda y: model(alpha[i] * y, ts[i].expand(len(y))).eps

    y = x / alpha[-1]  # (B, D): the data in y coordinates, at the smallest noise level
    change = x.new_zeros(len(x))  # integral of div_y(dy/ds) ds along the path, (B,)
    for i in range(len(ts) - 1, 0, -1):  # from the data end up to the noise end
        ds = s[i - 1] - s[i]  # > 0
        v1, div1 = velocity_and_divergence(slope(i), y, probe)
        y_euler = y + ds * v1
        v2, div2 = velocity_and_divergence(slope(i - 1), y_euler, probe)
        y = y + ds * 0.5 * (v1 + v2)  # Heun's step (the trapezoid rule for y and for the integral)
        change = change + ds * 0.5 * (div1 + div2)
    dim = x.shape[1]
    # The prior at ts[0]: x_T ~ N(0, var I), var = alpha^2 + sigma^2, i.e. y ~ N(0, var / alpha^2 I).
    var_y = (alpha[0] ** 2 + sigma[0] ** 2) / alpha[0] ** 2
    log_prior_y = -0.5 * (y**2).sum(1) / var_y - 0.5 * dim * torch.log(2 * math.pi * var_y)
    # log p_y(y_data) = log p_y(y_T) + integral of div; back to x: subtract D log alpha at the data end
    return log_prior_y + change - dim * alpha[-1].log()
