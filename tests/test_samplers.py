"""The contract every diffusion sampler keeps (one signature, the start not yielded, Step.t the exact
grid time, Step.x0 from the step's last model call, no graph), the misuse messages of check_grid
and predict, and two samplers against independent transcriptions: Euler in y = x / alpha, and one
predictor-corrector step written out from Song et al. 2021, Algorithms 2 and 4."""

import inspect
import math

import pytest
import torch
from torch import nn

from minidiff import exact, params, samplers, schedules, toy
from minidiff.core.samplers import SAMPLERS, run


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class LastCall:
    """Wraps a model and keeps its last prediction, to see which one a step yields as x0."""

    def __init__(self, model):
        self.model, self.last = model, None

    def __call__(self, x, t):
        self.last = self.model(x, t)
        return self.last


def test_every_sampler_has_the_one_signature():
    for name, fn in SAMPLERS.items():
        assert fn.__module__ == "minidiff.core.samplers" and fn.__name__ == name  # no lambdas, no adapters
        names = list(inspect.signature(fn).parameters)
        assert names[:4] == ["model", "x", "ts", "schedule"] and names[-1] == "generator", (name, names)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_step_contract(name, device):
    # A float32 batch on a float64 grid: Step.t is the grid's exact time (0.9, not 0.8999999762),
    # the start is not yielded, x0 comes from the step's last model call, and x keeps dtype/device.
    schedule = schedules.VPLinear()
    model = LastCall(exact.mixture_denoiser(toy.ring(), schedule))
    ts = torch.tensor([0.9, 0.6, 0.3, 0.1, 0.0], dtype=torch.float64)
    x = torch.randn(64, 2, generator=gen(0)).to(device)
    steps = []
    for step in SAMPLERS[name](model, x, ts, schedule, generator=gen(1)):
        assert torch.equal(step.x0, model.last.x0), f"{name}: Step.x0 is not the last call's x0"
        steps.append(step)
    assert [s.t for s in steps] == ts[1:].tolist()
    assert all(s.x.dtype == x.dtype and s.x.device == x.device for s in steps)
    assert not torch.equal(steps[0].x, x)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x, t):
        return self.lin(torch.cat([x, t[:, None]], 1))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_build_no_graph(name):
    schedule = schedules.VPLinear()
    model = params.Denoiser(TinyNet(), schedule)
    out = run(SAMPLERS[name](model, torch.randn(8, 2), schedules.uniform_grid(4), schedule, generator=gen(2)))
    assert not out.requires_grad


def test_misuse_gets_a_message_that_says_what_to_do():
    schedule = schedules.VPLinear()
    model = exact.mixture_denoiser(toy.ring(), schedule)
    x, ts = torch.randn(4, 2), schedules.uniform_grid(5)
    with pytest.raises(TypeError, match=r"wrap the network: params.Denoiser\(net, schedule, target='eps'\)"):
        run(samplers.ddim(TinyNet(), x, ts, schedule))
    with pytest.raises(ValueError, match="schedule must be a schedules.Schedule.*VPLinear"):
        run(samplers.heun(model, x, ts, "linear"))
    with pytest.raises(ValueError, match="NaN"):
        run(samplers.ddpm(model, torch.full((4, 2), math.nan), ts, schedule))
    with pytest.raises(ValueError, match=r"batch.*x\[None\]"):
        run(samplers.euler_maruyama(model, torch.zeros(2), ts, schedule))
    with pytest.raises(ValueError, match="at least 2 times"):
        run(samplers.predictor_corrector(model, x, torch.tensor([0.5]), schedule))
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        run(samplers.ddim(model, x, torch.tensor([1.5, 0.5]), schedule))
    with pytest.raises(ValueError, match="alpha"):  # the unclipped cosine has alpha(1) = 0
        run(samplers.heun(model, x, ts, schedules.VPCosine(alpha_bar_min=0.0)))


def test_check_grid_follows_x():
    schedule = schedules.VPLinear()
    grid = torch.tensor([0.9, 0.3], dtype=torch.float64)
    assert samplers.check_grid(grid, torch.zeros(2, 2, dtype=torch.float64), schedule, "test")[0].item() == 0.9
    assert samplers.check_grid(grid, torch.zeros(2, 2), schedule, "test").dtype == torch.float32
    assert samplers.check_grid([0.9, 0.3], torch.zeros(2, 2), schedule, "test").dtype == torch.float32


def test_euler_is_ddim_and_is_euler_for_dy_ds_eps():
    # Euler written out in the ODE's own coordinates, y = x / alpha with the clock s = sigma / alpha
    # (Karras et al. 2022, eq. 3: dy/ds = eps): y <- y + (s_next - s) eps(alpha y, t).
    schedule, gm = schedules.VPLinear(), toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    ts = schedules.karras_grid(12, schedule).double()
    x = samplers.prior_sample(200, 2, schedule, ts[0], generator=gen(3), dtype=torch.float64)
    alpha, sigma = schedule.alpha(ts), schedule.sigma(ts)
    s = sigma / alpha
    y = x / alpha[0]
    for i in range(len(ts) - 1):
        y = y + (s[i + 1] - s[i]) * model(alpha[i] * y, ts[i]).eps
    by_hand = alpha[-1] * y
    assert torch.allclose(run(samplers.euler(model, x, ts, schedule)), by_hand, atol=1e-12, rtol=0)
    assert torch.allclose(run(samplers.ddim(model, x, ts, schedule, eta=0.0)), by_hand, atol=1e-12, rtol=0)


def test_one_predictor_corrector_step_by_hand():
    # Algorithm 2's predictor (Euler-Maruyama on eq. 6) and Algorithm 4's corrector (one Langevin
    # step with step size 2 (snr |z| / |score|)^2), in the VP SDE's closed form f = -beta/2, g^2 = beta.
    schedule, gm = schedules.VPLinear(), toy.ring().to(torch.float64)
    model = exact.mixture_denoiser(gm, schedule)
    x = torch.randn(50, 2, generator=gen(4), dtype=torch.float64)
    t, s, snr = 0.6, 0.5, 0.16
    out = run(samplers.predictor_corrector(model, x, torch.tensor([t, s], dtype=torch.float64), schedule,
                                           snr=snr, generator=gen(5)))
    g = gen(5)

    def score(x, time):
        return -model(x, time).eps / schedule.sigma(torch.tensor(time, dtype=torch.float64))

    beta = schedule.beta(torch.tensor(t, dtype=torch.float64))
    z = torch.randn(x.shape, generator=g, dtype=torch.float64)
    x = x + (0.5 * beta * x + beta * score(x, t)) * (t - s) + torch.sqrt(beta * (t - s)) * z  # predictor
    z, sc = torch.randn(x.shape, generator=g, dtype=torch.float64), score(x, s)
    h = 2 * (snr * z.norm(dim=1).mean() / sc.norm(dim=1).mean()) ** 2
    x = x + h * sc + torch.sqrt(2 * h) * z  # corrector
    assert torch.allclose(out, x, atol=1e-12, rtol=0)


def test_counted_calls():
    schedule = schedules.VPLinear()
    ts = schedules.karras_grid(6, schedule)  # ends at t = 0: the two-call samplers skip the last second call
    x = torch.randn(10, 2, generator=gen(6))
    expected = {"ddpm": 6, "ddim": 6, "euler": 6, "euler_maruyama": 6, "heun": 11, "predictor_corrector": 11,
                "dpm_solver_pp": 6}
    for name, calls in expected.items():
        model = samplers.CountCalls(exact.mixture_denoiser(toy.ring(), schedule))
        run(SAMPLERS[name](model, x, ts, schedule, generator=gen(7)))
        assert model.calls == calls, name
