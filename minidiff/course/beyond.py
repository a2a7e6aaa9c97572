"""Lesson 12's experiments, each a function that returns its numbers: mode coverage of a GAN against a
diffusion model, copying against training-set size, two networks on disjoint halves, and a rare class.

    rows = beyond.coverage_race({"grid": toy.grid()}, seeds=[0, 1, 2])    # one row per (data, seed, model)
    beyond.summary(rows)                                                  # mean and sd over seeds
    rows = beyond.copy_curve(toy.ring(), sizes=[8, 64, 512])              # share of near-copies per size
    pairs = beyond.halves_samples([4, 64, 719], n=100)                    # shipped pairs, same noise
    shares = beyond.digit_shares(pretrained.load_rare(), ws=[0, 1, 3])   # what comes out, per digit

The 2-D models are small MLPs trained for the same number of steps on the same batch size: the GAN's
generator and the diffusion model's denoiser have about the same number of weights (the GAN also trains
a discriminator of that size). Each model uses the optimiser settings that suit it: Adam with beta1 = 0.5
for the GAN (Radford et al. 2016), Adam with an EMA of the weights for the diffusion model.
"""

import statistics
import time

import torch
from torch import nn

from ..worlds import gan, metrics
from ..core import samplers, schedules, train
from ..core.losses import diffusion_loss
from ..core.nets import MLP
from ..core.params import Denoiser
from ..core.schedules import VPLinear
from ..worlds.toy import GaussianMixture

# The one configuration of the 2-D race: both networks 3 hidden layers of 64, 2,000 steps of 256 points.
RACE = dict(hidden=64, depth=3, steps=2000, batch_size=256, gan_lr=1e-3, diffusion_lr=2e-3, ema=0.99,
            sampler_steps=100, samples=2500)


def fit_gan(gm: GaussianMixture, seed: int, steps: int = RACE["steps"], snapshot_every: int = 0, device=None):
    """A Generator and Discriminator of RACE's size trained on fresh samples of gm: (generator, GANRun)."""
    torch.manual_seed(seed)  # the initial weights
    g = torch.Generator().manual_seed(seed)  # data and noise draws
    net_g = gan.Generator(hidden=RACE["hidden"], depth=RACE["depth"]).to(device)
    net_d = gan.Discriminator(hidden=RACE["hidden"], depth=RACE["depth"]).to(device)
    run = gan.train_gan(net_g, net_d, gm.sample, steps, lr=RACE["gan_lr"], batch_size=RACE["batch_size"],
                        snapshot_every=snapshot_every, generator=g)
    return net_g.eval(), run


def fit_diffusion(data, seed: int, steps: int = RACE["steps"], device=None) -> Denoiser:
    """An MLP denoiser (eps target, VPLinear) of RACE's size. data: a GaussianMixture (a fresh batch every
    step, like the GAN) or a tensor (N, 2) of training points (batches drawn from those N only)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    schedule = VPLinear()
    net = MLP(hidden=RACE["hidden"], depth=RACE["depth"]).to(device)
    if isinstance(data, GaussianMixture):
        batches = lambda generator: data.sample(RACE["batch_size"], generator)  # noqa: E731
    elif isinstance(data, torch.Tensor) and data.ndim == 2 and data.shape[1] == 2:
        points = data.to(device)
        batches = lambda generator: points[torch.randint(len(points), (RACE["batch_size"],), generator=generator)]  # noqa: E731
    else:
        raise ValueError(f"fit_diffusion: data must be a toy.GaussianMixture or training points (N, 2), got "
                         f"{type(data).__name__} {tuple(getattr(data, 'shape', ()))}")

    def loss_fn(model, x, generator=None):
        return diffusion_loss(model, x, schedule, generator=generator)

    history = train.train(net, loss_fn, batches, steps, lr=RACE["diffusion_lr"], batch_size=RACE["batch_size"],
                          ema=RACE["ema"], generator=g, progress=False)
    return Denoiser(history.ema, schedule).eval()


def sample_diffusion(model: Denoiser, n: int, seed: int, steps: int = RACE["sampler_steps"], device=None) -> torch.Tensor:
    """n points by DDPM ancestral sampling with `steps` uniform steps, from seeded noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g).to(device)
    return samplers.run(samplers.ddpm(model, x, schedules.uniform_grid(steps), model.schedule, generator=g)).cpu()


def coverage_race(datasets: dict, seeds, steps: int = RACE["steps"], n: int = RACE["samples"], device=None) -> list:
    """For each data set and seed, a GAN and a diffusion model trained alike, and metrics.mode_coverage of
    n samples of each: rows dict(data, seed, model, modes, of, high_quality, seconds, samples)."""
    rows = []
    for name, gm in datasets.items():
        for seed in seeds:
            start = time.perf_counter()
            net_g, _ = fit_gan(gm, seed, steps, device=device)
            x_gan = gan.sample(net_g, n, torch.Generator().manual_seed(1000 + seed)).cpu()
            mid = time.perf_counter()
            x_diff = sample_diffusion(fit_diffusion(gm, seed, steps, device), n, 1000 + seed, device=device)
            end = time.perf_counter()
            for model, x, seconds in (("GAN", x_gan, mid - start), ("diffusion", x_diff, end - mid)):
                c = metrics.mode_coverage(x, gm)
                rows.append(dict(data=name, seed=seed, model=model, modes=c.modes, of=len(gm.weights),
                                 high_quality=c.high_quality, seconds=seconds, samples=x))
    return rows


def _mean_sd(values) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summary(rows: list) -> dict:
    """{(data, model): dict(modes=(mean, sd), high_quality=(mean, sd), of=K, seeds=n, runs=[modes...])}."""
    out = {}
    for key in dict.fromkeys((r["data"], r["model"]) for r in rows):
        mine = [r for r in rows if (r["data"], r["model"]) == key]
        out[key] = dict(modes=_mean_sd(r["modes"] for r in mine), high_quality=_mean_sd(r["high_quality"] for r in mine),
                        of=mine[0]["of"], seeds=len(mine), runs=[r["modes"] for r in mine])
    return out


def copy_curve(gm: GaussianMixture, sizes, seed: int = 0, steps: int = RACE["steps"], n: int = 1000,
               device=None) -> list:
    """Train one diffusion model per training-set size (N points drawn from gm) and measure the share of
    n samples that are near-copies (metrics.copy_share, ratio 1/3), and the same share for n fresh draws of
    gm itself (the level of chance): rows dict(size, copies, chance, points, samples)."""
    rows = []
    for size in sizes:
        points = gm.sample(size, torch.Generator().manual_seed(seed + size))
        model = fit_diffusion(points, seed, steps, device)
        x = sample_diffusion(model, n, seed + 1, device=device)
        fresh = gm.sample(n, torch.Generator().manual_seed(seed + 7))
        rows.append(dict(size=size, copies=metrics.copy_share(x, points), chance=metrics.copy_share(fresh, points),
                         points=points, samples=x))
    return rows


# --- digits: two halves, and a rare class ----------------------------------------------------------------

def halves_samples(sizes, n: int, steps: int = 50, seed: int = 0, device=None) -> dict:
    """{size: (x_a, x_b)}: n samples of each shipped network of the pair trained on disjoint halves of that
    size (pretrained.load_half), both run by DDIM (deterministic) from the same starting noise."""
    from ..worlds import pretrained

    out = {}
    for size in sizes:
        models = [pretrained.load_half(size, half, device) for half in ("a", "b")]
        noise = torch.randn(n, *models[0].sample_shape, generator=torch.Generator().manual_seed(seed)).to(device)
        grid = schedules.uniform_grid(steps)
        out[size] = tuple(samplers.run(samplers.ddim(m, noise, grid, m.schedule)).clamp(-1, 1).cpu() for m in models)
    return out


def halves_table(samples: dict) -> list:
    """Per size: the median cosine similarity of the two networks' samples (centred at the training set's
    mean image: about 0 for two unrelated digits, 1 for the same image), and each network's share of
    near-copies of its own half and of the other half."""
    from ..worlds import pretrained
    from ..worlds.data import load_digits

    x, _ = load_digits(8, "train")
    rows = []
    for size, (xa, xb) in samples.items():
        own_a, own_b = x[pretrained.half_indices("a", size)], x[pretrained.half_indices("b", size)]
        rows.append(dict(size=size, similarity=metrics.pair_similarity(xa, xb, centre=x.mean(0)).median().item(),
                         copies_own=(metrics.copy_share(xa, own_a) + metrics.copy_share(xb, own_b)) / 2,
                         copies_other=(metrics.copy_share(xa, own_b) + metrics.copy_share(xb, own_a)) / 2))
    return rows


def digit_shares(model: Denoiser, digit: int | None, ws, n: int, steps: int = 50, seed: int = 0, device=None) -> dict:
    """{w: (10,) share of each digit} among n samples of a class-conditional model, read by the shipped 8x8
    classifier. digit None: unguided (the null label, the model's p(x); w is then ignored); else
    classifier-free guidance towards `digit` with weight w (w = 1 the plain conditional, w = 0 the same as
    unguided). Every w starts from the same noise and draws the same DDPM noise."""
    from ..core.guidance import ClassifierFree
    from ..worlds.metrics import class_histogram, load_classifier

    judge = load_classifier(8, device)
    out = {}
    for w in ws:
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, *model.sample_shape, generator=g).to(device)
        guided = ClassifierFree(model, digit, w)
        x = samplers.run(samplers.ddpm(guided, noise, schedules.uniform_grid(steps), model.schedule, generator=g))
        out[w] = class_histogram(x.clamp(-1, 1), judge)
    return out


def small_classifier() -> nn.Module:
    """A deliberately small digit classifier for the rebalancing experiment: 64 pixels -> 32 -> 10."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def rebalance(model: Denoiser, rare: int, w: float, seeds, steps: int = 50, device=None) -> dict:
    """A small classifier (small_classifier) trained four ways on the data the rare-digit model saw
    (pretrained.rare_indices), and its test recall of each digit per seed, {name: (len(seeds), 10)}:
    "as trained"; "+ repeats", the kept images of the rare digit repeated up to the number removed
    (plain oversampling); "+ generated", that many images of the rare digit made by the model with
    classifier-free guidance of weight w; "+ real", the removed real images put back. Also "generated":
    the generated images, and "kept": the rare digit's training images the model saw."""
    from ..worlds import pretrained
    from ..worlds.data import load_digits
    from ..core.guidance import ClassifierFree

    x, y = load_digits(8, "train")
    x_test, y_test = load_digits(8, "test")
    keep = pretrained.rare_indices()
    removed = int(len(y) - len(keep))
    kept = x[keep][y[keep] == rare]
    g = torch.Generator().manual_seed(123)
    noise = torch.randn(removed, *model.sample_shape, generator=g).to(device)
    made = samplers.run(samplers.ddpm(ClassifierFree(model, rare, w), noise, schedules.uniform_grid(steps),
                                      model.schedule, generator=g)).clamp(-1, 1).cpu()
    repeats = kept[torch.arange(removed) % len(kept)]
    label = torch.full((removed,), rare)
    sets = {"as trained": (x[keep], y[keep]),
            "+ repeats": (torch.cat([x[keep], repeats]), torch.cat([y[keep], label])),
            "+ generated": (torch.cat([x[keep], made]), torch.cat([y[keep], label])),
            "+ real": (x, y)}
    out = {name: torch.stack([recall_per_digit(xs, ys, x_test, y_test, seed) for seed in seeds])
           for name, (xs, ys) in sets.items()}
    return dict(out, generated=made, kept=kept)


def recall_per_digit(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                     seed: int, steps: int = 300) -> torch.Tensor:
    """Train small_classifier (Adam, full batch) on (x_train, y_train) and return its recall on each digit
    of the test set: (10,), the share of each digit's test images it labels right."""
    torch.manual_seed(seed)
    net = small_classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(net(x_train), y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        right = net(x_test).argmax(1) == y_test
    return torch.stack([right[y_test == d].float().mean() for d in range(10)])
