"""Sliders and explorers: the one place that imports ipywidgets, a layer above `plot`.

Each explorer computes what its label reports (with `metrics`, `samplers`, ...) and asks `plot` for
the picture; `plot` never imports this package. Usage in a lesson: `widgets.cursor_explorer(gm)`.
"""

from ._controls import FigureControls, int_slider, log_slider, slider

__all__ = ["FigureControls", "int_slider", "log_slider", "slider"]
# Each lesson's explorers live in a submodule and are re-exported here.
from .pixels import cursor_explorer, grey_level_explorer
from .ink import ink_slider
from .schedules import schedule_explorer
from .scores import langevin_explorer, langevin_snapshot, noise_level_explorer, score_error_explorer
from .sampling import ddpm_step_explorer, steps_explorer

__all__ += ["cursor_explorer", "grey_level_explorer", "ink_slider", "schedule_explorer", "langevin_explorer",
            "langevin_snapshot", "noise_level_explorer", "score_error_explorer", "ddpm_step_explorer",
            "steps_explorer"]
from .guidance import cfg_explorer, powered_explorer

__all__ += ["cfg_explorer", "powered_explorer"]
from .text2image import prompt_explorer

__all__ += ["prompt_explorer"]
from .beyond import gan_training_explorer

__all__ += ["gan_training_explorer"]
