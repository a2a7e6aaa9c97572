"""The plateau of deterministic samplers, and the zero-terminal-SNR schedule that removes it.

With the linear VP schedule, x_T at the first grid time still holds alpha(T) x0, so starting from
N(0, I) starts from the wrong law: for two modes 0.8 / 0.2 the data's mean (-1.8, 0) survives as an
offset of -1.8 alpha(T), and a deterministic sampler carries it to the mode weights (a plateau above
the noise floor). schedules.ZeroTerminalSNR (Lin et al. 2024, Algorithm 1) rescales the schedule so
that alpha(1) = 0: x_1 is then exactly N(0, I), and the model predicts x0 (exact.mixture_denoiser
with target='x0'), which at t = 1 is the data's mean.

Rows, each the sliced Wasserstein distance to the truth in noise-floor units (median over runs; the
same starting noise and reference samples in every row of a run):
- VPLinear, N(0, I): the Karras grid (rho = 7, noise levels 80 .. 0.002, then t = 0), as lesson 08
  and benchmarks/samplers.py;
- VPLinear, exact x_T: the same grid, started from the exact law of x_T (the noised mixture), to
  show that the start, not the solver, makes the plateau;
- zero SNR, N(0, I): ZeroTerminalSNR(VPLinear()), the grid t = 1 then the Karras grid of one step
  fewer (the same NFE; from t = 1 the first step lands at noise level 80).
For the two modes a second table gives the weight of the 0.2 mode itself (small_mode_weight), the
quantity those distances mostly measure there, read with a control variate so that the start's luck
cancels: it shows the plateau (0.2 + 0.0063 predicted) to the fourth decimal.
Run: python benchmarks/zero_snr.py  (MINIDIFF_FAST=1 for a quick smoke run; full: about 10 minutes).
"""

import time

import torch

import minidiff
from minidiff import exact, metrics, nfe, samplers, schedules, toy

NFES = minidiff.by_mode(full=(10, 20, 40, 80, 160, 320), fast=(10, 40))
# 20,000 points, not the 4,000 of benchmarks/samplers.py: the plateau is a fixed error of the mode weights
# (about 0.005) while the floor shrinks like 1 / sqrt(N); at 4,000 points the weights of two exact samples
# already differ by 0.009 (sd), so a median over runs reads the plateau as anything from 0.9x to 1.3x.
N, RUNS = minidiff.by_mode(full=20000, fast=1000), minidiff.by_mode(full=7, fast=3)
SAMPLERS = ("ddim", "dpm_solver_pp")


def zero_snr_grid(steps: int, schedule: schedules.Schedule) -> torch.Tensor:
    """t = 1 (alpha = 0, where x_1 ~ N(0, I) exactly), then the Karras grid of steps - 1 steps."""
    return torch.cat([torch.ones(1, dtype=torch.float64), schedules.karras_grid(steps - 1, schedule)])


def measure(gm, seed: int = 0) -> tuple[dict, dict]:
    """{(sampler, row): {nfe: (quality in floor units, outputs of every run)}} for one mixture, and the
    starts of every run, concatenated: {'noise': N(0, I), 'exact': the law of x_T}."""
    base, zero = schedules.VPLinear(), schedules.ZeroTerminalSNR(schedules.VPLinear())
    models = {"VPLinear": exact.mixture_denoiser(gm, base), "zero SNR": exact.mixture_denoiser(gm, zero, target="x0")}
    g = torch.Generator().manual_seed(seed)
    floor = metrics.noise_floor(gm.sample, N, repeats=2 * RUNS + 1, generator=g)
    t_start = schedules.karras_grid(1, base)[0]  # every Karras grid starts at noise level 80
    alpha, sigma = base.alpha(t_start).item(), base.sigma(t_start).item()
    noise = [torch.randn(N, 2, generator=g) for _ in range(RUNS)]  # N(0, I): the usual start
    exact_start = [gm.noised(alpha, sigma).sample(N, generator=g) for _ in range(RUNS)]
    references = [gm.sample(N, g) for _ in range(RUNS)]
    rows = {"VPLinear, N(0, I)": ("VPLinear", noise), "VPLinear, exact x_T": ("VPLinear", exact_start),
            "zero SNR, N(0, I)": ("zero SNR", noise)}
    results = {}
    for name in SAMPLERS:
        for row, (which, starts) in rows.items():
            schedule, cells = (base if which == "VPLinear" else zero), {}
            for steps in NFES:  # one model call per step for both samplers
                ts = schedules.karras_grid(steps, base) if which == "VPLinear" else zero_snr_grid(steps, zero)
                outs = [samplers.run(samplers.SAMPLERS[name](models[which], x, ts, schedule)) for x in starts]
                cells[steps] = (nfe.quality(outs, references, floor), outs)
            results[name, row] = cells
    return results, {"noise": torch.cat(noise), "exact": torch.cat(exact_start)}


def boundary(gm, alpha: float, sigma: float) -> float:
    """The 0.8 quantile of the first coordinate of gm.noised(alpha, sigma) (bisection on its CDF): an exact
    ODE from that law sends the points beyond it, and only those, to the 0.2 mode of toy.two_modes(). (The
    law is a product of a 1-D mixture along the first axis and one Gaussian along the second, so the first
    coordinate moves on its own, and a 1-D flow keeps the order of points.)"""
    noised = gm.noised(alpha, sigma).to(torch.float64)
    means, stds, weights = noised.means[:, 0], noised.stds[:, 0], noised.weights
    lo, hi = -20.0, 20.0
    for _ in range(100):
        mid = (lo + hi) / 2
        cdf = (weights * torch.distributions.Normal(means, stds).cdf(torch.tensor(mid))).sum().item()
        lo, hi = (mid, hi) if cdf < 0.8 else (lo, mid)
    return (lo + hi) / 2


def small_mode_weight(out: torch.Tensor, start: torch.Tensor, q: float) -> float:
    """The weight of the 0.2 mode in `out`, with a control variate: the fraction of starts beyond their
    law's boundary q has expectation exactly 0.2, and subtracting it cancels the luck of the draw (the
    spread left is about sqrt(|error| / n), against sqrt(0.16 / n) for the plain fraction)."""
    return out[:, 0].gt(0).double().mean().item() - start[:, 0].gt(q).double().mean().item() + 0.2


def main() -> None:
    torch.set_num_threads(1)
    base = schedules.VPLinear()
    t_start = schedules.karras_grid(1, base)[0]
    a_start, a_end = base.alpha(t_start).item(), base.alpha(1.0).item()
    print(f"VPLinear: alpha = {a_start:.4f} at the Karras grid's start (noise level 80), alpha(1) = {a_end:.4f}; "
          f"ZeroTerminalSNR(VPLinear()): alpha(1) = {schedules.ZeroTerminalSNR(base).alpha(1.0).item():g}")
    for title, gm in (("two modes 0.8 / 0.2", toy.two_modes()), ("8-Gaussian ring", toy.ring())):
        start = time.perf_counter()
        mean = gm.mean()
        results, starts = measure(gm)
        print(f"\n## {title}: data mean ({mean[0]:.2f}, {mean[1]:.2f}), left in x_T as "
              f"({a_start * mean[0]:.4f}, {a_start * mean[1]:.4f}) at noise level 80\n"
              f"(sliced Wasserstein / noise floor, median of {RUNS} runs of {N} points; "
              f"{time.perf_counter() - start:.0f} s)\n")
        print("sampler        start".ljust(36) + "".join(f"{v:>7}" for v in NFES) + "  NFE")
        for (name, row), cells in results.items():
            print(f"{name:14s} {row:21s}" + "".join(f"{cells[v][0]:7.2f}" for v in NFES))
        if gm.mean().abs().max() > 1e-3:  # two modes: the weight of the right-hand (0.2) mode
            print(f"\nweight of the 0.2 mode (all {RUNS * N} points; 0.2 is right; with a control variate, "
                  "see small_mode_weight)\n")
            print("sampler        start".ljust(36) + "".join(f"{v:>7}" for v in NFES) + "  NFE")
            q_noise, q_exact = boundary(gm, 0.0, 1.0), boundary(gm, a_start, base.sigma(t_start).item())
            for (name, row), cells in results.items():
                x, q = (starts["noise"], q_noise) if "N(0, I)" in row else (starts["exact"], q_exact)
                print(f"{name:14s} {row:21s}" + "".join(f"{small_mode_weight(torch.cat(cells[v][1]), x, q):7.4f}"
                                                        for v in NFES))


if __name__ == "__main__":
    main()
