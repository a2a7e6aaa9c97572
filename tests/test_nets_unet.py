"""The U-Net: shapes on the course's image sizes, clear errors, t and labels actually used, every
weight trained, a tiny one overfits a batch, and the presets' sizes as the docstring states."""

import pytest
import torch

import minidiff.core.nets.unet as unet_module
from minidiff import train as training
from minidiff.core.nets import UNet, count_parameters, unet_preset


def _inputs(b, size, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 1, size, size, generator=g).to(device), torch.rand(b, generator=g).to(device)


@pytest.mark.parametrize("preset, size", [("digits8", 8), ("mnist28", 28), ("mnist28", 32)])
def test_output_has_the_input_shape(device, preset, size):
    net = unet_preset(preset).to(device)
    x, t = _inputs(3, size, device)
    out = net(x, t)
    assert out.shape == x.shape and out.device.type == device.type and out.dtype == x.dtype
    assert torch.isfinite(out).all()


def test_presets_have_the_documented_sizes():
    # The numbers in minidiff/core/nets/unet.py's docstring table; change both together.
    assert count_parameters(unet_preset("digits8")) == 322_817
    assert count_parameters(unet_preset("mnist28")) == 431_233
    assert count_parameters(unet_preset("mnist28_large")) == 1_095_969
    for n in ("322,817", "431,233", "1,095,969"):
        assert n in unet_module.__doc__


def test_bad_shapes_fail_clearly():
    net = unet_preset("mnist28")  # 3 levels: 28 -> 14 -> 7
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(2, 1, 30, 30), torch.zeros(2))  # 30 -> 15 -> 7.5
    with pytest.raises(ValueError, match="divisible by 8"):
        UNet(channels=(8, 16, 16, 16))(torch.zeros(2, 1, 28, 28), torch.zeros(2))  # 28 / 8
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        net(torch.zeros(2, 3, 28, 28), torch.zeros(2))
    with pytest.raises(ValueError, match=r"t must have shape \(B,\)"):
        net(torch.zeros(2, 1, 28, 28), torch.zeros(3))
    with pytest.raises(ValueError, match="multiple of groups"):
        UNet(channels=(12, 24))
    with pytest.raises(ValueError, match="num_classes"):
        net(torch.zeros(2, 1, 28, 28), torch.zeros(2), cond=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown preset"):
        unet_preset("huge")


def test_time_and_label_change_the_output(device):
    torch.manual_seed(0)
    net = UNet(channels=(16, 32), num_classes=10).to(device).eval()
    x, _ = _inputs(4, 8, device)
    t = torch.full((4,), 0.1, device=device)
    with torch.no_grad():
        out = net(x, t)
        by_time = (net(x, t + 0.8) - out).abs().mean() / out.abs().mean()
        by_label = (net(x, t, cond=torch.full((4,), 3, device=device)) - out).abs().mean() / out.abs().mean()
        # no label = the null label 10 (classifier-free guidance drops labels to this one)
        null = net(x, t, cond=torch.full((4,), 10, device=device))
        scalar_t = net(x, torch.tensor(0.1, device=device))
    # Measured at init: t changes the output by ~17%, the label by ~100%; a network that ignored
    # t or cond would give exactly 0, so 1% is a safe line between the two.
    assert by_time > 0.01 and by_label > 0.01
    assert torch.equal(out, null) and torch.allclose(out, scalar_t)


def test_gradients_reach_every_parameter(device):
    torch.manual_seed(0)
    net = UNet(channels=(8, 16, 16), groups=4, num_classes=3).to(device)
    x, t = _inputs(4, 28, device)
    cond = torch.tensor([0, 1, 2, 3], device=device)  # every label row, the null one included
    net(x, t, cond).pow(2).mean().backward()
    dead = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"no gradient reaches {dead}"


def test_tiny_unet_overfits_one_batch(device):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = UNet(channels=(8, 16), groups=4).to(device)
    x = torch.randn(8, 1, 8, 8, generator=g).to(device)
    t = torch.rand(8, generator=g).to(device)
    target = torch.randn(8, 1, 8, 8, generator=g).to(device)  # any fixed map from (x, t) to target

    def loss_fn(model, batch):
        return (model(x, t) - target).pow(2).mean()

    history = training.train(net, loss_fn, lambda gen: None, steps=60, lr=3e-3, ema=None,
                             clip=None, progress=False)
    first, last = history.losses[0], min(history.losses[-5:])
    assert last < first / 10, f"loss went from {first:.3g} to {last:.3g} in 60 steps"


def test_config_rebuilds_the_same_network(tmp_path):
    net = unet_preset("digits8", num_classes=10)
    training.save(tmp_path / "u.pt", net)
    again = training.load(tmp_path / "u.pt", UNet)
    x, t = _inputs(2, 8, "cpu")
    cond = torch.tensor([1, 10])
    with torch.no_grad():
        assert torch.equal(net(x, t, cond), again(x, t, cond))
