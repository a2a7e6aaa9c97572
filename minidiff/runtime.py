"""Fast mode, device choice and seeding: the three things every lesson asks first."""

import os
import random

import numpy as np
import torch

FAST_ENV = "MINIDIFF_FAST"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def fast_mode() -> bool:
    """True when MINIDIFF_FAST is set to 1/true/yes/on: tests run lessons with small sizes."""
    value = os.environ.get(FAST_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{FAST_ENV} must be 1 or 0 (or true/false), got {value!r}")


def by_mode(full, fast):
    """Return `fast` in fast mode and `full` otherwise: `steps = by_mode(full=4000, fast=100)`."""
    return fast if fast_mode() else full


def default_device() -> torch.device:
    """The best device present: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device) -> str:
    """What a checkpoint records about where it was trained: 'cpu', 'mps', or 'cuda (NVIDIA H200)'."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def seed_all(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a CPU torch.Generator seeded the same way."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed_all: seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise shaped like x, in x's dtype and on x's device. Drawn on the generator's
    device and then moved, so one seed gives the same numbers whatever device x is on."""
    if generator is None:
        return torch.randn_like(x)
    z = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return z.to(x.device)
