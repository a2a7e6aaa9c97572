"""guidance: the CFG combination and its conventions, one batched network call per step, the
two-call formula, classifier guidance against a classifier whose gradient is known by hand."""

import math

import pytest
import torch
from torch import nn

from minidiff import guidance, params, samplers, schedules

SCHEDULE = schedules.VPLinear()


class LabelNet(nn.Module):
    """A small conditional net (x, t, cond) -> eps-like output that counts its calls and batch sizes."""

    def __init__(self, num_classes: int = 3, dim: int = 2):
        super().__init__()
        torch.manual_seed(0)
        self.num_classes, self.calls, self.batches = num_classes, 0, []
        self.lin = nn.Linear(dim + 1, dim)
        self.label = nn.Embedding(num_classes + 1, dim)  # + 1: the null label

    def forward(self, x, t, cond=None):
        self.calls += 1
        self.batches.append(x.shape[0])
        cond = torch.full((x.shape[0],), self.num_classes) if cond is None else cond
        return torch.tanh(self.lin(torch.cat([x, t[:, None]], 1))) + self.label(cond)


def test_cfg_eps_and_the_conventions():
    eps_u, eps_c = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5])
    assert torch.equal(guidance.cfg_eps(eps_u, eps_c, 0), eps_u)  # w = 0: unconditional
    assert torch.equal(guidance.cfg_eps(eps_u, eps_c, 1), eps_c)  # w = 1: conditional
    assert torch.allclose(guidance.cfg_eps(eps_u, eps_c, 3), torch.tensor([7.0, 5.5]))
    # Ho & Salimans: (1 + w') eps_c - w' eps_u with w' = 2 is our w = 3
    w_hs = guidance.ho_salimans_w(3.0)
    assert w_hs == 2.0 and guidance.from_ho_salimans(w_hs) == 3.0
    assert torch.allclose((1 + w_hs) * eps_c - w_hs * eps_u, guidance.cfg_eps(eps_u, eps_c, 3.0))


def test_classifier_free_is_one_batched_call_and_equals_the_two_call_formula():
    net = LabelNet()
    model = params.Denoiser(net, SCHEDULE)
    guided = guidance.ClassifierFree(model, 1, 2.5)
    x, t = torch.randn(5, 2, generator=torch.Generator().manual_seed(1)), torch.full((5,), 0.6)
    net.calls = 0
    pred = guided(x, t)
    assert net.calls == 1 and net.batches[-1] == 10  # cond half and null half, in one batch of 2B
    eps_c = model(x, t, torch.full((5,), 1)).eps  # the two-call formula, by hand
    eps_u = model(x, t, torch.full((5,), 3)).eps
    assert torch.allclose(pred.eps, eps_u + 2.5 * (eps_c - eps_u), atol=1e-6)
    assert torch.allclose(pred.x0, params.eps_to_x0(pred.eps, x, SCHEDULE.alpha(t), SCHEDULE.sigma(t)), atol=1e-6)


@pytest.mark.parametrize("w, label", [(1.0, 1), (0.0, 3)])  # 3: the null label
def test_at_w_1_and_w_0_one_condition_alone_on_a_batch_of_b(w, label):
    # eps_null + w (eps_cond - eps_null) is eps_cond at w = 1 and eps_null at w = 0: the other half of
    # the batch would be work thrown away, in forward and in every sampler's prepared loop alike
    net = LabelNet()
    model = params.Denoiser(net, SCHEDULE, clip=1.0)
    x, t = torch.randn(5, 2, generator=torch.Generator().manual_seed(1)) * 2, torch.full((5,), 0.6)
    alone = model(x, t, torch.full((5,), label))
    net.batches.clear()
    pred = guidance.ClassifierFree(model, 1, w)(x, t)
    assert net.batches == [5] and torch.equal(pred.eps, alone.eps) and torch.equal(pred.x0, alone.x0)
    ts = torch.linspace(0.9, 0.0, 6)
    net.batches.clear()
    out = samplers.run(samplers.ddim(guidance.ClassifierFree(model, 1, w), x, ts))
    assert net.batches == [5] * 5
    # the same as the two-call formula, up to rounding (the batched path at a w just off 1 or 0)
    near = samplers.run(samplers.ddim(guidance.ClassifierFree(model, 1, w + 1e-9), x, ts))
    assert torch.allclose(out, near, atol=1e-5) and not torch.equal(out, x)


@pytest.mark.parametrize("name", sorted(samplers.SAMPLERS))
def test_every_sampler_takes_a_guided_model_with_one_network_call_per_model_call(name):
    net = LabelNet()
    guided = samplers.CountCalls(guidance.ClassifierFree(params.Denoiser(net, SCHEDULE), 2, 3.0))
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    net.calls = 0
    out = samplers.run(samplers.SAMPLERS[name](guided, x, torch.linspace(0.9, 0.0, 6), guided.model.schedule,
                                               generator=torch.Generator().manual_seed(0)))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert net.calls == guided.calls >= 5  # one network call per sampler call of the model


def test_cond_per_sample_none_and_clip():
    net = LabelNet()
    model = params.Denoiser(net, SCHEDULE, clip=0.5)
    x, t = 3 * torch.randn(4, 2, generator=torch.Generator().manual_seed(2)), torch.full((4,), 0.3)
    cond = torch.tensor([0, 1, 2, 0])
    pred = guidance.ClassifierFree(model, cond, 4.0)(x, t)
    # clipped once, after the combination, and eps recomputed so that x = alpha x0 + sigma eps
    assert pred.x0.abs().max() <= 0.5
    assert torch.allclose(SCHEDULE.alpha(t)[:, None] * pred.x0 + SCHEDULE.sigma(t)[:, None] * pred.eps, x, atol=1e-5)
    raw = guidance.ClassifierFree(params.Denoiser(net, SCHEDULE), cond, 4.0)(x, t)
    assert torch.allclose(pred.x0, raw.x0.clamp(-0.5, 0.5))
    # cond=None: the null label, one call of B, whatever w is
    net.calls = 0
    uncond = guidance.ClassifierFree(params.Denoiser(net, SCHEDULE), None, 7.0)(x, t)
    assert net.calls == 1 and net.batches[-1] == 4
    assert torch.allclose(uncond.eps, params.Denoiser(net, SCHEDULE)(x, t, torch.full((4,), 3)).eps)


def test_classifier_guided_matches_the_gradient_of_a_linear_classifier():
    # logits = x W^T: grad_x log softmax(x W^T)[y] = W[y] - softmax(x W^T) W, by hand
    weight = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]], dtype=torch.float64)
    model = params.Denoiser(LabelNet().double(), SCHEDULE)
    guided = guidance.ClassifierGuided(model, lambda x, t: x @ weight.T, 1, 2.0)
    x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    t = torch.full((6,), 0.5, dtype=torch.float64)
    with torch.no_grad():  # as inside a sampler: the wrapper turns autograd on for itself
        pred = guided(x, t)
    grad = weight[1] - torch.softmax(x @ weight.T, 1) @ weight  # (6, 2)
    expected = model(x, t).eps - SCHEDULE.sigma(t)[:, None] * 2.0 * grad
    assert pred.eps.dtype == torch.float64 and torch.allclose(pred.eps, expected, atol=1e-12)
    assert not pred.eps.requires_grad
    # scale = 0 is the model itself
    assert torch.allclose(guidance.ClassifierGuided(model, lambda x, t: x @ weight.T, 1, 0.0)(x, t).eps,
                          model(x, t).eps)


def test_misuse_is_refused_with_a_message():
    x, t = torch.randn(3, 2), torch.full((3,), 0.5)
    no_labels = params.Denoiser(lambda x, t: x, SCHEDULE)
    with pytest.raises(ValueError, match="net takes class labels"):
        guidance.ClassifierFree(no_labels, 1, 2.0)
    model = params.Denoiser(LabelNet(), SCHEDULE)
    for w in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="w must be a finite number >= 0"):
            guidance.ClassifierFree(model, 1, w)
    with pytest.raises(ValueError, match="cond must be in 0..2"):
        guidance.ClassifierFree(model, 3, 2.0)(x, t)
    with pytest.raises(ValueError, match="one per sample"):
        guidance.ClassifierFree(model, torch.tensor([0, 1]), 2.0)(x, t)
    with pytest.raises(ValueError, match="whole class labels"):
        guidance.ClassifierFree(model, 1.5, 2.0)(x, t)
    logits = lambda x, t: torch.zeros(x.shape[0], 4)  # noqa: E731
    with pytest.raises(ValueError, match="y must be in 0..3"):
        guidance.ClassifierGuided(model, logits, 4, 1.0)(x, t)
    with pytest.raises(ValueError, match=r"must return logits of shape \(3, C\)"):
        guidance.ClassifierGuided(model, lambda x, t: torch.zeros(3), 0, 1.0)(x, t)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        guidance.ClassifierGuided(model, logits, 0, math.nan)


def test_drop_labels_nulls_labels_at_the_rate_p(device):
    n, p, null = 20_000, 0.2, 10
    labels = (torch.arange(n) % 10).to(device)
    out = guidance.drop_labels(labels, p, null, torch.Generator().manual_seed(0))
    assert out.device == labels.device and out.dtype == labels.dtype
    dropped = out == null
    assert torch.equal(out[~dropped], labels[~dropped])  # a label is either kept or made the null label
    se = math.sqrt(p * (1 - p) / n)  # binomial standard error of the rate: 0.0028
    assert abs(dropped.float().mean().item() - p) < 4 * se, dropped.float().mean()
    # one seed drops the same rows on every device: the flips are drawn on the generator's device
    again = guidance.drop_labels(labels.cpu(), p, null, torch.Generator().manual_seed(0))
    assert torch.equal(out.cpu(), again)
    assert torch.equal(guidance.drop_labels(labels, 0.0, null), labels)
    assert (guidance.drop_labels(labels[:50], 1.0, null) == null).all()
    with pytest.raises(ValueError, match="p must be in"):
        guidance.drop_labels(labels, 1.5, null)
