"""Every picture of the course; the only place (with `widgets`, above it) that imports matplotlib.

Functions return a `matplotlib.figure.Figure` made without pyplot, so nothing is shown twice and
figures drawn for sliders do not pile up. A Figure as the last line of a cell shows inline.
"""

from ._core import CourseFigure, figure, to_png

__all__ = ["CourseFigure", "figure", "to_png"]
# Each topic's pictures live in a submodule and are re-exported here.
from .points import (cell_mass_figure, cloud_with_images, cursor_figure, density_contours, density_grid,
                     draw_pixels, grey_level_figure, surface_and_contours)

__all__ += ["cell_mass_figure", "cloud_with_images", "cursor_figure", "density_contours", "density_grid",
            "draw_pixels", "grey_level_figure", "surface_and_contours"]
from .ink import ink_snapshots, moment_decay, particles_and_density, steps_and_distance

__all__ += ["ink_snapshots", "moment_decay", "particles_and_density", "steps_and_distance"]
from .schedules import compare_histograms, digits_over_time, recognisable_figure, schedule_curves, schedule_figure

__all__ += ["compare_histograms", "digits_over_time", "recognisable_figure", "schedule_curves",
            "schedule_figure"]
from .samplers import error_vs_nfe, likelihood_vs_truth, paths_over_time, quality_vs_nfe, sample_panels

__all__ += ["error_vs_nfe", "likelihood_vs_truth", "paths_over_time", "quality_vs_nfe", "sample_panels"]
from .scores import samples_vs_truth, score_field, score_fields, slopes_1d, trajectories

__all__ += ["samples_vs_truth", "score_field", "score_fields", "slopes_1d", "trajectories"]
from .training import samples_over_truth, score_error_figure, score_error_maps

__all__ += ["samples_over_truth", "score_error_figure", "score_error_maps"]
from .ddpm import (chain_figure, class_histogram_figure, ddpm_samples_figure, ddpm_step_figure,
                   denoising_trajectory, draw_batch, loss_curve_figure, reverse_kernel_figure)

__all__ += ["chain_figure", "class_histogram_figure", "ddpm_samples_figure", "ddpm_step_figure",
            "denoising_trajectory", "draw_batch", "loss_curve_figure", "reverse_kernel_figure"]
from .guidance import (class_clouds, digit_rows, distance_vs_w, guided_digits, over_t, powered_panels,
                       powered_rows, tradeoff)

__all__ += ["class_clouds", "digit_rows", "distance_vs_w", "guided_digits", "over_t", "powered_panels",
            "powered_rows", "tradeoff"]
from .text import adherence_curve, attention_maps, image_grid

__all__ += ["adherence_curve", "attention_maps", "image_grid"]
from .latent import latent_grid, pipeline_diagram, similarity_matrix, stages

__all__ += ["latent_grid", "pipeline_diagram", "similarity_matrix", "stages"]
from .beyond import coverage_panels, coverage_runs, copy_curve, digit_shares, halves_figure, points_and_samples

__all__ += ["coverage_panels", "coverage_runs", "copy_curve", "digit_shares", "halves_figure", "points_and_samples"]
