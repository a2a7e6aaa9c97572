"""The 2-D network: the MLP computes what its docstring says, and wrapped in a Denoiser on a VE
schedule it is lesson 06's noise-conditional score network, score = -eps / sigma(t)."""

import math

import pytest
import torch

from minidiff.core.nets import MLP, TimeEmbedding
from minidiff.core.params import Denoiser
from minidiff.core.schedules import VE


def by_hand(net: MLP, x, t):
    # The forward pass written out: every hidden layer sees [h, embedding(t)], SiLU after each.
    e = TimeEmbedding(net.config["time_dim"], net.config["max_freq"]).to(x)(t)
    h = x
    for layer in net.layers:
        z = torch.cat([h, e], 1) @ layer.weight.T + layer.bias
        h = z * torch.sigmoid(z)
    return h @ net.out.weight.T + net.out.bias


def test_mlp_matches_its_forward_written_by_hand(device):
    torch.manual_seed(0)
    net = MLP(dim=3, hidden=16, depth=2, time_dim=8, max_freq=10.0).to(device)
    x, t = torch.randn(5, 3, device=device), torch.rand(5, device=device)
    out = net(x, t)
    assert out.shape == (5, 3) and out.device.type == device.type
    assert torch.allclose(out, by_hand(net, x, t), atol=1e-5)
    # t really conditions the output: another time, another answer for the same x.
    assert (net(x, 1 - t) - out).abs().max() > 1e-3


def test_config_rebuilds_the_same_architecture():
    net = MLP(hidden=32, depth=4, time_dim=16, max_freq=20)
    twin = MLP(**net.config)
    twin.load_state_dict(net.state_dict())  # strict: same names and shapes
    x, t = torch.randn(7, 2), torch.rand(7)
    assert torch.equal(twin(x, t), net(x, t)) and len(net.layers) == 4


def test_on_a_ve_schedule_the_mlp_is_a_noise_conditional_score_network():
    # Song & Ermon's network: levels sigma_min (max/min)^t, and score = -eps_net / sigma(t), so the
    # MLP itself predicts the noise, of size about 1 at every level (Song & Ermon 2020, technique 3).
    torch.manual_seed(1)
    net = MLP(hidden=16, depth=2, max_freq=4.0)
    model = Denoiser(net, VE(0.01, 4.0), target="eps")
    t = torch.tensor([0.0, 1.0, 0.5, 0.3])
    sigma = torch.tensor([0.01, 4.0, math.sqrt(0.01 * 4.0), 0.01 * 400**0.3])  # the geometric ladder
    x = torch.randn(4, 2)
    pred = model(x, t)
    assert torch.equal(pred.eps, net(x, t))
    assert torch.allclose(model.schedule.sigma(t), sigma)
    assert torch.allclose(pred.x0, x - sigma[:, None] * net(x, t), atol=1e-6)  # alpha = 1


def test_bad_input_says_what_was_wrong():
    net = MLP(hidden=8, depth=1, time_dim=4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        net(torch.zeros(3, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"t must be a number or have shape \(3,\)"):
        net(torch.zeros(3, 2), torch.zeros(2))
