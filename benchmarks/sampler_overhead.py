"""A sampler's own work per step, everything but the network call, against a plain loop.

The network returns 0.1 x (almost free), so what is timed is the loop around it: the prepared
Denoiser's conversions, the sampler's arithmetic, the Step it yields, the generator it is. The
yardstick is one plain loop per family of samplers, over coefficient tables made once, calling the
bare network, with no checks, no Denoiser, no Step and no generator:
- PLAIN["ode"], DDIM (eta = 0): x0 for the Step, then x_s = alpha_s x0 + sigma_s eps. For ddim and
  euler (which are DDIM), and heun (two calls a step: no target);
- PLAIN["multistep"], DPM-Solver++(2M): DDIM's loop, the x0 extrapolated from the previous step's;
- PLAIN["sde"], DDPM ancestral sampling: DDIM's loop with the chain's step and a fresh noise draw;
  for ddpm, and for euler_maruyama and predictor_corrector, which do more per step by design (the
  targets allow for it: 1.5x and 3x).
`check` runs each sampler with its yardstick once: the same network calls, and where the yardstick is
the same sampler, the same final x (tests/test_sampler_overhead.py asserts it bit for bit).

64 two-dimensional points, 1000 steps, one thread, on the CPU; the bare network call's own time is
subtracted from both. Times are the thread's CPU time (time.thread_time), not wall time, so that other
processes on a busy machine count less; each figure is the median of REPEATS runs, taken in turns.
Run: python benchmarks/sampler_overhead.py  (MINIDIFF_FAST=1 for fewer steps).
"""

import statistics
import time

import torch
from torch import nn

import minidiff
from minidiff import params, samplers, schedules
from minidiff.core.forward import q_transition

STEPS = minidiff.by_mode(full=1000, fast=200)
REPEATS = minidiff.by_mode(full=9, fast=3)
POINTS = 64
# Each sampler's yardstick and its target: at most this many times the yardstick's time per step.
FAMILY = {"ddpm": ("sde", 1.5), "ddim": ("ode", 1.25), "euler": ("ode", 1.25), "heun": ("ode", None),
          "dpm_solver_pp": ("multistep", 1.25), "euler_maruyama": ("sde", 1.5),
          "predictor_corrector": ("sde", 3.0)}


class TenthOfX(nn.Module):
    """A stand-in network whose call costs next to nothing: eps_hat = 0.1 x."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.1 * x


# ---- the yardsticks: tables in float64 on the CPU, converted once, then bare tensor arithmetic ----

def _tables(x: torch.Tensor, t64: torch.Tensor, schedule, *values: torch.Tensor) -> list:
    """The network's times (B,) per grid time, alpha, sigma and each of values as tuples of 0-d tensors."""
    times = t64.to(x)[:, None].expand(len(t64), x.shape[0]).unbind()
    return [times] + [v.to(x.dtype).unbind() for v in (schedule.alpha(t64), schedule.sigma(t64), *values)]


def plain_ode(net, x, t64, schedule, generator):
    """DDIM, eta = 0: x0, then x_s = alpha_s x0 + sigma_s eps."""
    times, alpha, sigma = _tables(x, t64, schedule)
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        x = alpha[i + 1] * x0 + sigma[i + 1] * eps
    return x, x0


def plain_multistep(net, x, t64, schedule, generator):
    """DPM-Solver++(2M): x_s = (sigma_s / sigma_t) x + alpha_s (1 - e^-h) D, D extrapolated from the last x0."""
    lam = 0.5 * schedule.log_snr(t64)
    h = lam[1:] - lam[:-1]
    half_inv_r = torch.zeros_like(h)
    half_inv_r[1:] = h[1:] / (2 * h[:-1])
    half_inv_r[torch.isinf(h)] = 0.0
    sigma64, second = schedule.sigma(t64), (half_inv_r > 0).tolist()
    times, alpha, sigma, ratio, coef, extra = _tables(x, t64, schedule, sigma64[1:] / sigma64[:-1],
                                                      schedule.alpha(t64)[1:] * -torch.expm1(-h), half_inv_r)
    x0_prev = None
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        d = x0 + extra[i] * (x0 - x0_prev) if second[i] else x0
        x = ratio[i] * x + coef[i] * d
        x0_prev = x0
    return x, x0


def plain_sde(net, x, t64, schedule, generator):
    """DDPM, variance='beta': x0, the chain's step, fresh noise on every step but the last."""
    alpha_step, beta_sqrt = q_transition(t64[1:], t64[:-1], schedule)
    beta = beta_sqrt**2
    times, alpha, sigma, coef, alpha_step, noise = _tables(x, t64, schedule, beta / schedule.sigma(t64)[:-1],
                                                           alpha_step, beta.sqrt())
    last = len(t64) - 2
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        x = (x - coef[i] * eps) / alpha_step[i]
        if i < last:
            x = x + noise[i] * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x, x0


PLAIN = {"ode": plain_ode, "multistep": plain_multistep, "sde": plain_sde}


# ---- the measurement ----------------------------------------------------------------------------

def setup(steps: int = STEPS, dtype=torch.float32):
    """(net, model, x, ts, schedule): the benchmark's problem; the grid ends at t = 0."""
    schedule, net = schedules.VPLinear(), TenthOfX()
    model = params.Denoiser(net, schedule, target="eps")
    x = torch.randn(POINTS, 2, generator=torch.Generator().manual_seed(0), dtype=dtype)
    return net, model, x, schedules.uniform_grid(steps, t_max=0.999), schedule


def run_sampler(name, model, x, ts) -> torch.Tensor:
    return samplers.run(samplers.SAMPLERS[name](model, x, ts, generator=torch.Generator().manual_seed(1)))


def run_plain(name, net, x, ts, schedule) -> tuple:
    return PLAIN[FAMILY[name][0]](net, x, ts.double(), schedule, torch.Generator().manual_seed(1))


def calls_per_run(name: str, steps: int) -> int:
    """Network calls of a run on a grid that ends at t = 0: 2 per step but the last for the two-call samplers."""
    return 2 * steps - 1 if name in ("heun", "predictor_corrector") else steps


def check(name: str, net, model, x, ts, schedule) -> None:
    """Run the sampler and its yardstick once: the calls counted, and where the yardstick is the same
    sampler (ddpm, ddim, euler, dpm_solver_pp) the same final x to float rounding."""
    calls = []
    hook = net.register_forward_hook(lambda *_: calls.append(1))  # counted here only, not while timed
    sampled = run_sampler(name, model, x, ts)
    hook.remove()
    if len(calls) != calls_per_run(name, len(ts) - 1):
        raise AssertionError(f"{name}: {len(calls)} network calls, not {calls_per_run(name, len(ts) - 1)}")
    plain = run_plain(name, net, x, ts, schedule)[0]
    if name in ("ddpm", "ddim", "euler", "dpm_solver_pp") and not torch.allclose(sampled, plain, rtol=1e-4, atol=1e-5):
        raise AssertionError(f"{name}: its plain loop ends elsewhere, by {(sampled - plain).abs().max().item():.3g}")


def bare_calls(net, x: torch.Tensor, ts: torch.Tensor) -> None:
    for t in ts.to(x)[:-1, None].expand(len(ts) - 1, x.shape[0]).unbind():  # one call per step
        net(x, t)


def cpu_seconds(fn) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def measure(names=None, steps: int = STEPS, repeats: int = REPEATS) -> tuple[float, dict, dict]:
    """(one network call, {family: plain loop}, {name: sampler}) in microseconds per step, the network's
    own calls subtracted; medians over repeats."""
    net, model, x, ts, schedule = setup(steps)
    names = list(names or samplers.SAMPLERS)
    for name in names:
        check(name, net, model, x, ts, schedule)
    families = sorted({FAMILY[name][0] for name in names})
    plain, sampled, network = {f: [] for f in families}, {name: [] for name in names}, []
    for _ in range(repeats):  # in turns, so that a slow spell of the machine hits every row alike
        network.append(cpu_seconds(lambda: bare_calls(net, x, ts)) / steps)
        for family in families:
            plain[family].append(cpu_seconds(lambda: PLAIN[family](net, x, ts.double(), schedule,
                                                                   torch.Generator().manual_seed(1))))
        for name in names:
            sampled[name].append(cpu_seconds(lambda: run_sampler(name, model, x, ts)))
    call = statistics.median(network)
    per_step = lambda times, calls: (statistics.median(times) - calls * call) / steps * 1e6  # noqa: E731
    return (call * 1e6, {f: per_step(t, steps) for f, t in plain.items()},
            {name: per_step(t, calls_per_run(name, steps)) for name, t in sampled.items()})


def main() -> None:
    torch.set_num_threads(1)
    network, plain, rows = measure()
    print(f"## Per-step overhead, {POINTS} points, {STEPS} steps, one thread, CPU time, median of {REPEATS} "
          f"(the network call, {network:.1f} us, subtracted)\n")
    print("plain loops: " + ", ".join(f"{family} {us:.1f} us" for family, us in plain.items()) + "\n")
    print(f"{'sampler':22s} {'yardstick':>10s} {'sampler':>9s}  ratio  target")
    for name, us in rows.items():
        family, target = FAMILY[name]
        print(f"{name:22s} {family:>10s} {us:6.1f} us  {us / plain[family]:4.2f}x  "
              f"{f'{target:g}x' if target else '-'}")


if __name__ == "__main__":
    main()
