"""minidiff: a small, tested diffusion library that every lesson of the course imports.

Three folders, each importing only from those before it (tests/test_layers.py):

    runtime.py   fast mode, device, seeding, where data/ is
    core/        diffusion for any data: schedules, params, forward, losses, sde, sampling, samplers,
                 guidance, likelihood, inverse, train, checkpoints, text, nets
    worlds/      the lessons' data and models: toy, exact, ink, data, captions, scenes, reader, gan,
                 metrics, registry, pretrained, text2image, latent
    course/      what the lessons show and check: nfe, beyond, plot, widgets, check

Every module is also reachable by its short name, `minidiff.samplers` or `from minidiff import scenes`,
loaded on first use, so `import minidiff` stays quick and pulls in neither matplotlib nor ipywidgets.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from .runtime import DATA_DIR, by_mode, default_device, fast_mode, seed_all
from .runtime import apply_threads as _apply_threads

_apply_threads()  # one CPU thread unless MINIDIFF_THREADS (or OMP_NUM_THREADS) says otherwise

__version__ = "0.1.0"
__all__ = ["DATA_DIR", "by_mode", "default_device", "fast_mode", "seed_all"]

FOLDER = {**dict.fromkeys(["schedules", "params", "forward", "losses", "sde", "sampling", "samplers", "guidance",
                           "likelihood", "inverse", "train", "checkpoints", "text", "nets"], "core"),
          **dict.fromkeys(["toy", "exact", "ink", "data", "captions", "scenes", "reader", "gan", "metrics",
                           "registry", "pretrained", "text2image", "latent"], "worlds"),
          **dict.fromkeys(["nfe", "beyond", "plot", "widgets", "check"], "course")}


def __getattr__(name: str):
    # PEP 562: `minidiff.toy` imports minidiff/worlds/toy.py the first time it is asked for.
    if name not in FOLDER:
        raise AttributeError(f"module 'minidiff' has no attribute or submodule {name!r}")
    module = importlib.import_module(f"{__name__}.{FOLDER[name]}.{name}")
    globals()[name] = module
    return module


class _ShortNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import minidiff.samplers` and `from minidiff.nets.unet import UNet` (the paths before the folders,
    in a learner's own code) give the very module at its folder's path, never a second copy."""

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if len(parts) > 1 and parts[0] == __name__ and parts[1] in FOLDER:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        parts = spec.name.split(".")
        return importlib.import_module(".".join([parts[0], FOLDER[parts[1]], *parts[1:]]))

    def exec_module(self, module):
        pass  # already run at its own path


if not any(isinstance(f, _ShortNames) for f in sys.meta_path):
    sys.meta_path.insert(0, _ShortNames())
