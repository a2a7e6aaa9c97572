"""The DDPMs shipped in data/: how each was made, and how to load one as a ready Denoiser.

    model = pretrained.load_ddpm("digits8")     # a Denoiser: model(x, t).eps, .x0
    x = samplers.run(samplers.ddpm(model, x, ts, model.schedule))

`scripts/train_ddpm.py NAME` remakes a checkpoint from its recipe below; data/CHECKPOINTS.md records
the steps, time and metrics each one reached.
"""

from pathlib import Path

import torch

from .schedules import VPLinear

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# One recipe per shipped DDPM: a U-Net preset (minidiff.nets.unet) trained with the eps loss
# (Ho et al. 2020, eq. 14) on a digit set, VP schedule with linear beta (Ho et al.'s 1e-4 .. 0.02
# over 1000 steps, in continuous time).
RECIPES = {
    "digits8": dict(file="ddpm8.pt", size=8, preset="digits8", target="eps",
                    schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                    lr=1e-3, batch_size=128, ema=0.995, seed=0),
    "mnist28": dict(file="ddpm28.pt", size=28, preset="mnist28", target="eps",
                    schedule=dict(name="VPLinear", beta_min=0.1, beta_max=20.0),
                    lr=1e-3, batch_size=64, ema=0.995, seed=0),
}
_SCHEDULES = {"VPLinear": VPLinear}


def recipe(name: str) -> dict:
    """The recipe of a shipped DDPM ('digits8' or 'mnist28')."""
    if name not in RECIPES:
        raise ValueError(f"pretrained: unknown DDPM {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


def make_schedule(spec: dict):
    """A Schedule from its stored description, e.g. {'name': 'VPLinear', 'beta_min': 0.1, 'beta_max': 20}."""
    spec = dict(spec)
    name = spec.pop("name")
    if name not in _SCHEDULES:
        raise ValueError(f"pretrained: unknown schedule {name!r}; known: {sorted(_SCHEDULES)}")
    return _SCHEDULES[name](**spec)


def path_of(name: str) -> Path:
    """Where the checkpoint of `name` lives: data/ddpm8.pt or data/ddpm28.pt."""
    return DATA_DIR / recipe(name)["file"]


def ddpm_info(name: str) -> dict:
    """What the checkpoint says about itself: config, steps, seconds, metrics (without loading weights)."""
    from .train import info

    return info(path_of(name))


def load_ddpm(name: str, device=None, clip: float | None = 1.0):
    """The shipped DDPM `name` as a Denoiser (EMA weights, eval mode) on `device`.

    clip: the predicted x0 is clipped to [-clip, clip], the range of the images (Ho et al.'s
    sampler does the same); None leaves it free.
    """
    from .nets.unet import UNet
    from .params import Denoiser
    from .train import info, load

    path = path_of(name)
    if not path.exists():
        raise FileNotFoundError(f"load_ddpm: {path} is missing; remake it with "
                                f"`python scripts/train_ddpm.py {name}`")
    meta = info(path)["meta"]
    net = load(path, UNet).eval().requires_grad_(False)
    if device is not None:
        net = net.to(device)
    return Denoiser(net, make_schedule(meta["schedule"]), meta["target"], clip=clip)


def sample_digits(model, n: int, size: int, steps: int = 100, generator: torch.Generator | None = None,
                  batch_size: int = 250, device=None) -> torch.Tensor:
    """n images (n, 1, size, size) from `model` by DDPM ancestral sampling over `steps` uniform steps,
    clipped to [-1, 1]; drawn in batches of batch_size."""
    from .samplers import ddpm, run
    from .schedules import uniform_grid

    out = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        gen_device = generator.device if generator is not None else torch.device("cpu")
        x = torch.randn(b, 1, size, size, generator=generator, device=gen_device).to(device or gen_device)
        out.append(run(ddpm(model, x, uniform_grid(steps), model.schedule, generator=generator)).clamp(-1, 1))
    return torch.cat(out)


def digit_quality(samples: torch.Tensor, size: int, repeats: int = 5,
                  generator: torch.Generator | None = None) -> dict:
    """The classifier's verdict on generated digits (n, 1, size, size) in [-1, 1]:

    frechet: the Frechet distance between classifier features of the samples and of the held-out
    test images (Heusel et al. 2017, eq. 6); floor: the same distance for n real training images
    against the same test images (median over `repeats` random draws), i.e. what a perfect
    generator would score at this n; ratio = frechet / floor; entropy: the entropy of the class
    histogram over log 10 (1 = every digit equally often); histogram: the class fractions.
    """
    import math
    import statistics

    from .data import load_digits
    from .metrics import (class_histogram, classifier_features, frechet_distance, histogram_entropy,
                          load_classifier)

    clf = load_classifier(size)
    test, _ = load_digits(size, "test")
    real, _ = load_digits(size, "train")
    n = len(samples)
    if n > len(real):
        raise ValueError(f"digit_quality: at most {len(real)} samples (the training set's size), got {n}")
    f_test, f_real, f_fake = (classifier_features(x, clf) for x in (test, real, samples))
    floors = [frechet_distance(f_real[torch.randperm(len(real), generator=generator)[:n]], f_test)
              for _ in range(repeats)]
    fd, floor = frechet_distance(f_fake, f_test), statistics.median(floors)
    hist = class_histogram(samples, clf)
    return dict(n=n, frechet=round(fd, 3), floor=round(floor, 3), ratio=round(fd / floor, 2),
                entropy=round(histogram_entropy(hist) / math.log(10), 4),
                histogram=[round(h, 3) for h in hist.tolist()])
