"""Is a sample new, or a copy of a training image? Nearest-neighbour measures.

    r = metrics.nearest_ratio(samples, train)      # (N,) distance to nearest / to second nearest
    metrics.copy_share(samples, train)             # share with r < 1/3: Gu et al. 2023's "memorised"
    metrics.pair_similarity(a, b, centre=mean)     # (N,) cosine of two models' samples from the same noise

A sample sitting on a training point has a nearest distance far below the second nearest, whatever
the scale of the data; a new sample sits between training points, at comparable distances to
several. Gu et al. 2023 ("On memorization in diffusion models", section 3) count a sample as
memorised when the ratio is below 1/3. Kadkhodaie et al. 2024 ("Generalization in diffusion models
arises from geometry-adaptive harmonic representations") train two networks on disjoint halves of
the data and sample both from the same noise: while they copy, each returns an image of its own
half, so the two differ; once they generalise, they return nearly the same new image. They measure
it with the cosine similarity of the two samples.
"""

import torch

from ...core.nets import _checks


def _flat(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"memorisation: {name} must be a batch (N, ...) with N >= 1, got {shape}")
    if not x.is_floating_point():
        # uint8 pixels against [-1, 1] training images would be "far from everything": no copies, wrongly
        raise ValueError(f"memorisation: {name} must be floats on the training data's scale, got {x.dtype}; "
                         "pixels 0..255 become x.float() / 127.5 - 1")
    _checks.finite(x, "memorisation", name)
    return x.flatten(1).double()


def nearest(samples: torch.Tensor, train: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, indices), each (N, k): the k nearest training points of each sample (Euclidean)."""
    s, t = _flat(samples, "samples"), _flat(train, "train")
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"memorisation: samples have {s.shape[1]} numbers each and train {t.shape[1]}; "
                         "they must be the same kind of data")
    if len(t) < k:
        raise ValueError(f"memorisation: need at least {k} training points, got {len(t)}")
    d = torch.cdist(s, t)  # (N, M)
    return d.topk(k, dim=1, largest=False)


def nearest_ratio(samples: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """(N,): distance to the nearest training point over distance to the second nearest, in [0, 1]."""
    d, _ = nearest(samples, train, 2)
    return (d[:, 0] / d[:, 1].clamp_min(1e-12)).float()


def copy_share(samples: torch.Tensor, train: torch.Tensor, ratio: float = 1 / 3) -> float:
    """The share of samples whose nearest_ratio is below `ratio` (1/3: Gu et al. 2023's threshold)."""
    if not 0 < ratio <= 1:
        raise ValueError(f"copy_share: ratio must be in (0, 1], got {ratio}")
    return (nearest_ratio(samples, train) < ratio).float().mean().item()


def pair_similarity(a: torch.Tensor, b: torch.Tensor, centre=None) -> torch.Tensor:
    """(N,): the cosine similarity of a[i] and b[i], after subtracting `centre` from both: a number, or one
    image (the data's mean image is the useful choice: raw digits share so much background and central ink
    that two different digits have a cosine near 0.7, while mean-centred ones are near 0 and the same image
    near 1)."""
    fa, fb = _flat(a, "a"), _flat(b, "b")
    if fa.shape != fb.shape:
        raise ValueError(f"pair_similarity: a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if centre is not None:
        centre = torch.as_tensor(centre, dtype=fa.dtype, device=fa.device)
        centre = centre.flatten() if centre.numel() == fa.shape[1] else centre
        fa, fb = fa - centre, fb - centre
    return torch.nn.functional.cosine_similarity(fa, fb, dim=1, eps=1e-12).float()
