"""Reference solution of homework 2: the explicit midpoint rule (Runge 1895) on the probability-flow ODE
dy/ds = eps_hat in y = x / alpha and s = sigma / alpha, the ODE that samplers.heun solves (Karras et al. 2022,
Algorithm 1): a half step of Euler to the middle noise level, then the whole step with the slope there."""

from typing import Iterator

import torch

from minidiff import samplers
from minidiff.core.schedules import Schedule


@torch.no_grad()
def my_sampler(model, x: torch.Tensor, ts, schedule: Schedule,
               generator: torch.Generator | None = None) -> Iterator[samplers.Step]:
    """The explicit midpoint rule over the decreasing grid ts; two model calls per step and none at the grid's
    last time (the middle of a step to s = 0 is s / 2 > 0). Deterministic: generator is unused."""
    times = samplers.check_grid(ts, x, schedule, "my_sampler")  # (steps + 1,) in x's dtype, for the model
    # The coefficients in float64 on the CPU, from the times as given (through float32, 0.9 is not 0.9).
    t64 = ts.detach().cpu().double() if isinstance(ts, torch.Tensor) else torch.as_tensor(ts, dtype=torch.float64)
    alpha = schedule.alpha(t64)
    s = schedule.sigma(t64) / alpha  # (steps + 1,) the noise level, the ODE's clock
    s_mid = (s[:-1] + s[1:]) / 2  # (steps,) the middle of each step
    t_mid = schedule.t_from_log_snr(-2 * s_mid.log())  # log-SNR = -2 log s
    alpha_mid = schedule.alpha(t_mid)
    on_x = lambda v: v.to(x.dtype).to(x.device).unbind()  # noqa: E731  (dtype first: MPS has no float64)
    alpha_x, alpha_mid_x, t_mid_x = on_x(alpha), on_x(alpha_mid), on_x(t_mid)
    half, whole = on_x(s_mid - s[:-1]), on_x(s[1:] - s[:-1])  # the step lengths in s (< 0: s falls)
    for i in range(len(times) - 1):
        y = x / alpha_x[i]
        slope = samplers.predict(model, x, times[i]).eps  # dy/ds at the start
        y_mid = y + half[i] * slope  # Euler to the middle
        mid = samplers.predict(model, alpha_mid_x[i] * y_mid, t_mid_x[i])  # the slope in the middle
        x = alpha_x[i + 1] * (y + whole[i] * mid.eps)  # the whole step with it
        yield samplers.Step(t=t64[i + 1].item(), x=x, x0=mid.x0)


def steps_for_nfe(nfe: int) -> int:
    """Two calls per step: nfe // 2 steps (at least 1)."""
    return max(1, nfe // 2)
