"""Lesson 10's checkers: the right answer passes, each typical mistake is named with its own message, a
stub is 'not attempted'; the cross-attention done by hand is the library's module."""

import math
import re

import pytest
import torch

from minidiff import check, scenes
from minidiff.course.check import text as ct
from minidiff.core.text import Tokenizer


def todo(*args):
    raise NotImplementedError


def assert_wrong(feedback, *words):
    assert feedback.status == "wrong", feedback
    for w in words:
        assert w in feedback.message, feedback.message


# --- tokenise ------------------------------------------------------------------------------------------

def split(caption):
    return re.findall(r"[a-z]+|,", caption.lower())


def tokenise(caption, vocab, max_len):
    ids = [vocab["<start>"]] + [vocab[w] for w in split(caption)]
    return ids + [vocab["<pad>"]] * (max_len - len(ids))


def test_tokenise_right_answers_pass():
    assert check.tokenise(tokenise).status == "correct"
    assert check.tokenise(lambda c, v, n: torch.tensor(tokenise(c, v, n))).status == "correct"  # a tensor is fine
    tok = Tokenizer(scenes.vocabulary())
    assert check.tokenise(lambda c, v, n: Tokenizer(scenes.vocabulary(), n).encode(c)).status == "correct"
    assert len(tok) == 53 and tok.ids["<pad>"] == 0 and tok.ids["<start>"] == 1


@pytest.mark.parametrize("wrong,words", [
    (lambda c, v, n: tokenise(c, v, n)[1:] + [0], "must be <start>"),
    (lambda c, v, n: [1] + [v[w] for w in split(c)], "pad the list with <pad>"),
    (lambda c, v, n: [v[w] for w in split(c)], "both the <start> id"),
    (lambda c, v, n: [1] + tokenise(c, v, n)[1:] + [0], "counts towards max_len"),
    (lambda c, v, n: tokenise(c.replace(",", ""), v, n), "commas are words too"),
    (lambda c, v, n: [i if i else 1 for i in tokenise(c, v, n)], "not <start> (1)"),
    (lambda c, v, n: [i if i else 99 for i in tokenise(c, v, n)], "padded with id 99"),
    (lambda c, v, n: sorted(tokenise(c, v, n), key=lambda i: i != 0), "goes after the words"),
])
def test_tokenise_names_each_mistake(wrong, words):
    assert_wrong(check.tokenise(wrong), words)


def test_tokenise_names_a_splitting_or_case_mistake_instead_of_raising():
    def no_lower(c, v, n):
        return tokenise(c, v, n) if c == c.lower() else [v[w] for w in re.findall(r"\w+|,", c)]

    assert_wrong(check.tokenise(no_lower), "KeyError 'On'", "lower-case")
    assert_wrong(check.tokenise(lambda c, v, n: tokenise(c, v, n)[:1] + [v[w] for w in c.lower().split()]),
                 "pad the list")  # the first case, without a comma, already shows no padding
    padded_split = lambda c, v, n: ([1] + [v[w] for w in c.lower().split()] + [0] * n)[:n]  # noqa: E731
    assert_wrong(check.tokenise(padded_split), "KeyError 'beach,'", "a comma is a word of its own")
    fb = check.tokenise(lambda c, v, n: tokenise(c, v, n - 1))
    assert_wrong(fb, "wrong shape", "max_len ids in all")
    fb = check.tokenise(lambda c, v, n: [1, 3] + tokenise(c, v, n)[2:] if "night" in c else tokenise(c, v, n))
    assert_wrong(fb, "on 'At night, a blue boat on the left' (max_len 12): expected [1, 6")


def test_tokenise_not_attempted_and_broken():
    assert check.tokenise(todo).status == "not attempted"
    assert check.tokenise(lambda c, v, n: None).status == "error"  # as every checker: forgot `return`
    assert check.tokenise(lambda c, v, n: 1 / 0).status == "error"


def test_tokenise_cannot_spoil_the_vocabulary():
    def greedy(c, v, n):
        out = tokenise(c, v, n)
        v.clear()
        return out

    assert check.tokenise(greedy).status == "correct"


# --- cross-attention by hand ---------------------------------------------------------------------------

def cross_attention(pixels, words, Wq, Wk, Wv):
    q, k, v = pixels @ Wq, words @ Wk, words @ Wv
    return torch.softmax(q @ k.T / math.sqrt(q.shape[1]), dim=-1) @ v


def scores(p, wd, q, k):
    return (p @ q) @ (wd @ k).T


def swapped(p, wd, q, k):
    """The words ask and the pixels answer: one row per word."""
    eye = torch.eye(q.shape[1], dtype=q.dtype)
    return cross_attention(wd @ k, p @ q, eye, eye, eye)


@pytest.mark.parametrize("wrong,words", [
    (lambda p, wd, q, k, v: scores(p, wd, q, k).softmax(-1) @ (wd @ v), "not scaled"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / q.shape[1]).softmax(-1) @ (wd @ v), "not by d"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) * q.shape[1] ** 0.5).softmax(-1) @ (wd @ v), "do not multiply"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / p.shape[1] ** 0.5).softmax(-1) @ (wd @ v), "pixels' width C"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / wd.shape[1] ** 0.5).softmax(-1) @ (wd @ v), "words' width D"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / q.shape[1] ** 0.5).softmax(0) @ (wd @ v), "over the words"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / q.shape[1] ** 0.5) @ (wd @ v), "softmax is missing"),
    (lambda p, wd, q, k, v: scores(p, wd, q, k) @ (wd @ v), "both the softmax and the scale"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / q.shape[1] ** 0.5).softmax(-1) @ (wd @ k), "used Wk"),
    (lambda p, wd, q, k, v: swapped(p, wd, q, k), "roles are swapped"),
    (lambda p, wd, q, k, v: (scores(p, wd, q, k) / q.shape[1] ** 0.5).softmax(-1), "attention weights (N, M)"),
])
def test_cross_attention_names_each_mistake(wrong, words):
    assert check.cross_attention(cross_attention).status == "correct"
    assert_wrong(check.cross_attention(wrong), words)


def test_cross_attention_other_answers():
    assert check.cross_attention(todo).status == "not attempted"
    assert check.cross_attention(lambda *a: None).status == "error"
    fb = check.cross_attention(lambda p, wd, q, k, v: torch.softmax((wd @ q) @ (p @ k).T, -1))
    assert fb.status == "error" and "turn the words (M, D) into keys" in fb.message, fb  # a matmul that fails
    assert_wrong(check.cross_attention(lambda p, wd, q, k, v: cross_attention(p, wd, q, k, v)[:2]),
                 "wrong shape", "one row per pixel")
    assert_wrong(check.cross_attention(lambda *a: cross_attention(*a) + 0.1), "test case 1")
    # the library's function and its fused module are right answers too
    from minidiff.core.text import attention
    assert check.cross_attention(lambda p, wd, q, k, v: attention(p @ q, wd @ k, wd @ v)[0]).status == "correct"


@pytest.mark.parametrize("case", range(len(ct.ATTENTION_CASES)))
def test_cross_attention_by_hand_equals_the_module(case):
    pixels, words = ct.ATTENTION_CASES[case][:2]
    c = pixels.shape[1]
    # a square Wq (d = C), so that the module's output projection can be the identity
    Wq = torch.randn(c, c, generator=torch.Generator().manual_seed(case), dtype=torch.float64) / c ** 0.5
    Wk = torch.randn(words.shape[1], c, generator=torch.Generator().manual_seed(10 + case), dtype=torch.float64)
    Wv = torch.randn(words.shape[1], c, generator=torch.Generator().manual_seed(20 + case), dtype=torch.float64)
    module = ct.one_head_attention(Wq, Wk, Wv)
    expected = ct._cross_attention(pixels, words, Wq, Wk, Wv)
    with torch.no_grad():
        fused = module(pixels[None], words[None])[0]  # PyTorch's scaled_dot_product_attention
        module.keep_weights = True
        written_out = module(pixels[None], words[None])[0]
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(written_out, expected)
    torch.testing.assert_close(cross_attention(pixels, words, Wq, Wk, Wv), expected)
    assert module.weights.shape == (1, 1, len(pixels), len(words))
    torch.testing.assert_close(module.weights.sum(-1), torch.ones(1, 1, len(pixels), dtype=torch.float64))


def test_one_head_attention_wants_a_square_query_matrix():
    with pytest.raises(ValueError, match="d = C"):
        ct.one_head_attention(torch.zeros(4, 3), torch.zeros(2, 3), torch.zeros(2, 3))


# --- guidance on a caption -----------------------------------------------------------------------------

@pytest.mark.parametrize("wrong,words", [
    (lambda en, ec, w: ec + w * (en - ec), "swapped"),
    (lambda en, ec, w: (1 + w) * ec - w * en, "Ho & Salimans"),
    (lambda en, ec, w: w * (ec - en), "starting point"),
    (lambda en, ec, w: en + w * ec, "not eps_caption alone"),
    (lambda en, ec, w: ec, "the caption's eps alone"),
    (lambda en, ec, w: en, "ignores the prompt"),
])
def test_text_cfg(wrong, words):
    assert check.text_cfg(lambda en, ec, w: en + w * (ec - en)).status == "correct"
    assert check.text_cfg(lambda en, ec, w: (1 - w) * en + w * ec).status == "correct"  # the same, rearranged
    assert_wrong(check.text_cfg(wrong), words)
    assert check.text_cfg(todo).status == "not attempted"
    assert check.text_cfg(lambda *a: None).status == "error"


# --- which encoder cannot bind colours -----------------------------------------------------------------

def test_swap_prediction():
    fb = check.swap_prediction({"encoder": "bag", "reason": "B"})
    assert fb.status == "correct" and "same encoding" in fb.message, fb
    assert check.swap_prediction(("bag of words", "b")).status == "correct"  # spelling and case are free
    fb = check.swap_prediction({"encoder": "transformer", "reason": "B"})
    assert_wrong(fb, "bag of words", "'a red fish and a blue can on the grass' and 'a blue fish and a red can "
                 "on the grass' give it the same set of word vectors")
    assert_wrong(check.swap_prediction({"encoder": "bag", "reason": "A"}), "not because of A", "same encoding")
    assert_wrong(check.swap_prediction({"encoder": "bag", "reason": "C"}), "seen in training", "order of their words")
    assert_wrong(check.swap_prediction({"encoder": "bag", "reason": "D"}), "no attention between words")


def test_swap_prediction_by_the_encoder_alone():
    fb = check.swap_prediction("bag")
    assert fb.status == "correct" and "same set of word vectors" in fb.message, fb  # told why
    assert check.swap_prediction("Bag of Words").status == "correct"
    assert_wrong(check.swap_prediction("transformer"), "bag of words that cannot tell them apart")
    assert check.swap_prediction("lstm").status == "error"


def test_swap_prediction_not_attempted_and_malformed():
    assert check.swap_prediction(None).status == "not attempted"
    assert check.swap_prediction({"encoder": None, "reason": None}).status == "not attempted"
    fb = check.swap_prediction({"encoder": "bag", "reason": None})
    assert fb.status == "not attempted" and "now say why" in fb.message, fb
    assert check.swap_prediction({"encoder": None, "reason": "B"}).status == "not attempted"
    assert check.swap_prediction({"encoder": "lstm", "reason": "B"}).status == "error"
    assert check.swap_prediction({"encoder": "bag", "reason": "E"}).status == "error"
    assert check.swap_prediction({"encoder": 3, "reason": "B"}).status == "error"


def test_the_bag_of_words_truly_cannot_tell_a_swap():
    gap = ct.encoding_gap()
    assert gap["bag"] == 0.0 and gap["transformer"] > 0.1
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    ct.encoding_gap()
    assert torch.equal(torch.rand(3), expected)  # the learner's random stream is left alone


def test_attention_sink_is_judged_against_the_map_given():
    words = ["<start>", "a", "gold", "fish", "and", "a", "red", "can"]
    w = torch.full((144, len(words)), 0.05)
    w[:, 0] = 0.45  # the sink: 56% of each row once normalised, every other column 6%
    w = w / w.sum(1, keepdim=True)
    fb = check.attention_sink("<start>", w, words)
    assert fb.status == "correct" and "attention sink" in fb.message, fb
    assert check.attention_sink(" <START> ", w, words).status == "correct"  # spacing and case are free
    fb = check.attention_sink("fish", w, words)
    assert fb.status == "wrong" and "'<start>' the most" in fb.message and "every pixel can use" in fb.message, fb
    # 'a' appears twice: its columns count together, and it is judged by that total
    w2 = w.clone()
    w2[:, [1, 5]] = 0.4
    w2 = w2 / w2.sum(1, keepdim=True)
    assert check.attention_sink("a", w2, words).status == "correct"
    assert check.attention_sink("<start>", w2, words).status == "wrong"
    assert check.attention_sink("beach", w, words).status == "error"  # not a word of this map
    assert check.attention_sink(None, w, words).status == "not attempted"
    with pytest.raises(ValueError, match="a column for each"):
        check.attention_sink("a", w[:, :3], words)


def test_swap_ratio_accepts_what_the_counts_allow_and_explains_the_rest():
    bag, transformer = (14, 64), (58, 64)  # about 22% and 91%: a ratio of 0.24
    assert check.swap_ratio(0.25, bag, transformer).status == "correct"
    fb = check.swap_ratio(1.0, bag, transformer)  # "no difference": the encoder ignored
    assert fb.status == "wrong" and "too high" in fb.message and "same set" not in fb.message, fb
    fb = check.swap_ratio(0.0, bag, transformer)  # "the bag never gets it right"
    assert fb.status == "wrong" and "too low" in fb.message and "guess between two bindings" in fb.message, fb
    assert check.swap_ratio(2.0, bag, transformer).status == "wrong"  # the ratio upside down
    # with few samples the interval is wide, and a reasonable answer passes
    assert check.swap_ratio(0.5, (2, 8), (6, 8)).status == "correct"
    assert check.swap_ratio("half", bag, transformer).status == "error"
    assert check.swap_ratio(None, bag, transformer).status == "not attempted"
