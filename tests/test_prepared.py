"""A model prepared for one grid (params.prepare): what every sampler calls. A Denoiser, a subclass of it
and the guidance wrappers take that one path (forward is never called inside a run), give what forward
gives, and refuse a time they cannot predict at with forward's own message, found once per grid."""

import pytest
import torch

from minidiff import exact, guidance, params, samplers, schedules, toy
from minidiff.core.samplers import SAMPLERS, run


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class HalfEps(params.Denoiser):
    """A subclass that changes what the denoiser predicts, in the one hook for that: predict_with."""

    def predict_with(self, x, t, alpha, sigma, cond=None):
        pred = super().predict_with(x, t, alpha, sigma, cond)
        return params.Prediction(0.5 * pred.eps, pred.x0)


class ClassMeans(torch.nn.Module):
    """A class-conditional eps network in float64: each class pulls towards its own mean."""

    num_classes = 2

    def __init__(self):
        super().__init__()
        self.means = torch.tensor([[1.0, -1.0], [-2.0, 0.5], [0.0, 0.0]], dtype=torch.float64)

    def forward(self, x, t, cond):
        return 0.3 * x - self.means[cond]


def _forward_refused(monkeypatch):
    """Make Denoiser.forward raise: a run that still works never called it."""
    def refuse(self, x, t, cond=None):
        raise AssertionError("Denoiser.forward was called inside a sampler run")
    monkeypatch.setattr(params.Denoiser, "forward", refuse)


def _by_forward(model):
    """The same model seen through forward alone: a plain callable has no prepare."""
    return lambda x, t: model(x, t)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_subclass_and_the_guidance_wrappers_take_the_prepared_path(name, monkeypatch):
    schedule = schedules.VPLinear()
    ts, x = schedules.uniform_grid(6, t_max=0.999), torch.randn(8, 2, generator=gen(0), dtype=torch.float64)
    cond = params.Denoiser(ClassMeans(), schedule, clip=2.0)
    classifier = lambda x, t: torch.stack([x[:, 0] * t, -x[:, 1]], 1)  # noqa: E731 (logits (B, 2))
    models = {"subclass": HalfEps(lambda x, t: 0.2 * x, schedule), "cfg": guidance.ClassifierFree(cond, 1, w=3.0),
              "cfg unconditional": guidance.ClassifierFree(cond, None, w=3.0),
              "classifier": guidance.ClassifierGuided(HalfEps(lambda x, t: 0.2 * x, schedule), classifier, 0, 2.0)}
    expected = {k: run(SAMPLERS[name](_by_forward(m), x, ts, schedule, generator=gen(1))) for k, m in models.items()}
    _forward_refused(monkeypatch)
    for key, model in models.items():
        got = run(SAMPLERS[name](model, x, ts, generator=gen(1)))  # the schedule read from the model
        torch.testing.assert_close(got, expected[key], rtol=1e-12, atol=1e-12, msg=f"{name}, {key}")


def test_the_subclass_change_is_seen_by_forward_and_by_the_samplers():
    schedule = schedules.VPLinear()
    base, half = params.Denoiser(lambda x, t: 0.2 * x, schedule), HalfEps(lambda x, t: 0.2 * x, schedule)
    x = torch.randn(4, 2, generator=gen(2), dtype=torch.float64)
    torch.testing.assert_close(half(x, 0.5).eps, 0.5 * base(x, 0.5).eps)
    prepared = params.prepare(half, torch.tensor([0.5, 0.2], dtype=torch.float64), x)
    torch.testing.assert_close(prepared(x, 0).eps, half(x, 0.5).eps)


def test_a_refusal_comes_from_one_check_with_forwards_message():
    schedule = schedules.VPLinear()
    model = params.Denoiser(lambda x, t: x, schedule, target="x0")
    x = torch.randn(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError) as by_forward:
        model(x, 0.0)
    prepared = model.prepare(torch.tensor([0.5, 0.0], dtype=torch.float64), x)
    prepared(x, 0)  # fine where sigma > 0; refused only if called at t = 0
    with pytest.raises(ValueError, match=r"sigma\(t\) = 0 at t = 0, where eps .* target='x0'") as by_prepared:
        prepared(x, 1)
    assert str(by_prepared.value) == str(by_forward.value)
    assert model.refusals(torch.tensor([0.5, 0.0]), schedule.alpha(torch.tensor([0.5, 0.0])),
                          schedule.sigma(torch.tensor([0.5, 0.0]))) == {1: str(by_forward.value)}


def test_a_model_on_another_schedule_predicts_with_its_own():
    # The sampler's arithmetic uses the schedule it is given; the model's alpha and sigma stay its own.
    own, other = schedules.VPCosine(), schedules.VPLinear()
    model = params.Denoiser(lambda x, t: 0.1 * x, own)
    x = torch.randn(8, 2, generator=gen(0), dtype=torch.float64)
    prepared = params.prepare(model, torch.tensor([0.7, 0.3], dtype=torch.float64), x)
    torch.testing.assert_close(prepared(x, 0).x0, model(x, 0.7).x0)
    by_hand = own.alpha(torch.tensor(0.7, dtype=torch.float64))
    torch.testing.assert_close(prepared(x, 0).x0, (x - own.sigma(torch.tensor(0.7, dtype=torch.float64)) * 0.1 * x)
                               / by_hand)
    assert not torch.equal(run(samplers.ddim(model, x, [0.7, 0.3])), run(samplers.ddim(model, x, [0.7, 0.3], other)))


def test_the_schedule_is_the_models_unless_given():
    schedule = schedules.VPCosine()
    model = exact.mixture_denoiser(toy.ring().to(torch.float64), schedule)
    x, ts = torch.randn(16, 2, generator=gen(3), dtype=torch.float64), schedules.karras_grid(5, schedule)
    for name, sampler in SAMPLERS.items():
        assert torch.equal(run(sampler(model, x, ts, generator=gen(4))),
                           run(sampler(model, x, ts, schedule, generator=gen(4)))), name
    with pytest.raises(ValueError, match=r"ddim: schedule must be a schedules.Schedule \(this model has no "
                                         r"\.schedule: pass one\), got NoneType"):
        run(samplers.ddim(lambda x, t: model(x, t), x, ts))


def test_a_model_without_prepare_is_called_at_each_step():
    schedule = schedules.VPLinear()
    counted = samplers.CountCalls(exact.mixture_denoiser(toy.ring(), schedule))
    run(samplers.ddim(counted, torch.randn(4, 2), schedules.uniform_grid(7), schedule))
    assert counted.calls == 7


def test_a_subclass_that_overrides_forward_is_told_to_override_predict_with():
    class Shifted(params.Denoiser):
        def forward(self, x, t, cond=None):
            return super().forward(x + 1, t, cond)

    model = Shifted(lambda x, t: 0.1 * x, schedules.VPLinear())
    with pytest.raises(TypeError, match="Shifted overrides forward, which samplers do not call .* override predict_with"):
        run(samplers.ddim(model, torch.randn(4, 2), schedules.uniform_grid(4)))
