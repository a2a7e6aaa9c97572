"""A sampler's own work per step, everything but the network call, against a plain loop.

The network returns 0.1 x (almost free), so what is timed is the loop around it: the Denoiser's
conversions, the sampler's arithmetic, the Step it yields. Beside each sampler runs its own plain loop
that does the same arithmetic over coefficient tables computed once, calling the bare network: the
same network calls, the same noise draws in the same order, the x and x0 that the sampler yields, but
no checks, no Denoiser, no generator. One yardstick for all (DDIM's loop) would not be fair: heun and
predictor_corrector call the network twice a step, ddpm and the SDE samplers draw noise, the
predictor-corrector works out a step size from two norms. `check` runs each pair once and asserts that
they agree (the same number of calls, the same final x); tests/test_sampler_overhead.py asserts that
they agree bit for bit.

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
from minidiff.forward import q_transition
from minidiff.sde import sde_coefficients

STEPS = minidiff.by_mode(full=1000, fast=200)
REPEATS = minidiff.by_mode(full=9, fast=3)
POINTS = 64
SNR = 0.16  # predictor_corrector's default


class TenthOfX(nn.Module):
    """A stand-in network whose call costs next to nothing: eps_hat = 0.1 x."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.1 * x


# ---- the plain loops: tables in float64 on the CPU, converted once, then bare tensor arithmetic ----

def _tables(x: torch.Tensor, *values: torch.Tensor) -> list:
    """Each float64 table in x's dtype and device, as a tuple of 0-d tensors (the cheapest to index)."""
    return [v.to(x.dtype).to(x.device).unbind() for v in values]


def _times(x: torch.Tensor, t64: torch.Tensor) -> tuple:
    return t64.to(x)[:, None].expand(len(t64), x.shape[0]).unbind()  # (B,) per grid time


def _noise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype)


def plain_ddpm(net, x, t64, schedule, generator):
    """ddpm, variance='beta': x0 for the Step, the chain's step, fresh noise but on the last step."""
    alpha_step, beta_sqrt = q_transition(t64[1:], t64[:-1], schedule)
    beta, sigma64 = beta_sqrt**2, schedule.sigma(t64)
    alpha, sigma, coef, alpha_step, noise = _tables(x, schedule.alpha(t64), sigma64, beta / sigma64[:-1],
                                                    alpha_step, beta.sqrt())
    times, last = _times(x, t64), len(t64) - 2
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        x = (x - coef[i] * eps) / alpha_step[i]
        if i < last:
            x = x + noise[i] * _noise(x, generator)
    return x, x0


def plain_ddim(net, x, t64, schedule, generator):
    """ddim, eta = 0 (and euler, the same sampler): x0, then x_s = alpha_s x0 + sigma_s eps."""
    alpha, sigma = _tables(x, schedule.alpha(t64), schedule.sigma(t64))
    times = _times(x, t64)
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        x = alpha[i + 1] * x0 + sigma[i + 1] * eps
    return x, x0


def plain_heun(net, x, t64, schedule, generator):
    """heun: an Euler step, a second call at its end, the trapezoid in y = x / alpha; Euler to s = 0."""
    alpha64, sigma64 = schedule.alpha(t64), schedule.sigma(t64)
    s64 = sigma64 / alpha64
    alpha, sigma, half_ds = _tables(x, alpha64, sigma64, 0.5 * (s64[1:] - s64[:-1]))
    times, last = _times(x, t64), (s64 == 0).tolist()
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        x_euler = alpha[i + 1] * x0 + sigma[i + 1] * eps
        if last[i + 1]:
            x = x_euler
            continue
        eps_next = net(x_euler, times[i + 1])
        x0 = (x_euler - sigma[i + 1] * eps_next) / alpha[i + 1]
        x = alpha[i + 1] * (x / alpha[i] + half_ds[i] * (eps + eps_next))
    return x, x0


def plain_dpm_solver_pp(net, x, t64, schedule, generator):
    """dpm_solver_pp (2M): x0, extrapolated from the previous step's x0 but on the first and last steps."""
    alpha64, sigma64 = schedule.alpha(t64), schedule.sigma(t64)
    lam = 0.5 * schedule.log_snr(t64)
    h = lam[1:] - lam[:-1]
    half_inv_r = torch.zeros_like(h)
    half_inv_r[1:] = h[1:] / (2 * h[:-1])
    half_inv_r[torch.isinf(h)] = 0.0
    second = (half_inv_r > 0).tolist()
    alpha, sigma, ratio, coef, extra = _tables(x, alpha64, sigma64, sigma64[1:] / sigma64[:-1],
                                               alpha64[1:] * -torch.expm1(-h), half_inv_r)
    times, x0_prev = _times(x, t64), None
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        d = x0 + extra[i] * (x0 - x0_prev) if second[i] else x0
        x = ratio[i] * x + coef[i] * d
        x0_prev = x0
    return x, x0


def _sde_tables(x, t64, schedule):
    f, g2 = sde_coefficients(schedule, t64[:-1])
    dt = t64[:-1] - t64[1:]
    return _tables(x, schedule.alpha(t64), schedule.sigma(t64), f, g2, dt, (g2 * dt).sqrt())


def plain_euler_maruyama(net, x, t64, schedule, generator):
    """euler_maruyama: x - (f x - g^2 score) dt + sqrt(g^2 dt) z; the last step, to t = 0, is DDIM's."""
    alpha, sigma, f, g2, dt, noise = _sde_tables(x, t64, schedule)
    times, last = _times(x, t64), len(t64) - 2
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        x0 = (x - sigma[i] * eps) / alpha[i]
        if i == last:
            x = alpha[i + 1] * x0 + sigma[i + 1] * eps
        else:
            score = -eps / sigma[i]
            x = x - (f[i] * x - g2[i] * score) * dt[i] + noise[i] * _noise(x, generator)
    return x, x0


def plain_predictor_corrector(net, x, t64, schedule, generator):
    """predictor_corrector: the Euler-Maruyama step, then a Langevin step at the new time (but at t = 0).
    The predictor's x0 is computed only where it is yielded (the last step): the least a sampler needs."""
    alpha, sigma, f, g2, dt, noise = _sde_tables(x, t64, schedule)
    times, last = _times(x, t64), len(t64) - 2
    for i in range(len(t64) - 1):
        eps = net(x, times[i])
        if i == last:
            x0 = (x - sigma[i] * eps) / alpha[i]
            x = alpha[i + 1] * x0 + sigma[i + 1] * eps
            continue
        score = -eps / sigma[i]
        x = x - (f[i] * x - g2[i] * score) * dt[i] + noise[i] * _noise(x, generator)
        eps = net(x, times[i + 1])
        x0 = (x - sigma[i + 1] * eps) / alpha[i + 1]
        score = -eps / sigma[i + 1]
        z = _noise(x, generator)
        ratio = torch.linalg.vector_norm(z.flatten(1), dim=1).mean() / \
            torch.linalg.vector_norm(score.flatten(1), dim=1).mean()
        step_size = 2 * (SNR * ratio) ** 2
        x = x + step_size * score + torch.sqrt(2 * step_size) * z
    return x, x0


PLAIN = {"ddpm": plain_ddpm, "ddim": plain_ddim, "euler": plain_ddim, "heun": plain_heun,
         "dpm_solver_pp": plain_dpm_solver_pp, "euler_maruyama": plain_euler_maruyama,
         "predictor_corrector": plain_predictor_corrector}


# ---- the measurement ----------------------------------------------------------------------------

def setup(steps: int = STEPS, dtype=torch.float32):
    """(net, model, x, ts, schedule): the benchmark's problem."""
    schedule, net = schedules.VPLinear(), TenthOfX()
    model = params.Denoiser(net, schedule, target="eps")
    x = torch.randn(POINTS, 2, generator=torch.Generator().manual_seed(0), dtype=dtype)
    return net, model, x, schedules.uniform_grid(steps, t_max=0.999), schedule


def run_sampler(name, model, x, ts, schedule) -> torch.Tensor:
    return samplers.run(samplers.SAMPLERS[name](model, x, ts, schedule, generator=torch.Generator().manual_seed(1)))


def run_plain(name, net, x, ts, schedule) -> torch.Tensor:
    return PLAIN[name](net, x, ts.double(), schedule, torch.Generator().manual_seed(1))[0]


def check(name: str, net, model, x, ts, schedule) -> int:
    """Run the sampler and its plain loop once: the same number of network calls and the same final x
    (to float rounding), or the comparison would not be fair. Returns the number of calls."""
    calls = []
    hook = net.register_forward_hook(lambda *_: calls.append(1))  # counted here only, not while timed
    sampled = run_sampler(name, model, x, ts, schedule)
    sampler_calls, calls[:] = len(calls), []
    plain = run_plain(name, net, x, ts, schedule)
    hook.remove()
    if len(calls) != sampler_calls:
        raise AssertionError(f"{name}: {sampler_calls} network calls, its plain loop {len(calls)}")
    if not torch.allclose(sampled, plain, rtol=1e-4, atol=1e-5):
        raise AssertionError(f"{name}: the plain loop ends elsewhere, by "
                             f"{(sampled - plain).abs().max().item():.3g}")
    return sampler_calls


def bare_calls(net, x: torch.Tensor, ts: torch.Tensor) -> None:
    for t in _times(x, ts.double())[:-1]:  # one call per step
        net(x, t)


def cpu_seconds(fn) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def measure(names=None, steps: int = STEPS, repeats: int = REPEATS) -> tuple[float, dict]:
    """(one network call, {name: (plain loop, sampler)}) in microseconds, per step for the rows, with the
    network's own calls subtracted; medians over repeats."""
    net, model, x, ts, schedule = setup(steps)
    names = list(names or samplers.SAMPLERS)
    calls = {name: check(name, net, model, x, ts, schedule) for name in names}
    times, network = {name: ([], []) for name in names}, []
    for _ in range(repeats):  # in turns, so that a slow spell of the machine hits every row alike
        network.append(cpu_seconds(lambda: bare_calls(net, x, ts)) / steps)
        for name in names:
            times[name][0].append(cpu_seconds(lambda: run_plain(name, net, x, ts, schedule)))
            times[name][1].append(cpu_seconds(lambda: run_sampler(name, model, x, ts, schedule)))
    call = statistics.median(network)
    return call * 1e6, {name: tuple((statistics.median(t) - calls[name] * call) / steps * 1e6 for t in times[name])
                        for name in names}


def main() -> None:
    torch.set_num_threads(1)
    network, rows = measure()
    print(f"## Per-step overhead, {POINTS} points, {STEPS} steps, one thread, CPU time, median of {REPEATS} "
          f"(the network call, {network:.1f} us, subtracted)\n")
    print(f"{'sampler':22s} {'plain loop':>10s} {'sampler':>9s}  ratio")
    for name, (plain, sampler) in rows.items():
        print(f"{name:22s} {plain:7.1f} us {sampler:6.1f} us  {sampler / plain:4.2f}x")
    print("\n(each sampler against its own plain loop: the same arithmetic, network calls and noise over "
          "tables made once; the target is at most 2x)")


if __name__ == "__main__":
    main()
