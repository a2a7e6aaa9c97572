"""Lesson 11's checkers: the right answer passes, each typical mistake is named with its own message, a
stub is 'not attempted'; the checkers' small autoencoders need no checkpoint."""

import math

import pytest
import torch
import torch.nn.functional as F

from minidiff import check
from minidiff.course.check import latent as cl
from minidiff.core.nets.autoencoder import Autoencoder
from minidiff.core.nets.contrastive import contrastive_loss


def todo(*args):
    raise NotImplementedError


def assert_wrong(feedback, *words):
    assert feedback.status == "wrong", feedback
    for w in words:
        assert w in feedback.message, feedback.message


# --- the symmetric contrastive loss ---------------------------------------------------------------------

def ce(L, labels=None, reduction="mean"):
    return F.cross_entropy(L, torch.arange(len(L)) if labels is None else labels, reduction=reduction)


def by_hand(L):
    """The symmetric loss written out: -log softmax of each row's and each column's matched entry."""
    rows = -(L.diagonal() - L.logsumexp(1)).mean()
    cols = -(L.diagonal() - L.logsumexp(0)).mean()
    return (rows + cols) / 2


def test_the_cases_tell_the_two_directions_apart():
    for (L,) in cl.CONTRASTIVE_CASES:
        assert not torch.allclose(L, L.T)
        assert abs(ce(L) - ce(L.T)) > 0.05  # on a symmetric matrix the one-way mistakes would pass
    assert len({len(L) for (L,) in cl.CONTRASTIVE_CASES}) == len(cl.CONTRASTIVE_CASES)  # several batch sizes


def test_contrastive_loss_right_answers_pass():
    assert check.contrastive_loss(contrastive_loss).status == "correct"
    assert check.contrastive_loss(by_hand).status == "correct"
    assert check.contrastive_loss(lambda L: 0.5 * (ce(L) + ce(L.T)).item()).status == "correct"  # a float is fine
    for (L,) in cl.CONTRASTIVE_CASES:
        torch.testing.assert_close(contrastive_loss(L), by_hand(L))


def no_log(L, dim):
    return (1 - L.softmax(dim).diagonal()).mean()


@pytest.mark.parametrize("wrong,words", [
    (lambda L: ce(L), "only the image-to-text half"),
    (lambda L: 0.5 * (ce(L) + ce(L)), "only the image-to-text half"),  # the same axis twice, no transpose
    (lambda L: ce(L.T), "only the text-to-image half"),
    (lambda L: 0.5 * (-L.log_softmax(0).diagonal().mean() * 2), "only the text-to-image half"),  # dim 0 both times
    (lambda L: ce(L) + ce(L.T), "averaged, not added"),
    (lambda L: 0.5 * (ce(L, reduction="sum") + ce(L.T, reduction="sum")), "not summed"),
    (lambda L: ce(L, reduction="sum") + ce(L.T, reduction="sum"), "not summed, and the two directions"),
    (lambda L: 0.5 * (no_log(L, 1) + no_log(L, 0)), "the log is missing"),
    (lambda L: -0.5 * (L.softmax(1).diagonal().mean() + L.softmax(0).diagonal().mean()), "not -softmax"),
    (lambda L: -L.diagonal().mean(), "normaliser"),
    (lambda L: 0.5 * (ce(L.softmax(1)) + ce(L.T.softmax(1))), "softmaxes twice"),
    (lambda L: 0.5 * (ce(L, torch.roll(torch.arange(len(L)), 1)) + ce(L.T, torch.roll(torch.arange(len(L)), 1))),
     "off by one"),
    (lambda L: 0.5 * (ce(L, torch.roll(torch.arange(len(L)), -1)) + ce(L.T, torch.roll(torch.arange(len(L)), -1))),
     "off by one"),
])
def test_contrastive_loss_names_each_mistake(wrong, words):
    assert_wrong(check.contrastive_loss(wrong), words)


def test_contrastive_loss_other_answers():
    assert check.contrastive_loss(todo).status == "not attempted"
    assert check.contrastive_loss(lambda L: None).status == "error"
    assert check.contrastive_loss(lambda L: ce(L, torch.arange(len(L)).float())).status == "error"
    assert_wrong(check.contrastive_loss(lambda L: F.cross_entropy(L, torch.arange(len(L)), reduction="none")),
                 "wrong shape", "one number")
    assert_wrong(check.contrastive_loss(lambda L: by_hand(L) + 0.1), "test case 1")
    assert_wrong(check.contrastive_loss(lambda L: 3 * by_hand(L)), "constant factor of 3")


# --- encoding and decoding a scaled latent ---------------------------------------------------------------

def encode(vae, x):
    mean, logvar = vae.encode(x)
    return vae.scale * mean


def decode(vae, z):
    return vae.decode(z / vae.scale)


def test_the_checkers_autoencoders_are_small_seeded_and_scaled():
    vaes = [v for v, _ in cl._encode_cases()]
    assert [round(v.scale.item(), 5) for v in vaes] == [0.37, 2.5, 0.18215]
    assert all(isinstance(v, Autoencoder) and v.config["width"] == 8 for v in vaes)
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    cl._case_vae.cache_clear()
    cl._encode_cases()
    assert torch.equal(torch.rand(2), expected)  # building them leaves the learner's random stream alone
    again = cl._case_vae(0, 0.37)
    torch.testing.assert_close(again.encoder[0].weight, vaes[0].encoder[0].weight)  # seeded: the same network


def test_encode_right_answers_pass():
    assert check.encode_latents(encode).status == "correct"
    assert check.encode_latents(lambda vae, x: vae.latents(x)).status == "correct"  # the library's method
    assert check.encode_latents(lambda vae, x: vae.encode(x)[0] * vae.scale.item()).status == "correct"


def sampled(vae, x, seed=None):
    mean, logvar = vae.encode(x)
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    return vae.scale * (mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=g, dtype=mean.dtype))


@pytest.mark.parametrize("wrong,words", [
    (lambda vae, x: vae.encode(x)[0], "the scale is missing"),
    (lambda vae, x: vae.encode(x)[0] / vae.scale, "do not divide"),
    (lambda vae, x: vae.scale * vae.encode(x)[1], "that is the log-variance:"),
    (lambda vae, x: vae.encode(x)[1], "log-variance, unscaled"),
    (lambda vae, x: vae.scale * (0.5 * vae.encode(x)[1]).exp(), "not the encoder's standard deviation"),
    (lambda vae, x: vae.scale * vae.latents(x), "applied twice"),
    (lambda vae, x: vae.scale * vae.encoder(x), "raw output"),  # (B, 8, 6, 6): named although the shape is wrong
    (lambda vae, x: vae.encode(x), "returns two tensors"),
    (lambda vae, x: list(vae.encode(x)), "returns two tensors"),
    (sampled, "change from call to call"),
    (lambda vae, x: sampled(vae, x, seed=0), "looks like a sample of q(z | x)"),  # seeded: the same each call
    (lambda vae, x: vae.latents(x, sample=True, generator=torch.Generator().manual_seed(1)), "looks like a sample"),
    (lambda vae, x: sampled(vae, x, seed=0) / vae.scale, "looks like a sample"),  # unscaled sample
])
def test_encode_names_each_mistake(wrong, words):
    fb = check.encode_latents(wrong)
    assert_wrong(fb, words)


def test_encode_other_answers():
    assert check.encode_latents(todo).status == "not attempted"
    assert check.encode_latents(lambda vae, x: None).status == "error"
    assert_wrong(check.encode_latents(lambda vae, x: vae.latents(x)[:, :2]), "wrong shape", "4 x 6 x 6")
    assert_wrong(check.encode_latents(lambda vae, x: vae.latents(x) + 0.1), "test case 1")


def test_encode_cannot_spoil_the_reference():
    def greedy(vae, x):
        out = vae.scale * vae.encode(x)[0]
        vae.scale.fill_(1.0)  # the next case's autoencoder must keep its own scale
        return out

    assert check.encode_latents(greedy).status == "correct"
    assert check.encode_latents(lambda vae, x: vae.fit_scale(x) * vae.encode(x)[0]).status == "wrong"
    assert [round(v.scale.item(), 5) for v, _ in cl._encode_cases()] == [0.37, 2.5, 0.18215]


def test_decode_right_answers_pass():
    assert check.decode_latents(decode).status == "correct"
    assert check.decode_latents(lambda vae, z: vae.decode_latents(z)).status == "correct"
    fb = check.decode_latents(lambda vae, z: vae.decode_latents(z).clamp(-1, 1))
    assert fb.status == "correct" and "clamped" in fb.message, fb  # the pipeline clamps; that is fine too
    # the round trip of the cases: scaled means of images, and standard normal latents
    (v0, z0), (v1, z1) = cl._decode_cases()[:2]
    torch.testing.assert_close(z0, v0.latents(cl._images(0, 5)))
    assert z1.shape == (6, 4, 6, 6) and 0.7 < z1.std() < 1.3


@pytest.mark.parametrize("wrong,words", [
    (lambda vae, z: vae.decode(z), "the scale is not undone"),
    (lambda vae, z: vae.decode(z * vae.scale), "do not multiply"),
    (lambda vae, z: vae.decode(z) / vae.scale, "not on the image after it:"),
    (lambda vae, z: vae.decode(z) * vae.scale, "divide rather than multiply"),
    (lambda vae, z: vae.decode_latents(z / vae.scale), "undone twice"),
    (lambda vae, z: (vae.decode_latents(z), z), "images alone"),
])
def test_decode_names_each_mistake(wrong, words):
    assert_wrong(check.decode_latents(wrong), words)


def test_decode_other_answers():
    assert check.decode_latents(todo).status == "not attempted"
    assert check.decode_latents(lambda vae, z: None).status == "error"
    fb = check.decode_latents(lambda vae, z: vae.decode(z.flatten(1)))
    assert fb.status == "error" and "latents must have shape" in fb.message, fb
    assert_wrong(check.decode_latents(lambda vae, z: decode(vae, z) + 0.01), "test case 1")


# --- the scale factor -------------------------------------------------------------------------------------

def scale_factor(vae, x):
    mean, logvar = vae.encode(x)
    return 1 / mean.std()


def test_scale_factor_right_answers_pass():
    assert check.scale_factor(scale_factor).status == "correct"
    assert check.scale_factor(lambda vae, x: vae.fit_scale(x)).status == "correct"  # the library's method
    biased = lambda vae, x: 1 / vae.encode(x)[0].std(unbiased=False)  # noqa: E731  (numpy's std)
    assert check.scale_factor(biased).status == "correct"
    assert check.scale_factor(lambda vae, x: 1 / math.sqrt(vae.encode(x)[0].var().item())).status == "correct"


def test_scale_factor_gives_unit_variance():
    for vae, x in cl._scale_cases():
        c = cl._scale_factor(vae, x)
        assert (c * vae.encode(x)[0]).std().item() == pytest.approx(1.0)
        assert abs(c - vae.scale) > 0.3  # the case's own scale is not the answer


def per_place(vae, x):
    return 1 / vae.encode(x)[0].std(0)


@pytest.mark.parametrize("wrong,words", [
    (lambda vae, x: vae.encode(x)[0].std(), "its inverse"),
    (lambda vae, x: 1 / vae.encode(x)[0].var(), "that is 1 / variance"),
    (lambda vae, x: vae.encode(x)[0].var(), "the variance itself"),
    (lambda vae, x: 1 / x.std(), "measured on the images x"),
    (lambda vae, x: x.std(), "the std of the images x"),
    (lambda vae, x: 1 / vae.encode(x)[1].std(), "log-variance"),
    (lambda vae, x: 1 / vae.encode(x)[1].mul(0.5).exp().mean(), "own noise level"),
    (lambda vae, x: 1 / vae.latents(x).std(), "already multiplied by vae.scale"),
    (lambda vae, x: vae.scale / vae.encode(x)[0].std(), "already multiplied by vae.scale"),
    (lambda vae, x: vae.latents(x).std(), "already multiplied by vae.scale"),
    (lambda vae, x: 1 / vae.encode(x)[0].std(dim=(0, 2, 3)), "in every channel"),
    (per_place, "not one per place"),
    (lambda vae, x: per_place(vae, x).reciprocal().mean().reciprocal(), "at each place, averaged"),
    (lambda vae, x: 1 / vae.latents(x, sample=True).std() * vae.scale, "measured on samples"),
    (lambda vae, x: 1 / vae.latents(x, sample=True).std(), "already multiplied"),
])
def test_scale_factor_names_each_mistake(wrong, words):
    assert_wrong(check.scale_factor(wrong), words)


def test_scale_factor_other_answers():
    assert check.scale_factor(todo).status == "not attempted"
    assert check.scale_factor(None).status == "not attempted"
    assert check.scale_factor(lambda vae, x: None).status == "error"
    assert_wrong(check.scale_factor(lambda vae, x: scale_factor(vae, x) + 0.1), "test case 1")


def lesson_vae():
    """Stands in for the lesson's autoencoder: float32, another width, its own scale."""
    torch.manual_seed(7)
    vae = Autoencoder(width=16).eval().requires_grad_(False)
    vae.scale.fill_(0.8)
    return vae, torch.rand(12, 3, 24, 24, generator=torch.Generator().manual_seed(7)) * 2 - 1


def test_scale_factor_on_the_lessons_autoencoder():
    vae, x = lesson_vae()
    assert check.scale_factor(scale_factor, vae, x).status == "correct"
    n_cases = len(cl._scale_cases())
    only_there = lambda v, t: scale_factor(v, t) * (1.5 if v is not None and v.config["width"] == 16 else 1)  # noqa
    assert_wrong(check.scale_factor(only_there, vae, x), f"test case {n_cases + 1}")  # judged there too
    truth = (1 / vae.encode(x)[0].std()).item()
    fb = check.scale_factor(truth, vae, x)
    assert fb.status == "correct" and f"{truth:.4g}" in fb.message, fb
    assert check.scale_factor(torch.tensor(truth * 1.01), vae, x).status == "correct"  # a measurement, rounded
    assert_wrong(check.scale_factor(1 / truth, vae, x), "its inverse")
    assert_wrong(check.scale_factor((1 / vae.latents(x).std()).item(), vae, x), "already multiplied")
    assert_wrong(check.scale_factor(1 / x.std().item(), vae, x), "measured on the images")
    sample_answer = (1 / vae.latents(x, sample=True).std()).item() * vae.scale.item()
    assert_wrong(check.scale_factor(sample_answer, vae, x), "measured on samples")
    assert_wrong(check.scale_factor(2 * truth, vae, x), f"{truth:.4g}")
    assert check.scale_factor(truth).status == "error"  # a number needs what it was measured on
    assert check.scale_factor("0.5", vae, x).status == "error"


# --- which retrieval suite is hardest ------------------------------------------------------------------

def scores(random, swaps, held_out, sd=0.005):
    """A made-up dict of the shape latent.retrieval_scores returns; each direction 1 point off the mean."""
    return {name: {"image_to_text": (m + 0.01, sd), "text_to_image": (m - 0.01, sd)}
            for name, m in (("random", random), ("swaps", swaps), ("held_out", held_out))}


def test_hardest_retrieval_judges_by_the_measurement():
    bag_like = scores(0.97, 0.55, 0.93)
    fb = check.hardest_retrieval("swaps", bag_like)
    assert fb.status == "correct" and "same words" in fb.message and "bag of words" in fb.message, fb
    assert "swaps 55.0%" in fb.message and "random 97.0%" in fb.message
    assert check.hardest_retrieval("Colour swaps", bag_like).status == "correct"  # spelling is free
    assert_wrong(check.hardest_retrieval("held_out", bag_like), "swaps is the hardest", "same words",
                 "Held_out is easier", "only not together")
    assert_wrong(check.hardest_retrieval("random", bag_like), "swaps is the hardest", "Random is easier")
    # an encoder that learned to bind colours: then the held-out combinations are hardest
    binding = scores(0.98, 0.95, 0.90)
    fb = check.hardest_retrieval("swaps", scores(0.995, 0.989, 0.994))  # all near perfect, swaps still last
    assert fb.status == "correct" and "98.9% of the swaps right" in fb.message and "hard negatives" in fb.message, fb
    assert "swaps right" not in check.hardest_retrieval("swaps", bag_like).message  # only when it did learn
    fb = check.hardest_retrieval("held-out", binding)
    assert fb.status == "correct" and "never saw" in fb.message, fb
    assert_wrong(check.hardest_retrieval("swaps", binding), "held_out is the hardest", "Swaps is easier",
                 "hard negatives")


def test_hardest_retrieval_ties_and_directions():
    close = scores(0.97, 0.902, 0.90, sd=0.01)  # 0.2 points apart, batches spread by 1 point
    fb = check.hardest_retrieval("swaps", close)
    assert fb.status == "correct" and "within the spread" in fb.message, fb
    assert check.hardest_retrieval("random", close).status == "wrong"
    # the mean of the two directions decides: swaps is worse one way, held-out worse on average
    lopsided = {"random": {"image_to_text": (0.99, 0.0), "text_to_image": (0.99, 0.0)},
                "swaps": {"image_to_text": (0.80, 0.0), "text_to_image": (1.00, 0.0)},
                "held_out": {"image_to_text": (0.85, 0.0), "text_to_image": (0.90, 0.0)}}
    assert check.hardest_retrieval("held_out", lopsided).status == "correct"
    assert check.hardest_retrieval("swaps", lopsided).status == "wrong"
    bare = {s: {"image_to_text": m, "text_to_image": m} for s, m in (("random", .9), ("swaps", .5), ("held_out", .8))}
    assert check.hardest_retrieval("swaps", bare).status == "correct"  # means without sds are fine too


def test_hardest_retrieval_not_attempted_and_malformed():
    assert check.hardest_retrieval(None, scores(0.9, 0.5, 0.8)).status == "not attempted"
    assert check.hardest_retrieval("bag", scores(0.9, 0.5, 0.8)).status == "error"
    assert check.hardest_retrieval(2, scores(0.9, 0.5, 0.8)).status == "error"
    fb = check.hardest_retrieval("swaps", {"random": {}, "swaps": {}})
    assert fb.status == "error" and "latent.retrieval_scores" in fb.message, fb


def test_hardest_retrieval_measures_when_not_given(monkeypatch):
    from minidiff import pretrained, scenes
    from minidiff.core.nets.contrastive import ContrastiveModel
    from minidiff.core.text import Tokenizer

    def small_clip(device=None):
        torch.manual_seed(0)
        tok = Tokenizer(scenes.vocabulary())
        clip = ContrastiveModel(len(tok), dim=16, text_dim=16, heads=2, layers=1, width=8).eval()
        clip.tokenizer = tok  # as pretrained.load_clip gives it: the words it was trained on
        return clip

    monkeypatch.setattr(pretrained, "load_clip", small_clip)
    measured = cl.retrieval_measured(k=8, repeats=1)
    assert set(measured) == set(cl.SUITES)
    assert all(set(v) == {"image_to_text", "text_to_image"} for v in measured.values())
    monkeypatch.setattr(cl, "retrieval_measured", lambda: measured)
    hardest = min(cl.SUITES, key=lambda s: sum(m for m, _ in measured[s].values()))
    assert check.hardest_retrieval(hardest).status == "correct"


def test_hardest_retrieval_without_the_shipped_encoder_reports_instead_of_raising(monkeypatch):
    from minidiff import pretrained

    def missing(device=None):
        raise FileNotFoundError("pretrained: data/clip.pt is missing")

    monkeypatch.setattr(pretrained, "load_clip", missing)
    fb = check.hardest_retrieval("swaps")
    assert fb.status == "error" and "clip.pt is missing" in fb.message, fb


def test_unscaled_prediction_against_where_the_scene_was_lost():
    lost = {1.0: 0.3, 5.0: 0.5}
    fb = check.unscaled_prediction("later", lost)
    assert fb.status == "correct" and "2 ln 5 = 3.2" in fb.message, fb
    assert check.unscaled_prediction(" Later ", lost).status == "correct"
    for wrong in ("earlier", "same"):  # "a bigger latent is noisier", "the schedule is the schedule"
        fb = check.unscaled_prediction(wrong, lost)
        assert fb.status == "wrong" and "which of the two does a larger spread help" in fb.message, fb
    assert check.unscaled_prediction("same", {1.0: 0.4, 5.0: 0.4}).status == "correct"
    assert check.unscaled_prediction("sooner", lost).status == "error"
    assert check.unscaled_prediction(None, lost).status == "not attempted"
    with pytest.raises(ValueError, match="spreads 1.0 and 5.0"):
        check.unscaled_prediction("later", {1.0: 0.3})
