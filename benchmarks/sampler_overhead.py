"""A sampler's own work per step, everything but the network call, against a plain loop.

The network returns 0.1 x (almost free), so what is timed is the loop around it: the Denoiser's
conversions and checks, the sampler's arithmetic, the Step it yields. The plain loop beside it does
DDIM's arithmetic over coefficient tables computed once, calling the bare network: the least any
sampler must do per step. 64 two-dimensional points, one thread, median of several runs; the bare
network call's own time is subtracted from both.
Run: python benchmarks/sampler_overhead.py  (MINIDIFF_FAST=1 for fewer steps).
"""

import statistics
import time

import torch
from torch import nn

import minidiff
from minidiff import params, samplers, schedules

STEPS = minidiff.by_mode(full=1000, fast=200)
REPEATS = minidiff.by_mode(full=5, fast=3)
POINTS = 64


class TenthOfX(nn.Module):
    """A stand-in network whose call costs next to nothing: eps_hat = 0.1 x."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.1 * x


def plain_ddim(net, x: torch.Tensor, ts: torch.Tensor, schedule) -> torch.Tensor:
    """DDIM (eta = 0) over tables made once: the arithmetic a sampler cannot avoid."""
    alpha, sigma = schedule.alpha(ts).to(x), schedule.sigma(ts).to(x)  # (steps + 1,) each
    t = ts.to(x)
    for i in range(len(ts) - 1):
        eps = net(x, t[i].expand(x.shape[0]))
        x0 = (x - sigma[i] * eps) / alpha[i]
        x = alpha[i + 1] * x0 + sigma[i + 1] * eps
    return x


def bare_calls(net, x: torch.Tensor, ts: torch.Tensor) -> None:
    t = ts.to(x)
    for i in range(len(ts) - 1):
        net(x, t[i].expand(x.shape[0]))


def per_step_us(fn, steps: int) -> float:
    """The median over REPEATS of fn's wall time, in microseconds per step."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / steps * 1e6


def main() -> None:
    torch.set_num_threads(1)
    schedule, net = schedules.VPLinear(), TenthOfX()
    model = params.Denoiser(net, schedule, target="eps")
    x = torch.randn(POINTS, 2, generator=torch.Generator().manual_seed(0))
    ts = schedules.uniform_grid(STEPS, t_max=0.999)
    network = per_step_us(lambda: bare_calls(net, x, ts), STEPS)
    plain = per_step_us(lambda: plain_ddim(net, x, ts, schedule), STEPS) - network
    print(f"## Per-step overhead, {POINTS} points, {STEPS} steps, one thread (the network call, "
          f"{network:.0f} us, subtracted)\n")
    print(f"{'plain DDIM loop over tables':32s} {plain:7.0f} us   1.0x")
    for name, sampler in samplers.SAMPLERS.items():
        calls_per_step = 2 if name in ("heun", "predictor_corrector") else 1
        us = per_step_us(lambda: samplers.run(sampler(model, x, ts, schedule, generator=torch.Generator().manual_seed(1))),
                         STEPS) - calls_per_step * network
        print(f"{name:32s} {us:7.0f} us  {us / plain:4.1f}x")
    print("\n(per step: heun and predictor_corrector make two model calls in a step; the issue's target "
          "is at most 2x the plain loop)")


if __name__ == "__main__":
    main()
