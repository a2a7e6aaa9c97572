"""The loop around the network (benchmarks/sampler_overhead.py). Where a sampler's yardstick is the same
sampler written as a plain loop (DDIM, DPM-Solver++(2M), DDPM), the two agree bit for bit, with the same
network calls and noise, so the benchmark's ratio measures the sampler's own machinery and nothing else.
The samplers keep their contract while they run lean: grad mode off while a step runs and the caller's
between steps (also after a step that raised), a Denoiser's refusals raised only where it is called.
Times are measured in the benchmark, never asserted here."""

import importlib.util
import pathlib

import pytest
import torch

from minidiff import params, samplers, schedules
from minidiff.core.samplers import SAMPLERS, run

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sampler_overhead", ROOT / "benchmarks" / "sampler_overhead.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["ddpm", "ddim", "euler", "dpm_solver_pp"])
def test_the_plain_loop_is_the_same_sampler(name, dtype):
    net, model, x, ts, schedule = bench.setup(steps=30, dtype=dtype)
    calls = []
    hook = net.register_forward_hook(lambda *_: calls.append(1))
    last = list(SAMPLERS[name](model, x, ts, generator=gen(1)))[-1]
    sampler_calls, calls[:] = len(calls), []
    plain_x, plain_x0 = bench.run_plain(name, net, x, ts, schedule)
    hook.remove()
    assert len(calls) == sampler_calls == bench.calls_per_run(name, 30), name
    # bit for bit: the same operations in the same order, the same noise
    assert torch.equal(plain_x, last.x) and torch.equal(plain_x0, last.x0), name


def test_the_benchmark_reports_every_sampler_against_its_family():
    network, plain, rows = bench.measure(steps=5, repeats=1)
    assert network > 0 and list(rows) == list(SAMPLERS) and set(bench.FAMILY) == set(SAMPLERS)
    assert set(plain) == set(bench.PLAIN)


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
    for step in SAMPLERS[name](model, x, schedules.uniform_grid(4, t_max=0.999), generator=gen(1)):
        assert torch.is_grad_enabled()  # the caller's mode, between steps
        assert not step.x.requires_grad and not step.x0.requires_grad
    with torch.no_grad():  # a caller without grad keeps it off
        next(SAMPLERS[name](model, x, schedules.uniform_grid(4, t_max=0.999), generator=gen(1)))
        assert not torch.is_grad_enabled()


def test_grad_mode_is_the_callers_again_after_a_step_that_raised():
    def broken(x, t):
        raise RuntimeError("the network failed")

    model = params.Denoiser(broken, schedules.VPLinear())
    with pytest.raises(RuntimeError, match="the network failed"):
        run(samplers.ddim(model, torch.randn(4, 2), schedules.uniform_grid(4)))
    assert torch.is_grad_enabled()


def test_a_denoiser_is_refused_only_where_it_is_called():
    # An x0 network cannot give eps at sigma = 0, and a sampler never calls it at its last time, t = 0.
    model = params.Denoiser(Linear(), schedules.VPLinear(), target="x0")
    x = torch.randn(8, 2, generator=gen(0))
    for name, sampler in SAMPLERS.items():
        assert torch.isfinite(run(sampler(model, x, schedules.uniform_grid(4, t_max=0.999), generator=gen(1)))).all()
