"""Sinusoidal time embedding (Vaswani et al. 2017, section 3.5; used for t by Ho et al. 2020)."""

import math

import torch
from torch import nn


class TimeEmbedding(nn.Module):
    """t of shape (B,) -> (B, dim): sines and cosines of t at geometric frequencies 1 .. max_freq.

    max_freq matters: frequencies far above what the schedule resolves (up to 1000, say) make the
    network's output jumpy in t, and its samples worse; 30 is the course's default (lesson 07, section 6).
    """

    def __init__(self, dim: int = 32, max_freq: float = 30.0):
        super().__init__()
        if dim % 2 or dim < 2:
            raise ValueError(f"TimeEmbedding: dim must be even and >= 2, got {dim}")
        freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)  # (dim/2,)
        self.dim, self.max_freq = dim, max_freq

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if t.ndim != 1:
            raise ValueError(f"TimeEmbedding: t must have shape (B,), got {tuple(t.shape)}")
        angles = t.to(self.freqs)[:, None] * self.freqs * (2 * math.pi)  # (B, dim/2)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (B, dim)
