"""Sample quality against the number of network evaluations (NFE) for every sampler of minidiff.

1. With the exact denoiser of two 2-D Gaussian mixtures (the 8-Gaussian ring and two unequal
   modes), so the only error is the sampler's: the sliced Wasserstein distance to the truth in
   noise-floor units (median over runs), and the NFE each sampler needs to reach 1.2x the floor.
2. The endpoint error of the ODE solvers against a very fine solve, and its fitted order.
3. The same table with a small MLP trained on the ring (cached in the temp folder after the first run).

Two time grids of the linear VP schedule, both from noise level 80: Karras et al. 2022's (rho = 7, down
to 0.002, then t = 0) and DPM-Solver's (evenly spaced in log-SNR down to 0.01, then t = 0). Every
sampler gets the same starting noise and the same reference samples (common random numbers).
Run: python benchmarks/samplers.py  (MINIDIFF_FAST=1 for a quick smoke run).
"""

import tempfile
import time
from pathlib import Path

import torch

import minidiff
from minidiff import exact, losses, nfe, samplers, schedules, toy, train
from minidiff.core.nets import MLP
from minidiff.core.params import Denoiser

BUDGETS = minidiff.by_mode(full=(5, 8, 10, 12, 16, 20, 40, 80, 160, 320), fast=(5, 20))
TRAINED_BUDGETS = BUDGETS[:-1] if len(BUDGETS) > 2 else BUDGETS  # a network call costs ~10x the exact one
GRIDS = tuple(nfe.GRIDS)
GRID_TITLES = {"karras": "Karras grid", "log_snr": "log-SNR grid"}
N, RUNS = minidiff.by_mode(full=4000, fast=500), minidiff.by_mode(full=9, fast=3)
TRAIN_STEPS = minidiff.by_mode(full=4000, fast=100)
REFERENCE_STEPS = minidiff.by_mode(full=2000, fast=200)  # Heun steps of the endpoint errors' reference
CACHE = Path(tempfile.gettempdir()) / f"minidiff_bench_ring_mlp_{TRAIN_STEPS}.pt"


NOTES = {
    "two modes 0.8 / 0.2, exact denoiser, Karras grid": (
        "Note: the ODE samplers level off above the floor here for a reason that is not the solver's: they\n"
        "start from N(0, I), but at noise level 80 the data's mean (-1.8, 0) has shrunk to (-0.0225, 0), not\n"
        "to 0, and a deterministic map carries that offset to the end: with 36,000 points Heun puts 0.205 of\n"
        "them in the right mode (0.199 when started from the shifted Gaussian; 0.2 is right). The stochastic\n"
        "samplers forget their start. The ring's mean is 0, so it has no such offset."),
}


def quality_table(title: str, model, truth, schedule, budgets=BUDGETS, grid: str = "karras") -> list:
    start = time.perf_counter()
    points, floor = nfe.quality_vs_nfe(model, truth, schedule, nfes=budgets, n=N, runs=RUNS, grid=grid)
    print(f"\n## {title}\n(sliced Wasserstein / noise floor, median of {RUNS} runs of {N} points; "
          f"floor {floor:.4f}; {time.perf_counter() - start:.0f} s)\n")
    print(nfe.table(points))
    if title in NOTES:
        print("\n" + NOTES[title])
    return points


def endpoint_table(model, schedule, x, reference, grid: str) -> None:
    nfes = minidiff.by_mode(full=(10, 20, 40, 80, 160, 320), fast=(10, 20, 40))
    errors = nfe.endpoint_errors(model, x, schedule, ("euler", "heun", "dpm_solver_pp"), nfes=nfes,
                                 reference=reference, grid=grid)
    print(f"\n## Endpoint error on the {GRID_TITLES[grid]}, against a {REFERENCE_STEPS:,}-step Heun solve on the Karras "
          "grid from the same noise (ring, float64)\n")
    # Second order shows from ~20 NFE on. On the log-SNR grid the error stops falling at ~3.5e-4: its last
    # step jumps from noise level 0.01 to the posterior mean, which misses the ODE's end point by about
    # sigma^2 / (2 std^2) = 0.2% of each point's distance to its mode (std 0.15); so fit 20-80 NFE there.
    last = None if grid == "karras" else 4
    for name, (used, errs) in errors.items():
        tail = slice(1, last) if name in ("heun", "dpm_solver_pp") else slice(None, last)
        slope = nfe.fit_order(used[tail], errs[tail])
        print(f"{name:13s} " + "  ".join(f"{n:>4} NFE {e:.2g}" for n, e in zip(used, errs))
              + f"   fitted slope {slope:.2f} ({used[tail][0]} to {used[tail][-1]} NFE)")


def trained_ring_model(schedule):
    """A 3 x 256 MLP predicting eps on the ring (the recipe of lesson 07, section 6, made wider), trained once and cached."""
    net = MLP(dim=2, hidden=256, depth=3)
    if CACHE.exists():
        meta = train.info(CACHE)["meta"]
        return (Denoiser(train.load(CACHE, net).eval(), schedule, "eps"),
                f"cached: {meta['steps']} steps, trained in {meta['seconds']:.0f} s")
    gm = toy.ring()
    history = train.train(net, lambda model, x0, generator: losses.diffusion_loss(model, x0, schedule,
                                                                                  generator=generator),
                          lambda g: gm.sample(1024, generator=g), TRAIN_STEPS, lr=1e-3, ema=0.995,
                          generator=minidiff.seed_all(0), progress=False)
    train.save(CACHE, history.ema, steps=TRAIN_STEPS, seconds=history.seconds)
    return Denoiser(history.ema.eval(), schedule, "eps"), f"trained {TRAIN_STEPS} steps in {history.seconds:.0f} s"


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    schedule = schedules.VPLinear()
    ring, two = toy.ring(), toy.two_modes()
    reach = {}

    def measure(title, model, truth, budgets=BUDGETS, grid="karras", how=""):
        points = quality_table(f"{title}{how}, {GRID_TITLES[grid]}", model, truth, schedule, budgets, grid)
        reach[f"{title}, {GRID_TITLES[grid]}"] = {name: nfe.nfe_to_reach(points, name) for name in nfe.SAMPLERS}

    for grid in GRIDS:
        measure("8-Gaussian ring, exact denoiser", exact.mixture_denoiser(ring, schedule), ring.sample, grid=grid)
    measure("two modes 0.8 / 0.2, exact denoiser", exact.mixture_denoiser(two, schedule), two.sample)
    ring64 = exact.mixture_denoiser(ring.to(torch.float64), schedule)
    x = samplers.prior_sample(minidiff.by_mode(full=1000, fast=100), 2, schedule, 1.0,
                              generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    reference = nfe.reference_solution(ring64, x, schedule, REFERENCE_STEPS)
    for grid in GRIDS:  # one reference, the ODE's solution, for both grids
        endpoint_table(ring64, schedule, x, reference, grid)
    model, how = trained_ring_model(schedule)
    for grid in GRIDS:
        measure("8-Gaussian ring, trained MLP", model, ring.sample, TRAINED_BUDGETS, grid, how=f" ({how})")
    print("\n## NFE needed to reach 1.2x the noise floor (and stay there at every larger NFE measured)\n")
    print("| sampler | " + " | ".join(reach) + " |")
    print("|---|" + "---|" * len(reach))
    for name in nfe.SAMPLERS:
        cells = [str(r[name]) if r[name] is not None else "not reached" for r in reach.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n(not reached: above 1.2x at the largest NFE measured, {BUDGETS[-1]}; {TRAINED_BUDGETS[-1]} "
          "for the trained MLP)")


if __name__ == "__main__":
    main()
