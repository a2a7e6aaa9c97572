"""Checkers for lesson 11 (latent diffusion): the symmetric contrastive loss of a small CLIP, encoding an
image to a scaled latent and decoding it back, measuring the scale factor that gives the latents unit
variance, and a prediction: which retrieval suite is hardest for the contrastive encoder.

The autoencoders the checkers run are small, untrained and seeded, with a latent scale that is not 1,
so that a forgotten or inverted scale shows; no checkpoint is needed."""

import copy
import functools
import math
import re

import torch
import torch.nn.functional as F

from ._core import (CORRECT, ERROR, NOT_ATTEMPTED, WRONG, Feedback, Mistake, _as_tensor, _clone, check_function,
                    run_learner)
from .choices import TODO, _rng_kept, number


# --- the symmetric contrastive loss --------------------------------------------------------------------

def _logits(seed: int, b: int) -> torch.Tensor:
    """A (b, b) similarity matrix, far from symmetric (rows and columns give different losses), with the
    matched pairs a little ahead on the diagonal and entries of order a few (a softmax neither flat nor
    one-hot)."""
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(b, b, generator=g, dtype=torch.float64) + 2 * torch.eye(b, dtype=torch.float64)


def _labels(logits: torch.Tensor) -> torch.Tensor:
    return torch.arange(len(logits))


def _contrastive(logits):
    from ...core.nets.contrastive import contrastive_loss

    return contrastive_loss(logits)


def _both(loss):
    """The mean of `loss` over the rows (image to text) and over the columns (text to image)."""
    return lambda L: 0.5 * (loss(L) + loss(L.T))


def _ce(L, reduction="mean", labels=None):
    return F.cross_entropy(L, _labels(L) if labels is None else labels, reduction=reduction)


def _diag_softmax(L):  # each row's probability of its matched caption
    return L.softmax(1).diagonal()


CONTRASTIVE_CASES = [(_logits(0, 4),), (_logits(1, 7),), (_logits(2, 10),), (_logits(3, 3),)]
RIGHT_LOSS = "0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)), labels = arange(B)"
CONTRASTIVE_MISTAKES = [
    Mistake("that is only the image-to-text half, F.cross_entropy(logits, labels) (each row: which caption is "
            f"this image's?). Average it with the text-to-image half over the columns: {RIGHT_LOSS}. If you "
            "wrote two terms, the second must use logits.T (or softmax over dim 0): as written both normalise "
            "the same rows.", lambda L: _ce(L)),
    Mistake("that is only the text-to-image half, F.cross_entropy(logits.T, labels) (each column: which image "
            f"is this caption's?). Average it with the image-to-text half over the rows: {RIGHT_LOSS}. If you "
            "wrote two terms, one must use logits itself: as written both normalise the columns.",
            lambda L: _ce(L.T)),
    Mistake(f"the two directions are averaged, not added: {RIGHT_LOSS}. The sum is twice as large, which "
            "doubles the learning rate in effect.", lambda L: _ce(L) + _ce(L.T)),
    Mistake("the cross-entropy is averaged over the batch, not summed (F.cross_entropy's default "
            "reduction='mean'): a summed loss grows with the batch size B.",
            _both(lambda L: _ce(L, "sum"))),
    Mistake("the cross-entropy is averaged over the batch, not summed, and the two directions are averaged, "
            f"not added: {RIGHT_LOSS}.", lambda L: _ce(L, "sum") + _ce(L.T, "sum")),
    Mistake("the log is missing: the cross-entropy is -log softmax(logits)[i, i], averaged; 1 - softmax is "
            "bounded by 1 and hardly pushes a pair that is badly wrong. F.cross_entropy does it for you.",
            _both(lambda L: (1 - _diag_softmax(L)).mean())),
    Mistake("the log is missing: the cross-entropy is -log softmax(logits)[i, i], averaged, not "
            "-softmax(logits)[i, i]. F.cross_entropy does it for you.",
            _both(lambda L: -_diag_softmax(L).mean())),
    Mistake("that is -logits[i, i] averaged: the cross-entropy also adds log sum_j exp(logits[i, j]) over the "
            "row (the softmax's normaliser), which is what pushes the wrong captions down. "
            "Use F.cross_entropy.", _both(lambda L: -L.diagonal().mean())),
    Mistake("F.cross_entropy takes the logits and applies the (log-)softmax itself; you passed it "
            "probabilities, softmax(logits), so it softmaxes twice. Pass the logits.",
            _both(lambda L: _ce(L.softmax(1)))),
    Mistake("the labels are off by one: the matched pairs are on the diagonal, so row i's right caption is "
            "column i, labels = torch.arange(B), not rolled.",
            _both(lambda L: _ce(L, labels=torch.roll(_labels(L), 1)))),
    Mistake("the labels are off by one: the matched pairs are on the diagonal, so row i's right caption is "
            "column i, labels = torch.arange(B), not rolled.",
            _both(lambda L: _ce(L, labels=torch.roll(_labels(L), -1)))),
]


def contrastive_loss(fn) -> Feedback:
    """fn(logits) -> the symmetric contrastive loss (a scalar) of a square (B, B) similarity matrix whose
    diagonal holds the matched pairs: the mean of the cross-entropy over each row (image to text) and over
    each column (text to image), as nets.contrastive.contrastive_loss computes it."""
    return check_function("the symmetric contrastive loss", fn, CONTRASTIVE_CASES, _contrastive,
                          CONTRASTIVE_MISTAKES, rtol=1e-6, atol=1e-8,
                          shape_hint="one number: average over the batch and over the two directions.")


# --- encoding, scaling and decoding a latent ------------------------------------------------------------

# (seed, batch, scale): scales far from 1 and from each other, so that a forgotten, inverted or doubled
# scale changes the answer on every case
VAE_CASES = ((0, 5, 0.37), (1, 6, 2.5), (2, 7, 0.18215))


@functools.lru_cache(maxsize=None)
def _case_vae(seed: int, scale: float):
    """A small untrained Autoencoder in float64 (exact comparisons), its scale set to `scale`."""
    from ...core.nets.autoencoder import Autoencoder

    with _rng_kept():  # the learner's random stream is left alone
        torch.manual_seed(seed)
        vae = Autoencoder(width=8).double().eval()
    vae.scale.fill_(scale)
    return vae.requires_grad_(False)


def _images(seed: int, b: int) -> torch.Tensor:
    return 2 * torch.rand(b, 3, 24, 24, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64) - 1


def _fresh(fn):
    """fn on a copy of the autoencoder: a learner's edit of vae.scale (fit_scale, fill_) cannot spoil the
    reference of the next case."""
    return lambda vae, t: fn(copy.deepcopy(vae), t)


def _encode_cases() -> list:
    return [(_case_vae(s, c), _images(s, b)) for s, b, c in VAE_CASES]


@torch.no_grad()
def _encode(vae, x):
    return vae.scale * vae.encode(x)[0]


def _mean(vae, x):
    return vae.encode(x)[0]


def _logvar(vae, x):
    return vae.encode(x)[1]


ENCODE_MISTAKES = [
    Mistake("the scale is missing: that is the encoder's mean itself. Multiply it by vae.scale, so that the "
            "latents the diffusion model learns have a standard deviation near 1, the size its noise "
            "schedule was made for.", lambda vae, x: _mean(vae, x)),
    Mistake("multiply the mean by vae.scale, do not divide by it: vae.scale is 1 / (the std of the means), "
            "so scale * mean has standard deviation 1.", lambda vae, x: _mean(vae, x) / vae.scale),
    Mistake("that is the log-variance: vae.encode(x) returns (mean, logvar), and the latent is the scaled "
            "mean, vae.scale * mean.", lambda vae, x: vae.scale * _logvar(vae, x)),
    Mistake("that is the log-variance, unscaled: vae.encode(x) returns (mean, logvar), and the latent is the "
            "scaled mean, vae.scale * mean.", lambda vae, x: _logvar(vae, x)),
    Mistake("the latent is the scaled mean, not the encoder's standard deviation: vae.encode(x) returns "
            "(mean, logvar); use the first, times vae.scale.",
            lambda vae, x: vae.scale * (0.5 * _logvar(vae, x)).exp()),
    Mistake("vae.encoder(x) is the raw output, mean and log-variance stacked in 2 x 4 channels; vae.encode(x) "
            "splits it into (mean, logvar). The latent is vae.scale * mean.",
            lambda vae, x: vae.scale * vae.encoder(x)),
    Mistake("vae.encoder(x) is the raw output, mean and log-variance stacked in 2 x 4 channels; vae.encode(x) "
            "splits it into (mean, logvar). The latent is vae.scale * mean.", lambda vae, x: vae.encoder(x)),
    Mistake("the scale is applied twice: multiply the mean by vae.scale once (vae.latents(x) does exactly "
            "that, so do not scale its answer again).", lambda vae, x: vae.scale ** 2 * _mean(vae, x)),
]
TUPLE_HINT = ("vae.encode(x) returns two tensors, (mean, logvar); return one tensor, the scaled mean: "
              "mean, logvar = vae.encode(x); return vae.scale * mean.")


def _z_scores(out: torch.Tensor, vae, x) -> list:
    """How far the answer is from the (scaled or unscaled) mean in units of the encoder's std: a sample of
    q(z | x) gives standard normal numbers."""
    with torch.no_grad():
        mean, logvar = vae.encode(x)
        std = (0.5 * logvar).exp()
    return [((out - s * mean) / (s * std)).double() for s in (vae.scale, torch.ones_like(vae.scale))]


def _looks_sampled(out: torch.Tensor, vae, x) -> bool:
    if out.shape != (len(x), *vae.latent_shape):
        return False
    return any(abs(z.mean().item()) < 0.2 and 0.8 < z.std().item() < 1.25 for z in _z_scores(out, vae, x))


SAMPLE_HINT = ("that looks like a sample of q(z | x), mean + std * noise: the latent the diffusion model "
               "learns (and the lesson decodes) is the encoder's mean, scaled: vae.scale * mean. Sampling is "
               "for training the autoencoder.")


def _encode_diagnosis(fn, cases, fb: Feedback) -> Feedback:
    """A tuple, an answer that changes from call to call, or a sample of q(z | x): say which."""
    if fb.message.startswith("expected a tensor or a number, got tuple") or \
            fb.message.startswith("expected a tensor or a number, got list"):
        return Feedback(fb.exercise, WRONG, TUPLE_HINT)
    if fb.status != WRONG or fb.message in {m.hint for m in ENCODE_MISTAKES} or fb.message.startswith("wrong shape"):
        return fb
    vae, x = cases[0]
    try:
        with torch.no_grad():
            a, b = (_as_tensor(run_learner(fn, _clone((vae, x))), x) for _ in range(2))
    except Exception:
        return fb
    if a.shape == b.shape and not torch.allclose(a, b):
        return Feedback(fb.exercise, WRONG, f"your latents change from call to call on the same images: {SAMPLE_HINT}")
    if _looks_sampled(a, vae, x):
        return Feedback(fb.exercise, WRONG, SAMPLE_HINT)
    return fb


def encode_latents(fn) -> Feedback:
    """fn(vae, x) -> the scaled latents of images x (B, 3, 24, 24): vae.scale times the mean of the encoder's
    Gaussian, vae.encode(x)[0], a (B, 4, 6, 6) tensor (what vae.latents(x) computes)."""
    cases, guarded = _encode_cases(), _fresh(fn)
    fb = check_function("encode to a scaled latent", guarded, cases, _encode, ENCODE_MISTAKES,
                        rtol=1e-6, atol=1e-9, shape_hint="the latent of each image is 4 x 6 x 6: the scaled mean "
                                                         "of vae.encode(x).")
    return _encode_diagnosis(guarded, cases, fb)


def _decode_cases() -> list:
    out = []
    for s, b, c in VAE_CASES:
        vae = _case_vae(s, c)
        z = _encode(vae, _images(s, b)) if s % 2 == 0 else \
            torch.randn(b, *vae.latent_shape, generator=torch.Generator().manual_seed(200 + s), dtype=torch.float64)
        out.append((vae, z))
    return out


@torch.no_grad()
def _decode(vae, z):
    return vae.decode(z / vae.scale)


DECODE_MISTAKES = [
    Mistake("the scale is not undone: z is scaled (scale * mean), and the decoder was trained on unscaled "
            "latents. Divide by vae.scale before decoding: vae.decode(z / vae.scale).",
            lambda vae, z: vae.decode(z)),
    Mistake("divide z by vae.scale, do not multiply: encoding multiplied the mean by vae.scale, so decoding "
            "divides it back out, vae.decode(z / vae.scale).", lambda vae, z: vae.decode(z * vae.scale)),
    Mistake("undo the scale on the latent, before decoding, not on the image after it: "
            "vae.decode(z / vae.scale). The decoder is not linear, so the order matters.",
            lambda vae, z: vae.decode(z) / vae.scale),
    Mistake("undo the scale on the latent, before decoding, not on the image after it, and divide rather "
            "than multiply: vae.decode(z / vae.scale).", lambda vae, z: vae.decode(z) * vae.scale),
    Mistake("the scale is undone twice: vae.decode_latents(z) already divides by vae.scale, so either call "
            "it on z itself or call vae.decode(z / vae.scale).", lambda vae, z: vae.decode(z / vae.scale ** 2)),
]


def decode_latents(fn) -> Feedback:
    """fn(vae, z) -> images (B, 3, 24, 24) from scaled latents z (B, 4, 6, 6): undo the scale, then decode,
    vae.decode(z / vae.scale) (what vae.decode_latents(z) computes)."""
    cases, guarded = _decode_cases(), _fresh(fn)
    fb = check_function("decode a scaled latent", guarded, cases, _decode, DECODE_MISTAKES,
                        rtol=1e-6, atol=1e-9, shape_hint="one 3 x 24 x 24 image per latent: vae.decode(z / "
                                                         "vae.scale).")
    if fb.message.startswith("expected a tensor or a number, got tuple"):
        return Feedback(fb.exercise, WRONG, "return the images alone, one tensor: vae.decode(z / vae.scale).")
    if fb.status == WRONG and fb.message not in {m.hint for m in DECODE_MISTAKES}:
        # clamping to the pixel range, as the pipeline's decode does, is right too (these untrained
        # decoders overshoot it, so the clamp shows)
        check = check_function(fb.exercise, guarded, cases, lambda vae, z: _decode(vae, z).clamp(-1, 1),
                               rtol=1e-6, atol=1e-9)
        if check.status == CORRECT:
            return Feedback(fb.exercise, CORRECT, f"{check.message[:-1]}, clamped to the pixel range [-1, 1] as "
                                                  "the pipeline's decode does (vae.decode_latents itself does "
                                                  "not clamp).")
    return fb


# --- a measurement: the scale factor that gives the latents unit variance --------------------------------

@torch.no_grad()
def _scale_factor(vae, x):
    return 1.0 / _mean(vae, x).std()


def _scale_cases() -> list:
    # at least 5 x 144 latent numbers per case: std with or without Bessel's correction agree to 1e-3
    return [(_case_vae(s, c), _images(50 + s, b + 3)) for s, b, c in VAE_CASES]


SCALED_HINT = ("vae.latents(x) is already multiplied by vae.scale; the factor is measured on the unscaled "
               "means, vae.encode(x)[0], whatever the scale is now: 1 / means.std().")
SCALE_MISTAKES = [
    Mistake("that is the standard deviation of the latents itself; the factor that brings them to standard "
            "deviation 1 is its inverse: multiplying by c multiplies the std by c, so c = 1 / std.",
            lambda vae, x: _mean(vae, x).std()),
    Mistake("that is 1 / variance; multiplying the latents by c multiplies their standard deviation by c "
            "(their variance by c^2), so c = 1 / std, the square root of yours.",
            lambda vae, x: 1 / _mean(vae, x).var()),
    Mistake("that is the variance itself; the factor is 1 / std, the inverse of its square root.",
            lambda vae, x: _mean(vae, x).var()),
    Mistake("that is measured on the images x; the factor is about the latents: 1 / (std of the encoder's "
            "means, vae.encode(x)[0]).", lambda vae, x: 1 / x.std()),
    Mistake("that is the std of the images x; the factor is about the latents: 1 / (std of the encoder's "
            "means, vae.encode(x)[0]).", lambda vae, x: x.std()),
    Mistake("that is measured on the log-variance, the second output of vae.encode(x); the latents are the "
            "means, the first: 1 / means.std().", lambda vae, x: 1 / _logvar(vae, x).std()),
    Mistake("that is 1 / the encoder's own noise level, exp(logvar / 2); the factor measures how the means "
            "spread over the images: 1 / means.std().",
            lambda vae, x: 1 / (0.5 * _logvar(vae, x)).exp().mean()),
    Mistake(SCALED_HINT, lambda vae, x: 1 / (vae.scale * _mean(vae, x)).std()),
    Mistake(SCALED_HINT, lambda vae, x: vae.scale / _mean(vae, x).std()),
    Mistake(SCALED_HINT, lambda vae, x: (vae.scale * _mean(vae, x)).std()),
    Mistake("one number for all the latents: the diffusion model's noise is N(0, 1) in every channel, and "
            "the scale (Stable Diffusion's 0.18215 is one) is a single factor. Take the std of all the "
            "means together: 1 / means.std().", lambda vae, x: 1 / _mean(vae, x).std(dim=(0, 2, 3))),
    Mistake("one number: take the std of all the latent numbers together, 1 / means.std(), not one per "
            "place.", lambda vae, x: 1 / _mean(vae, x).std(0)),
    Mistake("that is the spread over the images at each place, averaged over the places: it leaves out how "
            "the latents differ from place to place, which the noise must match too. Take the std of all "
            "the latent numbers together: 1 / means.std().", lambda vae, x: 1 / _mean(vae, x).std(0).mean()),
]


def _sampled_scale(vae, x) -> float:
    """About what 1 / std gives on samples of q(z | x) rather than means: their variance adds the
    encoder's noise, exp(logvar), to the spread of the means."""
    with torch.no_grad():
        mean, logvar = vae.encode(x)
    return 1 / math.sqrt(mean.var().item() + logvar.exp().mean().item())


SAMPLED_SCALE_HINT = ("that looks measured on samples of q(z | x), whose spread adds the encoder's noise to "
                      "that of the means; the latents the diffusion model learns are the means: "
                      "1 / vae.encode(x)[0].std().")


def _scale_value(ex: str, value, vae, x) -> Feedback:
    """A number measured by the learner on (vae, x): compare with the checker's own measurement."""
    value = number(ex, value)
    if isinstance(value, Feedback):
        return value
    if vae is None or x is None:
        return Feedback(ex, ERROR, "to check a number, give the autoencoder and the images it was measured on: "
                                   "check.scale_factor(your_number, vae, x); or pass your function.")
    truth = float(_scale_factor(vae, x))
    if math.isclose(value, truth, rel_tol=0.02):
        return Feedback(ex, CORRECT, f"{value:.4g}: the checker measures 1 / std of the means = {truth:.4g} "
                                     f"(the autoencoder's own scale is {vae.scale.item():.4g}).")
    for m in SCALE_MISTAKES:
        try:
            wrong = torch.as_tensor(m.wrong(vae, x))
        except Exception:
            continue
        if wrong.numel() == 1 and math.isclose(value, float(wrong), rel_tol=0.02):
            return Feedback(ex, WRONG, f"{value:.4g}: {m.hint}")
    if math.isclose(value, _sampled_scale(vae, x), rel_tol=0.06):
        return Feedback(ex, WRONG, f"{value:.4g}: {SAMPLED_SCALE_HINT}")
    return Feedback(ex, WRONG, f"{value:.4g}, but 1 / std of the encoder's means on these images is {truth:.4g}.")


def scale_factor(answer, vae=None, x=None) -> Feedback:
    """answer: a function fn(vae, x) -> the scale factor, 1 / (standard deviation of the encoder's means
    vae.encode(x)[0] over all the images and latent numbers), checked on the checker's small autoencoders
    and, if given, on (vae, x) too; or a number measured on (vae, x), which the checker measures itself."""
    ex = "the latent scale factor"
    if not callable(answer):
        if answer is None or answer is ...:
            return Feedback(ex, NOT_ATTEMPTED, TODO)
        return _scale_value(ex, answer, vae, x)
    cases = _scale_cases() + ([(vae, x)] if vae is not None and x is not None else [])
    guarded = _fresh(answer)
    fb = check_function(ex, guarded, cases, _scale_factor, SCALE_MISTAKES, rtol=2e-3, atol=1e-9,
                        shape_hint="one number for all the latents: 1 / means.std().")
    if fb.status != WRONG or fb.message in {m.hint for m in SCALE_MISTAKES} or fb.message.startswith("wrong shape"):
        return fb
    try:  # a measurement on samples: random, so it can only be recognised roughly
        got = [float(torch.as_tensor(run_learner(guarded, _clone(c)))) for c in cases[:2]]
    except Exception:
        return fb
    for scaled in (False, True):  # samples of q(z | x), or vae.latents(x, sample=True) with its scale
        near = [_sampled_scale(*c) / (c[0].scale.item() if scaled else 1.0) for c in cases[:2]]
        if all(math.isclose(g, n, rel_tol=0.06) for g, n in zip(got, near)):
            return Feedback(ex, WRONG, SAMPLED_SCALE_HINT + (f" Also, {SCALED_HINT}" if scaled else ""))
    return fb


# --- a prediction: which retrieval suite is hardest? -----------------------------------------------------

SUITES = ("random", "swaps", "held_out")
_SUITE_NAMES = {"random": "random", "swaps": "swaps", "swap": "swaps", "swapped": "swaps", "colourswaps": "swaps",
                "colorswaps": "swaps", "heldout": "held_out", "held": "held_out"}
WHY_HARD = {
    "swaps": "the two captions of a swapped pair have exactly the same words ('a red fish and a blue can' and "
             "'a blue fish and a red can'); only which colour goes with which object tells them apart. It is "
             "the one suite where the words themselves give no help. Contrastive training rewards only what "
             "tells a caption from the others in its batch, and most differ by some word, so a CLIP-style text "
             "encoder tends to act like a bag of words (Yuksekgonul et al. 2023), which cannot tell a swap at all",
    "held_out": "the held-out scenes are combinations (two coloured objects on a background) the encoder never "
                "saw in training: it must compose known words into a pair it has not met",
    "random": "random batches are the largest (the held-out ones hold at most 128 pairs, as there are only 237 "
              "held-out combinations), so each caption has the most candidates to be confused with, and some "
              "are only a word or a place apart",
}
WHY_EASY = {
    "random": "in a random batch a caption's neighbours nearly always differ by a word (another object, "
              "colour or background), so even a bag of words finds the right one",
    "swaps": "this encoder binds colours to objects better than that: its text encoder is a transformer whose "
             "words see their neighbours and places, and the shipped one was trained with each scene's "
             "colour-swapped twin in its batch (hard negatives), so the order of the words counts",
    "held_out": "every word and every coloured object of a held-out scene was seen in training, only not "
                "together; its batches are also smaller (at most 128 pairs)",
}


def _suite(answer):
    key = re.sub(r"[\s_-]", "", answer.lower()) if isinstance(answer, str) else None
    return _SUITE_NAMES.get(key) if key else None


def _score(entry) -> tuple[float, float]:
    """(mean, sd) over the two directions of one suite's {'image_to_text': (mean, sd), 'text_to_image': ...};
    a bare number for a direction counts as a mean with sd 0."""
    pairs = [entry[d] if isinstance(entry[d], (tuple, list)) else (entry[d], 0.0)
             for d in ("image_to_text", "text_to_image")]
    return sum(float(p[0]) for p in pairs) / 2, sum(float(p[1]) for p in pairs) / 2


def retrieval_measured(k: int = 256, repeats: int | None = None, device=None) -> dict:
    """latent.retrieval_scores of the shipped contrastive encoder (data/clip.pt): what the checker judges by
    when the lesson does not hand it its own measurement."""
    from ...worlds import pretrained
    from ...worlds.latent import retrieval_scores
    from ...runtime import by_mode

    clip = pretrained.load_clip(device)
    return retrieval_scores(clip, clip.tokenizer, k=k, repeats=repeats or by_mode(full=4, fast=2))


def hardest_retrieval(answer, scores: dict | None = None) -> Feedback:
    """answer = 'random', 'swaps' or 'held_out': the retrieval suite on which the contrastive encoder does
    worst (the lowest top-1 accuracy, averaged over image-to-text and text-to-image). scores: what
    latent.retrieval_scores measured, {suite: {'image_to_text': (mean, sd), 'text_to_image': (mean, sd)}};
    None measures the shipped encoder. Within the spread between batches of the hardest counts as a tie."""
    ex = "the hardest retrieval suite"
    if answer is None or answer is ...:
        return Feedback(ex, NOT_ATTEMPTED, TODO)
    choice = _suite(answer)
    if choice is None:
        return Feedback(ex, ERROR, f"answer with one of {', '.join(repr(s) for s in SUITES)}, got {answer!r}")
    if scores is None:
        try:
            scores = retrieval_measured()
        except FileNotFoundError as err:  # the shipped encoder is not there: say so, do not raise
            return Feedback(ex, ERROR, f"cannot measure: {err}")
    try:
        measured = {s: _score(scores[s]) for s in SUITES}
    except (KeyError, TypeError, IndexError, ValueError) as err:
        return Feedback(ex, ERROR, f"the scores must be what latent.retrieval_scores returns, {{suite: "
                                   f"{{'image_to_text': (mean, sd), 'text_to_image': (mean, sd)}}}} for the suites "
                                   f"{', '.join(SUITES)}; {type(err).__name__}: {err}")
    hardest = min(SUITES, key=lambda s: measured[s][0])
    table = ", ".join(f"{s} {100 * m:.1f}%" for s, (m, _) in measured.items())
    table = f"top-1 retrieval, mean of the two directions: {table}"
    mine, low = measured[choice], measured[hardest]
    still = (f" Yet this encoder reads {100 * measured['swaps'][0]:.1f}% of the swaps right, where a bag of words "
             "would manage about half (the two captions of a pair get one encoding): trained with each scene's "
             "colour-swapped twin in its batch (hard negatives), it had to learn which colour goes with which "
             "object." if choice == "swaps" and measured["swaps"][0] >= 0.75 else "")
    if choice == hardest:
        return Feedback(ex, CORRECT, f"{choice} is the hardest ({table}): {WHY_HARD[choice]}.{still}")
    if mine[0] - low[0] <= max(mine[1], low[1]):
        return Feedback(ex, CORRECT, f"{choice} is as hard as {hardest} within the spread between batches "
                                     f"({table}): {WHY_HARD[choice]}.{still}")
    return Feedback(ex, WRONG, f"measured, {hardest} is the hardest ({table}): {WHY_HARD[hardest]}. "
                               f"{choice.capitalize()} is easier: {WHY_EASY[choice]}.")


SPREAD_ANSWERS = ("earlier", "same", "later")


def unscaled_prediction(answer, lost_at: dict) -> Feedback:
    """answer: 'earlier', 'same' or 'later', your prediction of where along t the attribute reader stops
    finding the scene in noised latents of spread 5 (unscaled, as Stable Diffusion's raw latents), against
    latents of spread 1. lost_at: {1.0: t, 5.0: t}, the first t of the lesson's grid at which the reader
    finds the scene in fewer than half of the decodes."""
    ex = "where unscaled latents lose the scene"
    if answer is None or answer is ...:
        return Feedback(ex, NOT_ATTEMPTED, TODO)
    key = str(answer).strip().lower()
    if key not in SPREAD_ANSWERS:
        return Feedback(ex, ERROR, f"answer with one of {', '.join(repr(k) for k in SPREAD_ANSWERS)}, got {answer!r}")
    if not isinstance(lost_at, dict) or not {1.0, 5.0} <= set(lost_at):
        raise ValueError(f"unscaled_prediction: lost_at must map the spreads 1.0 and 5.0 to a t, got {lost_at!r}")
    one, five = float(lost_at[1.0]), float(lost_at[5.0])
    truth = "later" if five > one else "earlier" if five < one else "same"
    said = f"the scene was lost at t = {one:g} with spread 1 and at t = {five:g} with spread 5"
    if key == truth:
        return Feedback(ex, CORRECT, f"{said}. A spread of 5 adds 2 ln 5 = {2 * math.log(5):.1f} to the log-SNR at "
                                     "every t: the same schedule is a gentler one, the noise catches up with the "
                                     "signal only late, and a sampler's steps at large t decide less than they should.")
    return Feedback(ex, WRONG, f"{said}. The signal is alpha(t) x spread, the noise sigma(t) whatever the spread: "
                               "which of the two does a larger spread help?")
