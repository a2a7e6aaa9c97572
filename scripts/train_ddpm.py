"""Train, then measure, a shipped DDPM: `python scripts/train_ddpm.py NAME [--minutes M]`.

    python scripts/train_ddpm.py digits8 --minutes 20 --threads 1   # -> runs/ddpm8.pt
    python scripts/train_ddpm.py digits8 --minutes 20 --force       # -> data/ddpm8.pt, the shipped file
    python scripts/train_ddpm.py digits8 --evaluate                 # measure runs/ddpm8.pt as it is
    python scripts/train_ddpm.py mnist28_cond --device cuda --steps 30000   # on a GPU (the default there)
    python scripts/train_ddpm.py mnist28_cond --finetune                    # its next stage (the recipe's steps)
    python scripts/train_ddpm.py mnist28_cond --evaluate --sets 5 --force   # the shipped file, five sets of 500

Files go to runs/ (git-ignored) by default; the shipped files in data/ are replaced only when asked,
by --force (data/<recipe file>) or an explicit --out data/FILE.

The recipe (U-Net preset, schedule, target, learning rate, batch, EMA decay, seed) is
minidiff.pretrained.RECIPES; a recipe with a 'finetune' list has more stages, run one at a time by
--finetune: each continues from the file the stages before it left (its EMA weights, a fresh Adam) with
its own settings (a stage with decay=True lets the learning rate fall linearly to 0 over its steps), and
appends them to the list 'finetune' in the meta, beside the first stage's. Training stops after --steps
steps or --minutes of wall clock, whichever comes first, and writes the EMA weights every --save-every
minutes, so a run cut short still leaves a usable model. Then --samples images are drawn with
--sampler-steps DDPM steps and judged by the shipped digit classifier (minidiff.metrics.digit_quality);
the numbers go into the checkpoint's meta (read them with minidiff.pretrained.ddpm_info) and are printed
for data/CHECKPOINTS.md.
The file holds the whole Denoiser (network, schedule, target, clip, image shape): load_ddpm rebuilds it.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minidiff  # noqa: E402
from minidiff.runtime import device_arg, device_name  # noqa: E402
from minidiff import checkpoints, metrics, pretrained, train  # noqa: E402
from minidiff.worlds.data import load_digits  # noqa: E402
from minidiff.core.guidance import drop_labels  # noqa: E402
from minidiff.core.losses import diffusion_loss  # noqa: E402
from minidiff.core.nets.unet import count_parameters, unet_preset  # noqa: E402
from minidiff.core.params import Denoiser  # noqa: E402
from minidiff.core.schedules import from_config  # noqa: E402

# (samples, DDPM steps) for the quality numbers: enough to be stable, cheap enough for a CPU.
EVAL = {"digits8": (500, 250), "mnist28": (500, 100), "digits8_cond": (500, 250), "mnist28_cond": (500, 100)}


def train_ddpm(name: str, steps: int, minutes: float, save_every: float, out: Path,
               device: torch.device | None = None, finetune: bool = False, start: Path | None = None) -> None:
    """Train the recipe's first stage into `out`; with finetune, its next stage (the first of
    recipe['finetune'] that the file `start` (default: `out` itself) has not had), written to `out`."""
    r = pretrained.recipe(name)
    device = torch.device(device) if device is not None else minidiff.default_device()
    stage, before = r, None  # lr, p_uncond, batch_size, ema, seed (and decay) of this stage
    if finetune:
        start = start or out
        before = train.info(start)["meta"]
        done = before.get("finetune", [])
        stage = {**r, **next_stage(name, before)}
        net = pretrained.load_denoiser(start).net.requires_grad_(True).train()
        print(f"  stage {len(done) + 2}, from {start} ({' + '.join(str(s['steps']) for s in [before, *done])} steps)",
              flush=True)
    g = minidiff.seed_all(stage["seed"])
    x, labels = load_digits(r["size"], "train")  # (N, 1, H, W) in [-1, 1]; the test split stays unseen
    classes = r.get("num_classes")
    if not finetune:
        net = unet_preset(r["preset"], num_classes=classes)
        if r.get("init"):  # warm start: the unconditional model's weights; the label embedding starts at 0
            start_from = pretrained.load_ddpm(r["init"]).net.state_dict()
            missing = net.load_state_dict(start_from, strict=False).missing_keys
            assert missing == ["label.weight"], missing
            torch.nn.init.zeros_(net.label.weight)
            print(f"  warm start from {pretrained.path_of(r['init']).name}", flush=True)
    schedule = from_config(r["schedule"])
    net, x, labels = net.to(device), x.to(device), labels.to(device)
    print(f"{name}: U-Net preset {r['preset']}, {count_parameters(net):,} parameters, "
          f"{len(x)} training images, on {device_name(device)}, torch threads {torch.get_num_threads()}",
          flush=True)
    begin, losses, state = time.perf_counter(), [], {"last_save": time.perf_counter()}

    def loss_fn(model, batch, generator=None):
        cond = None
        if classes:  # label dropout: with probability p_uncond the label becomes the null label
            batch, cond = batch
            cond = drop_labels(cond, stage["p_uncond"], classes, generator)
        loss = diffusion_loss(model, batch, schedule, target=r["target"], generator=generator, cond=cond)
        losses.append(loss.item())  # `train` hands its history back only at the end
        return loss

    def save(ema_model, step: int) -> None:
        recent = losses[-200:]
        this = dict(seconds=round(time.perf_counter() - begin, 1), threads=torch.get_num_threads(),
                    device=device_name(device), final_loss=round(sum(recent) / max(1, len(recent)), 5))
        if finetune:  # the earlier stages' records stay as they were; this stage's is appended
            settings = {k: stage[k] for k in ("lr", "p_uncond", "batch_size", "ema", "seed")}
            meta = {**{k: v for k, v in before.items() if k != "quality"},
                    "finetune": [*done, dict(**settings, decay=stage.get("decay", False), steps=step, **this)]}
        else:
            meta = dict(name=name, preset=r["preset"], target=r["target"], schedule=r["schedule"],
                        data=f"load_digits({r['size']}, 'train')", steps=step, num_classes=classes,
                        p_uncond=r.get("p_uncond"), init=r.get("init"), lr=r["lr"],
                        batch_size=r["batch_size"], ema=r["ema"], seed=r["seed"], **this)
        model = Denoiser(ema_model, schedule, r["target"], clip=1.0, sample_shape=(1, r["size"], r["size"]))
        train.save(out, model, **meta)  # the whole Denoiser: load_ddpm needs nothing else
        print(f"  saved {out} at step {step} ({this['seconds']:.0f} s, loss {this['final_loss']:.4f})",
              flush=True)

    def callback(step, model, ema_model):
        state["step"], state["ema"] = step, ema_model
        now = time.perf_counter()
        if now - state["last_save"] > 60 * save_every:  # a partial run still leaves a model
            save(ema_model, step)
            state["last_save"] = now
        if now - begin > 60 * minutes:
            print(f"  stopped by the time budget ({minutes} min) after {step} steps", flush=True)
            return True  # train stops here
        return False

    def pairs(generator):  # a random batch of (images, labels), drawn with replacement
        index = torch.randint(len(x), (stage["batch_size"],), generator=generator).to(x.device)
        return x[index], labels[index]

    train.train(net, loss_fn, pairs if classes else x, steps, lr=stage["lr"], batch_size=stage["batch_size"],
                ema=stage["ema"], decay=stage.get("decay", False), generator=g, callback=callback, desc=name,
                progress=False)
    save(state["ema"], state["step"])


def next_stage(name: str, meta: dict) -> dict:
    """The recipe's first later stage that a file with this meta has not had; an exit if none is left."""
    stages, done = pretrained.recipe(name).get("finetune", []), meta.get("finetune", [])
    if len(done) >= len(stages):
        raise SystemExit(f"{name}: the file has had all {len(stages) + 1} stages of its recipe already; the next "
                         f"stage starts from the file the stages before it left: remake that, or pass --start FILE")
    return stages[len(done)]


def evaluate(name: str, path: Path, n: int, sampler_steps: int, sets: int = 1) -> dict:
    """Sample n digits, measure them with the classifier, and store the numbers in the checkpoint.
    With sets > 1, also sets of n more with seeds 2, 3, ... (the first is seed 1's, measured above),
    judged together by metrics.digit_quality_over_sets (101 real draws for the floor): 'over_sets'."""
    meta = train.info(path)["meta"]
    model = pretrained.load_denoiser(path)
    g = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    samples = pretrained.sample_digits(model, n, sampler_steps, generator=g)
    seconds = time.perf_counter() - start
    quality = metrics.digit_quality(samples, generator=g)
    quality.update(sampler=f"ddpm, {sampler_steps} uniform steps, x0 clipped to [-1, 1]",
                   sample_seconds=round(seconds, 1))
    if sets > 1:
        seeded = (torch.Generator().manual_seed(s) for s in range(2, sets + 1))
        drawn = [samples] + [pretrained.sample_digits(model, n, sampler_steps, generator=s) for s in seeded]
        over = metrics.digit_quality_over_sets(drawn, generator=torch.Generator().manual_seed(0))
        quality["over_sets"] = dict(seeds=list(range(1, sets + 1)), **over)
    train.save(path, model, **{**meta, "quality": quality})
    return quality


def options(argv=None) -> argparse.Namespace:
    """The command line, with args.out resolved (runs/ unless --force or --out) and checked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(pretrained.RECIPES))
    p.add_argument("--steps", type=int, default=None,
                   help="at most this many training steps (default: no limit; --finetune: the stage's)")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock budget for training (default: 20; --finetune: no limit)")
    p.add_argument("--save-every", type=float, default=3.0, help="minutes between checkpoint saves")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, default=None, help="where to write (default: runs/<recipe file>)")
    p.add_argument("--force", action="store_true", help="write the shipped file, data/<recipe file>")
    p.add_argument("--evaluate", action="store_true", help="only measure the existing checkpoint")
    p.add_argument("--no-evaluate", action="store_true", help="train only; measure later with --evaluate")
    p.add_argument("--device", type=device_arg, default=None,
                   help="cpu, cuda or mps (default: the best one present)")
    p.add_argument("--samples", type=int, default=None, help="images to judge (default: per recipe)")
    p.add_argument("--sampler-steps", type=int, default=None, help="DDPM steps (default: per recipe)")
    p.add_argument("--sets", type=int, default=1, help="judge this many sets of --samples (seeds 1, 2, ...)")
    p.add_argument("--finetune", action="store_true", help="the recipe's next stage, from the last one's file")
    p.add_argument("--start", type=Path, default=None, help="the last stage's file (default: --out)")
    args = p.parse_args(argv)
    if args.finetune and not pretrained.recipe(args.name).get("finetune"):
        p.error(f"{args.name} has one stage only (no 'finetune' in its recipe)")
    shipped = pretrained.path_of(args.name)
    args.out = checkpoints.output_path(shipped, args.out, args.force)
    if args.evaluate and not args.out.exists():  # measuring stores the numbers in the file: never data/ unasked
        p.error(f"--evaluate measures {args.out} and stores its numbers there, but there is no such file; "
                f"train it first, or measure the shipped {shipped} with --force (its meta is rewritten)")
    if args.finetune and not (args.start or args.out).exists():
        p.error(f"--finetune continues from {args.start or args.out}, which does not exist; pass --start FILE "
                f"(e.g. --start {shipped}: the shipped file is read, not written)")
    return args


def main() -> None:
    args = options()
    out = args.out
    if args.steps is None and not args.evaluate:
        args.steps = 1_000_000
        if args.finetune:  # a later stage runs its own steps (its decay, if any, is over them)
            args.steps = next_stage(args.name, train.info(args.start or out)["meta"])["steps"]
    if args.minutes is None:
        args.minutes = float("inf") if args.finetune else 20.0
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.evaluate:
        out.parent.mkdir(parents=True, exist_ok=True)
        train_ddpm(args.name, args.steps, args.minutes, args.save_every, out, args.device, args.finetune, args.start)
    if args.no_evaluate:
        return
    n, sampler_steps = EVAL[args.name]
    quality = evaluate(args.name, out, args.samples or n, args.sampler_steps or sampler_steps, args.sets)
    print(json.dumps({"checkpoint": str(out), **train.info(out)["meta"], "quality": quality}, indent=1))

if __name__ == "__main__":
    main()
