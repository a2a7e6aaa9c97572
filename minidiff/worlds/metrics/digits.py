"""The verdict on generated digits: the shipped classifier's Frechet distance to held-out digits, in
units of its real-vs-real floor (Heusel et al. 2017), with the floor's spread, and the class entropy."""

import math
import statistics
import warnings

import torch

from ..data import load_digits
from .classifier import (check_images, class_histogram, classifier_features, frechet_distance,
                         histogram_entropy, load_classifier)


# The fewest samples whose verdict means anything. Measured over 5 draws each, at 8x8 and 28x28: from
# n = 8 on, blank images, one digit repeated and uniform noise always score outside the floor's spread;
# at n = 4 they land inside it in up to 4 of 5 draws, and at n = 2 in all 5, as real digits do.
MIN_SAMPLES = 8
TOO_FEW = (f"below {MIN_SAMPLES} even blank images or noise score within the floor's spread, as real digits "
           "do; draw more samples")


def check_not_blank(samples: torch.Tensor, who: str) -> None:
    """Refuse a batch in which every image is one flat value: there is no digit to judge."""
    flat = samples.flatten(1)
    if bool((flat.amax(1) == flat.amin(1)).all()):
        raise ValueError(f"{who}: every sample is blank (one value per image, {flat[0, 0].item():.3g}): there is "
                         "no digit to judge; check that these are the sampler's output")


def _reference(samples: torch.Tensor, who: str, repeats: int, generator: torch.Generator | None):
    """Check samples (n, 1, size, size), then: the shipped classifier of that size, its features of the
    held-out test digits, and the floor: the Frechet distance of `repeats` random draws of n real
    training digits to those test digits (what a perfect generator would score at this n)."""
    check_images(samples, who)
    if samples.ndim != 4 or samples.shape[1] != 1 or samples.shape[2] not in (8, 28) \
            or samples.shape[2] != samples.shape[3]:
        raise ValueError(f"{who}: samples must be (n, 1, 8, 8) or (n, 1, 28, 28), got {tuple(samples.shape)}")
    if repeats < 2:
        raise ValueError(f"{who}: repeats must be >= 2 (the floor's spread needs two draws), got {repeats}")
    size, n = samples.shape[-1], len(samples)
    test, _ = load_digits(size, "test")
    real, _ = load_digits(size, "train")
    if not MIN_SAMPLES <= n <= len(real):
        raise ValueError(f"{who}: need {MIN_SAMPLES} to {len(real)} samples (the training set's size), got {n}; "
                         f"{TOO_FEW}")
    check_not_blank(samples, who)
    clf = load_classifier(size, device=samples.device)
    f_test, f_real = classifier_features(test, clf), classifier_features(real, clf)
    floors = [frechet_distance(f_real[torch.randperm(len(real), generator=generator)[:n].to(f_real.device)], f_test)
              for _ in range(repeats)]
    return clf, f_test, floors


def digit_quality(samples: torch.Tensor, repeats: int = 5, generator: torch.Generator | None = None) -> dict:
    """The classifier's verdict on generated digits (n, 1, size, size) in [-1, 1], size 8 or 28:

    frechet: the Frechet distance between classifier features of the samples and of the held-out
    test images (Heusel et al. 2017, eq. 6); floor: the same distance for n real training images
    against the same test images (median over `repeats` random draws), what a perfect generator
    would score at this n, and floor_low .. floor_high its spread over the draws; ratio = frechet /
    floor, and ratio_low .. ratio_high the same against the largest and smallest floor; entropy: the
    entropy of the class histogram over log 10 (1 = every digit equally often); histogram: the class
    fractions. Warns when frechet lies within the floor's spread: at this n the samples cannot be
    told from real digits (a ratio below 1 is luck, not a better-than-real model).
    """
    clf, f_test, floors = _reference(samples, "digit_quality", repeats, generator)
    n = len(samples)
    fd, floor = frechet_distance(classifier_features(samples, clf), f_test), statistics.median(floors)
    if fd <= max(floors):
        warnings.warn(f"digit_quality: at n = {n} these samples cannot be told from real digits: their "
                      f"Frechet distance {fd:.3g} lies within the floor's spread {min(floors):.3g} .. "
                      f"{max(floors):.3g} over {repeats} real draws; use more samples to compare models",
                      stacklevel=2)
    hist = class_histogram(samples, clf)
    return dict(n=n, frechet=round(fd, 3), floor=round(floor, 3), floor_low=round(min(floors), 3),
                floor_high=round(max(floors), 3), ratio=round(fd / floor, 2),
                ratio_low=round(fd / max(floors), 2), ratio_high=round(fd / min(floors), 2),
                entropy=round(histogram_entropy(hist) / math.log(10), 4),
                histogram=[round(h, 3) for h in hist.tolist()])


def digit_quality_over_sets(sets, repeats: int = 101, generator: torch.Generator | None = None) -> dict:
    """The Frechet distance of several sample sets of the same n (a list of (n, 1, size, size) tensors
    in [-1, 1]) to the held-out test digits, against a floor from `repeats` draws of n real training
    digits: a steadier verdict than digit_quality's one set and 5 draws.

    At n = 500 on 28x28 digits one set's distance moves by a factor of two with its starting noise, and
    so does the floor's, from draw to draw; a median over sets and a median over many draws average that
    out. Returns n, per_set (each set's distance), frechet (their median), floor (the draws' median),
    floor_quartiles, ratio = frechet / floor, and ratio_per_set (each set over the floor).
    """
    sets = list(sets)
    if not sets:
        raise ValueError("digit_quality_over_sets: need at least one sample set, got none")
    shapes = {tuple(x.shape) for x in sets}
    if len(shapes) != 1:
        raise ValueError(f"digit_quality_over_sets: every set must have the same shape (the floor is for "
                         f"one n), got {sorted(shapes)}")
    for x in sets[1:]:
        check_images(x, "digit_quality_over_sets")
    clf, f_test, floors = _reference(sets[0], "digit_quality_over_sets", repeats, generator)
    per_set = [frechet_distance(classifier_features(x, clf), f_test) for x in sets]
    fd, floor = statistics.median(per_set), statistics.median(floors)
    quartiles = statistics.quantiles(floors, n=4)
    return dict(n=len(sets[0]), per_set=[round(f, 3) for f in per_set], frechet=round(fd, 3),
                floor=round(floor, 3), floor_quartiles=[round(quartiles[0], 3), round(quartiles[2], 3)],
                ratio=round(fd / floor, 2), ratio_per_set=[round(f / floor, 2) for f in per_set])
