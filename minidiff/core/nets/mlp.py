"""An MLP for 2-D points conditioned on time: `MLP(x, t)`, t a (B,) tensor of times in [0, 1].

It is the network of every 2-D lesson. Wrapped in a params.Denoiser it becomes any model the
course uses: on a VP schedule a DDPM noise predictor (lesson 07), on a VE schedule the noise-
conditional score network of Song & Ermon 2019 (lesson 06), whose score -eps / sigma(t) is the
Denoiser's conversion, so the MLP itself always predicts a quantity of size about 1 (Song & Ermon
2020, technique 3). For a ladder of 10-20 levels pass max_freq=4: with faster frequencies it
answers well on the ladder and badly between its rungs (measured in lesson 06's setting).
"""

import torch
from torch import nn

from .embed import TimeEmbedding


class MLP(nn.Module):
    """x (B, dim) and t (B,) -> (B, dim); the time embedding enters every hidden layer.

    `config` holds the constructor's arguments, so a checkpoint can check and rebuild the model.
    """

    def __init__(self, dim: int = 2, hidden: int = 256, depth: int = 3, time_dim: int = 32,
                 max_freq: float = 30.0):
        super().__init__()
        if dim < 1 or hidden < 1 or depth < 1:
            raise ValueError(f"MLP: dim, hidden and depth must be >= 1, got {dim}, {hidden}, {depth}")
        self.config = dict(dim=dim, hidden=hidden, depth=depth, time_dim=time_dim,
                           max_freq=float(max_freq))
        self.embed = TimeEmbedding(time_dim, max_freq)
        # Each hidden layer sees [h, embed(t)]: conditioning on t at every depth, not only at the
        # input, lets one network behave very differently at different noise levels.
        widths = [dim] + [hidden] * depth
        self.layers = nn.ModuleList(nn.Linear(w + time_dim, hidden) for w in widths[:-1])
        self.out = nn.Linear(hidden, dim)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dim = self.config["dim"]
        if x.ndim != 2 or x.shape[1] != dim:
            raise ValueError(f"MLP: x must have shape (B, {dim}), got {tuple(x.shape)}")
        t = _batch(t, x, "t")
        e = self.embed(t)  # (B, time_dim)
        h = x
        for layer in self.layers:
            h = self.act(layer(torch.cat([h, e], dim=1)))  # (B, hidden)
        return self.out(h)  # (B, dim)


def _batch(value, x: torch.Tensor, name: str) -> torch.Tensor:
    """A number, 0-d or (B,) tensor -> a (B,) tensor on x's device and dtype."""
    if isinstance(value, torch.Tensor):
        value = value.to(x)
    else:  # straight to x's dtype: 0.9 through float32 is not 0.9 in float64
        value = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if value.ndim == 0:
        return value.expand(x.shape[0])
    if value.shape != (x.shape[0],):
        raise ValueError(f"{name} must be a number or have shape ({x.shape[0]},), got {tuple(value.shape)}")
    return value
