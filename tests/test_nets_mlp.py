"""The 2-D networks: the MLP computes what its docstring says, and ScoreMLP maps noise levels to
times and outputs to scores as documented."""

import math

import pytest
import torch

from minidiff.nets import MLP, ScoreMLP, TimeEmbedding


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


def test_score_mlp_times_and_scores():
    torch.manual_seed(1)
    net = ScoreMLP(sigma_min=0.01, sigma_max=4.0, hidden=16, depth=2)
    sigmas = torch.tensor([0.01, 4.0, math.sqrt(0.01 * 4.0), 0.5])
    # The geometric ladder's position: 0 and 1 at the ends, 1/2 at the geometric mean.
    want = torch.log(sigmas / 0.01) / math.log(400.0)
    assert torch.allclose(net.t_of_sigma(sigmas), want, atol=1e-6)
    assert want[2].item() == pytest.approx(0.5)
    x = torch.randn(4, 2)
    # score = -(predicted noise) / sigma, the VE relation between eps and the score
    assert torch.allclose(net(x, sigmas), -net.net(x, want) / sigmas[:, None], atol=1e-6)
    # A single number is used for every point.
    assert torch.allclose(net(x, 0.5), net(x, torch.full((4,), 0.5)))
    assert ScoreMLP(**net.config).config == net.config


def test_bad_input_says_what_was_wrong():
    net = MLP(hidden=8, depth=1, time_dim=4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        net(torch.zeros(3, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"t must be a number or have shape \(3,\)"):
        net(torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        ScoreMLP(0.1, 1.0, hidden=8)(torch.zeros(3, 2), 0.0)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        ScoreMLP(1.0, 0.1)
