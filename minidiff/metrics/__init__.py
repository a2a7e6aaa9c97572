"""How close are samples to the truth? Two-sample distances with their noise floor, and
classifier-based measures for images. Every quality number in the course comes from here."""

# Each family of metrics lives in a submodule and is re-exported here.
from .classifier import (class_histogram, classifier_accuracy, classifier_features, frechet_distance,
                         frechet_floor, gaussian_frechet, histogram_entropy, load_classifier, predict)
from .distances import (distance_to_truth, energy_distance, in_floor_units, mmd, noise_floor,
                        sliced_wasserstein)

__all__ = ["class_histogram", "classifier_accuracy", "classifier_features", "frechet_distance",
           "frechet_floor", "gaussian_frechet", "histogram_entropy", "load_classifier", "predict",
           "distance_to_truth", "energy_distance", "in_floor_units", "mmd", "noise_floor",
           "sliced_wasserstein"]
from .chunked import chunked_floor_units

__all__ += ["chunked_floor_units"]
