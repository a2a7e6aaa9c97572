"""A small CNN digit classifier (LeCun et al. 1998, in spirit): the judge of generated digits.

Its penultimate layer, `features(x)`, plays the part that Inception-v3's pool layer plays in the
Frechet Inception Distance (Heusel et al. 2017): a summary of an image in which distances mean
something about digits, not about pixels.

NoisyDigitClassifier reads noised digits x_t at any time t: the classifier whose gradient steers
classifier guidance (Dhariwal & Nichol 2021), shipped as data/noisy_classifier{8,28}.pt.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .embed import TimeEmbedding


class DigitClassifier(nn.Module):
    """(B, 1, size, size) images in [-1, 1] -> (B, 10) logits; `features` gives (B, feat_dim).

    Each stage is conv-ReLU-conv-ReLU-maxpool with the widths in `channels`; one stage per halving,
    so 8x8 -> 4 -> 2 with two stages and 28 -> 14 -> 7 -> 3 with three.
    """

    def __init__(self, size: int = 28, channels=(16, 32, 64), feat_dim: int = 64, dropout: float = 0.3,
                 num_classes: int = 10):
        super().__init__()
        channels = [int(c) for c in channels]
        side = size
        for _ in channels:
            side //= 2  # max-pooling floors odd sides: 7 -> 3
        if not channels or side < 1:
            raise ValueError(f"DigitClassifier: {len(channels)} stages halve a {size}x{size} image to "
                             "nothing; use fewer stages (entries of channels)")
        # Stored so that a checkpoint can rebuild the same network: DigitClassifier(**net.config).
        self.config = dict(size=size, channels=channels, feat_dim=feat_dim, dropout=dropout,
                           num_classes=num_classes)
        layers, c = [], 1
        for width in channels:
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(),
                       nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c = width
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(c * side * side, feat_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feat_dim, num_classes))

    def _check(self, x: torch.Tensor) -> None:
        size = self.config["size"]
        if not x.is_floating_point():  # uint8 pixels would be read as 0..255, far outside [-1, 1]
            raise ValueError(f"DigitClassifier: images must be floats in [-1, 1], got {x.dtype}; pixels "
                             "0..255 become x.float() / 127.5 - 1")
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, size, size):
            raise ValueError(f"DigitClassifier: expected images of shape (B, 1, {size}, {size}) in "
                             f"[-1, 1], got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer, (B, feat_dim): what the Frechet distance compares."""
        self._check(x)
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_classes) logits


class NoisyDigitClassifier(nn.Module):
    """(B, 1, size, size) noisy images x_t and times t (B,) in [0, 1] -> (B, 10) logits of p(y | x_t):
    the noise-aware classifier of classifier guidance (Dhariwal & Nichol 2021, section 4).

    The same conv stages as DigitClassifier; a sinusoidal embedding of t is added to every stage's
    feature maps, so one network reads clean digits at t = 0 and faint ones under heavy noise.
    SiLU instead of ReLU: guidance follows grad_x log p(y | x_t), and a smooth network has a smooth gradient.
    """

    def __init__(self, size: int = 28, channels=(16, 32, 64), feat_dim: int = 64, time_dim: int = 32,
                 num_classes: int = 10):
        super().__init__()
        channels = [int(c) for c in channels]
        side = size
        for _ in channels:
            side //= 2
        if not channels or side < 1:
            raise ValueError(f"NoisyDigitClassifier: {len(channels)} stages halve a {size}x{size} image to "
                             "nothing; use fewer stages (entries of channels)")
        self.config = dict(size=size, channels=channels, feat_dim=feat_dim, time_dim=time_dim,
                           num_classes=num_classes)
        self.time = nn.Sequential(TimeEmbedding(time_dim), nn.Linear(time_dim, time_dim), nn.SiLU())
        self.convs, self.times = nn.ModuleList(), nn.ModuleList()
        c = 1
        for width in channels:
            self.convs.append(nn.ModuleList([nn.Conv2d(c, width, 3, padding=1),
                                             nn.Conv2d(width, width, 3, padding=1)]))
            self.times.append(nn.Linear(time_dim, width))  # t -> one shift per channel of this stage
            c = width
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side + time_dim, feat_dim), nn.SiLU())
        self.head = nn.Linear(feat_dim, num_classes)

    def _times(self, x: torch.Tensor, t) -> torch.Tensor:
        # Samplers hand over a number, a 0-d tensor or one time per image: make it (B,).
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.ndim == 0:
            t = t.expand(len(x))
        if t.shape != (len(x),):
            raise ValueError(f"NoisyDigitClassifier: t must be a number or have shape ({len(x)},), "
                             f"got {tuple(t.shape)}")
        if not ((t >= 0) & (t <= 1)).all():
            raise ValueError(f"NoisyDigitClassifier: t must be in [0, 1] (the schedule's clock), got "
                             f"{t.min().item():g} .. {t.max().item():g}")
        return t

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        size = self.config["size"]
        if not x.is_floating_point() or x.ndim != 4 or tuple(x.shape[1:]) != (1, size, size):
            raise ValueError(f"NoisyDigitClassifier: expected float images x_t of shape (B, 1, {size}, {size}), "
                             f"got {tuple(x.shape)} {x.dtype}")
        emb = self.time(self._times(x, t))  # (B, time_dim)
        h = x
        for (conv1, conv2), shift in zip(self.convs, self.times):
            h = F.silu(conv1(h) + shift(emb)[:, :, None, None])  # (B, width, side, side)
            h = F.max_pool2d(F.silu(conv2(h)), 2)  # halve the side
        feats = self.embed(torch.cat([h.flatten(1), emb], dim=1))  # (B, feat_dim)
        return self.head(feats)  # (B, num_classes) logits
