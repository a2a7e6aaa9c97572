"""An MLP for 2-D points conditioned on time, and a noise-conditional score network built on it.

`MLP(x, t)` is the plain network of every 2-D lesson: t is a (B,) tensor of times in [0, 1].
`ScoreMLP(x, sigma)` is the noise-conditional score network of Song & Ermon (2019): it maps the
noise level sigma to a time t (its place on the geometric ladder from sigma_min to sigma_max, the
variance-exploding schedule's time) and divides the MLP's output by sigma (Song & Ermon 2020,
technique 3), so the MLP always predicts a quantity of size about 1: minus the noise.
"""

import torch
from torch import nn

from ..params import eps_to_score
from ..schedules import VE
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


class ScoreMLP(nn.Module):
    """A noise-conditional score network s(x, sigma) ~ grad log p_sigma(x) (Song & Ermon 2019).

    sigma may be a number or a (B,) tensor. The MLP sees t, the time at which the VE schedule from
    sigma_min to sigma_max reaches sigma (t = log(sigma / sigma_min) / log(sigma_max / sigma_min),
    clamped to [0, 1]), and predicts the noise eps; score = -eps / sigma (alpha = 1).
    max_freq is low (4) because such a network is trained on a ladder of 10-20 levels: with
    faster frequencies it answers well on the ladder and badly between its rungs (measured).
    """

    def __init__(self, sigma_min: float, sigma_max: float, dim: int = 2, hidden: int = 128,
                 depth: int = 3, time_dim: int = 32, max_freq: float = 4.0):
        super().__init__()
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"ScoreMLP: need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.net = MLP(dim, hidden, depth, time_dim, max_freq)
        self.schedule = VE(sigma_min, sigma_max)
        self.config = dict(sigma_min=float(sigma_min), sigma_max=float(sigma_max), **self.net.config)

    def t_of_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        """Where sigma sits on the geometric ladder: 0 at sigma_min, 1 at sigma_max."""
        return self.schedule.t_from_log_snr(-2 * sigma.log())  # VE: log-SNR = -2 log sigma

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = _batch(sigma, x, "sigma")  # (B,)
        if not (sigma > 0).all():
            raise ValueError("ScoreMLP: sigma must be > 0 (the score of clean data is not defined)")
        eps = self.net(x, self.t_of_sigma(sigma))  # (B, D), the predicted noise
        return eps_to_score(eps, x, 1.0, sigma)  # -eps / sigma


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
