"""The loop around the network (benchmarks/sampler_overhead.py). Each sampler's plain loop does that
sampler's arithmetic: the same network calls, the same noise draws, the same x and x0, so the
benchmark's ratio measures the sampler's own machinery and nothing else. The samplers that gained
per-run tables keep their contract: grad mode off while a step runs and the caller's between steps,
a Denoiser's refusals raised where it is called, a model on another schedule still predicting with its
own. Times are measured in the benchmark, never asserted here."""

import importlib.util
import pathlib

import pytest
import torch

from minidiff import params, samplers, schedules
from minidiff.samplers import SAMPLERS, run

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sampler_overhead", ROOT / "benchmarks" / "sampler_overhead.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_the_plain_loop_does_the_samplers_arithmetic(name, dtype):
    net, model, x, ts, schedule = bench.setup(steps=30, dtype=dtype)
    calls = []
    hook = net.register_forward_hook(lambda *_: calls.append(1))
    last = list(SAMPLERS[name](model, x, ts, schedule, generator=gen(1)))[-1]
    sampler_calls, calls[:] = len(calls), []
    plain_x, plain_x0 = bench.PLAIN[name](net, x, ts.double(), schedule, gen(1))
    hook.remove()
    assert len(calls) == sampler_calls, f"{name}: {len(calls)} network calls in the plain loop, not {sampler_calls}"
    # bit for bit: the same operations in the same order, the same noise
    assert torch.equal(plain_x, last.x) and torch.equal(plain_x0, last.x0), name


def test_the_benchmark_reports_every_sampler():
    network, rows = bench.measure(steps=5, repeats=1)
    assert network > 0 and list(rows) == list(SAMPLERS)
    assert all(len(row) == 2 for row in rows.values())


class Linear(torch.nn.Module):
    """A network with weights that require grad: a sampler must build no graph through it."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, x, t):
        return self.lin(x)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_grad_mode_is_off_inside_a_step_and_the_callers_between_steps(name):
    schedule = schedules.VPLinear()
    model = params.Denoiser(Linear(), schedule)
    x = torch.randn(8, 2, generator=gen(0))
    for step in SAMPLERS[name](model, x, schedules.uniform_grid(4, t_max=0.999), schedule, generator=gen(1)):
        assert torch.is_grad_enabled()  # the caller's mode, between steps
        assert not step.x.requires_grad and not step.x0.requires_grad


def test_a_denoiser_is_refused_where_it_is_called_and_only_there():
    # An x0 network cannot give eps at sigma = 0: a sampler never calls it at its last time, t = 0, and
    # a call there is refused with the Denoiser's own message, found once per run.
    schedule = schedules.VPLinear()
    model = params.Denoiser(Linear(), schedule, target="x0")
    x = torch.randn(8, 2, generator=gen(0))
    run(samplers.ddim(model, x, schedules.uniform_grid(4, t_max=0.999), schedule))  # never called at t = 0
    grid = samplers._Grid(torch.tensor([0.5, 0.0]), x, schedule, "test")
    call = samplers.Caller(model, x, grid)
    call(x, 0)
    with pytest.raises(ValueError, match="sigma\\(t\\) = 0 at t = 0.*target='x0'"):
        call(x, 1)


def test_a_model_on_another_schedule_predicts_with_its_own():
    # The model's alpha and sigma come from model.schedule even when the sampler is given another.
    own, other = schedules.VPCosine(), schedules.VPLinear()
    model = params.Denoiser(Linear(), own)
    x = torch.randn(8, 2, generator=gen(0))
    grid = samplers._Grid(torch.tensor([0.7, 0.3], dtype=torch.float64), x, other, "test")
    got = samplers.Caller(model, x, grid)(x, 0)
    with torch.no_grad():
        expected = model(x, torch.full((8,), 0.7, dtype=torch.float64).float())
    torch.testing.assert_close(got.x0, expected.x0)
