"""Checkpoints: what a file holds, how it is read, and how every file is written without loss.

    checkpoints.save(path, model, steps=1000)     # class name, config, weights (and a Denoiser's spec)
    checkpoints.load(path, MLP)                   # rebuilt from the stored config
    checkpoints.info(path)["meta"]                # what the file says about itself

Every file the package and its scripts write goes through `atomic_file`: the bytes go to a temporary
file in the same folder, are flushed to the disk, and only then take the old file's name
(`os.replace`, atomic on one file system). An interrupt (Ctrl-C, a killed process, a full disk) at any
moment leaves the old file whole; a SIGKILL at worst leaves a hidden `.NAME.*.tmp` beside it.
Training scripts write into runs/ (git-ignored) unless told to replace a shipped file in data/
(`output_path`).
"""

import contextlib
import os
import secrets
from pathlib import Path
from typing import IO, Iterator

import torch
from torch import nn

from ..runtime import DATA_DIR
from .params import Denoiser

FORMAT = "minidiff-checkpoint-1"
SNAPSHOTS_FORMAT = "minidiff-snapshots-1"
RUNS_DIR = DATA_DIR.parent / "runs"  # where training scripts write unless told otherwise (git-ignored)


# --- writing without loss ----------------------------------------------------------------------

@contextlib.contextmanager
def atomic_file(path) -> Iterator[IO[bytes]]:
    """A binary file to write `path` through: it replaces `path` only when the block ends without an
    error, after the bytes are on the disk; on any error or interrupt the old file stays as it was."""
    path = Path(path)
    if not path.parent.is_dir():  # else the error would name the hidden temporary file
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist; make it first, "
                                f"e.g. Path({str(path.parent)!r}).mkdir(parents=True)")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")  # same folder: os.replace is atomic
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 less the umask, as open() gives
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the new bytes reach the disk before they take the name
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: drop the half-written file, keep the old one
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); where folders cannot be opened (Windows) skip it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` atomically (see atomic_file)."""
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` atomically (see atomic_file)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_save(obj, path) -> None:
    """torch.save(obj, path), atomically: an interrupted save leaves the old file whole."""
    with atomic_file(path) as f:
        torch.save(obj, f)


# --- minidiff checkpoints ----------------------------------------------------------------------

def save(path, model: nn.Module, **meta) -> None:
    """Write the model's class name, config and weights (and `meta`: numbers, strings, lists), atomically.

    For a params.Denoiser, the network is saved with the denoiser's spec (schedule config, target,
    clip, sample shape), so that pretrained.load_denoiser rebuilds the whole Denoiser."""
    spec = None
    if isinstance(model, Denoiser):
        model, spec = model.net, model.config
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise ValueError(f"save: {type(model).__name__} has no `config` dict (its constructor's "
                         "arguments); give it one so that load can check and rebuild the model")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save({"format": FORMAT, "class": type(model).__qualname__, "config": config,
                 "state_dict": state, "denoiser": spec, "meta": meta}, path)


def info(path) -> dict:
    """A checkpoint's class name, config, denoiser spec (None for a plain network) and meta, without
    building the model."""
    checkpoint = read(path)
    return {"class": checkpoint["class"], "config": checkpoint["config"],
            "denoiser": checkpoint.get("denoiser"), "meta": checkpoint["meta"]}


def trained_on(meta: dict) -> str:
    """Where a checkpoint was trained, from its meta (see info): '1 CPU thread', '2 CPU threads', or the
    device the training script recorded, e.g. 'cuda (NVIDIA H200)' (runtime.device_name)."""
    device = meta.get("device", "cpu")  # files made before the scripts took --device trained on the CPU
    if device != "cpu":
        return device
    threads = meta.get("threads")
    return "the CPU" if threads is None else f"{threads} CPU thread{'' if threads == 1 else 's'}"


def load(path, model):
    """Load weights into `model` (an instance: class and config must match the checkpoint's; for a
    Denoiser, its network), or build one first when `model` is a class, from the stored config.
    Returns the model. (pretrained.load_denoiser rebuilds a saved Denoiser whole.)"""
    if isinstance(model, Denoiser):
        load(path, model.net)
        return model
    checkpoint = read(path)
    name, config = checkpoint["class"], checkpoint["config"]
    if isinstance(model, type):
        if model.__qualname__ != name:
            raise ValueError(f"load: {path} holds a {name}, not a {model.__qualname__}")
        model = model(**config)
    elif type(model).__qualname__ != name:
        raise ValueError(f"load: {path} holds a {name} with config {config}, but the model given is "
                         f"a {type(model).__qualname__}; build a {name} (or pass the class to load)")
    elif getattr(model, "config", None) != config:
        ours = getattr(model, "config", None) or {}
        diff = ", ".join(f"{k}: {config.get(k)} in the checkpoint, {ours.get(k)} in the model"
                         for k in sorted(set(config) | set(ours)) if config.get(k) != ours.get(k))
        raise ValueError(f"load: {path} holds a {name} with another config ({diff}); build the "
                         f"model with the checkpoint's config, e.g. load(path, {name})")
    model.load_state_dict(checkpoint["state_dict"])
    return model


def read(path, kind: str = FORMAT) -> dict:
    """The dict stored in a minidiff file of the given format (a checkpoint, or SNAPSHOTS_FORMAT for
    a bundle of snapshots); anything else, an empty or cut-short file included, is refused by name."""
    writer = "minidiff.train.save(path, model)" if kind == FORMAT else "scripts/train_text2image.py"
    not_ours = (f"load: {path} is not a minidiff {'checkpoint' if kind == FORMAT else 'snapshot bundle'} "
                f"(write one with {writer})")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # plain data only, no code
    except OSError:
        raise  # a missing or unreadable file: torch's own message names it
    except Exception as e:  # noqa: BLE001 - a text file, a pickle of objects, a truncated file raise many kinds
        # (a text file starting 'h' gives KeyError: 104; an empty one an EOFError with no words at all):
        # say what the file is not, not how unpickling failed
        said = (str(e).strip().splitlines() or [""])[0][:200]
        size = Path(path).stat().st_size
        raise ValueError(f"{not_ours}; it is {'empty (0 bytes)' if size == 0 else f'{size:,} bytes'} and "
                         f"torch.load said: {type(e).__name__}{': ' + said if said else ''}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != kind:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        holds = (f"a minidiff file of another kind ({found!r})" if isinstance(found, str)
                 else f"a {type(checkpoint).__name__}")
        raise ValueError(f"{not_ours}; it holds {holds}")
    return checkpoint


# --- where training scripts write ---------------------------------------------------------------

def output_path(shipped, out=None, force: bool = False, runs=None) -> Path:
    """Where a script writes the model whose shipped file is `shipped` (a path in data/): `out` when
    given, the shipped file itself with force, else the same name under runs/ (never data/ unasked)."""
    if out is not None:
        return Path(out)
    shipped = Path(shipped)
    if force:
        return shipped
    try:
        inside = shipped.resolve().relative_to(DATA_DIR.resolve())
    except ValueError:
        inside = Path(shipped.name)
    return Path(runs if runs is not None else RUNS_DIR) / inside


def reads_output(parser, args, shipped, flags: tuple = ("evaluate", "resume")) -> Path:
    """A script's output path (output_path of args.out, args.force), refused through the parser when
    one of `flags` is set (they read the file and write it back) and there is no such file."""
    out = output_path(shipped, args.out, args.force)
    used = [f for f in flags if getattr(args, f, False)]
    if used and not out.exists():
        parser.error(f"--{used[0]} reads {out} and writes it back, but there is no such file; train it first, "
                     f"or pass --force to use the shipped {shipped}")
    return out


def is_shipped(path) -> bool:
    """True when `path` is inside data/, the folder of the files that ship with the course."""
    return Path(path).resolve().is_relative_to(DATA_DIR.resolve())
