"""minidiff: a small, tested diffusion library that every lesson of the course imports.

Submodules load on first use (`minidiff.toy`, `minidiff.plot`, ...), so `import minidiff`
stays quick and pulls in neither matplotlib nor ipywidgets.

Layers, bottom to top; a module imports only from its own layer or below (tests/test_layers.py):
runtime; schedules, params, toy, data, scenes; forward, losses, nets, exact, text; samplers, sde, ink,
likelihood, guidance, train, metrics, gan; pretrained, nfe, text2image, latent, beyond; plot (figures from tensors it is given); widgets (sliders); check.
"""

import importlib

from .runtime import by_mode, default_device, fast_mode, seed_all
from .runtime import apply_threads as _apply_threads

_apply_threads()  # one CPU thread unless MINIDIFF_THREADS (or OMP_NUM_THREADS) says otherwise

__version__ = "0.1.0"
__all__ = ["by_mode", "default_device", "fast_mode", "seed_all"]


def __getattr__(name: str):
    # PEP 562: `minidiff.toy` imports minidiff/toy.py the first time it is asked for.
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        module = importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a real missing dependency inside the submodule
        raise AttributeError(f"module 'minidiff' has no attribute or submodule {name!r}") from None
    globals()[name] = module
    return module
