"""Fast mode, device choice and seeding: the three things every lesson asks first; and where the
shipped files are."""

import argparse
import os
import random
from pathlib import Path

import numpy as np
import torch

FAST_ENV = "MINIDIFF_FAST"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the shipped data and checkpoints (data/README.md)
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


THREADS_ENV = "MINIDIFF_THREADS"


def threads_setting() -> int | None:
    """The CPU thread count MINIDIFF_THREADS asks for: a number, or "all" (None: torch's own default,
    one per core). Unset, it is 1, unless OMP_NUM_THREADS is set, which torch then obeys (None).
    One thread is the default because it is never the slow choice here: on a busy 2-core machine two
    threads per process spin against each other (benchmarks/threads.py has the measurements)."""
    value = os.environ.get(THREADS_ENV, "").strip().lower()
    if value == "":
        return None if os.environ.get("OMP_NUM_THREADS") else 1
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_ENV} must be a whole number of threads (1, 2, ...) or 'all', got {value!r}")
    return int(value)


def apply_threads() -> int:
    """Set torch's CPU thread count from MINIDIFF_THREADS (done once when minidiff is imported)."""
    threads = threads_setting()
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def default_device() -> torch.device:
    """The best device present: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def devices_present() -> list[str]:
    """The devices torch can use here, by name: ['cpu'], ['cpu', 'cuda', 'cuda:1'], ['cpu', 'mps']."""
    found = ["cpu"]
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        found += ["cuda"] + [f"cuda:{k}" for k in range(1, n)]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def pick_device(name=None) -> torch.device:
    """The device `name` ('cpu', 'cuda', 'cuda:1', 'mps'; None: default_device()), refused with the list
    of devices present when it is not one of them (the scripts' --device)."""
    if name is None:
        return default_device()
    present = devices_present()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):  # 'gpu', 'cuda0', 3.5, ...
        device = None
    if device is not None and device.index is not None:  # 'cuda:3' on a machine with one card
        device = device if f"{device.type}:{device.index}" in present or device.index == 0 else None
    if device is None or device.type not in {p.split(":")[0] for p in present}:
        raise ValueError(f"device {name!r} is not available here; the devices present are {', '.join(present)}. "
                         f"Use --device cpu (or device='cpu'), or leave it out to take the best one present")
    return device


def device_arg(name: str) -> torch.device:
    """pick_device as an argparse type (`add_argument("--device", type=device_arg)`): its message is
    printed as the script's usage error, not a traceback."""
    try:
        return pick_device(name)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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


def check_generator(generator, where: str) -> torch.Generator | None:
    """generator as given when it is None or a torch.Generator; anything else (a seed, a NumPy
    generator) refused with a message that says how to make one. Called once per public call."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    is_seed = isinstance(generator, int) and not isinstance(generator, bool) and generator >= 0
    seed = generator if is_seed else 0
    got = f"the int {generator}" if is_seed else f"{type(generator).__name__} {repr(generator)[:60]}"
    raise TypeError(f"{where}: generator must be a torch.Generator (or None), got {got}; pass "
                    f"generator=torch.Generator().manual_seed({seed}), or generator=minidiff.seed_all({seed}), "
                    "which also seeds Python, NumPy and torch")


def randn_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise shaped like x, in x's dtype and on x's device. Drawn on the generator's
    device and then moved, so one seed gives the same numbers whatever device x is on."""
    if generator is None:
        return torch.randn_like(x)
    z = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return z.to(x.device)
