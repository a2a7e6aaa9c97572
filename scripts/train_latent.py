"""Train, then measure, lesson 11's three models, in this order (each needs the one before):

    python scripts/train_latent.py autoencoder --minutes 20 --threads 1    # -> runs/autoencoder.pt
    python scripts/train_latent.py clip --steps 3817 --threads 1           # -> runs/clip.pt
    python scripts/train_latent.py clip_plain --steps 7101 --threads 1     # without the swapped twins
    python scripts/train_latent.py latent --steps 24750 --threads 1        # -> runs/latent_text2image.pt
    python scripts/train_latent.py latent --resume --steps 6000 --threads 1   # the shipped file's second leg
    python scripts/train_latent.py NAME --evaluate                         # measure the file as it is
    python scripts/train_latent.py latent --resume --minutes 30            # go on (autoencoder, latent)
    python scripts/train_latent.py autoencoder --minutes 20 --force        # -> data/autoencoder.pt, the shipped file

The autoencoder and clip do not depend on each other and can train side by side. Recipes:
minidiff.pretrained.LATENT_RECIPES. Training data: scenes.sample_scenes(60000, seed=0, 'train'), as
for lesson 10's pixel model; the held-out combinations never appear. Measurements are stored in each
checkpoint's meta (and copied by hand into data/CHECKPOINTS.md). Files go to runs/ (git-ignored) unless
--force (data/, replacing the shipped file) or --out FILE says otherwise; the latent model always
encodes with the shipped autoencoder and clip of data/.
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
from minidiff import captions, checkpoints, latent, pretrained, scenes as S, text, train  # noqa: E402
from minidiff.core.losses import diffusion_loss  # noqa: E402
from minidiff.core.nets.autoencoder import Autoencoder, vae_loss  # noqa: E402
from minidiff.core.nets.contrastive import ContrastiveModel, contrastive_loss  # noqa: E402
from minidiff.core.nets.text_unet import TextUNet  # noqa: E402
from minidiff.core.nets.unet import count_parameters  # noqa: E402
from minidiff.core.params import Denoiser  # noqa: E402
from minidiff.core.schedules import from_config  # noqa: E402


def budget(minutes: float, steps: int, start: float, every: float, save):
    """A train.train callback: save every `every` minutes, stop after `minutes` or `steps`."""
    state = {"last": start, "step": 0}

    def callback(step, model, ema_model):
        state["step"], state["model"] = step, ema_model if ema_model is not None else model
        now = time.perf_counter()
        if now - state["last"] > 60 * every:
            save(state["model"], step)
            state["last"] = now
        return now - start > 60 * minutes or step >= steps

    return callback, state


def common_meta(name, r, start, losses, step, done=None):
    recent, done = losses[-200:], done or dict(steps=0, seconds=0.0, legs=[])
    return dict(name=name, steps=done["steps"] + step, seconds=round(done["seconds"] + time.perf_counter() - start, 1),
                legs=done["legs"],
                threads=torch.get_num_threads(), final_loss=round(sum(recent) / max(1, len(recent)), 5),
                data=f"scenes.sample_scenes({r['images']}, seed={r['data_seed']}, split='train')",
                vocabulary=S.vocabulary(), **{k: v for k, v in r.items() if k != "file"})


def resumed(model, out, seed):
    """Go on from the saved weights with a fresh optimiser and fresh random streams; steps and time
    add up in the meta, each earlier run recorded as a leg."""
    about = train.info(out)["meta"]
    train.load(out, model)
    print(f"  resumed from {out.name} at step {about['steps']}", flush=True)
    return dict(steps=about["steps"], seconds=about["seconds"], legs=about.get("legs", []) + [
        dict(steps=about["steps"], seconds=about["seconds"], threads=about["threads"])]), \
        torch.Generator().manual_seed(seed + about["steps"])


def train_autoencoder(name, r, minutes, steps, every, out, resume=False):
    g = minidiff.seed_all(r["seed"])
    x, _ = S.sample_scenes(r["images"], seed=r["data_seed"], split="train")
    model = Autoencoder(latent_channels=r["latent_channels"], width=r["width"], size=S.SIZE)
    done = None
    if resume:
        done, g = resumed(model, out, r["seed"])
    print(f"autoencoder: {count_parameters(model):,} parameters, threads {torch.get_num_threads()}", flush=True)
    start, losses = time.perf_counter(), []

    def loss_fn(m, batch, generator=None):
        loss, mse, kl = vae_loss(m, batch, r["beta"], generator)
        losses.append(mse.item())
        return loss

    def save(m, step):
        m.fit_scale(x[:5000])
        train.save(out, m, **common_meta(name, r, start, losses, step, done))
        print(f"  saved at step {step} ({time.perf_counter() - start:.0f} s, mse {np.mean(losses[-200:]):.5f}, "
              f"scale {m.scale.item():.4f})", flush=True)

    callback, state = budget(minutes, steps, start, every, save)
    train.train(model, loss_fn, x, steps, lr=r["lr"], batch_size=r["batch_size"], ema=None, generator=g,
                callback=callback, progress=False)
    save(model, state["step"])


def train_clip(name, r, minutes, steps, every, out, resume=False):
    g = minidiff.seed_all(r["seed"])
    rng = np.random.default_rng(r["seed"])
    x, scenes = S.sample_scenes(r["images"], seed=r["data_seed"], split="train")
    twins = latent.swapped_twins(scenes, seed=r["data_seed"] + 1) if r["swapped_twins"] else {}
    print(f"clip: {len(twins)} colour-swapped twins rendered", flush=True)
    tok = text.Tokenizer(S.vocabulary(), max_len=r["max_len"])
    model = ContrastiveModel(len(tok), dim=r["dim"], text_dim=r["text_dim"], heads=r["heads"], layers=r["layers"],
                             max_len=r["max_len"], width=r["width"], size=S.SIZE)
    print(f"  {count_parameters(model):,} parameters, threads {torch.get_num_threads()}", flush=True)
    start, losses = time.perf_counter(), []

    def batch(generator):
        index = torch.randint(len(x), (r["batch_size"],), generator=generator).tolist()
        images, said = [], []
        for i in index:
            seed = int(rng.integers(2**31))  # the same template and order for a scene and its twin
            images.append(x[i])
            said.append(captions.say(scenes[i], np.random.default_rng(seed)))
            if i in twins:
                twin_scene, twin_image = twins[i]
                images.append(twin_image)
                said.append(captions.say(twin_scene, np.random.default_rng(seed)))
        return torch.stack(images), tok(said)

    def loss_fn(m, pair):
        images, ids = pair
        loss = contrastive_loss(m(images, ids))
        losses.append(loss.item())
        return loss

    def save(m, step):
        train.save(out, m, **common_meta(name, r, start, losses, step))
        print(f"  saved at step {step} ({time.perf_counter() - start:.0f} s, loss {np.mean(losses[-200:]):.4f}, "
              f"scale {m.logit_scale.exp().item():.1f})", flush=True)

    callback, state = budget(minutes, steps, start, every, save)
    train.train(model, loss_fn, batch, steps, lr=r["lr"], batch_size=r["batch_size"], ema=None, generator=g,
                callback=callback, progress=False)
    save(model, state["step"])


def train_latent(name, r, minutes, steps, every, out, resume=False):
    g = minidiff.seed_all(r["seed"])
    rng = np.random.default_rng(r["seed"])
    x, scenes = S.sample_scenes(r["images"], seed=r["data_seed"], split="train")
    vae, clip = pretrained.load_autoencoder(), pretrained.load_clip()
    start = time.perf_counter()
    with torch.no_grad():  # the encoder's Gaussian for every training image, once; a fresh sample per batch
        stats = [vae.encode(c) for c in x.split(500)]
    mean, std = torch.cat([m for m, _ in stats]), torch.cat([(0.5 * lv).exp() for _, lv in stats])
    print(f"latent: encoded {len(x)} images in {time.perf_counter() - start:.0f} s", flush=True)
    tok = text.Tokenizer(S.vocabulary(), max_len=clip.config["max_len"])
    net = TextUNet(len(tok), in_channels=vae.config["latent_channels"], channels=r["channels"],
                   cross_levels=r["cross_levels"], encoder=clip.text_config, freeze_encoder=True)
    net.encoder.load_state_dict(clip.text.state_dict())  # the contrastive text encoder, frozen
    schedule = from_config(r["schedule"])
    done = None
    if resume:  # from the saved EMA weights; the encoder in the file is the same frozen copy
        done, g = resumed(net, out, r["seed"])
        rng = np.random.default_rng(r["seed"] + done["steps"])
    total = sum(p.numel() for p in net.parameters())
    print(f"  {total:,} parameters, {count_parameters(net):,} trained (the rest: the frozen text encoder), "
          f"threads {torch.get_num_threads()}", flush=True)
    scale = vae.scale.item()
    start, losses = time.perf_counter(), []

    def batch(generator):
        index = torch.randint(len(x), (r["batch_size"],), generator=generator)
        noise = torch.randn(mean[index].shape, generator=generator)
        z = scale * (mean[index] + std[index] * noise)  # a sample of q(z | x), scaled to unit variance
        return z, tok([captions.say(scenes[i], rng) for i in index.tolist()])

    def loss_fn(model, pair, generator=None):
        z, ids = pair
        ids = text.drop_captions(ids, r["p_uncond"], generator)
        loss = diffusion_loss(model, z, schedule, target=r["target"], generator=generator, cond=ids)
        losses.append(loss.item())
        return loss

    def save(m, step):
        model = Denoiser(m, schedule, r["target"], clip=None, sample_shape=vae.latent_shape)
        train.save(out, model, **common_meta(name, r, start, losses, step, done))
        print(f"  saved at step {step} ({time.perf_counter() - start:.0f} s, loss {np.mean(losses[-200:]):.4f})",
              flush=True)

    callback, state = budget(minutes, steps, start, every, save)
    train.train(net, loss_fn, batch, steps, lr=r["lr"], batch_size=r["batch_size"], ema=r["ema"], generator=g,
                callback=callback, progress=False)
    save(state["model"], state["step"])


def evaluate(name: str, out: Path) -> dict:
    """Measure the file `out` (not the shipped one, unless out is it) and store the scores in its meta."""
    reader = pretrained.load_scene_reader()
    start = time.perf_counter()
    model = pretrained.load_denoiser(out) if name == "latent" else pretrained.load_network(out)
    if name in ("clip", "clip_plain"):
        model.tokenizer = text.Tokenizer(train.info(out)["meta"]["vocabulary"], max_len=model.config["max_len"])
    if name == "autoencoder":
        scores = latent.autoencoder_scores(model, reader)
    elif name in ("clip", "clip_plain"):
        scores = latent.retrieval_scores(model, model.tokenizer)
    else:
        from minidiff.worlds.text2image import adherence_table, wording_table

        decoder = pretrained.load_autoencoder()  # the latents are the shipped autoencoder's
        tok = model.net.tokenizer(train.info(out)["meta"]["vocabulary"])
        scores = adherence_table(model, tok, reader, ws=(0.0, 1.0, 3.0, 5.0),
                                 per_prompt=8, generator=torch.Generator().manual_seed(1), decoder=decoder)
        # lesson 11's wording table: 64 samples a row, w = 3, its 20 DDIM steps
        scores["wording"] = wording_table(model, tok, reader, n=64, w=3.0, steps=20,
                                          generator=torch.Generator().manual_seed(1), decoder=decoder)
    scores["seconds"] = round(time.perf_counter() - start, 1)
    about = train.info(out)
    train.save(out, model, **{**about["meta"], "scores": scores})
    return scores


def options(argv=None) -> argparse.Namespace:
    """The command line, with args.out resolved (runs/ unless --force or --out) and checked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(pretrained.LATENT_RECIPES))
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps (then no time limit)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this many minutes (default 20 "
                   "without --steps)")
    p.add_argument("--save-every", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--evaluate", action="store_true")
    p.add_argument("--resume", action="store_true", help="autoencoder or latent: go on from the saved weights")
    p.add_argument("--out", type=Path, default=None, help="where to write (default: runs/<recipe file>)")
    p.add_argument("--force", action="store_true", help="write the shipped file, data/<recipe file>")
    args = p.parse_args(argv)
    if args.resume and args.name not in ("autoencoder", "latent"):
        p.error("--resume is only for the autoencoder and the latent model")
    args.out = checkpoints.reads_output(p, args, pretrained.latent_path(args.name))
    return args


def main() -> None:
    args = options()
    if args.threads:
        torch.set_num_threads(args.threads)
    out, r = args.out, pretrained.latent_recipe(args.name)
    if not args.evaluate:
        trainer = {"autoencoder": train_autoencoder, "clip": train_clip, "clip_plain": train_clip,
                   "latent": train_latent}[args.name]
        out.parent.mkdir(parents=True, exist_ok=True)
        minutes = args.minutes if args.minutes is not None else 20.0 if args.steps is None else float("inf")
        trainer(args.name, r, minutes, args.steps or 1_000_000, args.save_every, out, args.resume)
    print(json.dumps(evaluate(args.name, out), indent=1))

if __name__ == "__main__":
    main()
