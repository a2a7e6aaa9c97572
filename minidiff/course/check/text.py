"""Checkers for lesson 10 (text to image): tokenising a caption, one cross-attention forward pass by
hand (pixels ask, words answer), the classifier-free guidance step on text, and a prediction: which
encoder cannot tell 'a red fish and a blue can' from 'a blue fish and a red can', and why."""

import math
import re

import torch

from ._core import (CORRECT, ERROR, NOT_ATTEMPTED, WRONG, Feedback, Mistake, _as_tensor, _clone, check_function,
                    run_learner)
from .choices import _rng_kept
from .guidance import cfg_mistakes


# --- tokenising a caption ------------------------------------------------------------------------------

def _outputs(fn, cases, reference) -> list:
    """The learner's answers as tensors (like the reference's), up to the first case that fails."""
    outs = []
    for args in cases:
        try:
            outs.append(_as_tensor(run_learner(fn, _clone(args)), torch.as_tensor(reference(*_clone(args)))))
        except Exception:
            break
    return outs


def _vocab() -> dict:
    from ...worlds.scenes import vocabulary
    from ...core.text import Tokenizer

    return dict(Tokenizer(vocabulary()).ids)  # {'<pad>': 0, '<start>': 1, ',': 2, 'a': 3, ...}


def _words(caption: str) -> list[str]:
    return re.findall(r"[a-z]+|,", caption.lower())


def _pad(ids: list, max_len: int, pad: int = 0) -> list:
    return ids + [pad] * (max_len - len(ids))


def _tokenise(caption, vocab, max_len):
    from ...core.text import Tokenizer

    # The library's tokenizer over the same vocabulary (its words in id order) is the reference.
    tok = Tokenizer(sorted(vocab, key=vocab.get), max_len=max_len)
    return tok.encode(caption)


def _ids(caption, vocab):
    return [vocab[w] for w in _words(caption)]


TOKENISE_CASES = [("a gold fish and a red can on the beach", 16),
                  ("On the beach, a red can next to a gold fish", 20),
                  ("At night, a blue boat on the left", 12)]
PAD_HINT = "padding is the <pad> token, vocab['<pad>'] = 0"
TOKENISE_MISTAKES = [
    Mistake("the first id must be <start> (vocab['<start>'] = 1): every caption begins with it, so even the "
            "empty caption has one token for the image to attend to.",
            lambda c, v, n: _pad(_ids(c, v), n)),
    Mistake("pad the list with <pad> (id 0) up to max_len: every caption in a batch must have the same "
            "length, and the padding is what the attention mask leaves out.",
            lambda c, v, n: [1] + _ids(c, v)),
    Mistake("both the <start> id at the front and the padding (id 0) up to max_len are missing.",
            lambda c, v, n: _ids(c, v)),
    Mistake("<start> counts towards max_len: the whole list, <start> included, has max_len ids.",
            lambda c, v, n: [1] + _pad(_ids(c, v), n)),
    Mistake("the commas are words too (vocab[','] = 2): 'beach,' is two tokens, 'beach' and ','. "
            "Split with re.findall(r'[a-z]+|,', caption.lower()).",
            lambda c, v, n: _pad([1] + [v[w] for w in _words(c) if w != ","], n)),
    Mistake(f"{PAD_HINT}, not <start> (1): <start> comes once, at the front.",
            lambda c, v, n: _pad([1] + _ids(c, v), n, pad=1)),
    Mistake("the padding goes after the words, not before them: <start>, the words, then <pad> (0) up to "
            "max_len.", lambda c, v, n: [0] * (n - 1 - len(_ids(c, v))) + [1] + _ids(c, v)),
]


def _tokenise_error(fn, cases, fb: Feedback) -> Feedback:
    """A KeyError on a word is a splitting or lower-casing mistake: say which."""
    for args in cases:
        try:
            run_learner(fn, _clone(args))
        except KeyError as err:
            key, caption = (err.args[0] if err.args else ""), args[0]
            if isinstance(key, str) and key != key.lower() and key.lower() in args[1]:
                return Feedback(fb.exercise, WRONG, f"KeyError {key!r} on {caption!r}: the vocabulary is "
                                "lower-case; lower-case the caption first (caption.lower()).")
            if isinstance(key, str) and "," in key:
                return Feedback(fb.exercise, WRONG, f"KeyError {key!r} on {caption!r}: a comma is a word of its "
                                "own; caption.split() leaves it stuck to the word before it. Use "
                                "re.findall(r'[a-z]+|,', caption.lower()).")
            return Feedback(fb.exercise, WRONG, f"KeyError {key!r} on {caption!r}: that is not a word of the "
                            "vocabulary; split the lower-cased caption into words and commas.")
        except Exception:
            break
    return fb


def _tokenise_diagnosis(fn, cases, fb: Feedback) -> Feedback:
    """When no typical mistake explains the answer: a wrong padding id, or show the first difference."""
    if fb.message in {m.hint for m in TOKENISE_MISTAKES} or fb.message.startswith("wrong shape"):
        return fb
    outs = _outputs(fn, cases, _tokenise)
    if len(outs) < len(cases):
        return fb
    pads = set()
    for out, args in zip(outs, cases):
        expected = _tokenise(*args)
        n = int((expected != 0).sum())
        if not torch.equal(out[:n], expected[:n]) or len(set(out[n:].tolist())) > 1:
            break
        pads.update(out[n:].tolist())
    else:
        if len(pads) == 1:
            return Feedback(fb.exercise, WRONG, f"the words are right, but you padded with id {pads.pop():g}: "
                                                f"{PAD_HINT}.")
    for k, (out, args) in enumerate(zip(outs, cases)):
        expected = _tokenise(*args)
        if not torch.equal(out, expected):
            return Feedback(fb.exercise, WRONG, f"on {args[0]!r} (max_len {args[2]}): expected "
                            f"{expected.tolist()}, got {[int(i) for i in out.tolist()]}.")
    return fb


def tokenise(fn) -> Feedback:
    """fn(caption, vocab, max_len) -> list of max_len ids: <start> (1), the ids of the lower-cased words and
    commas, then <pad> (0) up to max_len (what minidiff.text.Tokenizer.encode does)."""
    vocab = _vocab()
    cases = [(caption, vocab, n) for caption, n in TOKENISE_CASES]

    def guarded(caption, vocab_, max_len):  # a fresh dict each call: an edit cannot spoil the next case
        return fn(caption, dict(vocab_), max_len)

    fb = check_function("tokenise a caption", guarded, cases, _tokenise, TOKENISE_MISTAKES,
                        shape_hint="<start>, the words and commas, then <pad> up to max_len: max_len ids in all.")
    if fb.status == ERROR and fb.message.startswith("your function raised KeyError"):
        return _tokenise_error(guarded, cases, fb)
    return _tokenise_diagnosis(guarded, cases, fb) if fb.status == WRONG else fb


# --- one cross-attention forward pass by hand ----------------------------------------------------------

def _attention_case(seed: int, n: int, m: int, c: int, d_words: int, d: int) -> tuple:
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    # weights scaled so that the scores are of order one: the softmax is neither flat nor one-hot
    return (randn(n, c), randn(m, d_words), randn(c, d) / math.sqrt(c), randn(d_words, d) / math.sqrt(d_words),
            randn(d_words, d) / math.sqrt(d_words))


def _cross_attention(pixels, words, Wq, Wk, Wv):
    """softmax(Q K^T / sqrt(d)) V with Q = pixels Wq (N, d), K = words Wk, V = words Wv (M, d)."""
    from ...core.text import attention

    return attention(pixels @ Wq, words @ Wk, words @ Wv)[0]


def _scores(p, wd, Wq, Wk, scale):
    return (p @ Wq) @ (wd @ Wk).T / scale


# N pixels, M words, C channels per pixel, D per word, d the query width: all different, so that a
# swapped role or a scale by the wrong width shows.
ATTENTION_CASES = [_attention_case(0, 6, 4, 5, 3, 8), _attention_case(1, 9, 5, 4, 6, 3),
                   _attention_case(2, 4, 7, 8, 5, 2)]
ATTENTION_MISTAKES = [
    Mistake("the scores are not scaled: divide Q K^T by sqrt(d) (d = Wq.shape[1], the width of a query) "
            "before the softmax; without it a wide d makes the softmax nearly one-hot.",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, 1.0).softmax(-1) @ (wd @ v)),
    Mistake("divide the scores by sqrt(d), not by d: q . k sums d products, so its spread grows like "
            "sqrt(d).", lambda p, wd, q, k, v: _scores(p, wd, q, k, q.shape[1]).softmax(-1) @ (wd @ v)),
    Mistake("divide the scores by sqrt(d), do not multiply by it.",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, 1 / math.sqrt(q.shape[1])).softmax(-1) @ (wd @ v)),
    Mistake("d is the width of the queries and keys, Wq.shape[1]; you scaled by the pixels' width C "
            "(pixels.shape[1]).",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, math.sqrt(p.shape[1])).softmax(-1) @ (wd @ v)),
    Mistake("d is the width of the queries and keys, Wq.shape[1]; you scaled by the words' width D "
            "(words.shape[1]).",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, math.sqrt(wd.shape[1])).softmax(-1) @ (wd @ v)),
    Mistake("the softmax runs over the words, the last axis of the (N, M) scores (dim=-1): each pixel's "
            "weights over the M words sum to 1. You normalised each word's weights over the pixels (dim=0).",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, math.sqrt(q.shape[1])).softmax(0) @ (wd @ v)),
    Mistake("the softmax is missing: it turns the scaled scores into weights that are positive and sum to "
            "1 over the words.", lambda p, wd, q, k, v: _scores(p, wd, q, k, math.sqrt(q.shape[1])) @ (wd @ v)),
    Mistake("both the softmax and the scale 1/sqrt(d) are missing: weights = softmax(Q K^T / sqrt(d)).",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, 1.0) @ (wd @ v)),
    Mistake("the values are words @ Wv; you used Wk for them too.",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, math.sqrt(q.shape[1])).softmax(-1) @ (wd @ k)),
    Mistake("the roles are swapped: in cross-attention the pixels ask (queries = pixels @ Wq) and the words "
            "answer (keys = words @ Wk, values = words @ Wv), so there is one output row per pixel, (N, d). "
            "Yours has one row per word.",
            lambda p, wd, q, k, v: ((wd @ k) @ (p @ q).T / math.sqrt(q.shape[1])).softmax(-1) @ (p @ q)),
    Mistake("those are the attention weights (N, M); the answer is the weights times the values, "
            "weights @ (words @ Wv), of shape (N, d).",
            lambda p, wd, q, k, v: _scores(p, wd, q, k, math.sqrt(q.shape[1])).softmax(-1)),
]
SHAPES_HINT = ("Wq (C, d) turns the pixels (N, C) into queries; Wk and Wv (D, d) turn the words (M, D) into "
               "keys and values.")


def cross_attention(fn) -> Feedback:
    """fn(pixels (N, C), words (M, D), Wq (C, d), Wk (D, d), Wv (D, d)) -> (N, d): one head of
    cross-attention, softmax(Q K^T / sqrt(d)) V with Q = pixels Wq, K = words Wk, V = words Wv, no mask."""
    fb = check_function("cross-attention by hand", fn, ATTENTION_CASES, _cross_attention, ATTENTION_MISTAKES,
                        rtol=1e-6, atol=1e-8, shape_hint=f"one row per pixel, d wide. {SHAPES_HINT}")
    if fb.status == ERROR and ("shapes cannot be multiplied" in fb.message or "size mismatch" in fb.message
                               or "must match the size" in fb.message):
        return Feedback(fb.exercise, ERROR, f"{fb.message} {SHAPES_HINT}")
    return fb


def one_head_attention(Wq: torch.Tensor, Wk: torch.Tensor, Wv: torch.Tensor):
    """The library's module (text.MultiHeadAttention, one head) with these weights, no biases and the
    identity as its output projection (so d must equal C): module(pixels[None], words[None])[0] is the
    pass by hand."""
    from ...core.text import MultiHeadAttention

    (c, d), (d_words, _) = Wq.shape, Wk.shape
    if c != d:
        raise ValueError(f"one_head_attention: the output projection is the identity only when d = C; got "
                         f"Wq of shape {tuple(Wq.shape)}")
    module = MultiHeadAttention(c, d_words, d, heads=1).to(Wq.dtype)
    with torch.no_grad():
        for layer, weight in ((module.q, Wq), (module.k, Wk), (module.v, Wv), (module.out, torch.eye(d))):
            layer.weight.copy_(weight.T)  # nn.Linear computes x @ weight.T + bias
            layer.bias.zero_()
    return module


# --- the classifier-free guidance step on text ---------------------------------------------------------

def _eps(seed: int) -> torch.Tensor:
    return torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _text_cfg(eps_null, eps_caption, w):
    from ...core.guidance import cfg_eps

    return cfg_eps(eps_null, eps_caption, w)


TEXT_CFG_CASES = [(_eps(20), _eps(21), 3.0), (_eps(22), _eps(23), 0.5), (_eps(24), _eps(25), 7.5)]
TEXT_CFG_MISTAKES = cfg_mistakes("eps_null", "eps_caption", start="the empty caption's eps",
                                 towards="the caption's", plain="the plain caption model") + [
    Mistake("that is the caption's eps alone, which is w = 1; guidance goes w times as far from the empty "
            "caption's eps: eps_null + w (eps_caption - eps_null).", lambda en, ec, w: ec),
    Mistake("that is the empty caption's eps alone, which ignores the prompt (w = 0): "
            "eps_null + w (eps_caption - eps_null).", lambda en, ec, w: en),
]


def text_cfg(fn) -> Feedback:
    """fn(eps_null, eps_caption, w) -> the guided eps for a caption: eps_null (the model's eps for the empty
    caption, [<start>]) moved w times the difference towards eps_caption; w = 0 ignores the caption."""
    return check_function("guidance on a caption", fn, TEXT_CFG_CASES, _text_cfg, TEXT_CFG_MISTAKES)


# --- a prediction: which encoder cannot bind colours to objects? ---------------------------------------

SWAP_PAIR = ("a red fish and a blue can on the grass", "a blue fish and a red can on the grass")
SWAP_REASONS = {
    "A": "it has fewer parameters, so it has not finished learning",
    "B": "it gives the same encoding to both prompts of a pair, so the U-Net cannot know which colour goes "
         "with which object",
    "C": "the colour-object pairs of these prompts were never seen in training",
    "D": "its attention is spread too thinly over the words of a long caption",
}
ENCODERS = {"bag": "bag", "bagofwords": "bag", "bow": "bag", "transformer": "transformer",
            "transformerencoder": "transformer"}
SAME_ENCODING = ("a bag of words embeds each word on its own, with no position and no look at its neighbours, so "
                 f"'{SWAP_PAIR[0]}' and '{SWAP_PAIR[1]}' give it the same set of word vectors: the same "
                 "encoding. The U-Net gets the same input for both prompts and can only guess which colour "
                 "goes on which object, right about half the time")
SWAP_HINTS = {
    "A": "A: size is not the cause; no amount of training helps, because " + SAME_ENCODING + ".",
    "C": "C: every prompt of these pairs is a combination seen in training (scenes.swap_pairs keeps only "
         "those); what tells the two prompts of a pair apart is only the order of their words.",
    "D": "D: a bag of words has no attention between words at all; the transformer's attention is what lets "
         "'red' find the noun it belongs to.",
}


def encoding_gap(pair=SWAP_PAIR, seed: int = 0) -> dict:
    """{encoder kind: how far apart the two prompts' encodings are} for freshly initialised encoders
    (seeded): the largest distance from a word vector of one prompt to the nearest word vector of the
    other. 0 means the same set of vectors, the same input to cross-attention."""
    from ...worlds.scenes import vocabulary
    from ...core.text import BagOfWords, Tokenizer, TransformerEncoder

    tok = Tokenizer(vocabulary())
    ids = tok(list(pair))
    out = {}
    with _rng_kept():
        for kind, cls in (("bag", BagOfWords), ("transformer", TransformerEncoder)):
            torch.manual_seed(seed)
            with torch.no_grad():
                context, mask = cls(len(tok)).eval()(ids)
            a, b = context[0][mask[0]].double(), context[1][mask[1]].double()
            out[kind] = torch.cdist(a, b).min(1).values.max().item()
    return out


def _choice(answer):
    """(encoder, reason, whether a reason was asked for) from {'encoder': ..., 'reason': ...}, a pair, or an
    encoder alone."""
    if isinstance(answer, dict):
        return answer.get("encoder"), answer.get("reason"), True
    if isinstance(answer, (tuple, list)) and len(answer) == 2:
        return answer[0], answer[1], True
    return answer, None, False


def swap_prediction(answer) -> Feedback:
    """Which encoder scores near 50% on the colour-swap prompts ('a red fish and a blue can' against 'a blue
    fish and a red can'), and why: answer = 'bag' or 'transformer' (the encoder alone; a right one is told
    why), or {'encoder': ..., 'reason': a letter of SWAP_REASONS} (then the reason is judged too)."""
    ex = "which encoder cannot bind colours"
    encoder, reason, asked = _choice(answer)
    if encoder is None or encoder is ...:
        if reason is None or reason is ...:
            return Feedback(ex, NOT_ATTEMPTED, "not attempted yet: replace None with your answer.")
        return Feedback(ex, NOT_ATTEMPTED, "the encoder is missing: 'bag' or 'transformer'.")
    key = re.sub(r"[\s_-]", "", encoder.lower()) if isinstance(encoder, str) else None
    if key not in ENCODERS:
        return Feedback(ex, ERROR, f"answer the encoder with 'bag' or 'transformer', got {encoder!r}")
    if ENCODERS[key] == "transformer":
        return Feedback(ex, WRONG, "the transformer's words see each other and their places, so 'red' before "
                                   "'fish' is encoded differently from 'red' before 'can'. It is the bag of "
                                   f"words that cannot tell them apart: {SAME_ENCODING}.")
    if not asked:
        return Feedback(ex, CORRECT, f"the bag of words: {SAME_ENCODING}.")
    if reason is None or reason is ...:
        return Feedback(ex, NOT_ATTEMPTED, "the bag of words, yes; now say why: set 'reason' to one of "
                                           f"{', '.join(SWAP_REASONS)} (check.text.SWAP_REASONS).")
    letter = str(reason).strip().upper()
    if letter not in SWAP_REASONS:
        return Feedback(ex, ERROR, f"the reason is one of the letters {', '.join(SWAP_REASONS)}, got {reason!r}")
    if letter != "B":
        return Feedback(ex, WRONG, f"the bag of words, yes, but not because of {letter}. {SWAP_HINTS[letter]}")
    gap = encoding_gap()
    return Feedback(ex, CORRECT, f"{SAME_ENCODING}. Measured on fresh encoders: the two prompts' word vectors "
                                 f"are {gap['bag']:.1g} apart for the bag and {gap['transformer']:.2f} apart "
                                 "for the transformer.")


# --- predictions made before the result is shown (lesson 10) --------------------------------------------

def attention_sink(answer, weights: torch.Tensor, words: list) -> Feedback:
    """answer: the word you expected to take the largest share of all the attention in section 4's map.
    weights: (pixels, L) the map the lesson drew (each row sums to 1 over the words); words: its words."""
    ex = "which word takes the most attention"
    if answer is None or answer is ...:
        return Feedback(ex, NOT_ATTEMPTED, "not attempted yet: replace None with a word of the prompt, or '<start>'.")
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if weights.ndim != 2 or weights.shape[1] < len(words):
        raise ValueError(f"attention_sink: weights must be (pixels, words) with a column for each of the "
                         f"{len(words)} words, got {tuple(weights.shape)}")
    share = weights[:, :len(words)].mean(0)  # each word's share of all the attention
    by_word = {}
    for w, s in zip(words, share.tolist()):
        by_word[w] = by_word.get(w, 0.0) + s  # 'a' twice: its two columns together
    key = str(answer).strip().lower()
    if key not in by_word:
        return Feedback(ex, ERROR, f"answer with one of the map's words: {', '.join(repr(w) for w in by_word)}; "
                                   f"got {answer!r}")
    top = max(by_word, key=by_word.get)
    shares = f"{key!r} took {by_word[key]:.0%} of the attention, {top!r} the most, {by_word[top]:.0%}"
    if by_word[key] >= by_word[top] - 0.02:  # within two points of the largest: a tie at this resolution
        why = (" A token that every caption has, in the same place, is the safe place for a pixel to put weight "
               "it has no use for: an attention sink (Xiao et al. 2023 named it in language models).") \
            if key == "<start>" else ""
        return Feedback(ex, CORRECT, f"{shares}.{why}")
    hint = ("the pixels of the background and of every object each spread their weight over all the words, and "
            "most pixels are neither the fish nor the can: the word that takes the most is the one that "
            "every pixel can use")
    return Feedback(ex, WRONG, f"{shares}. Look at the map again: {hint}.")


def swap_ratio(answer, bag: tuple, transformer: tuple) -> Feedback:
    """answer: your prediction, before section 7 ran, of the bag-of-words model's adherence on the
    colour-swap prompts as a fraction of the transformer's (1: as good, 0: never right). bag and
    transformer: (adhering samples, samples) that section 7 measured. Right when the answer lies within
    what the counts allow: the ratio of the two shares' 95% Wilson intervals, lowest to highest."""
    from ...worlds.metrics import share_interval

    ex = "the bag of words against the transformer, predicted"
    if answer is None or answer is ...:
        return Feedback(ex, NOT_ATTEMPTED, "not attempted yet: replace None with a number between 0 and 1.")
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        return Feedback(ex, ERROR, f"answer with one number, the ratio of the two shares, got {answer!r}")
    (kb, nb), (kt, nt) = bag, transformer
    (lb, hb), (lt, ht) = share_interval(kb, nb), share_interval(kt, nt)
    low, high = lb / max(ht, 1e-9), hb / max(lt, 1e-9)
    measured = f"measured: bag {kb} of {nb}, transformer {kt} of {nt}, a ratio of {kb / nb / max(kt / nt, 1e-9):.2f} " \
               f"(the counts allow {low:.2f} to {min(high, 9.99):.2f})"
    if low <= answer <= high:
        return Feedback(ex, CORRECT, f"{measured}. The bag gives both captions of a pair the same set of vectors, "
                                     "so it can at best guess which object gets which colour: half the time.")
    if answer > high:
        return Feedback(ex, WRONG, f"{answer:g} is too high; {measured}. What does a bag of words give to 'a red fish "
                                   "and a blue can' that it does not also give to 'a blue fish and a red can'?")
    return Feedback(ex, WRONG, f"{answer:g} is too low; {measured}. The bag is not blind to colours: it knows a red "
                               "thing and a blue thing are asked for, only not which is which. How often does a "
                               "guess between two bindings come out right?")
