"""guidance.ClassifierFree on captions: a small random TextUNet, one network call per model call, the
two-call formula, w = 1 is the conditional model, one caption broadcast, and misuse refused."""

import pytest
import torch

from minidiff import guidance, params, samplers, schedules
from minidiff import scenes as S
from minidiff.core.nets.text_unet import TextUNet
from minidiff.core.text import Tokenizer

SCHEDULE = schedules.VPLinear()
TOK = Tokenizer(S.vocabulary())


class Counted(TextUNet):
    """The tiny TextUNet, counting its calls and the batch size of each."""

    def __init__(self):
        torch.manual_seed(0)
        super().__init__(len(TOK), channels=(8, 16), cross_levels=(1,), groups=4, heads=2,
                         encoder=dict(kind="transformer", dim=16, heads=2, layers=1, max_len=20))
        self.calls, self.batches = 0, []

    def forward(self, x, t, cond=None):
        self.calls += 1
        self.batches.append(x.shape[0])
        return super().forward(x, t, cond)


def setup(dtype=torch.float64, b: int = 3):
    net = Counted().to(dtype)
    model = params.Denoiser(net, SCHEDULE)
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(b, 3, 8, 8, generator=g, dtype=dtype), torch.full((b,), 0.6, dtype=dtype)
    ids = TOK(["a red fish and a blue can on the grass", "at night, a gold star", "a white boat in the snow"][:b])
    return net, model, x, t, ids


def test_one_batched_call_equals_the_two_call_formula():
    net, model, x, t, ids = setup()
    guided = guidance.ClassifierFree(model, ids, 2.5)
    net.calls = 0
    pred = guided(x, t)
    assert net.calls == 1 and net.batches[-1] == 6  # the caption half and the null half together
    eps_c = model(x, t, ids).eps  # the two-call formula, by hand
    eps_u = model(x, t, TOK.null(3)).eps
    assert not torch.allclose(eps_c, eps_u, atol=1e-4)  # the caption matters, so the test can tell
    # float64, and GroupNorm works per sample, so one batch of 2B gives the two calls' numbers
    assert torch.allclose(pred.eps, eps_u + 2.5 * (eps_c - eps_u), atol=1e-10)
    assert torch.allclose(pred.x0, params.eps_to_x0(pred.eps, x, SCHEDULE.alpha(t), SCHEDULE.sigma(t)), atol=1e-10)


def test_w_one_is_the_conditional_model_and_w_zero_the_null_caption():
    net, model, x, t, ids = setup()
    assert torch.allclose(guidance.ClassifierFree(model, ids, 1.0)(x, t).eps, model(x, t, ids).eps, atol=1e-10)
    assert torch.allclose(guidance.ClassifierFree(model, ids, 0.0)(x, t).eps, model(x, t).eps, atol=1e-10)
    net.calls = 0
    uncond = guidance.ClassifierFree(model, None, 5.0)(x, t)  # no caption: one call of B, w ignored
    assert net.calls == 1 and net.batches[-1] == 3
    assert torch.allclose(uncond.eps, model(x, t, net.null_cond(3)).eps, atol=1e-12)


def test_one_caption_is_broadcast_to_the_batch():
    _, model, x, t, _ = setup()
    one = TOK.encode("a gold fish and a red can on the beach")  # (L,)
    a = guidance.ClassifierFree(model, one, 3.0)(x, t)
    b = guidance.ClassifierFree(model, one.expand(3, -1).clone(), 3.0)(x, t)
    assert torch.allclose(a.eps, b.eps, atol=1e-12)
    other = guidance.ClassifierFree(model, TOK.encode("a blue ball on the grass"), 3.0)(x, t)
    assert not torch.allclose(a.eps, other.eps, atol=1e-4)


@pytest.mark.parametrize("name", sorted(samplers.SAMPLERS))
def test_every_sampler_makes_one_network_call_per_model_call(name):
    net, model, x, _, ids = setup(torch.float32, b=2)
    guided = samplers.CountCalls(guidance.ClassifierFree(model, ids, 3.0))
    net.calls = 0
    out = samplers.run(samplers.SAMPLERS[name](guided, x, torch.linspace(0.9, 0.0, 5), SCHEDULE,
                                               generator=torch.Generator().manual_seed(0)))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert net.calls == guided.calls >= 4 and set(net.batches) == {4}


def test_captions_encoded_once_guide_like_ids_and_the_encoder_runs_twice_in_all():
    net, model, x, t, ids = setup()
    runs = []
    net.encoder.register_forward_hook(lambda module, args, out: runs.append(args[0].shape[0]))
    by_ids = guidance.ClassifierFree(model, ids, 2.5)
    expected = [by_ids(x, t) for _ in range(3)]
    assert runs == [6, 6, 6]  # ids: the 2B captions (3 + 3 empty) are read again at every call
    runs.clear()
    guided = guidance.ClassifierFree(model, net.encode(ids), 2.5)
    got = [guided(x, t) for _ in range(3)]
    assert runs == [3, 1]  # encoded: the captions once (by the caller), the empty caption once (when built)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.eps, b.eps, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(a.x0, b.x0, rtol=1e-12, atol=1e-12)
    assert "cond=captions (3, 20), w=2.5" in repr(guided)
    one = guidance.ClassifierFree(model, net.encode(ids[:1]), 2.5)(x, t)  # one caption for the batch
    torch.testing.assert_close(one.eps, guidance.ClassifierFree(model, ids[0], 2.5)(x, t).eps, rtol=1e-12, atol=1e-12)


def test_bad_captions_are_refused():
    _, model, x, t, ids = setup()
    with pytest.raises(ValueError, match="cond must be caption ids"):
        guidance.ClassifierFree(model, ids.double(), 2.0)(x, t)
    with pytest.raises(ValueError, match=r"one per sample \(3, L\)"):
        guidance.ClassifierFree(model, ids[:2], 2.0)(x, t)
    with pytest.raises(ValueError, match="cond must be caption ids"):
        guidance.ClassifierFree(model, ids[None], 2.0)(x, t)
    with pytest.raises(ValueError, match="w must be a finite number >= 0"):
        guidance.ClassifierFree(model, ids, -1.0)


def test_a_negative_prompt_takes_the_empty_caption_s_place():
    net, model, x, t, ids = setup()
    neg = TOK(["a red fish"])
    with torch.no_grad():
        cond, away, empty = net.encode(ids), net.encode(neg), net.encode(TOK.null(1))
    pred = guidance.ClassifierFree(model, cond, 2.5, negative=away)(x, t)
    eps_c = model(x, t, ids).eps  # by hand, two calls: eps_neg + w (eps_caption - eps_neg)
    eps_n = model(x, t, neg.expand(3, -1)).eps
    assert not torch.allclose(eps_n, model(x, t, TOK.null(3)).eps, atol=1e-4)  # the negative matters
    assert torch.allclose(pred.eps, eps_n + 2.5 * (eps_c - eps_n), atol=1e-10)
    # the empty caption as the negative is plain guidance
    plain = guidance.ClassifierFree(model, cond, 2.5)(x, t)
    assert torch.allclose(guidance.ClassifierFree(model, cond, 2.5, negative=empty)(x, t).eps, plain.eps, atol=1e-12)
    with pytest.raises(ValueError, match="negative prompt is for caption models"):
        guidance.ClassifierFree(model, ids, 2.5, negative=neg)  # ids, not read by the encoder
