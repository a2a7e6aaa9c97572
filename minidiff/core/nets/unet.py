"""A small U-Net for 1-channel images from 8x8 to 32x32 (Ronneberger et al. 2015; the diffusion
version of Ho et al. 2020, appendix B: residual blocks, group norm, a time embedding added in every
block, self-attention at the lowest resolution), sized to train on a laptop CPU.

Presets (`unet_preset(name)`), parameter counts asserted in tests/test_nets_unet.py:

| preset        | images | levels | channels   | attention | parameters |
|---------------|--------|--------|------------|-----------|------------|
| digits8       | 8x8    | 2      | 32, 48     | 4x4       | 322,817    |
| mnist28       | 28x28  | 3      | 24, 48, 48 | 7x7       | 431,233    |
| mnist28_large | 28x28  | 3      | 32, 64, 88 | 7x7       | 1,095,969  |

Speed (Adam steps/s at batch 128, 2-core CPU shared with ~10 other busy processes, one torch
thread): digits8 3.3, mnist28 0.38, mnist28_large 0.23. On an idle machine with two threads,
mnist28 ran at about 2 steps/s. With two threads on a busy machine, threads spin against each
other and steps were 3x to 15x slower than with one: `torch.set_num_threads(1)` when sharing.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .embed import TimeEmbedding

PRESETS = {
    "digits8": dict(channels=(32, 48), attention=True),
    "mnist28": dict(channels=(24, 48, 48), attention=True),
    "mnist28_large": dict(channels=(32, 64, 88), attention=True),
}


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, plus the time embedding, twice, with a residual connection."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)  # one shift per channel, from the time embedding
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        # a 1x1 conv matches the channels of the skip path when they change
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        h = h + self.emb(emb)[:, :, None, None]  # the time (and label) enter every block
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    """Every pixel attends to every other (Vaswani et al. 2017), residual; cheap at 4x4 or 7x7."""

    def __init__(self, channels: int, groups: int, heads: int = 4):
        super().__init__()
        if channels % heads:
            raise ValueError(f"SelfAttention: channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # each (B, heads, HW, C/heads)
        a = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, C/heads)
        return x + self.out(a.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """eps_theta(x, t [, cond]): (B, C, H, W) images and (B,) times in [0, 1] -> (B, C, H, W).

    channels: width of each level; the image is halved between levels, so H and W must be
    divisible by 2 ** (len(channels) - 1) (28 -> 14 -> 7 works with three levels; 8 -> 4 with two).
    num_classes: when set, `cond` (B,) labels in 0..num_classes-1 are added to the time embedding;
    the extra label `num_classes` (or cond=None) means "no label", for classifier-free guidance
    (Ho & Salimans 2022).
    """

    def __init__(self, in_channels: int = 1, channels=(32, 64), blocks: int = 1, attention: bool = True,
                 emb_dim: int | None = None, max_freq: float = 30.0, groups: int = 8,
                 num_classes: int | None = None):
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or any(c % groups for c in channels):
            raise ValueError(f"UNet: every entry of channels must be a multiple of groups={groups}, got {channels}")
        if blocks < 1:
            raise ValueError(f"UNet: blocks must be >= 1, got {blocks}")
        emb_dim = emb_dim or 4 * channels[0]
        # Stored so that a checkpoint can rebuild the same network: UNet(**net.config).
        self.config = dict(in_channels=in_channels, channels=channels, blocks=blocks, attention=attention,
                           emb_dim=emb_dim, max_freq=max_freq, groups=groups, num_classes=num_classes)
        self.num_classes = num_classes
        # t -> sinusoids -> MLP (max_freq: see TimeEmbedding; far higher makes outputs jumpy in t)
        self.time = nn.Sequential(TimeEmbedding(channels[0], max_freq), nn.Linear(channels[0], emb_dim),
                                  nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None

        self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down, self.pool = nn.ModuleList(), nn.ModuleList()
        c = channels[0]
        for i, width in enumerate(channels):
            self.down.append(nn.ModuleList(ResBlock(c if j == 0 else width, width, emb_dim, groups)
                                           for j in range(blocks)))
            c = width
            if i < len(channels) - 1:  # a strided conv halves the image between levels
                self.pool.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid1 = ResBlock(c, c, emb_dim, groups)
        self.attn = SelfAttention(c, groups) if attention else nn.Identity()
        self.mid2 = ResBlock(c, c, emb_dim, groups)
        self.up, self.unpool = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(channels))):
            width = channels[i]
            # the first block of a level sees the upsampled path concatenated with the skip
            self.up.append(nn.ModuleList(ResBlock(c + width if j == 0 else width, width, emb_dim, groups)
                                         for j in range(blocks)))
            c = width
            if i > 0:  # nearest-neighbour doubling, then a conv to the next level's width
                self.unpool.append(nn.Conv2d(c, channels[i - 1], 3, padding=1))
                c = channels[i - 1]
        self.head = nn.Sequential(nn.GroupNorm(groups, c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1))

    def _check(self, x: torch.Tensor, t: torch.Tensor, cond) -> None:
        levels, c = len(self.config["channels"]), self.config["in_channels"]
        if x.ndim != 4 or x.shape[1] != c:
            raise ValueError(f"UNet: x must have shape (B, {c}, H, W), got {tuple(x.shape)}")
        step = 2 ** (levels - 1)
        if x.shape[2] % step or x.shape[3] % step:
            raise ValueError(f"UNet: with {levels} levels H and W must be divisible by {step}, got "
                             f"{tuple(x.shape[2:])}; pad the images or use fewer levels")
        if t.shape != (x.shape[0],):
            raise ValueError(f"UNet: t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        if cond is not None and self.label is None:
            raise ValueError("UNet: got cond but the network has no labels; build it with num_classes=...")
        if cond is not None and cond.shape != (x.shape[0],):
            raise ValueError(f"UNet: cond must have shape (B,) = ({x.shape[0]},), got {tuple(cond.shape)}")

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if t.ndim == 0:
            t = t.expand(x.shape[0])  # one time for the whole batch
        self._check(x, t, cond)
        emb = self.time(t.to(x))  # (B, E)
        if self.label is not None:
            if cond is None:  # no label given: the "null" label of classifier-free guidance
                cond = torch.full((x.shape[0],), self.num_classes, device=x.device, dtype=torch.long)
            emb = emb + self.label(cond.to(device=x.device, dtype=torch.long))
        h = self.stem(x)  # (B, C0, H, W)
        skips = []
        for i, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, emb)
            skips.append(h)  # (B, C_i, H / 2^i, W / 2^i), kept for the way up
            if i < len(self.pool):
                h = self.pool[i](h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)  # lowest resolution
        for i, blocks in enumerate(self.up):
            h = torch.cat([h, skips.pop()], dim=1)  # the skip connection
            for block in blocks:
                h = block(h, emb)
            if i < len(self.unpool):
                h = self.unpool[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(h)  # (B, C, H, W)


def unet_preset(name: str, **overrides) -> UNet:
    """A U-Net from the table in this module's docstring; keywords override its settings."""
    if name not in PRESETS:
        raise ValueError(f"unet_preset: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return UNet(**{**PRESETS[name], **overrides})


def count_parameters(net: nn.Module) -> int:
    """How many numbers the optimiser trains."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
