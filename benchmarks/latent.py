"""Pixels against latents (lesson 11): training steps per second and seconds per sampled image of the
shipped pixel model (lesson 10) and the latent model, the medians of several rounds, at several batch
sizes and DDIM step counts. Both pipelines sample with classifier-free guidance (two network calls per
step); the latent one also decodes once per image.

Run: python benchmarks/latent.py  [--threads N]  (MINIDIFF_FAST=1 for fewer rounds).
"""

import argparse

import torch

import minidiff
from minidiff import latent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = minidiff.by_mode(full=7, fast=2)
    pipes = {"pixels": latent.load_pipeline("pixel"), "latents": latent.load_pipeline("latent")}
    print(f"torch threads: {torch.get_num_threads()}, rounds per median: {repeats}")
    print(f"{'batch':>5s} {'steps':>5s} | {'pixels: steps/s':>15s} {'s/image':>8s} | {'latents: steps/s':>16s} "
          f"{'s/image':>8s} | {'train x':>7s} {'sample x':>8s}")
    for batch_size in (16, 64):
        for steps in (20, 50):
            t = {name: latent.timings(pipe, batch_size=batch_size, steps=steps, repeats=repeats, train_steps=5,
                                      generator=torch.Generator().manual_seed(0)) for name, pipe in pipes.items()}
            px, lt = t["pixels"], t["latents"]
            print(f"{batch_size:5d} {steps:5d} | {px['train_steps_per_second']:15.2f} {px['seconds_per_image']:8.4f} | "
                  f"{lt['train_steps_per_second']:16.2f} {lt['seconds_per_image']:8.4f} | "
                  f"{lt['train_steps_per_second'] / px['train_steps_per_second']:7.1f} "
                  f"{px['seconds_per_image'] / lt['seconds_per_image']:8.1f}")


if __name__ == "__main__":
    main()
