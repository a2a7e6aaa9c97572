"""Real digit images shipped in data/ (see data/README.md for source and licence): the 8x8 digits of
UCI optdigits (1797 images) and a 5,000-image MNIST subset (28x28, 500 per class).

Nothing is downloaded: the arrays are read from the repository. Images come as float tensors in
[-1, 1] (the range a diffusion model works in), shape (N, 1, H, W), with integer labels 0..9.
"""

from functools import lru_cache

import numpy as np
import torch

from ..runtime import DATA_DIR  # noqa: F401 - data.DATA_DIR, as before
FILES = {8: "digits8.npz", 28: "mnist5k.npz"}
SPLITS = ("train", "test", "all")


@lru_cache(maxsize=None)
def _read(size: int) -> dict:
    path = DATA_DIR / FILES[size]
    if not path.exists():
        raise FileNotFoundError(f"load_digits: {path} is missing; it ships with the course "
                                f"(remake it with `python scripts/make_data.py`)")
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


def load_digits(size: int = 8, split: str = "all", device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, labels): x (N, 1, size, size) float32 in [-1, 1], labels (N,) int64.

    size 8: the UCI optdigits 8x8 images (1797: train 1438, test 359); size 28: the MNIST subset
    (5000: train 4000, test 1000). The split is fixed in the data file (20% of each class is test).
    Images come in the file's order, and the 28x28 set is sorted by digit: take random subsets
    (`x[torch.randperm(len(x), generator=g)[:n]]`), never the first n.
    """
    if size not in FILES:
        raise ValueError(f"load_digits: size must be 8 (optdigits) or 28 (MNIST subset), got {size!r}")
    if split not in SPLITS:
        raise ValueError(f"load_digits: split must be one of {SPLITS}, got {split!r}")
    arrays = _read(size)
    keep = np.ones(len(arrays["labels"]), dtype=bool) if split == "all" else arrays["test"] == (split == "test")
    pixels = torch.from_numpy(arrays["images"][keep]).float()  # (N, H, W), 0 .. max_value
    x = pixels / float(arrays["max_value"]) * 2 - 1  # [0, max] -> [-1, 1]
    labels = torch.from_numpy(arrays["labels"][keep].astype(np.int64))
    return x[:, None].to(device), labels.to(device)  # (N, 1, H, W), (N,)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] back to [0, 1] for display (values outside are clipped)."""
    return ((x + 1) / 2).clamp(0, 1)


def first_per_class(labels: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Indices of the first k images of each class 0..9, in class order: shape (10 k,)."""
    picks = []
    for c in range(10):
        idx = (labels == c).nonzero().flatten()[:k]
        if len(idx) < k:
            raise ValueError(f"first_per_class: class {c} has only {len(idx)} images, asked for {k}")
        picks.append(idx)
    return torch.cat(picks)
