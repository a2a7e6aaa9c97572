"""Numbers read off a measured curve (lesson 03: the log-SNR where digits stop being recognisable)."""

import torch


def crossing(xs: torch.Tensor, ys: torch.Tensor, level: float) -> float:
    """Where a rising curve ys(xs) first reaches `level`, by linear interpolation."""
    xs, ys = torch.as_tensor(xs, dtype=torch.float64), torch.as_tensor(ys, dtype=torch.float64)
    if xs.ndim != 1 or xs.shape != ys.shape or len(xs) < 2:
        raise ValueError(f"crossing: xs and ys must be 1-D of one length >= 2, got {tuple(xs.shape)} and {tuple(ys.shape)}")
    if not bool(xs.isfinite().all() and ys.isfinite().all()):
        raise ValueError("crossing: xs or ys hold NaN or inf; measure the curve again where it is not finite")
    above = (ys >= level).nonzero()
    if len(above) == 0 or above[0] == 0:
        raise ValueError(f"crossing: the curve does not cross {level} inside the range given "
                         f"(it runs from {ys[0].item():.3g} to {ys.max().item():.3g})")
    i = above[0].item()
    return (xs[i - 1] + (level - ys[i - 1]) * (xs[i] - xs[i - 1]) / (ys[i] - ys[i - 1])).item()
