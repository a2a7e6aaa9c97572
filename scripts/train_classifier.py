"""Train the shipped digit classifiers: `python scripts/train_classifier.py [--size 8|28]`.

    python scripts/train_classifier.py             # both: runs/classifier8.pt and runs/classifier28.pt
    python scripts/train_classifier.py --size 28   # one of them
    python scripts/train_classifier.py --noisy     # the noise-aware ones: runs/noisy_classifier{8,28}.pt
    python scripts/train_classifier.py --force     # into data/, replacing the shipped files

The recipes are minidiff.pretrained.CLASSIFIER_RECIPES. Each is trained with minidiff.train on the
train split of minidiff.data.load_digits (images shifted by a pixel or two at random: handwriting is
never centred exactly), with a fixed seed, then its EMA weights are measured on the test split, which
training never sees. The numbers (held-out accuracy,
steps, seconds) are stored in the checkpoint's meta; copy them into data/CHECKPOINTS.md.

--noisy trains NoisyDigitClassifier, the classifier of classifier guidance (Dhariwal & Nichol 2021):
on x_t = alpha(t) x0 + sigma(t) eps under VPLinear() (the shipped DDPMs' schedule), t ~ U(0, 1),
scored on the test split at several t (with fixed noise, so the numbers repeat).
"""

import argparse
import hashlib
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minidiff  # noqa: E402
from minidiff import checkpoints, pretrained, train  # noqa: E402
from minidiff.worlds.data import DATA_DIR, load_digits  # noqa: E402
from minidiff.worlds.metrics.classifier import classifier_accuracy  # noqa: E402
from minidiff.worlds.metrics.guidance import accuracy_over_t  # noqa: E402
from minidiff.core.nets.classifier import DigitClassifier, NoisyDigitClassifier  # noqa: E402
from minidiff.core.schedules import VPLinear  # noqa: E402

REPORT_TIMES = (0.0, 0.25, 0.5, 0.75, 0.9)


def random_shift(x: torch.Tensor, pixels: int, generator: torch.Generator | None) -> torch.Tensor:
    """Move each image by up to `pixels` in x and y, filling with the background (-1)."""
    if pixels == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (pixels,) * 4, value=-1.0)  # (B, 1, H + 2p, W + 2p)
    dy, dx = torch.randint(0, 2 * pixels + 1, (2, b, 1), generator=generator)  # each (B, 1)
    rows = (dy + torch.arange(h))[:, :, None]  # (B, H, 1)
    cols = (dx + torch.arange(w))[:, None, :]  # (B, 1, W)
    return padded[torch.arange(b)[:, None, None], 0, rows, cols][:, None]  # (B, 1, H, W)


def train_classifier(size: int) -> tuple[DigitClassifier, dict]:
    r = pretrained.classifier_recipe(size)
    g = minidiff.seed_all(r["seed"])
    x, labels = load_digits(size, "train")  # (N, 1, H, W) in [-1, 1], (N,)
    net = DigitClassifier(size, r["channels"], r["feat_dim"], r["dropout"])

    def batches(generator):
        index = torch.randint(len(x), (r["batch_size"],), generator=generator)
        return random_shift(x[index], r["shift"], generator), labels[index]

    def loss_fn(model, batch):
        images, y = batch
        return F.cross_entropy(model(images), y)

    history = train.train(net, loss_fn, batches, steps=r["steps"], lr=r["lr"], batch_size=r["batch_size"],
                          ema=r["ema"], generator=g, desc=f"classifier{size}")
    model = history.ema
    x_test, y_test = load_digits(size, "test")
    meta = dict(size=size, steps=r["steps"], batch_size=r["batch_size"], lr=r["lr"], ema=r["ema"],
                shift=r["shift"], seed=r["seed"], seconds=round(history.seconds, 1),
                threads=torch.get_num_threads(), train_accuracy=classifier_accuracy(x, labels, model),
                test_accuracy=classifier_accuracy(x_test, y_test, model), n_test=len(y_test),
                command=f"python scripts/train_classifier.py --size {size} --force")
    return model, meta


def train_noisy_classifier(size: int) -> tuple[NoisyDigitClassifier, dict]:
    r = pretrained.classifier_recipe(size, noisy=True)
    g = minidiff.seed_all(r["seed"])
    schedule = VPLinear()
    x, labels = load_digits(size, "train")  # (N, 1, H, W) in [-1, 1], (N,)
    net = NoisyDigitClassifier(size, r["channels"], r["feat_dim"], r["time_dim"])

    def batches(generator):
        index = torch.randint(len(x), (r["batch_size"],), generator=generator)
        return random_shift(x[index], r["shift"], generator), labels[index]

    def loss_fn(model, batch, generator=None):
        x0, y = batch
        t = torch.rand(len(x0), generator=generator)  # (B,) uniform over the whole clock
        eps = torch.randn(x0.shape, generator=generator)
        a, s = schedule.alpha(t)[:, None, None, None], schedule.sigma(t)[:, None, None, None]
        return F.cross_entropy(model(a * x0 + s * eps, t), y)  # x_t = alpha x0 + sigma eps

    history = train.train(net, loss_fn, batches, steps=r["steps"], lr=r["lr"], batch_size=r["batch_size"],
                          ema=r["ema"], generator=g, desc=f"noisy_classifier{size}")
    model = history.ema
    x_test, y_test = load_digits(size, "test")
    acc = accuracy_over_t(model, size, REPORT_TIMES, generator=torch.Generator().manual_seed(0))
    meta = dict(size=size, steps=r["steps"], batch_size=r["batch_size"], lr=r["lr"], ema=r["ema"],
                shift=r["shift"], seed=r["seed"], seconds=round(history.seconds, 1),
                threads=torch.get_num_threads(), schedule=schedule.config, times=list(REPORT_TIMES),
                test_accuracy_over_t=[round(a, 4) for a in acc], n_test=len(y_test),
                command=f"python scripts/train_classifier.py --noisy --size {size} --force")
    return model, meta


def place(args, name: str) -> Path:
    """Where the file `name` goes: --out-dir, or data/ with --force, or runs/ (never data/ unasked)."""
    path = checkpoints.output_path(DATA_DIR / name, args.out_dir / name if args.out_dir else None, args.force)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, choices=(8, 28), action="append",
                        help="8 or 28 (default: both)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: small convolutions gain nothing from more on 2 cores)")
    parser.add_argument("--noisy", action="store_true",
                        help="train the noise-aware classifiers (for classifier guidance) instead")
    parser.add_argument("--out-dir", type=Path, default=None, help="the folder to write into (default: runs/)")
    parser.add_argument("--force", action="store_true", help="write the shipped files in data/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size in args.size or (8, 28):
        start = time.perf_counter()
        if args.noisy:
            model, meta = train_noisy_classifier(size)
            path = place(args, pretrained.classifier_recipe(size, noisy=True)["file"])
            train.save(path, model, **meta)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            scores = ", ".join(f"t={t:g}: {a:.3f}" for t, a in zip(meta["times"], meta["test_accuracy_over_t"]))
            print(f"{path.name}: held-out accuracy {scores} on {meta['n_test']} test images; {meta['steps']} steps "
                  f"in {meta['seconds']:.0f} s, {path.stat().st_size:,} bytes, sha256 {digest}")
            continue
        model, meta = train_classifier(size)
        path = place(args, pretrained.classifier_recipe(size)["file"])
        train.save(path, model, **meta)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path.name}: held-out accuracy {meta['test_accuracy']:.4f} on {meta['n_test']} test images "
              f"(train {meta['train_accuracy']:.4f}); {meta['steps']} steps in {meta['seconds']:.0f} s "
              f"({time.perf_counter() - start:.0f} s in all), {path.stat().st_size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
