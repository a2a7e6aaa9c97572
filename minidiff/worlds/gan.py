"""A small GAN for 2-D points (Goodfellow et al. 2014), to set beside a diffusion model of the same size.

    g, d = gan.Generator(), gan.Discriminator()
    run = gan.train_gan(g, d, toy.grid().sample, steps=3000, generator=torch.Generator().manual_seed(0))
    x = gan.sample(g, 2500)                      # (2500, 2)
    run.snapshots[k]                             # (step, samples of fixed noise) for a slider over training

A generator maps noise z ~ N(0, I) to a point; a discriminator scores points, real high and generated
low. They are trained in turn: the discriminator to tell real from generated (a logistic loss), the
generator to be scored as real. The generator never sees a data point, only the discriminator's
gradient, so nothing asks it to cover every mode: sending all its samples to the few places the
discriminator currently likes is a fine answer for it, until the discriminator catches up and it moves
on. That chase is mode collapse (Goodfellow 2016, NIPS tutorial, section 5.1.1).

Why not minidiff.train: one GAN step is two optimiser steps on two networks with two losses, while
`train` runs one loss for one model. The loop below is that alternation and nothing else; it shares
train's NaN message and seeding conventions.
"""

from typing import Callable, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..runtime import check_generator


def _mlp(d_in: int, d_out: int, hidden: int, depth: int, act: nn.Module) -> nn.Sequential:
    widths = [d_in] + [hidden] * depth
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), act]
    return nn.Sequential(*layers, nn.Linear(widths[-1], d_out))


class Generator(nn.Module):
    """z (B, noise_dim) -> x (B, dim): an MLP from Gaussian noise to points."""

    def __init__(self, dim: int = 2, noise_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        if min(dim, noise_dim, hidden, depth) < 1:
            raise ValueError(f"Generator: dim, noise_dim, hidden, depth must be >= 1, got {dim}, {noise_dim}, "
                             f"{hidden}, {depth}")
        self.config = dict(dim=dim, noise_dim=noise_dim, hidden=hidden, depth=depth)
        self.net = _mlp(noise_dim, dim, hidden, depth, nn.ReLU())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.config["noise_dim"]:
            raise ValueError(f"Generator: z must have shape (B, {self.config['noise_dim']}), got {tuple(z.shape)}")
        return self.net(z)


class Discriminator(nn.Module):
    """x (B, dim) -> logit (B,): how real the discriminator thinks each point is (sigmoid = probability)."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        if min(dim, hidden, depth) < 1:
            raise ValueError(f"Discriminator: dim, hidden, depth must be >= 1, got {dim}, {hidden}, {depth}")
        self.config = dict(dim=dim, hidden=hidden, depth=depth)
        # Leaky ReLU: a discriminator with dead units passes no gradient to the generator there.
        self.net = _mlp(dim, 1, hidden, depth, nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.config["dim"]:
            raise ValueError(f"Discriminator: x must have shape (B, {self.config['dim']}), got {tuple(x.shape)}")
        return self.net(x)[:, 0]


def noise(generator_net: Generator, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws of the generator's input z ~ N(0, I), on the generator's device."""
    check_generator(generator, "gan.noise")
    where = generator.device if generator is not None else _device(generator_net)  # draw where the generator lives
    return torch.randn(n, generator_net.config["noise_dim"], generator=generator, device=where).to(_device(generator_net))


@torch.no_grad()
def sample(generator_net: Generator, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points from the generator: G(z), z ~ N(0, I)."""
    return generator_net(noise(generator_net, n, generator))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), the discriminator's side of Goodfellow et al.'s value function
    (log sigmoid written with softplus: log sigmoid(a) = -softplus(-a), stable for large |a|)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the "non-saturating" generator loss of Goodfellow et al. 2014 (section 3), which
    keeps a strong gradient early, when the discriminator rejects every generated point."""
    return F.softplus(-fake_logits).mean()


class GANRun(NamedTuple):
    """What train_gan leaves: both losses per step, and (step, samples) snapshots from fixed noise."""

    d_losses: list
    g_losses: list
    snapshots: list


def train_gan(generator_net: Generator, discriminator: Discriminator, data: Callable, steps: int, *,
              lr: float = 1e-3, batch_size: int = 256, betas=(0.5, 0.999), snapshot_every: int = 0,
              snapshot_size: int = 1000, generator: torch.Generator | None = None) -> GANRun:
    """Train both networks in place for `steps` alternating steps and return the GANRun.

    data(n, generator) -> (n, dim) real points (toy.GaussianMixture.sample fits). Each step: one Adam
    step of the discriminator on a real and a generated batch, then one of the generator on a fresh
    generated batch. Adam with beta1 = 0.5, as in Radford et al. 2016 (DCGAN): less momentum helps
    two players that keep moving each other's target. Every `snapshot_every` steps (0: never) the
    generator's answer to one fixed set of snapshot_size noise draws is kept, so a slider can replay
    training on the same z.
    """
    check_generator(generator, "gan.train_gan")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"train_gan: steps and batch_size must be >= 1, got {steps}, {batch_size}")
    if not callable(data):  # a tensor of points is the natural thing to pass, and fails deep inside the loop
        got = f"a tensor of shape {tuple(data.shape)}" if isinstance(data, torch.Tensor) else type(data).__name__
        raise TypeError(f"train_gan: data must be a sampler data(n, generator) -> (n, dim) points, such as "
                        f"toy.grid().sample; got {got}. For a fixed set of points x, pass "
                        f"lambda n, g: x[torch.randint(len(x), (n,), generator=g)]")
    opt_g = torch.optim.Adam(generator_net.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    fixed = noise(generator_net, snapshot_size, generator) if snapshot_every else None
    run = GANRun([], [], [])
    for step in range(1, steps + 1):
        real = data(batch_size, generator).to(_device(generator_net))
        fake = generator_net(noise(generator_net, batch_size, generator))
        d_loss = discriminator_loss(discriminator(real), discriminator(fake.detach()))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = generator_loss(discriminator(generator_net(noise(generator_net, batch_size, generator))))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        for name, value in (("discriminator", d_loss), ("generator", g_loss)):
            if not torch.isfinite(value):
                raise FloatingPointError(
                    f"train_gan: the {name} loss became {value.item()} at step {step} of {steps}. Try a lower "
                    f"learning rate (lr={lr:g} now, e.g. {lr / 10:g}) and check that the data are finite.")
        run.d_losses.append(d_loss.item())
        run.g_losses.append(g_loss.item())
        if snapshot_every and (step % snapshot_every == 0 or step == 1):
            with torch.no_grad():
                run.snapshots.append((step, generator_net(fixed).cpu()))
    return run


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device
