"""Train lesson 12's digit models: `python scripts/train_beyond.py halves8 | rare8 [--threads T]`.

    python scripts/train_beyond.py halves8 --threads 1   # -> runs/halves8/n{4,16,64,256,719}{a,b}.pt
    python scripts/train_beyond.py rare8 --threads 1     # -> runs/rare8.pt
    python scripts/train_beyond.py rare8 --force         # -> data/rare8.pt, the shipped file
    python scripts/train_beyond.py halves8 --evaluate --force   # measure the shipped files (scores into meta)

The recipes are minidiff.pretrained.BEYOND_RECIPES: the digits8 U-Net preset, the eps loss, Adam, EMA
0.995, a fixed number of steps. "halves8" trains one network per (size, half) on the disjoint halves
given by pretrained.half_indices; "rare8" trains a class-conditional network (label dropped to the null
label with probability p_uncond) on pretrained.rare_indices, where the digit 3 keeps one image in ten.
Each file records its steps, seconds and threads; data/CHECKPOINTS.md has the table. Files go to runs/
(git-ignored) unless --force (data/, replacing the shipped files) or --out FOLDER says otherwise;
--evaluate measures the shipped files as lesson 12 loads them, so it needs --force.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minidiff  # noqa: E402
from minidiff import beyond, checkpoints, pretrained, train  # noqa: E402
from minidiff.worlds.data import load_digits  # noqa: E402
from minidiff.core.guidance import drop_labels  # noqa: E402
from minidiff.core.losses import diffusion_loss  # noqa: E402
from minidiff.core.nets.unet import unet_preset  # noqa: E402
from minidiff.core.params import Denoiser  # noqa: E402
from minidiff.core.schedules import from_config  # noqa: E402


def fit(name: str, x: torch.Tensor, labels: torch.Tensor | None, out: Path, steps: int, **meta) -> None:
    r = pretrained.beyond_recipe(name)
    g = minidiff.seed_all(r["seed"])
    classes = r.get("num_classes")
    net = unet_preset(r["preset"], num_classes=classes)
    schedule = from_config(r["schedule"])
    def loss_fn(model, batch, generator=None):
        cond = None
        if classes:  # label dropout: the null label with probability p_uncond, for classifier-free guidance
            batch, cond = batch
            cond = drop_labels(cond, r["p_uncond"], classes, generator)
        return diffusion_loss(model, batch, schedule, target=r["target"], generator=generator, cond=cond)

    def pairs(generator):
        index = torch.randint(len(x), (r["batch_size"],), generator=generator)
        return x[index], labels[index]

    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    history = train.train(net, loss_fn, pairs if classes else x, steps, lr=r["lr"], batch_size=r["batch_size"],
                          ema=r["ema"], generator=g, desc=out.name, progress=False)
    seconds = round(time.perf_counter() - start, 1)
    model = Denoiser(history.ema, schedule, r["target"], clip=1.0,
                     sample_shape=(1, r["size"], r["size"]))
    recent = history.losses[-200:]
    train.save(out, model, name=name, images=len(x), steps=steps, seconds=seconds, threads=torch.get_num_threads(),
               final_loss=round(sum(recent) / len(recent), 5), **meta)
    print(f"{out}: {len(x)} images, {steps} steps, {seconds:.0f} s, loss {sum(recent) / len(recent):.4f}", flush=True)


def evaluate(name: str) -> None:
    """Measure the shipped files as lesson 12 does and store the numbers in their meta ("scores")."""
    r = pretrained.beyond_recipe(name)
    if name == "rare8":
        model = pretrained.load_rare()
        n, steps = 1000, 50
        unguided = beyond.digit_shares(model, None, [0.0], n, steps)[0.0]
        asked = beyond.digit_shares(model, r["rare"], [1.0, 3.0], n, steps)
        scores = dict(n=n, sampler=f"ddpm, {steps} uniform steps, seed 0; read by classifier8.pt",
                      unguided_rare=round(unguided[r["rare"]].item(), 4),
                      asked_w1=round(asked[1.0][r["rare"]].item(), 4), asked_w3=round(asked[3.0][r["rare"]].item(), 4))
        _store(pretrained.beyond_path("rare8"), scores)
        return
    n, steps = 200, 50
    table = beyond.halves_table(beyond.halves_samples(r["sizes"], n=n, steps=steps))
    for row in table:
        scores = dict(n=n, sampler=f"ddim, {steps} uniform steps, the same noise for both halves (seed 0)",
                      **{k: round(row[k], 4) for k in ("similarity", "copies_own", "copies_other")})
        for half in r["halves"]:
            _store(pretrained.beyond_path("halves8", row["size"], half), scores)


def _store(path: Path, scores: dict) -> None:
    about = train.info(path)
    train.save(path, pretrained.load_denoiser(path), **{**about["meta"], "scores": scores})
    print(f"{path}: {scores}", flush=True)


def options(argv=None) -> argparse.Namespace:
    """The command line; args.place(path in data/) says where that file is written (runs/ unless told)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(pretrained.BEYOND_RECIPES))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--steps", type=int, default=None, help="override the recipe's steps (for a quick try)")
    p.add_argument("--sizes", type=int, nargs="*", default=None, help="halves8 only: a subset of the sizes")
    p.add_argument("--halves", nargs="*", default=None, help="halves8 only: a subset of the halves (a, b)")
    p.add_argument("--evaluate", action="store_true", help="only measure the shipped files (scores into meta)")
    p.add_argument("--out", type=Path, default=None, help="the folder to write into (default: runs/)")
    p.add_argument("--force", action="store_true", help="write the shipped files in data/")
    args = p.parse_args(argv)
    if args.evaluate and not args.force:
        p.error("--evaluate measures the shipped files in data/ (as lesson 12 loads them) and stores the scores "
                "in their meta; pass --force to let it rewrite them")
    folder = args.out

    def place(shipped: Path) -> Path:
        named = folder / shipped.relative_to(checkpoints.DATA_DIR) if folder is not None else None
        return checkpoints.output_path(shipped, named, args.force)

    args.place = place
    return args


def main() -> None:
    args = options()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.evaluate:
        evaluate(args.name)
        return
    r = pretrained.beyond_recipe(args.name)
    steps = args.steps or r["steps"]
    x, labels = load_digits(8, "train")
    if args.name == "rare8":
        keep = pretrained.rare_indices()
        fit("rare8", x[keep], labels[keep], args.place(pretrained.beyond_path("rare8")), steps,
            rare=r["rare"], keep=r["keep"], num_classes=r["num_classes"], p_uncond=r["p_uncond"])
        return
    for n in args.sizes or r["sizes"]:
        for half in args.halves or r["halves"]:
            path = args.place(pretrained.beyond_path("halves8", n, half))
            fit("halves8", x[pretrained.half_indices(half, n)], None, path, steps, n=n, half=half)

if __name__ == "__main__":
    main()
