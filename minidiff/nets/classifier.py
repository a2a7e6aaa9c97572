"""A small CNN digit classifier (LeCun et al. 1998, in spirit): the judge of generated digits.

Its penultimate layer, `features(x)`, plays the part that Inception-v3's pool layer plays in the
Frechet Inception Distance (Heusel et al. 2017): a summary of an image in which distances mean
something about digits, not about pixels.
"""

import torch
from torch import nn


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
