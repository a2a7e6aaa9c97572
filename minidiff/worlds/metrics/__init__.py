"""How close are samples to the truth? Two-sample distances with their noise floor, and
classifier-based measures for images. Every quality number in the course comes from here."""

# Each family of metrics lives in a submodule and is re-exported here.
from .classifier import (class_histogram, classifier_accuracy, classifier_features, frechet_distance,
                         frechet_floor, gaussian_frechet, histogram_entropy, load_classifier, predict)
from .distances import energy_distance, mmd, sliced_wasserstein
from .floor import FloorUnits, in_floor_units, noise_floor
from .curves import crossing
from .coverage import Coverage, mode_coverage
from .memorisation import copy_share, nearest, nearest_ratio, pair_similarity
from .digits import digit_quality, digit_quality_over_sets
from .proportions import share_interval, share_text
from .guidance import accuracy_over_t, empirical_log_posterior, gradient_agreement, guidance_scores

__all__ = ["class_histogram", "classifier_accuracy", "classifier_features", "frechet_distance",
           "frechet_floor", "gaussian_frechet", "histogram_entropy", "load_classifier", "predict",
           "energy_distance", "mmd", "sliced_wasserstein",
           "FloorUnits", "in_floor_units", "noise_floor", "digit_quality", "digit_quality_over_sets", "crossing",
           "accuracy_over_t", "empirical_log_posterior", "gradient_agreement", "guidance_scores",
           "share_interval", "share_text", "Coverage", "mode_coverage", "copy_share", "nearest", "nearest_ratio", "pair_similarity"]
