"""The training loop: it learns, it stops clearly on NaN, it is reproducible, its EMA follows the
closed form, and checkpoints refuse to load into the wrong model."""

import pytest
import torch
from torch import nn

from minidiff import seed_all
from minidiff.core.losses import dsm_loss
from minidiff.core.nets import MLP, DigitClassifier
from minidiff.core.params import Denoiser
from minidiff.core.schedules import VE, VPCosine
from minidiff.core.train import EMA, History, info, load, save, train, trained_on


def regression(net, batch):
    # Fit f(x, t) = sin(2 x) + t: something a tiny MLP learns in a few hundred steps.
    x, t = batch[:, :2], batch[:, 2]
    return ((net(x, t) - (torch.sin(2 * x) + t[:, None])) ** 2).mean()


def tiny():
    return MLP(hidden=32, depth=2, time_dim=8)


def test_training_lowers_the_loss():
    seed_all(0)
    net, data = tiny(), torch.rand(2048, 3) * 2 - 1
    data[:, 2] = data[:, 2].abs()  # times in [0, 1]
    h = train(net, regression, data, steps=300, lr=3e-3, batch_size=128, progress=False,
              generator=torch.Generator().manual_seed(0))
    assert isinstance(h, History) and len(h.losses) == 300 and h.steps_per_second > 0
    first, last = sum(h.losses[:20]) / 20, sum(h.losses[-20:]) / 20
    assert last < 0.2 * first  # measured: 0.76 -> 0.04
    # The EMA model is a separate copy whose loss is low too, and it has no gradients to take.
    with torch.no_grad():
        assert regression(h.ema, data).item() < 0.2 * first
    assert h.ema is not net and not any(p.requires_grad for p in h.ema.parameters())


def test_dsm_with_a_generator_aware_loss_is_reproducible():
    # A loss with a `generator` parameter gets the training generator: same seed, same numbers.
    ts = torch.tensor([1.0, 0.5, 0.0])  # three levels, as times on the VE schedule
    data = torch.randn(1000, 2, generator=torch.Generator().manual_seed(9))

    def loss(net, x0, generator):
        return dsm_loss(net, x0, ts, generator=generator)

    def run(seed):
        torch.manual_seed(0)  # the same initial weights
        net = Denoiser(MLP(hidden=16, depth=1, time_dim=8), VE(0.1, 1.0))  # score = -eps / sigma(t)
        return train(net, loss, data, steps=30, batch_size=64, progress=False,
                     generator=torch.Generator().manual_seed(seed)).losses

    assert run(1) == run(1)  # bit for bit
    assert run(1) != run(2)


def test_same_seed_same_history_for_every_kind_of_data():
    def run(data):
        torch.manual_seed(0)
        return train(tiny(), regression, data, steps=12, batch_size=16, progress=False,
                     generator=torch.Generator().manual_seed(3)).losses

    table = torch.rand(100, 3, generator=torch.Generator().manual_seed(4))
    fresh = lambda g: torch.rand(16, 3, generator=g)  # noqa: E731  a function of the generator
    batches = [table[:16], table[16:32], table[32:48]]  # an iterable, cycled
    for data in (table, fresh, batches):
        assert run(data) == run(data)
    # The iterable is cycled: step 4 sees the first batch again, with weights that have moved.
    assert len(run(batches)) == 12


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_weights():
    net, kept = tiny(), {}

    def loss(net, batch):
        loss.calls = getattr(loss, "calls", 0) + 1
        value = regression(net, batch)
        return value * float("nan") if loss.calls == 3 else value

    def remember(step, model, ema):
        kept[step] = {k: v.clone() for k, v in model.state_dict().items()}

    with pytest.raises(FloatingPointError, match=r"loss became nan at step 3 of 10.*lower learning rate"):
        train(net, loss, torch.rand(64, 3), steps=10, batch_size=8, progress=False, callback=remember)
    assert all(torch.equal(v, kept[2][k]) for k, v in net.state_dict().items())


def test_nan_advice_suggests_a_number_for_clip():
    def loss(net, batch):
        return regression(net, batch) * float("nan")

    for clip, advice in [(None, r"gradient clipping \(clip=1.0; now None"), (1.0, r"clipping \(clip=0.1; now 1\)")]:
        with pytest.raises(FloatingPointError, match=advice) as err:
            train(tiny(), loss, torch.rand(64, 3), steps=3, batch_size=8, clip=clip, progress=False)
        assert "clip=None" not in str(err.value)


def test_nan_in_the_data_is_reported_as_such_before_any_advice():
    data = torch.rand(64, 3)
    data[5, 1] = float("nan")
    with pytest.raises(ValueError, match=r"the training data holds NaN or inf \(1 values in 1 of 64 examples\)") as err:
        train(tiny(), regression, data, steps=3, batch_size=8, progress=False)
    assert "learning rate" not in str(err.value)
    # data from a function: found in the batch when the loss turns NaN
    with pytest.raises(ValueError, match="the batch of step 1 holds NaN or inf"):
        train(tiny(), regression, lambda g: data[:16], steps=3, progress=False)


def test_train_clips_the_gradient_norm_to_clip():
    # After each step the clipped gradient is still in .grad: its norm must be at most clip.
    # (A train that ignored clip would leave the raw norm, about 60 here.)
    def loss(net, batch):
        return 100 * regression(net, batch)

    for clip in (0.5, None):
        norms = []

        def record(step, model, ema):
            norms.append(torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item())

        torch.manual_seed(0)
        train(tiny(), loss, torch.rand(64, 3), steps=5, batch_size=16, clip=clip, progress=False,
              callback=record, generator=torch.Generator().manual_seed(0))
        if clip is not None:
            assert max(norms) <= clip * (1 + 1e-5), norms
        else:
            assert min(norms) > 10, norms  # the raw norms are far above 0.5


def test_nan_gradient_is_caught_too():
    net = tiny()

    def loss(net, batch):  # finite value, but d sqrt(u)/du at u = 0 is inf, times 0 gives NaN
        return torch.sqrt(0 * net(batch[:, :2], batch[:, 2]).sum())

    with pytest.raises(FloatingPointError, match="gradient norm became nan at step 1"):
        train(net, loss, torch.rand(64, 3), steps=5, batch_size=8, progress=False)


def test_progress_bar_shows_steps_and_loss(capsys):
    train(tiny(), regression, torch.rand(64, 3), steps=4, batch_size=8, desc="tiny run")
    err = capsys.readouterr().err  # tqdm writes to stderr in a terminal
    assert "tiny run" in err and "4/4" in err and "loss=" in err


def test_callback_can_stop_training_early():
    h = train(tiny(), regression, torch.rand(64, 3), steps=50, batch_size=8, progress=False,
              callback=lambda step, model, ema: step == 7)
    assert len(h.losses) == 7 and h.ema is not None


def test_ema_equals_its_closed_form():
    # After updates with weights w_1..w_n: sum_k (1 - d) d^(n-k) w_k / (1 - d^n).
    d = 0.9
    model = nn.Linear(1, 1, bias=False).double()
    average = EMA(model, decay=d)
    ws = torch.tensor([3.0, -1.0, 2.5, 0.0, 7.0, 1.0], dtype=torch.float64)
    for n in range(1, len(ws) + 1):
        with torch.no_grad():
            model.weight.fill_(ws[n - 1])
        average.update(model)
        k = torch.arange(1, n + 1, dtype=torch.float64)
        want = ((1 - d) * d ** (n - k) * ws[:n]).sum() / (1 - d**n)
        assert average.model.weight.item() == pytest.approx(want.item(), abs=1e-12)
    assert average.model.weight.item() != pytest.approx(ws[-1].item())  # it is an average
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        EMA(model, decay=1.0)


def test_smoothed_loss_is_a_trailing_mean():
    h = History([1.0, 2.0, 3.0, 4.0, 6.0], None, 1.0)
    assert h.smoothed(2).tolist() == [1.5, 2.5, 3.5, 5.0]


def test_save_then_load_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    net = MLP(hidden=16, depth=2, max_freq=4.0)
    path = tmp_path / "net.pt"
    save(path, net, steps=123, note="test")
    x, t = torch.randn(9, 2), torch.rand(9)
    torch.manual_seed(1)
    into = load(path, MLP(hidden=16, depth=2, max_freq=4.0))  # fresh random weights replaced
    built = load(path, MLP)  # or built from the stored config
    assert torch.equal(into(x, t), net(x, t)) and torch.equal(built(x, t), net(x, t))
    assert info(path) == {"class": "MLP", "config": net.config, "denoiser": None,
                          "meta": {"steps": 123, "note": "test"}}


def test_a_denoiser_saves_its_spec_and_loads_whole(tmp_path):
    from minidiff.worlds.pretrained import load_denoiser

    torch.manual_seed(0)
    model = Denoiser(MLP(hidden=16, depth=2), VPCosine(s=0.02), target="v", clip=2.0, sample_shape=(2,))
    path = tmp_path / "denoiser.pt"
    save(path, model, steps=7)
    assert info(path)["denoiser"] == model.config and info(path)["class"] == "MLP"
    again = load_denoiser(path)
    assert isinstance(again, Denoiser) and again.config == model.config
    assert not again.training and not any(p.requires_grad for p in again.parameters())
    x, t = torch.randn(5, 2), torch.rand(5) * 0.9 + 0.05
    assert torch.equal(again(x, t).x0, model(x, t).x0)
    # load into an existing Denoiser loads its network's weights
    other = Denoiser(MLP(hidden=16, depth=2), VPCosine(s=0.02), target="v")
    assert torch.equal(load(path, other).net(x, t), model.net(x, t))
    # a plain network is not a Denoiser: say how to load it
    save(tmp_path / "net.pt", MLP(hidden=16, depth=2))
    with pytest.raises(ValueError, match=r"holds a plain MLP, not a Denoiser; load it with train.load\(path, MLP\)"):
        load_denoiser(tmp_path / "net.pt")


def test_load_network_rebuilds_registered_classes_and_names_the_others(tmp_path):
    from minidiff.worlds.pretrained import load_network

    class Tiny(nn.Linear):
        def __init__(self):
            super().__init__(2, 2)
            self.config = {}

    save(tmp_path / "mlp.pt", MLP(hidden=8, depth=1))
    assert isinstance(load_network(tmp_path / "mlp.pt"), MLP)
    save(tmp_path / "tiny.pt", Tiny())
    with pytest.raises(ValueError, match=r"holds a .*Tiny, which is not in pretrained.NETWORKS .* "
                                         r"train.load\(path, YourClass\)"):
        load_network(tmp_path / "tiny.pt")


def test_a_file_that_is_not_a_checkpoint_says_so(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match=r"notes.txt is not a minidiff checkpoint \(write one with "
                                         r"minidiff.train.save"):
        load(text, MLP)
    text.write_text("hello\n")  # torch.load's unpickler fails with KeyError on this one
    with pytest.raises(ValueError, match=r"notes.txt is not a minidiff checkpoint"):
        load(text, MLP)
    with pytest.raises(FileNotFoundError):  # a missing file keeps torch's own message, naming the path
        load(tmp_path / "missing.pt", MLP)
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")  # a torch file, but a bare tensor
    with pytest.raises(ValueError, match="tensor.pt is not a minidiff checkpoint .* it holds a Tensor"):
        info(tmp_path / "tensor.pt")
    torch.save(nn.Linear(2, 2), tmp_path / "module.pt")  # a pickled module: refused by weights_only
    with pytest.raises(ValueError, match="module.pt is not a minidiff checkpoint"):
        load(tmp_path / "module.pt", MLP)


def test_loading_into_another_model_fails_clearly(tmp_path):
    path = tmp_path / "net.pt"
    save(path, MLP(hidden=16, depth=2))
    with pytest.raises(ValueError, match="hidden: 16 in the checkpoint, 32 in the model"):
        load(path, MLP(hidden=32, depth=2))
    with pytest.raises(ValueError, match="holds a MLP .* but the model given is a DigitClassifier"):
        load(path, DigitClassifier(8, channels=(8, 8)))
    with pytest.raises(ValueError, match="holds a MLP, not a DigitClassifier"):
        load(path, DigitClassifier)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a minidiff checkpoint"):
        load(tmp_path / "other.pt", MLP)
    with pytest.raises(ValueError, match="no `config`"):
        save(path, nn.Linear(2, 2))


def test_decay_lowers_the_learning_rate_linearly_to_zero():
    # With a constant gradient Adam's step is lr times the gradient's sign (m / sqrt(v) = 1 after bias
    # correction), so a weight moves by the sum of the step sizes: lr * steps at a constant rate and
    # lr * (steps + 1) / 2 when the rate falls as lr * (1 - (k - 1) / steps) at step k.
    def total(net, batch):
        return sum(p.sum() for p in net.parameters())

    steps, lr = 40, 1e-3
    for decay, moved in ((False, lr * steps), (True, lr * (steps + 1) / 2)):
        torch.manual_seed(0)
        net = tiny()
        before = torch.cat([p.detach().flatten() for p in net.parameters()])
        train(net, total, torch.rand(8, 3), steps=steps, lr=lr, clip=None, decay=decay, progress=False)
        after = torch.cat([p.detach().flatten() for p in net.parameters()])
        torch.testing.assert_close(before - after, torch.full_like(before, moved), rtol=1e-3, atol=0)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        train(tiny(), regression, torch.rand(8, 3), steps=0)
    with pytest.raises(ValueError, match="scalar tensor"):
        train(tiny(), lambda m, b: m(b[:, :2], b[:, 2]), torch.rand(8, 3), steps=1, progress=False)
    with pytest.raises(ValueError, match="data must be a tensor"):
        train(tiny(), regression, 3, steps=1, progress=False)


def test_trains_on_the_device_of_the_model(device):
    torch.manual_seed(0)
    net = tiny().to(device)
    h = train(net, regression, torch.rand(64, 3), steps=3, batch_size=8, progress=False)
    assert next(h.ema.parameters()).device.type == device.type and len(h.losses) == 3


def test_trained_on_reads_where_a_checkpoint_was_made():
    assert trained_on({"threads": 1}) == "1 CPU thread"  # made before the scripts recorded a device
    assert trained_on({"device": "cpu", "threads": 2}) == "2 CPU threads"
    assert trained_on({"device": "cuda (NVIDIA H200)", "threads": 16}) == "cuda (NVIDIA H200)"
    assert trained_on({}) == "the CPU"
