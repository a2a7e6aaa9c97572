"""nets.text_unet: cross-attention against a float64 computation from the module's own weights, and a
TextUNet that reads its caption (gradient, null caption, padding ignored) and refuses bad input."""

import math

import pytest
import torch

from minidiff import scenes as S
from minidiff.core.nets.text_unet import CrossAttention, EncodedText, TextUNet
from minidiff.core.text import PAD, Tokenizer

TOK = Tokenizer(S.vocabulary())
ENCODER = dict(kind="transformer", dim=16, heads=2, layers=1, max_len=20)


def tiny(encoder=ENCODER, seed: int = 0) -> TextUNet:
    torch.manual_seed(seed)
    return TextUNet(len(TOK), channels=(8, 16), cross_levels=(1,), encoder=encoder, groups=4, heads=2)


def cross_by_hand(module: CrossAttention, x, context, mask):
    """GroupNorm, queries from pixels, keys and values from the words, per-head softmax(QK^T/sqrt(d))V
    over the unmasked words only, the out projection, plus x: all in float64 from the module's weights."""
    b, c, h, w = x.shape
    gn, attn = module.norm, module.attn
    g = gn.num_groups
    xg = x.reshape(b, g, -1)
    normed = (xg - xg.mean(-1, keepdim=True)) / torch.sqrt(xg.var(-1, unbiased=False, keepdim=True) + gn.eps)
    normed = normed.reshape(b, c, h, w) * gn.weight[:, None, None] + gn.bias[:, None, None]
    pixels = normed.reshape(b, c, h * w).transpose(1, 2)  # (B, HW, C)
    q = pixels @ attn.q.weight.T + attn.q.bias  # (B, HW, C)
    k = context @ attn.k.weight.T + attn.k.bias  # (B, L, C)
    v = context @ attn.v.weight.T + attn.v.bias
    heads, d = attn.heads, c // attn.heads
    out = torch.zeros(b, h * w, c, dtype=torch.float64)
    for i in range(b):
        keep = mask[i]
        for head in range(heads):
            sl = slice(head * d, (head + 1) * d)
            scores = q[i, :, sl] @ k[i][keep][:, sl].T / math.sqrt(d)  # (HW, kept words)
            weights = torch.exp(scores - scores.max(1, keepdim=True).values)
            weights = weights / weights.sum(1, keepdim=True)
            out[i, :, sl] = weights @ v[i][keep][:, sl]
    out = out @ attn.out.weight.T + attn.out.bias  # (B, HW, C)
    return x + out.transpose(1, 2).reshape(b, c, h, w)


@pytest.mark.parametrize("keep_weights", [False, True])
def test_cross_attention_equals_a_direct_computation(keep_weights):
    torch.manual_seed(0)
    module = CrossAttention(channels=8, context_dim=6, groups=4, heads=2).double()
    with torch.no_grad():  # GroupNorm starts at weight 1, bias 0: make its affine part count too
        module.norm.weight.uniform_(0.5, 1.5)
        module.norm.bias.uniform_(-0.5, 0.5)
    module.attn.keep_weights = keep_weights
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 8, 3, 5, generator=g, dtype=torch.float64)
    context = torch.randn(2, 4, 6, generator=g, dtype=torch.float64)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    out = module(x, context, mask)
    assert out.shape == x.shape and out.dtype == torch.float64
    assert torch.allclose(out, cross_by_hand(module, x, context, mask), atol=1e-12)
    assert not torch.allclose(out, x, atol=1e-3)  # the attention adds something
    # the masked words do not matter, the unmasked ones do
    changed = context.clone()
    changed[0, 2:] = 100.0
    assert torch.allclose(module(x, changed, mask), out, atol=1e-12)
    changed[0, 1] += 1.0
    assert not torch.allclose(module(x, changed, mask)[0], out[0], atol=1e-6)


def test_text_unet_shape_and_dtype_follow_the_input():
    net = tiny()
    assert len(net.cross_attentions()) == 3  # level 1 down and up, and the bottom
    x, t, ids = torch.randn(2, 3, 8, 8), torch.tensor([0.3, 0.8]), TOK(["a red can", "a gold fish at night"])
    out = net(x, t, ids)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    out64 = net.double()(x.double(), t.double(), ids)
    assert out64.dtype == torch.float64 and torch.allclose(out64.float(), out, atol=1e-4)
    assert net(x.double(), torch.tensor(0.5, dtype=torch.float64), ids).shape == x.shape  # one t for the batch
    with pytest.raises(ValueError, match="multiple of groups"):
        TextUNet(len(TOK), channels=(8, 12), groups=8)


def test_the_caption_reaches_the_output_and_the_gradient_reaches_the_word_embeddings():
    net = tiny().double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.4, 0.4], dtype=torch.float64)
    a, b = TOK(["a red fish and a blue can", "a red fish and a blue can"]), TOK(["a blue fish and a red can"] * 2)
    out_a, out_b = net(x, t, a), net(x, t, b)
    assert (out_a - out_b).abs().max() > 1e-4  # the same words in another order: another output
    net(x, t, a).pow(2).mean().backward()
    grad = net.encoder.token.weight.grad  # (vocab, dim)
    used = set(a.unique().tolist()) - {PAD}
    for i in range(len(TOK)):
        if i in used:
            assert grad[i].abs().max() > 0, TOK.words[i]  # every word of the caption gets a gradient
        elif i != PAD:
            assert (grad[i] == 0).all(), TOK.words[i]  # words not in the caption get none
    assert (grad[PAD] == 0).all()  # padding is masked everywhere, so it gets no gradient either


def test_cond_none_is_the_null_caption():
    net = tiny()
    x, t = torch.randn(3, 3, 8, 8), torch.full((3,), 0.5)
    null = net.null_cond(3)
    assert torch.equal(null, TOK.null(3))
    assert torch.equal(net(x, t), net(x, t, null))
    assert not torch.allclose(net(x, t), net(x, t, TOK(["a red can"] * 3)))


def test_padding_is_ignored():
    net = tiny().double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([0.2, 0.9], dtype=torch.float64)
    ids = TOK(["a gold fish and a red can on the beach", "at night, a white star"])
    out = net(x, t, ids)
    # appending padding changes nothing: the same captions cut to 11 tokens (the first has 10 words)
    assert torch.allclose(net(x, t, ids[:, :11]), out, atol=1e-12)
    # and whatever the padding token's embedding holds, the output is the same (a random change: a
    # constant added to every entry would vanish in the LayerNorms whether masked or not)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        net.encoder.token.weight[PAD] += 10 * torch.randn(16, generator=g, dtype=torch.float64)
    assert torch.allclose(net(x, t, ids), out, atol=1e-12)
    # whereas a word's embedding does matter
    with torch.no_grad():
        net.encoder.token.weight[TOK.words.index("star")] += torch.randn(16, generator=g, dtype=torch.float64)
    changed = net(x, t, ids)
    assert torch.allclose(changed[0], out[0], atol=1e-12) and not torch.allclose(changed[1], out[1], atol=1e-6)


def test_bag_of_words_text_unet_also_runs():
    net = tiny(encoder=dict(kind="bag", dim=16, max_len=20))
    x, t = torch.randn(2, 3, 8, 8), torch.full((2,), 0.5)
    a, b = TOK(["a red fish and a blue can"] * 2), TOK(["a blue fish and a red can"] * 2)
    assert not torch.allclose(net(x, t, a), net(x, t, TOK(["a gold boat"] * 2)), atol=1e-5)
    # no order: captions with the same words give the same output, up to float32 summation order
    assert torch.allclose(net(x, t, a), net(x, t, b), atol=1e-5)


def test_captions_encoded_once_give_the_same_numbers_as_ids():
    # what a sampler does: read the captions once (encode), then pass the result at every step
    net = tiny()
    x, t, ids = torch.randn(3, 3, 8, 8), torch.full((3,), 0.5), TOK(["a red can", "a gold fish", ""])
    text = net.encode(ids)
    assert isinstance(text, EncodedText) and text.context.shape == (3, 20, 16)
    assert torch.equal(text.mask, ids != PAD)
    assert torch.equal(net(x, t, text), net(x, t, ids))
    one = net.encode(ids[:1])  # one caption for a whole batch: rows(n) repeats it
    assert torch.equal(net(x, t, one.rows(3)), net(x, t, ids[:1].expand(3, -1)))
    both = text.cat(one.rows(3))
    assert both.context.shape == (6, 20, 16) and torch.equal(both.mask[3:], one.mask.expand(3, -1))


def test_encoded_captions_of_another_batch_are_refused():
    net = tiny()
    x, t = torch.randn(3, 3, 8, 8), torch.full((3,), 0.5)
    text = net.encode(TOK(["a red can", "a gold fish"]))
    with pytest.raises(ValueError, match=r"cond holds 2 encoded captions for a batch of 3; encode one per sample"):
        net(x, t, text)
    with pytest.raises(ValueError, match=r"EncodedText: 2 captions for a batch of 3; encode one caption, or one"):
        text.rows(3)


def test_bad_inputs_are_refused():
    net = tiny()
    x, t, ids = torch.randn(2, 3, 8, 8), torch.full((2,), 0.5), TOK(["a red can", "a gold fish"])
    for bad in (torch.randn(3, 8, 8), torch.randn(2, 1, 8, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 8, 9)):
        with pytest.raises(ValueError, match=r"x must have shape \(B, 3, H, W\)"):
            net(bad, t, ids)
    with pytest.raises(ValueError, match=r"t must have shape \(B,\)"):
        net(x, torch.full((3,), 0.5), ids)
    with pytest.raises(ValueError, match=r"cond must be caption ids of shape \(B, L\)"):
        net(x, t, ids[:1])
    with pytest.raises(ValueError, match=r"cond must be caption ids of shape \(B, L\)"):
        net(x, t, ids[0])
    with pytest.raises(ValueError, match="dtype long"):
        net(x, t, ids.float())
    no_start = ids.clone()
    no_start[:, 0] = PAD
    with pytest.raises(ValueError, match="<start>"):
        net(x, t, no_start)
    with pytest.raises(ValueError, match="same word list"):
        net.tokenizer(S.vocabulary()[:-1])
    assert net.tokenizer(S.vocabulary()).max_len == 20
