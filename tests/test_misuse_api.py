"""Misuses of the guidance, text and sampling APIs, as a newcomer makes them: each one is refused with a
message that says what was wrong and what to do (issue 30, "Every mistake a message"). Each test
asserts the message's words; a few check that the right use next to the misuse still works."""

import re

import numpy as np
import pytest
import torch
from torch import nn

import minidiff
from minidiff import forward, guidance, losses, nets, params, samplers, schedules, text, text2image, toy, train
from minidiff import scenes as S
from minidiff.runtime import check_generator

SCHEDULE = schedules.VPLinear()
VOCAB = S.vocabulary()


class LabelNet(nn.Module):
    """A conditional net (x, t, cond) on 2-D points with 3 classes and the null label 3."""

    def __init__(self):
        super().__init__()
        self.num_classes = 3
        self.lin, self.label = nn.Linear(3, 2), nn.Embedding(4, 2)

    def forward(self, x, t, cond=None):
        cond = torch.full((x.shape[0],), 3) if cond is None else cond
        return torch.tanh(self.lin(torch.cat([x, t[:, None]], 1))) + self.label(cond)


class NoisyClassifier(nn.Module):
    """logits (B, 3) from (x, t): the shape of a noise-aware classifier."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x, t):
        return self.lin(torch.cat([x, t[:, None]], 1))


class CleanClassifier(nn.Module):
    """logits (B, 3) from x alone: a classifier of clean data."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 3)

    def forward(self, x):
        return self.lin(x)


@pytest.fixture(scope="module")
def label_model():
    torch.manual_seed(0)
    return params.Denoiser(LabelNet(), SCHEDULE)


@pytest.fixture(scope="module")
def text_model():
    """A tiny caption model whose captions are 12 tokens long (the default Tokenizer makes 20)."""
    torch.manual_seed(0)
    net = nets.TextUNet(len(VOCAB) + 2, channels=(8, 16), cross_levels=(1,),
                        encoder=dict(kind="bag", dim=8, max_len=12))
    return params.Denoiser(net, SCHEDULE)


@pytest.fixture(scope="module")
def tok(text_model):
    return text_model.net.tokenizer(VOCAB)


def points(n=4):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0)), torch.full((n,), 0.5)


# ---- guidance.ClassifierFree: the condition ----------------------------------------------------

@pytest.mark.parametrize("cond", ["a red fish", ["a red fish", "a blue can"]])
def test_a_prompt_as_text_is_refused_with_how_to_encode_it(text_model, cond):
    with pytest.raises(TypeError, match=r"cond is text.*encode it first, cond = tok\(prompts\).*text2image.sample"):
        guidance.ClassifierFree(text_model, cond, 3.0)


def test_text_given_to_a_label_model_is_refused(label_model):
    x, t = points()
    with pytest.raises(TypeError, match=r"cond must be class labels.*got text '2'.*takes labels, not captions"):
        guidance.ClassifierFree(label_model, "2", 3.0)(x, t)


def test_a_class_label_given_to_a_caption_model_is_refused(text_model):
    with pytest.raises(ValueError, match=r"cond must be caption ids from a Tokenizer.*got \(\) torch.int64"):
        guidance.ClassifierFree(text_model, 3, 3.0)


@pytest.mark.parametrize("max_len", [8, 20])
def test_caption_ids_of_another_length_than_the_model_s_are_refused(text_model, max_len):
    ids = text.Tokenizer(VOCAB, max_len=max_len)(["a red fish"])
    with pytest.raises(ValueError, match=rf"captions have {max_len} tokens, but the network takes 12.*"
                                         r"model.net.tokenizer\(vocabulary\).*max_len=12"):
        guidance.ClassifierFree(text_model, ids, 3.0)


def test_the_pipeline_with_a_tokenizer_of_another_max_len_says_so(text_model):
    # the pipeline reads the captions once (EncodedText) before guidance: shorter ones are caught there,
    # longer ones by the text encoder
    with pytest.raises(ValueError, match="captions have 8 tokens, but the network takes 12.*max_len=12"):
        text2image.sample(text_model, text.Tokenizer(VOCAB, max_len=8), ["a red fish"], steps=2)
    with pytest.raises(ValueError, match=r"at most 12 tokens, got 20.*Tokenizer\(vocabulary, max_len=12\)"):
        text2image.sample(text_model, text.Tokenizer(VOCAB), ["a red fish"], steps=2)


def test_one_caption_row_serves_the_whole_batch(text_model, tok):
    # tok(["..."]) is (1, L): it now means what tok("...")[0] of shape (L,) means, instead of an error
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    row = guidance.ClassifierFree(text_model, tok(["a red fish"]), 3.0)(x, 0.5)
    flat = guidance.ClassifierFree(text_model, tok("a red fish")[0], 3.0)(x, 0.5)
    assert torch.equal(row.eps, flat.eps)


# ---- the guidance weight -------------------------------------------------------------------------

@pytest.mark.parametrize("w,words", [
    ([1.0, 3.0], r"w must be one number for the whole batch, got 2 values.*one wrapper per value"),
    (torch.tensor([1.0, 3.0]), r"w must be one number for the whole batch, got 2 values"),
    ("high", r"w must be a number \(0: unconditional.*got str 'high'"),
    (None, r"w must be a number.*got NoneType None"),
    (True, r"w must be a number.*got bool True"),
])
def test_a_guidance_weight_that_is_not_one_number_is_refused(label_model, w, words):
    with pytest.raises(TypeError, match=words):
        guidance.ClassifierFree(label_model, 1, w)


def test_a_weight_held_in_a_one_element_tensor_is_still_a_number(label_model):
    assert guidance.ClassifierFree(label_model, 1, torch.tensor(2.5)).w == 2.5
    assert guidance.ClassifierFree(label_model, 1, np.float32(2.5)).w == 2.5


# ---- guidance.ClassifierGuided -------------------------------------------------------------------

def test_a_per_sample_scale_is_refused(label_model):
    with pytest.raises(TypeError, match=r"scale must be one number for the whole batch, got 4 values \(shape \(4,\)\)"):
        guidance.ClassifierGuided(label_model, NoisyClassifier(), 1, torch.full((4,), 2.0))


@pytest.mark.parametrize("classifier", [CleanClassifier(), nets.DigitClassifier(size=8), lambda x: x])
def test_a_classifier_of_clean_data_is_refused(label_model, classifier):
    with pytest.raises(TypeError, match=r"classifier must take \(x, t\): a noise-aware classifier.*"
                                        r"load_classifier\(size, noisy=True\).*takes x alone"):
        guidance.ClassifierGuided(label_model, classifier, 1, 2.0)


def test_a_clean_classifier_wrapped_to_take_t_is_taken_knowingly(label_model):
    clean = CleanClassifier()
    x, t = points()
    pred = guidance.ClassifierGuided(label_model, lambda x, t: clean(x), 1, 2.0)(x, t)
    assert torch.isfinite(pred.eps).all() and not torch.equal(pred.eps, label_model(x, t).eps)


def test_a_raw_network_as_the_model_is_refused():
    with pytest.raises(TypeError, match=r"model must be a params.Denoiser.*got LabelNet.*"
                                        r"params.Denoiser\(net, schedule\)"):
        guidance.ClassifierGuided(LabelNet(), NoisyClassifier(), 1, 2.0)


# ---- a guidance wrapper used like a raw network --------------------------------------------------

def _free(model):
    return guidance.ClassifierFree(model, 1, 2.0)


def _guided(model):
    return guidance.ClassifierGuided(model, NoisyClassifier(), 1, 2.0)


@pytest.mark.parametrize("make,name", [(_free, "ClassifierFree"), (_guided, "ClassifierGuided")])
@pytest.mark.parametrize("how", ["cond", "keyword", "no t"])
def test_a_wrapper_called_like_a_network_says_how_it_is_called(label_model, make, name, how):
    wrapper, (x, t) = make(label_model), points()
    labels = torch.zeros(4, dtype=torch.long)
    call = {"cond": lambda: wrapper(x, t, labels), "keyword": lambda: wrapper(x, t, cond=labels),
            "no t": lambda: wrapper(x)}[how]
    with pytest.raises(TypeError, match=rf"{name}: called with .*guided\(x, t\) -> Prediction.*"
                                        r"build another .*guided.model.net"):
        call()


@pytest.mark.parametrize("make,name", [(_free, "ClassifierFree"), (_guided, "ClassifierGuided")])
def test_a_wrapper_passed_to_train_is_refused(label_model, make, name):
    wrapper = make(label_model)
    with pytest.raises(TypeError, match=rf"{name}: a guidance wrapper is for sampling.*train.train\(guided.model.net"):
        train.train(wrapper, lambda m, b: losses.diffusion_loss(m, b, SCHEDULE), torch.randn(32, 2), 2,
                    progress=False)
    assert wrapper.eval() is wrapper and not wrapper.training  # eval() still works


# ---- the tokenizer -------------------------------------------------------------------------------

@pytest.mark.parametrize("ids,words", [
    (torch.tensor([1, 5, 999]), r"id 999 is not in this vocabulary \(ids 0..52\).*another tokenizer"),
    (torch.tensor([1, -3]), r"id -3 is not in this vocabulary"),  # was a silent word from the end of the list
    (torch.ones(2, 12, dtype=torch.long), r"one caption's word ids, shape \(L,\).*got shape \(2, 12\).*"
                                          r"\[tok.decode\(row\) for row in ids\]"),
    (torch.tensor([1.0, 5.0]), r"of ints, got shape \(2,\) torch.float32"),
])
def test_decoding_ids_the_vocabulary_lacks_is_refused(tok, ids, words):
    with pytest.raises(ValueError, match=words):
        tok.decode(ids)


def test_decoding_known_ids_is_unchanged(tok):
    assert tok.decode(tok("on the beach, a red fish")[0]) == "on the beach, a red fish"


@pytest.mark.parametrize("make,error,words", [
    (lambda: text.Tokenizer("red fish can"), TypeError,
     r"vocabulary must be a list of words, got the string.*\.split\(\)"),
    (lambda: text.Tokenizer(["red", "fish", "red"]), ValueError, r"lists 'red' more than once"),
    (lambda: text.Tokenizer(["gold fish", "Red"]), ValueError, r"one lower-case word.*'gold fish', 'Red'"),
    (lambda: text.Tokenizer(["red"], max_len=1), ValueError, r"max_len must be an int >= 2.*got 1"),
    (lambda: text.Tokenizer(["red"], max_len="20"), ValueError, r"max_len must be an int >= 2.*got '20'"),
])
def test_a_tokenizer_that_could_not_work_is_refused_when_made(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("caption", [123, None])
def test_a_caption_that_is_not_text_is_refused(tok, caption):
    with pytest.raises(TypeError, match=r"give a caption \(a string\) or a list of them, got"):
        tok(caption)


def test_the_text_encoder_names_the_max_len_to_use(tok):
    encoder = text.BagOfWords(len(tok), dim=8, max_len=12)
    with pytest.raises(ValueError, match=r"at most 12 tokens, got 20.*Tokenizer\(vocabulary, max_len=12\)"):
        encoder(text.Tokenizer(VOCAB)(["a red fish"]))


# ---- sampler names -------------------------------------------------------------------------------

def test_an_unknown_sampler_name_lists_the_names():
    with pytest.raises(KeyError, match=r"no sampler named 'dpm\+\+'; the names are ddpm, ddim, .*predictor_corrector"):
        samplers.SAMPLERS["dpm++"]
    with pytest.raises(ValueError, match="no sampler named 'DDIM'"):  # a ValueError too
        samplers.SAMPLERS["DDIM"]
    assert "ddim" in samplers.SAMPLERS and samplers.SAMPLERS.get("x") is None  # still a plain dict otherwise


# ---- generator= ----------------------------------------------------------------------------------

X, TS = torch.randn(4, 2), schedules.uniform_grid(3)
MIX = toy.GaussianMixture(torch.zeros(2, 2), 1.0)
CALLS = {  # every public entry point that takes generator=, called with the misuse g
    "ddpm": lambda m, g: samplers.run(samplers.ddpm(m, X, TS, SCHEDULE, generator=g)),
    "ddim": lambda m, g: samplers.run(samplers.ddim(m, X, TS, SCHEDULE, eta=1.0, generator=g)),
    "euler": lambda m, g: samplers.run(samplers.euler(m, X, TS, SCHEDULE, generator=g)),
    "heun": lambda m, g: samplers.run(samplers.heun(m, X, TS, SCHEDULE, generator=g)),  # was silently unused
    "dpm_solver_pp": lambda m, g: samplers.run(samplers.dpm_solver_pp(m, X, TS, SCHEDULE, generator=g)),
    "euler_maruyama": lambda m, g: samplers.run(samplers.euler_maruyama(m, X, TS, SCHEDULE, generator=g)),
    "predictor_corrector": lambda m, g: samplers.run(samplers.predictor_corrector(m, X, TS, SCHEDULE, 0.16, g)),
    "langevin": lambda m, g: samplers.run(samplers.langevin(lambda x: -x, X, 0.1, 2, generator=g)),
    "annealed_langevin": lambda m, g: samplers.run(samplers.annealed_langevin(m, X, TS, SCHEDULE, generator=g)),
    "prior_sample": lambda m, g: samplers.prior_sample(4, 2, SCHEDULE, 1.0, generator=g),
    "q_sample": lambda m, g: forward.q_sample(X, 0.5, SCHEDULE, generator=g),
    "q_step": lambda m, g: forward.q_step(X, 0.1, generator=g),
    "q_chain": lambda m, g: forward.q_chain(X, [0.1, 0.2], generator=g),
    "GaussianMixture.sample": lambda m, g: MIX.sample(8, generator=g),
    "Moons.sample": lambda m, g: toy.moons().sample(8, generator=g),
    "Spirals.sample": lambda m, g: toy.spirals().sample(8, generator=g),
    "Checkerboard.sample": lambda m, g: toy.checkerboard().sample(8, generator=g),
    "train": lambda m, g: train.train(m.net, lambda n, b: n(b, b[:, 0]).pow(2).mean(), X, 1, generator=g,
                                      progress=False),
    "diffusion_loss": lambda m, g: losses.diffusion_loss(m.net, X, SCHEDULE, generator=g),
    "drop_labels": lambda m, g: guidance.drop_labels(torch.zeros(4, dtype=torch.long), 0.5, 3, generator=g),
    "drop_captions": lambda m, g: text.drop_captions(text.null_ids(4, 12), 0.5, generator=g),
}


@pytest.mark.parametrize("where", sorted(CALLS))
def test_a_seed_given_as_generator_says_how_to_make_one(label_model, where):
    with pytest.raises(TypeError, match=rf"^{where}: generator must be a torch.Generator \(or None\), got the int 7; "
                                        r"pass generator=torch.Generator\(\).manual_seed\(7\), or "
                                        r"generator=minidiff.seed_all\(7\)"):
        CALLS[where](label_model, 7)


@pytest.mark.parametrize("generator,words", [
    (np.random.default_rng(0), r"got Generator Generator\(PCG64\)"),
    (minidiff.seed_all, r"got function <function seed_all"),
    (-1, r"got int -1; pass generator=torch.Generator\(\).manual_seed\(0\)"),
])
def test_other_things_given_as_generator(label_model, generator, words):
    with pytest.raises(TypeError, match=words):
        CALLS["ddpm"](label_model, generator)


def test_a_generator_and_none_pass_through(label_model):
    g = minidiff.seed_all(1)
    assert check_generator(g, "here") is g and check_generator(None, "here") is None
    a = CALLS["ddpm"](label_model, torch.Generator().manual_seed(5))
    assert torch.equal(a, CALLS["ddpm"](label_model, torch.Generator().manual_seed(5)))


# ---- the other functions that take generator= ------------------------------------------------------

def _other_generator_calls():
    from minidiff import exact, gan, ink, likelihood, losses, pretrained, schedules, toy

    x = torch.zeros(4, 2)
    net = gan.Generator()
    schedule = schedules.VPLinear()
    return {
        "gan.noise": lambda g: gan.noise(net, 3, generator=g),
        "gan.train_gan": lambda g: gan.train_gan(net, gan.Discriminator(), toy.ring().sample, 1, generator=g),
        "ink.brownian_step": lambda g: ink.brownian_step(x, 1.0, 0.1, generator=g),
        "ink.random_walk": lambda g: next(ink.random_walk(x, 1.0, 0.1, 2, generator=g)),
        "ink.ink_drop": lambda g: ink.ink_drop(5, generator=g),
        "exact.sample_powered": lambda g: exact.sample_powered(*toy.labelled_mixture(), 0, 2.0, 5, generator=g),
        "losses.dsm_loss": lambda g: losses.dsm_loss(lambda x, t: x, x, [0.5], generator=g),
        "likelihood.log_likelihood": lambda g: likelihood.log_likelihood(
            lambda x, t: x, x, schedules.uniform_grid(2), schedule, generator=g),
        "pretrained.sample_digits": lambda g: pretrained.sample_digits(
            params.Denoiser(lambda x, t: 0 * x, schedule, target="eps"), 1, size=8, generator=g),
    }


@pytest.mark.parametrize("where", sorted(_other_generator_calls()))
def test_every_other_generator_argument_refuses_a_seed(where):
    with pytest.raises(TypeError, match=rf"{re.escape(where)}: generator must be a torch.Generator .*got the int 7.*manual_seed\(7\)"):
        _other_generator_calls()[where](7)
