"""text: the tokenizer and its error, attention against a float64 computation by hand, caption dropout
at its rate, and the two encoders' one real difference (word order)."""

import math

import pytest
import torch

from minidiff import scenes as S
from minidiff import text as T

TOK = T.Tokenizer(S.vocabulary())
TEMPLATES = T.Tokenizer(S.vocabulary("templates"))  # lesson 10's pixel model: the ten templates' 33 words


def test_the_tokenizer_round_trips_every_template_of_training_scenes():
    _, scenes = S.sample_scenes(150, seed=21, split="train")
    assert len(TOK) == len(S.vocabulary()) + 2 and TOK.words[:2] == ["<pad>", "<start>"]
    for s in scenes:
        flipped = S.Scene(s.background, s.things[::-1])
        for scene in (s, flipped):
            for k in range(len(S.TWO if len(s.things) == 2 else S.ONE)):
                c = S.caption(scene, k)
                ids = TOK.encode(c)
                n = len(S.words(c))
                assert ids.shape == (TOK.max_len,) and ids.dtype == torch.long
                assert ids[0] == T.START and (ids[1:n + 1] > T.START).all() and (ids[n + 1:] == T.PAD).all()
                assert TOK.decode(ids) == " ".join(S.words(c)).replace(" ,", ",") == c


def test_the_tokenizer_by_hand():
    ids = TOK("On the beach, a Red can")[0]  # case and the comma's spacing do not matter
    words = ["on", "the", "beach", ",", "a", "red", "can"]
    assert ids[:8].tolist() == [T.START] + [TOK.words.index(w) for w in words]
    assert TOK.decode(ids) == "on the beach, a red can"
    batch = TOK(["a red can", "a gold fish at night"])
    assert batch.shape == (2, 20) and torch.equal(batch[1], TOK.encode("a gold fish at night"))
    assert TOK([]).shape == (0, 20)


@pytest.mark.parametrize("word, suggestions", [("goldfish", ["gold", "fish"]), ("bech", ["beach"])])
def test_an_unknown_word_is_named_with_the_nearest_known_ones(word, suggestions):
    with pytest.raises(ValueError) as err:
        TEMPLATES(f"a red can and a {word}")
    message = str(err.value)
    assert f"unknown word {word!r}" in message
    hint = message.split("did you mean", 1)[1].split("?")[0]
    assert hint.split(" or ")[0].strip() == repr(suggestions[0])  # the closest first
    for s in suggestions:
        assert repr(s) in hint


def test_punctuation_is_an_unknown_word_and_a_far_word_gets_no_suggestion():
    with pytest.raises(ValueError, match=r"unknown word '!'"):
        TOK("a red ! can")
    assert torch.equal(TOK("A red can!"), TOK("a red can"))  # but a sentence may end with one
    with pytest.raises(ValueError, match=r"unknown word 'xyzzy'") as err:
        TEMPLATES("xyzzy")
    assert "did you mean" not in str(err.value) and "in 'xyzzy'. The model knows 33 words" in str(err.value)
    with pytest.raises(ValueError, match="must be a string"):
        TOK([3])


def test_too_long_captions_are_refused():
    nineteen = " ".join(["a"] * 19)
    assert TOK.encode(nineteen)[-1] == TOK.words.index("a")  # <start> + 19 words fill 20 exactly
    with pytest.raises(ValueError, match="has 20 words; at most 19 fit"):
        TOK.encode(nineteen + " a")
    short = T.Tokenizer(S.vocabulary(), max_len=6)
    with pytest.raises(ValueError, match="at most 5 fit"):
        short("a gold fish on the beach")


def test_null_is_start_then_padding():
    null = TOK.null(3)
    assert null.dtype == torch.long and null.shape == (3, 20)
    assert (null[:, 0] == T.START).all() and (null[:, 1:] == T.PAD).all()
    assert torch.equal(TOK("")[0], null[0])
    assert TOK.decode(null[0]) == ""


# ---- attention ----------------------------------------------------------------------------------

def by_hand(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v in float64, one query at a time, masked keys simply left out."""
    out = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=torch.float64)
    for idx in torch.cartesian_prod(*[torch.arange(n) for n in q.shape[:-1]]).tolist():
        *lead, i = idx
        keep = mask[tuple(lead)] if mask is not None else torch.ones(k.shape[-2], dtype=torch.bool)
        ks, vs = k[tuple(lead)][keep], v[tuple(lead)][keep]
        scores = torch.tensor([float(q[tuple(idx)] @ kj) / math.sqrt(q.shape[-1]) for kj in ks], dtype=torch.float64)
        e = torch.exp(scores - scores.max())
        out[tuple(idx)] = (e / e.sum()) @ vs
    return out


def test_attention_equals_a_softmax_written_out_in_float64():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    k = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    v = torch.randn(2, 5, 6, generator=g, dtype=torch.float64)
    out, weights = T.attention(q, k, v)
    assert out.shape == (2, 3, 6) and weights.shape == (2, 3, 5)
    assert torch.allclose(out, by_hand(q, k, v), atol=1e-12)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    mask = torch.tensor([[True, False, True, True, False], [True, True, True, True, True]])
    out, weights = T.attention(q, k, v, mask)
    assert torch.allclose(out, by_hand(q, k, v, mask), atol=1e-12)
    assert (weights[0, :, ~mask[0]] == 0).all()  # masked keys get weight exactly 0
    assert (weights[0, :, mask[0]] > 0).all()
    assert not torch.allclose(out[0], by_hand(q, k, v)[0])  # and the mask changed the answer


def test_multi_head_attention_fused_and_written_out_paths_agree():
    torch.manual_seed(0)
    mha = T.MultiHeadAttention(dim_x=12, dim_context=10, dim=16, heads=4)
    x, context = torch.randn(3, 7, 12), torch.randn(3, 5, 10)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [True, False, True, False, True]])
    for m in (None, mask):
        mha.keep_weights, mha.weights = False, None
        fused = mha(x, context, m)
        assert mha.weights is None  # the fused path keeps no weights
        mha.keep_weights = True
        written = mha(x, context, m)
        # float32 with values of order 1 and sums of at most 16 terms: agreement to ~1e-6; 1e-5 is ample
        assert torch.allclose(fused, written, atol=1e-5, rtol=0), (fused - written).abs().max()
        assert mha.weights.shape == (3, 4, 7, 5)
    assert (mha.weights[1, :, :, 2:] == 0).all() and (mha.weights[2, :, :, [1, 3]] == 0).all()
    with pytest.raises(ValueError, match="divisible by heads"):
        T.MultiHeadAttention(8, 8, 10, heads=4)


# ---- caption dropout ------------------------------------------------------------------------------

def test_drop_captions_nulls_rows_at_the_rate_p():
    base = TOK(["a red can on the beach", "a gold fish and a blue boat in the snow", "at night, a white star"])
    n, p = 20_000, 0.1
    ids = base[torch.arange(n) % 3]
    out = T.drop_captions(ids, p, torch.Generator().manual_seed(0))
    null = TOK.null(1)[0]
    dropped = (out == null).all(1)
    kept = (out == ids).all(1)
    assert (dropped ^ kept).all()  # every row is either untouched or exactly the null caption
    se = math.sqrt(p * (1 - p) / n)  # binomial standard error of the rate: 0.0021
    assert abs(dropped.float().mean().item() - p) < 4 * se, dropped.float().mean()
    again = T.drop_captions(ids, p, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the same generator seed drops the same rows
    assert torch.equal(T.drop_captions(ids, 0.0), ids)
    assert (T.drop_captions(ids[:50], 1.0) == null).all()


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
def test_drop_captions_refuses_p_outside_zero_one(p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        T.drop_captions(TOK(["a red can"]), p)


# ---- encoders ----------------------------------------------------------------------------------

def vectors_of(encoder, text):
    ids = TOK([text])
    context, mask = encoder(ids)
    assert torch.equal(mask, ids != T.PAD)
    return context[0], ids[0]


def test_bag_of_words_knows_no_order_and_the_transformer_does():
    torch.manual_seed(0)
    bag, transformer = T.BagOfWords(len(TOK), dim=16), T.TransformerEncoder(len(TOK), dim=16, heads=2, layers=1)
    text = "a red fish and a blue can on the grass"
    shuffled = "grass the on can blue a and fish red a"
    (c1, ids1), (c2, ids2) = vectors_of(bag, text), vectors_of(bag, shuffled)
    n = len(text.split()) + 1
    rows1 = sorted(c1[:n].tolist())
    rows2 = sorted(c2[:n].tolist())
    assert torch.allclose(torch.tensor(rows1), torch.tensor(rows2), atol=1e-6)  # the same set of vectors
    fish = TOK.words.index("fish")
    swapped = "a blue fish and a red can on the grass"
    for encoder, same in ((bag, True), (transformer, False)):
        (a, ia), (b, ib) = vectors_of(encoder, text), vectors_of(encoder, swapped)
        pa, pb = (ia == fish).nonzero().item(), (ib == fish).nonzero().item()
        assert pa == pb == 3
        gap = (a[pa] - b[pb]).abs().max().item()
        if same:
            assert gap < 1e-6
        else:
            assert gap > 1e-2, gap  # the fish's vector depends on the colour word before it


@pytest.mark.parametrize("kind", ["transformer", "bag"])
def test_encoders_refuse_bad_ids(kind):
    encoder = T.build_encoder(dict(kind=kind, vocab_size=len(TOK), dim=8, max_len=20)
                              | (dict(heads=2, layers=1) if kind == "transformer" else {}))
    ids = TOK(["a red can", "a gold fish"])
    context, mask = encoder(ids)
    assert context.shape == (2, 20, 8) and torch.isfinite(context).all()
    no_start = ids.clone()
    no_start[1, 0] = TOK.words.index("a")
    with pytest.raises(ValueError, match="must start with the <start> token"):
        encoder(no_start)
    with pytest.raises(ValueError, match="dtype long"):
        encoder(ids.float())
    with pytest.raises(ValueError, match=r"shape \(B, L\)"):
        encoder(ids[0])
    too_big = ids.clone()
    too_big[0, 2] = len(TOK)
    with pytest.raises(ValueError, match=rf"ids must be in 0..{len(TOK) - 1}"):
        encoder(too_big)
    with pytest.raises(ValueError, match="at most 20 tokens"):
        encoder(torch.cat([ids, ids], 1))
    with pytest.raises(ValueError, match="kind must be one of"):
        T.build_encoder(dict(kind="lstm"))


def test_an_unknown_word_keeps_the_problem_and_the_vocabulary_apart():
    tok = T.Tokenizer(["a", "gold", "fish"])
    with pytest.raises(T.UnknownWord) as err:
        tok.encode("a goldfsh")
    assert isinstance(err.value, ValueError)  # callers that catch ValueError still do
    assert err.value.problem.startswith("Tokenizer: unknown word 'goldfsh'") and "'gold'" in err.value.problem
    assert err.value.known == "The model knows 3 words: a gold fish"
    assert str(err.value) == f"{err.value.problem} {err.value.known}"
