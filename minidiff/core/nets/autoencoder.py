"""A small variational autoencoder for the scene images: 24x24x3 pixels to a 6x6x4 latent, 12 times
fewer numbers (Kingma & Welling 2014; the "KL-regularised" autoencoder of Rombach et al. 2022, which
Stable Diffusion uses with a weight on the KL term so light that it is almost a plain autoencoder).

    vae = Autoencoder()
    mean, logvar = vae.encode(x)              # (B, 4, 6, 6) each: a Gaussian per latent number
    z = vae.latents(x)                        # scaled to unit variance, what latent diffusion learns
    x_back = vae.decode_latents(z)            # (B, 3, 24, 24)

Why a KL term at all: without it the encoder may spread the latents over any range and leave gaps the
decoder never saw; a little pull towards N(0, 1), and decoding a slightly noisy latent in training,
make nearby latents decode to nearby images, which a diffusion model's imperfect samples need.
The scaling factor `scale` (Stable Diffusion's 0.18215 is one) makes the latents' standard deviation
1, the size the noise schedule was made for; `fit_scale` measures it on data after training.
"""

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks


class Block(nn.Module):
    """GroupNorm -> SiLU -> conv, twice, plus the input (a ResBlock without the time embedding)."""

    def __init__(self, c_in: int, c_out: int, groups: int = 8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return self.conv2(F.silu(self.norm2(h))) + self.skip(x)


class Autoencoder(nn.Module):
    """Images (B, 3, 24, 24) in [-1, 1] <-> latents (B, latent_channels, 6, 6); two halvings each way."""

    def __init__(self, in_channels: int = 3, latent_channels: int = 4, width: int = 64, size: int = 24):
        super().__init__()
        self.config = dict(in_channels=in_channels, latent_channels=latent_channels, width=width, size=size)
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), Block(w, w),
            nn.Conv2d(w, w, 3, stride=2, padding=1), Block(w, 2 * w),          # 12x12
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), Block(2 * w, 2 * w),  # 6x6
            nn.GroupNorm(8, 2 * w), nn.SiLU(), nn.Conv2d(2 * w, 2 * latent_channels, 1))  # mean and log-variance
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 2 * w, 3, padding=1), Block(2 * w, 2 * w), Block(2 * w, 2 * w),
            nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(2 * w, w, 3, padding=1), Block(w, w),
            nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(w, w, 3, padding=1), Block(w, w),
            nn.GroupNorm(8, w), nn.SiLU(), nn.Conv2d(w, in_channels, 3, padding=1))
        # 1 / (standard deviation of the latents); set by fit_scale after training, saved with the weights
        self.register_buffer("scale", torch.tensor(1.0))

    @property
    def latent_shape(self) -> tuple:
        return (self.config["latent_channels"], self.config["size"] // 4, self.config["size"] // 4)

    def _check_images(self, x: torch.Tensor) -> None:
        c, s = self.config["in_channels"], self.config["size"]
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1:] != (c, s, s):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Autoencoder: images must have shape (B, {c}, {s}, {s}), got {got}")
        # Trained on [-1, 1]: [0, 1] input comes back with about 15x the error, and no word.
        _checks.images(x, "Autoencoder", "scenes")

    def _check_latents(self, z: torch.Tensor) -> None:
        _checks.latents(z, "Autoencoder", self.latent_shape)

    def encode(self, x: torch.Tensor):
        """(mean, logvar), each (B, latent_channels, size/4, size/4): the encoder's Gaussian q(z | x)."""
        self._check_images(x)
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)  # exp() of it stays finite

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Unscaled latents (B, C, h, w) -> images (B, 3, size, size), not clamped."""
        self._check_latents(z)
        return self.decoder(z)

    @staticmethod
    def _sample(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """z = mean + std * noise, a sample of q(z | x) (the reparameterisation: gradients reach both)."""
        noise = torch.randn(mean.shape, generator=generator, device=generator.device if generator else None)
        return mean + (0.5 * logvar).exp() * noise.to(mean)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """(reconstruction, mean, logvar), decoding a sample z = mean + std * noise (as in training)."""
        mean, logvar = self.encode(x)
        return self.decode(self._sample(mean, logvar, generator)), mean, logvar

    def latents(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = False):
        """Scaled latents scale * z of images x: the encoder's mean, or a sample of q(z | x) if `sample`."""
        mean, logvar = self.encode(x)
        return self.scale * (self._sample(mean, logvar, generator) if sample else mean)

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latents -> images: undo the scaling, then decode."""
        return self.decode(z / self.scale)

    @torch.no_grad()
    def fit_scale(self, x: torch.Tensor, batch_size: int = 500) -> float:
        """Set `scale` to 1 / std of the (unscaled) latent means of images x, and return it."""
        means = torch.cat([self.encode(chunk)[0] for chunk in x.split(batch_size)])
        self.scale.fill_(1.0 / means.std().item())
        return self.scale.item()


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent number, averaged: 0.5 (mean^2 + var - 1 - logvar)."""
    return 0.5 * (mean ** 2 + logvar.exp() - 1.0 - logvar).mean()


def vae_loss(model: Autoencoder, x: torch.Tensor, beta: float, generator: torch.Generator | None = None):
    """(loss, reconstruction MSE, KL): mean squared error per pixel plus beta times the mean KL per
    latent number. A light beta (1e-4 here) keeps the reconstructions sharp."""
    recon, mean, logvar = model(x, generator)
    mse = F.mse_loss(recon, x)
    kl = kl_divergence(mean, logvar)
    return mse + beta * kl, mse, kl
