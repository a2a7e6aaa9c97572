"""A U-Net that reads a caption: the course's U-Net (residual blocks, a time embedding in every block)
plus a text encoder, and cross-attention from image features to the caption's words (Rombach et al.
2022, section 3.3; Saharia et al. 2022 add a pooled text vector to the time embedding, as here).

    net = TextUNet(vocab_size=len(tokenizer))
    eps = net(x, t, ids)            # x (B, 3, H, W), t (B,), ids (B, L) from a Tokenizer
    text = net.encode(ids)          # the caption read once (EncodedText) ...
    eps = net(x, t, text)           # ... and given as cond at every step of a sampler

At every level of `cross_levels` (12x12 and 6x6 for 24x24 images) each pixel's feature vector asks
the caption's word vectors a question (query), and gets back a weighted mix of them (values): this is
how "gold" reaches the pixels where the fish is. The null caption, ids = [<start>], is what caption
dropout trains and classifier-free guidance subtracts.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..text import MultiHeadAttention, Tokenizer, build_encoder, null_ids
from .embed import TimeEmbedding
from .unet import ResBlock, SelfAttention


class EncodedText(NamedTuple):
    """Captions as the text encoder read them: what the U-Net's cross-attention attends to."""

    context: torch.Tensor  # (B, L, D) one vector per word
    mask: torch.Tensor  # (B, L) True where there is a word (not padding)

    def rows(self, n: int) -> "EncodedText":
        """The same captions for a batch of n: one caption repeated, or n captions as they are."""
        if len(self.context) == n:
            return self
        if len(self.context) != 1:
            raise ValueError(f"EncodedText: {len(self.context)} captions for a batch of {n}; encode one "
                             "caption, or one per sample")
        return EncodedText(self.context.expand(n, -1, -1), self.mask.expand(n, -1))

    def cat(self, other: "EncodedText") -> "EncodedText":
        """Both batches, one after the other (the halves of classifier-free guidance)."""
        return EncodedText(torch.cat([self.context, other.context]), torch.cat([self.mask, other.mask]))


class CrossAttention(nn.Module):
    """Image features (B, C, H, W) attend to text (B, L, D); the answer is added back (residual)."""

    def __init__(self, channels: int, context_dim: int, groups: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.attn = MultiHeadAttention(channels, context_dim, channels, heads)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        pixels = self.norm(x).reshape(b, c, h * w).transpose(1, 2)  # (B, HW, C): one query per pixel
        out = self.attn(pixels, context, mask)  # (B, HW, C)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class TextUNet(nn.Module):
    """eps_theta(x, t, ids): images (B, C, H, W), times (B,), caption ids (B, L) -> (B, C, H, W).

    channels: width per level (the image halves between levels); cross_levels: the levels (0 = full
    size) whose blocks are followed by cross-attention, always also at the bottom; encoder: the text
    encoder's config (text.TransformerEncoder or text.BagOfWords), trained together with the U-Net,
    or, with freeze_encoder, loaded from elsewhere and never changed by training (lesson 11).
    """

    def __init__(self, vocab_size: int, in_channels: int = 3, channels=(32, 64, 96), cross_levels=(1, 2),
                 encoder: dict | None = None, max_freq: float = 30.0, groups: int = 8, heads: int = 4,
                 freeze_encoder: bool = False):
        super().__init__()
        channels, cross_levels = [int(c) for c in channels], [int(k) for k in cross_levels]
        if any(c % groups for c in channels):
            raise ValueError(f"TextUNet: every entry of channels must be a multiple of groups={groups}, got {channels}")
        encoder = dict(encoder or dict(kind="transformer", dim=64, heads=4, layers=2, max_len=20))
        encoder["vocab_size"] = vocab_size
        self.config = dict(vocab_size=vocab_size, in_channels=in_channels, channels=channels,
                           cross_levels=cross_levels, encoder=encoder, max_freq=max_freq, groups=groups,
                           heads=heads)
        if freeze_encoder:  # only then, so that the configs of lesson 10's checkpoints stay as saved
            self.config["freeze_encoder"] = True
        self.encoder = build_encoder(encoder)
        if freeze_encoder:  # a text encoder trained elsewhere (lesson 11: the contrastive one), kept as it is
            self.encoder.requires_grad_(False)
        d, emb_dim = self.encoder.dim, 4 * channels[0]
        self.time = nn.Sequential(TimeEmbedding(channels[0], max_freq), nn.Linear(channels[0], emb_dim),
                                  nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.pooled = nn.Linear(d, emb_dim)  # the caption's mean word vector joins the time embedding

        def cross(level, width):
            return CrossAttention(width, d, groups, heads) if level in cross_levels else None

        self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.down, self.down_cross, self.pool = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c = channels[0]
        for i, width in enumerate(channels):
            self.down.append(ResBlock(c, width, emb_dim, groups))
            self.down_cross.append(cross(i, width) or nn.Identity())
            c = width
            if i < len(channels) - 1:
                self.pool.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid1, self.mid_self = ResBlock(c, c, emb_dim, groups), SelfAttention(c, groups, heads)
        self.mid_cross, self.mid2 = CrossAttention(c, d, groups, heads), ResBlock(c, c, emb_dim, groups)
        self.up, self.up_cross, self.unpool = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(channels))):
            width = channels[i]
            self.up.append(ResBlock(c + width, width, emb_dim, groups))
            self.up_cross.append(cross(i, width) or nn.Identity())
            c = width
            if i > 0:
                self.unpool.append(nn.Conv2d(c, channels[i - 1], 3, padding=1))
                c = channels[i - 1]
        self.head = nn.Sequential(nn.GroupNorm(groups, c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1))

    def tokenizer(self, vocabulary) -> Tokenizer:
        """The tokenizer that matches this network (same vocabulary size and caption length)."""
        tok = Tokenizer(vocabulary, max_len=self.config["encoder"]["max_len"])
        if len(tok) != self.config["vocab_size"]:
            raise ValueError(f"TextUNet: a vocabulary of {len(tok)} tokens, but the network has "
                             f"{self.config['vocab_size']}; build both from the same word list")
        return tok

    def null_cond(self, n: int, device=None) -> torch.Tensor:
        """(n, L) ids of the empty caption, the "unconditional" input of classifier-free guidance."""
        return null_ids(n, self.config["encoder"]["max_len"], device)

    def encode(self, ids: torch.Tensor) -> EncodedText:
        """Caption ids (B, L) -> EncodedText: the text encoder's one run for a batch of captions (the
        encoder checks the ids)."""
        return EncodedText(*self.encoder(ids))  # (B, L, D), (B, L)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        """x (B, C, H, W), t (B,), cond: caption ids (B, L), or EncodedText (read once by self.encode),
        or None for the empty caption."""
        levels, c = len(self.config["channels"]), self.config["in_channels"]
        if x.ndim != 4 or x.shape[1] != c or x.shape[2] % 2 ** (levels - 1) or x.shape[3] % 2 ** (levels - 1):
            raise ValueError(f"TextUNet: x must have shape (B, {c}, H, W) with H and W divisible by "
                             f"{2 ** (levels - 1)}, got {tuple(x.shape)}")
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        if t.shape != (x.shape[0],):
            raise ValueError(f"TextUNet: t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        if not isinstance(cond, EncodedText):  # ids: read them now (training; a sampler reads them once)
            ids = self.null_cond(x.shape[0], x.device) if cond is None else cond.to(x.device)
            if ids.ndim != 2 or ids.shape[0] != x.shape[0]:
                raise ValueError(f"TextUNet: cond must be caption ids of shape (B, L) = ({x.shape[0]}, L) from "
                                 f"a Tokenizer, got {tuple(ids.shape)}")
            cond = self.encode(ids)
        elif cond.context.shape[0] != x.shape[0]:
            raise ValueError(f"TextUNet: cond holds {cond.context.shape[0]} encoded captions for a batch of "
                             f"{x.shape[0]}; encode one per sample (or use .rows({x.shape[0]}))")
        context, mask = cond.context.to(x), cond.mask.to(x.device)  # (B, L, D), (B, L)
        pooled = (context * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (B, D)
        emb = self.time(t.to(x)) + self.pooled(pooled)  # (B, E)
        h, skips = self.stem(x), []
        for i, (block, cross) in enumerate(zip(self.down, self.down_cross)):
            h = block(h, emb)
            h = cross(h, context, mask) if isinstance(cross, CrossAttention) else h
            skips.append(h)
            if i < len(self.pool):
                h = self.pool[i](h)
        h = self.mid1(h, emb)
        h = self.mid2(self.mid_cross(self.mid_self(h), context, mask), emb)
        for i, (block, cross) in enumerate(zip(self.up, self.up_cross)):
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            h = cross(h, context, mask) if isinstance(cross, CrossAttention) else h
            if i < len(self.unpool):
                h = self.unpool[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(h)

    def cross_attentions(self) -> list:
        """Every CrossAttention module, from the top of the U-Net down and up again."""
        return [m for m in self.modules() if isinstance(m, CrossAttention)]
