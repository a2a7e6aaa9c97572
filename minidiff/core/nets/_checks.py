"""What the measuring instruments accept, checked once per call: images in the course's pixel range
[-1, 1] (digits from data.load_digits, scenes from scenes.render), latents, and point clouds (N, D).
The readers, the autoencoder and every metric use these, so a mistake gets the same words everywhere."""

import math

import torch

SOURCES = {"digits": "load_digits", "scenes": "scenes.render"}  # where each kind's [-1, 1] pixels come from


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def finite(x: torch.Tensor, where: str, name: str = "x") -> None:
    """Refuse NaN and inf, saying how many rows hold them (a diverged sampler is the usual cause)."""
    if x.numel() and not bool(x.isfinite().all()):
        bad = int((~x.reshape(len(x), -1).isfinite()).any(1).sum()) if x.ndim else 1
        raise ValueError(f"{where}: NaN or inf in {bad} of {len(x) if x.ndim else 1} rows of {name} (a sampler "
                         f"that diverged gives these); find where it blows up, or keep the finite rows: "
                         f"{name}[{name}.flatten(1).isfinite().all(1)]")


def points(x, where: str, name: str = "x", dim: int | None = None, at_least: int = 1) -> torch.Tensor:
    """Refuse what is not a finite point cloud (N, D) with N >= at_least (and D = dim when given);
    integer points come back as floats of the default dtype."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        d = "D" if dim is None else dim
        hint = "; flatten images first: x.flatten(1)" if isinstance(x, torch.Tensor) and x.ndim > 2 else ""
        raise ValueError(f"{where}: {name} must be points of shape (N, {d}), got {_shape(x)}{hint}")
    if len(x) < at_least:
        raise ValueError(f"{where}: {name} needs at least {at_least} points, got {len(x)}")
    finite(x, where, name)
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def images(x, where: str, kind: str, shape: tuple | None = None) -> None:
    """Refuse what is not a batch (N, *shape) of float pixels in [-1, 1], the range `kind` come in: integer
    pixels, NaN, images in [0, 1] (they would be read as dark, washed-out ones, with no error) and wider ranges."""
    source = SOURCES[kind]
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{where}: {kind} must be a tensor (N, C, H, W), got {type(x).__name__}")
    if shape is not None and (x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape)):
        raise ValueError(f"{where}: {kind} must have shape (N, {', '.join(map(str, shape))}), got {_shape(x)}")
    if not x.is_floating_point():
        raise ValueError(f"{where}: images must be floats in [-1, 1] (as {source} gives them), got {x.dtype}; "
                         "pixels 0..255 become x.float() / 127.5 - 1")
    if x.numel() == 0:
        return
    lo, hi = torch.stack(torch.aminmax(x.detach())).tolist()  # one transfer from the device
    if not (math.isfinite(lo) and math.isfinite(hi)):  # aminmax passes NaN and inf on
        finite(x, where, kind)
    # Every image of these worlds has dark pixels (a digit's background, a thing's outline), so a batch
    # with none below 0 is a [0, 1] batch; all zeros is left alone (a placeholder, not a range).
    if lo >= 0 and 0 < hi <= 1:
        raise ValueError(f"{where}: these {kind} look like [0, 1] (values from {lo:.3g} to {hi:.3g}); {kind} are in "
                         f"[-1, 1] (as {source} gives them): pass x * 2 - 1")
    # A little slack: unclipped samples stray just past the data's range.
    if lo < -1.5 or hi > 1.5:
        raise ValueError(f"{where}: images must be in [-1, 1] (as {source} gives them), got values from "
                         f"{lo:.3g} to {hi:.3g}; pixels 0..255 become x / 127.5 - 1, pixels in [0, 1] "
                         f"become 2 x - 1, and samples can be clipped: x.clamp(-1, 1)")


def latents(z, where: str, shape: tuple) -> None:
    """Refuse what is not a batch (N, *shape) of finite float latents (they have no fixed range)."""
    if not isinstance(z, torch.Tensor) or z.ndim != len(shape) + 1 or tuple(z.shape[1:]) != tuple(shape):
        raise ValueError(f"{where}: latents must have shape (B, {', '.join(map(str, shape))}), got {_shape(z)}")
    if not z.is_floating_point():
        raise ValueError(f"{where}: latents must be floats, got {z.dtype}")
    finite(z, where, "latents")
