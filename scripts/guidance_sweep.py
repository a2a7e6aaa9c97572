"""Classifier-free guidance over w for a shipped class-conditional DDPM: the table in data/CHECKPOINTS.md.

    python scripts/guidance_sweep.py mnist28_cond --per-digit 20 --steps 50
    python scripts/guidance_sweep.py digits8_cond --per-digit 50 --steps 50

For each w: samples of every digit (the same starting noise for every w) by guided DDPM ancestral steps,
judged by minidiff.metrics.guidance_scores: the share the shipped classifier reads as the requested digit,
the per-class Frechet distance to real test digits in units of its floor, the within-class spread.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minidiff import guidance, metrics, pretrained, samplers, schedules  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(n for n in pretrained.RECIPES if n.endswith("_cond")))
    p.add_argument("--path", type=Path, default=None, help="checkpoint (default: the shipped one)")
    p.add_argument("--per-digit", type=int, default=20)
    p.add_argument("--steps", type=int, default=50, help="DDPM steps, uniform from t = 1")
    p.add_argument("--ws", type=float, nargs="+", default=[0, 0.5, 1, 2, 3, 5, 8])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = pretrained.load_denoiser(args.path) if args.path else pretrained.load_ddpm(args.name)
    shape = tuple(model.sample_shape)
    requested = torch.arange(10).repeat_interleave(args.per_digit)  # (10 per_digit,)
    start = torch.randn(len(requested), *shape, generator=torch.Generator().manual_seed(args.seed))
    ts = schedules.uniform_grid(args.steps)
    print(f"{args.name}: {len(requested)} samples, {args.steps} DDPM steps, seed {args.seed}")
    print("   w   accuracy   Frechet/floor   spread   seconds")
    for w in args.ws:
        begin = time.perf_counter()
        g = torch.Generator().manual_seed(args.seed + 1)  # the same fresh noise for every w
        guided = guidance.ClassifierFree(model, requested, w)
        x = samplers.run(samplers.ddpm(guided, start, ts, model.schedule, generator=g)).clamp(-1, 1)
        s = metrics.guidance_scores(x, requested, shape[-1], generator=torch.Generator().manual_seed(0))
        print(f"{w:4g}   {s['accuracy']:8.1%}   {s['frechet']:13.2f}   {s['spread']:6.2f}   "
              f"{time.perf_counter() - begin:7.0f}", flush=True)


if __name__ == "__main__":
    main()
