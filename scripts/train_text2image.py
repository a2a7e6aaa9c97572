"""Train, then measure, a text-to-image model on the captioned scenes (lesson 10):

    python scripts/train_text2image.py scenes --minutes 60 --threads 2       # -> runs/text2image.pt
    python scripts/train_text2image.py scenes_bag --minutes 60 --threads 2   # the bag-of-words twin
    python scripts/train_text2image.py scenes --evaluate                     # measure runs/text2image.pt
    python scripts/train_text2image.py scenes --resume --minutes 30          # go on from the file
    python scripts/train_text2image.py scenes --steps 20000 --device cuda     # on a GPU (the default there)
    python scripts/train_text2image.py scenes --minutes 60 --force           # -> data/text2image.pt, the shipped file

The recipe (network, text encoder, schedule, caption dropout, learning rate, batch, EMA, seed) is
minidiff.pretrained.TEXT_RECIPES[name]. The training images are `scenes.sample_scenes(N, seed, 'train')`:
the held-out combinations never appear. Every step captions each image afresh: with a random template
(recipe captions='templates', the shipped models) or from the grammar of minidiff.captions ('grammar':
scenes_grammar, lesson 10's model for free wording, ready to train on a GPU:
`python scripts/train_text2image.py scenes_grammar --steps 7324 --device cuda --force`, about 8 minutes).
The EMA weights are written every --save-every minutes, and kept, in half precision, at the recipe's
`snapshots` steps (or --snapshots) in <name>_steps.pt beside it (the lesson's learning curve). Then adherence is
measured (minidiff.metrics.scenes) and stored in the checkpoint's meta. Files go to runs/ (git-ignored) unless
--force (data/, replacing the shipped files) or --out FILE says otherwise.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minidiff  # noqa: E402
from minidiff.runtime import device_arg, device_name  # noqa: E402
from minidiff import checkpoints, pretrained, scenes as S, text, train  # noqa: E402
from minidiff.core.losses import diffusion_loss  # noqa: E402
from minidiff.core.nets.text_unet import TextUNet  # noqa: E402
from minidiff.core.nets.unet import count_parameters  # noqa: E402
from minidiff.core.params import Denoiser  # noqa: E402
from minidiff.core.schedules import from_config  # noqa: E402


def train_text2image(name: str, steps: int, minutes: float, save_every: float, out: Path,
                     resume: bool = False, device: torch.device | None = None,
                     snapshots: list[int] | None = None) -> None:
    r = dict(pretrained.text_recipe(name))
    if snapshots is not None:
        r["snapshots"] = sorted(snapshots)
    device = torch.device(device) if device is not None else minidiff.default_device()
    g = minidiff.seed_all(r["seed"])
    rng = np.random.default_rng(r["seed"])
    start = time.perf_counter()
    x, scenes = S.sample_scenes(r["images"], seed=r["data_seed"], split="train")
    print(f"{name}: rendered {len(x)} training scenes in {time.perf_counter() - start:.0f} s", flush=True)
    tok = text.Tokenizer(S.vocabulary(r["captions"]), max_len=r["encoder"]["max_len"])
    net = TextUNet(len(tok), channels=r["channels"], cross_levels=r["cross_levels"], encoder=r["encoder"])
    x = x.to(device)  # the whole training set on the device: a batch is then one gather there
    schedule = from_config(r["schedule"])
    done = dict(steps=0, seconds=0.0, snapshots=[])  # what an earlier run of this recipe left
    if resume:  # go on from the saved (EMA) weights, with a fresh optimiser; steps and time add up
        about = train.info(out)["meta"]
        train.load(out, net)
        done.update(steps=about["steps"], seconds=about["seconds"], legs=about.get("legs", []) + [
            dict(steps=about["steps"], seconds=about["seconds"], threads=about["threads"])])
        if r["snapshots"]:
            snaps = checkpoints.read(pretrained.snapshots_file(out), checkpoints.SNAPSHOTS_FORMAT)
            done["snapshots"] = [(s, d) for s, d in zip(snaps["steps"], snaps["states"]) if s <= about["steps"]]
        # fresh random streams, so that the second leg does not replay the first one's batches
        g = torch.Generator().manual_seed(r["seed"] + done["steps"])
        rng = np.random.default_rng(r["seed"] + done["steps"])
        print(f"  resumed from {out.name} at step {done['steps']}", flush=True)
    net.to(device)
    print(f"  {count_parameters(net):,} parameters ({count_parameters(net.encoder):,} in the text encoder), "
          f"on {device_name(device)}, torch threads {torch.get_num_threads()}", flush=True)
    start, losses = time.perf_counter(), []
    state = {"last_save": start, "snapshots": done["snapshots"]}

    def batch(generator):  # images with a freshly worded caption each
        index = torch.randint(len(x), (r["batch_size"],), generator=generator)
        say = S.random_caption if r["captions"] == "templates" else S.say  # the ten templates, or the grammar
        return x[index], tok([say(scenes[i], rng) for i in index.tolist()])

    def loss_fn(model, pair, generator=None):
        images, ids = pair
        ids = text.drop_captions(ids, r["p_uncond"], generator)  # the null caption, for guidance
        loss = diffusion_loss(model, images, schedule, target=r["target"], generator=generator, cond=ids)
        losses.append(loss.item())
        return loss

    def meta(step):
        recent = losses[-200:]
        return dict(name=name, steps=step, seconds=round(done["seconds"] + time.perf_counter() - start, 1),
                    legs=done.get("legs", []),
                    threads=torch.get_num_threads(), device=device_name(device), final_loss=round(sum(recent) / max(1, len(recent)), 5),
                    data=f"scenes.sample_scenes({r['images']}, seed={r['data_seed']}, split='train')",
                    vocabulary=S.vocabulary(r["captions"]), **{k: v for k, v in r.items() if k != "file"})

    def save(ema_model, step):
        model = Denoiser(ema_model, schedule, r["target"], clip=1.0, sample_shape=(3, S.SIZE, S.SIZE))
        about = meta(step)
        train.save(out, model, **about)
        print(f"  saved {out.name} at step {step} ({time.perf_counter() - start:.0f} s, "
              f"loss {about['final_loss']:.4f})", flush=True)
        if r["snapshots"]:  # the earlier weights, in half precision, for the lesson's learning curve
            bundle = {"format": checkpoints.SNAPSHOTS_FORMAT, "steps": [s for s, _ in state["snapshots"]],
                      "states": [d for _, d in state["snapshots"]]}
            checkpoints.atomic_save(bundle, pretrained.snapshots_file(out))

    def callback(step, model, ema_model):
        step += done["steps"]
        state["step"], state["ema"] = step, ema_model
        if step in r["snapshots"]:
            half = {k: v.detach().cpu().half() for k, v in ema_model.state_dict().items()}
            state["snapshots"].append((step, half))
        now = time.perf_counter()
        if now - state["last_save"] > 60 * save_every:
            save(ema_model, step)
            state["last_save"] = now
        if now - start > 60 * minutes or step >= steps:
            print(f"  stopped after {step} steps ({minutes} min budget, {steps} steps at most)", flush=True)
            return True
        return False

    train.train(net, loss_fn, batch, steps, lr=r["lr"], batch_size=r["batch_size"], ema=r["ema"],
                generator=g, callback=callback, desc=name, progress=False)
    save(state["ema"], state["step"])


def evaluate(name: str, path: Path) -> dict:
    """Adherence on seen, held-out and goldfish prompts at several w; stored in the checkpoint."""
    from minidiff.worlds.text2image import adherence_table

    model, tok = pretrained.load_text2image(name, path=path)
    reader = pretrained.load_scene_reader()
    start = time.perf_counter()
    table = adherence_table(model, tok, reader, ws=(0.0, 1.0, 3.0, 5.0), per_prompt=8,
                                   generator=torch.Generator().manual_seed(1))
    if pretrained.text_recipe(name)["captions"] == "grammar":  # and the wording table of lesson 11
        from minidiff.worlds.text2image import wording_table

        table["wording"] = wording_table(model, tok, reader, n=64, w=3.0, steps=30,
                                         generator=torch.Generator().manual_seed(1))
    table["seconds"] = round(time.perf_counter() - start, 1)
    about = train.info(path)
    train.save(path, model, **{**about["meta"], "adherence": table})
    return table


def options(argv=None) -> argparse.Namespace:
    """The command line, with args.out resolved (runs/ unless --force or --out) and checked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(pretrained.TEXT_RECIPES))
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--save-every", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--evaluate", action="store_true")
    p.add_argument("--resume", action="store_true", help="go on from the saved weights (fresh optimiser)")
    p.add_argument("--device", type=device_arg, default=None,
                   help="cpu, cuda or mps (default: the best one present)")
    p.add_argument("--snapshots", default=None, help="steps at which to keep the weights, e.g. 1000,2000,4000")
    p.add_argument("--out", type=Path, default=None, help="where to write (default: runs/<recipe file>)")
    p.add_argument("--force", action="store_true", help="write the shipped files, data/<recipe file>")
    p.add_argument("--no-evaluate", action="store_true", help="train only; measure later with --evaluate")
    args = p.parse_args(argv)
    args.out = checkpoints.reads_output(p, args, pretrained.text_path(args.name))
    return args


def main() -> None:
    args = options()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out
    if not args.evaluate:
        out.parent.mkdir(parents=True, exist_ok=True)
        snapshots = [int(s) for s in args.snapshots.split(",") if s] if args.snapshots is not None else None
        train_text2image(args.name, args.steps, args.minutes, args.save_every, out, args.resume,
                         args.device, snapshots)
    if not args.no_evaluate:
        print(json.dumps(evaluate(args.name, out), indent=1))

if __name__ == "__main__":
    main()
