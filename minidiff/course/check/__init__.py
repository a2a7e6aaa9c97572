"""Exercise checkers, one function per exercise: `check.<exercise>(your_function)`.

Each returns a `Feedback` that shows as one line in the notebook: correct, wrong (with what is
wrong), or not attempted yet. Checkers never raise, so a lesson always runs to the end: an error in
your function is reported with its line, and a call that runs past 20 s (an endless loop) is stopped
and reported with the line it was running (limits.py).
"""

from ._core import Feedback, Mistake, check_function

__all__ = ["Feedback", "Mistake", "check_function"]
# Each lesson's checkers live in a submodule named after its topic and are re-exported here.
from .pixels import gaussian_log_density, image_to_point, squared_norm, table_size_log10

__all__ += ["gaussian_log_density", "image_to_point", "squared_norm", "table_size_log10"]
from .ink import brownian_step, drop_spread, ou_reverse_step, ou_sample

__all__ += ["brownian_step", "drop_spread", "ou_reverse_step", "ou_sample"]
from .schedules import alpha_bar_from_betas, q_sample_by_hand, snr_crossing

__all__ += ["alpha_bar_from_betas", "q_sample_by_hand", "snr_crossing"]
from .samplers import ddim_step, dpm_solver_pp_step, heun_step, ode_drift

__all__ += ["ddim_step", "dpm_solver_pp_step", "heun_step", "ode_drift"]
from .scores import annealed_step_sizes, eps_to_score, gaussian_score, langevin_step, noised_gaussian_score

__all__ += ["annealed_step_sizes", "eps_to_score", "gaussian_score", "langevin_step",
            "noised_gaussian_score"]
from .score_matching import dsm_loss, dsm_target, tweedie_denoise

__all__ += ["dsm_loss", "dsm_target", "tweedie_denoise"]
from .ddpm import ancestral_step, eps_loss, eps_to_x0

__all__ += ["ancestral_step", "eps_loss", "eps_to_x0"]
# One exercise per lesson that asks for a prediction, a choice or a measurement instead of a formula.
from .choices import doubling_time, fewest_steps_to_noise, mass_left_darker, merge_level, same_numbers
from .measures import fewest_ddim_steps, fewest_ddpm_steps, langevin_step_size, worst_score_level

__all__ += ["doubling_time", "fewest_steps_to_noise", "mass_left_darker", "merge_level", "same_numbers",
            "fewest_ddim_steps", "fewest_ddpm_steps", "langevin_step_size", "worst_score_level"]
from .guidance import cfg_combination, closest_to_real_w, guided_eps, ho_salimans_to_scale

__all__ += ["cfg_combination", "closest_to_real_w", "guided_eps", "ho_salimans_to_scale"]
from .text import attention_sink, cross_attention, swap_prediction, swap_ratio, text_cfg, tokenise

__all__ += ["attention_sink", "cross_attention", "swap_prediction", "swap_ratio", "text_cfg", "tokenise"]
from .latent import (contrastive_loss, decode_latents, encode_latents, hardest_retrieval, scale_factor,
                     unscaled_prediction)

__all__ += ["contrastive_loss", "decode_latents", "encode_latents", "hardest_retrieval", "scale_factor",
            "unscaled_prediction"]
from .beyond import ideal_denoiser, mode_coverage

__all__ += ["ideal_denoiser", "mode_coverage"]
from .inverse import breaking_level, replacement_step, tweedie_estimate

__all__ += ["breaking_level", "replacement_step", "tweedie_estimate"]
