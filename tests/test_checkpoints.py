"""minidiff.core.checkpoints: writes that survive an interrupt, one reader that names every bad file, and
the training scripts' output folder (runs/, never data/ unasked)."""

import importlib.util
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from minidiff import checkpoints, train
from minidiff.core.checkpoints import atomic_save, atomic_write_text, info, load, save
from minidiff.core.nets import MLP

ROOT = Path(__file__).resolve().parents[1]


class Big(nn.Module):
    """A network of about 8 MB, so that one save takes long enough to be interrupted in the middle."""

    def __init__(self, width: int = 1400):
        super().__init__()
        self.config = dict(width=width)
        self.layer = nn.Linear(width, width)


def _save_forever(path: str, first: int, started, saving, done, plain: bool) -> None:
    """Child process: write versions first, first + 1, ... of the checkpoint, one after another, until
    interrupted (the interrupt's exception has passed through the save when it reaches this handler)."""
    # pytest-xdist's workers ignore SIGINT, and a forked child inherits that: take Ctrl-C as a script does
    signal.signal(signal.SIGINT, signal.default_int_handler)
    net = Big()
    started.set()
    try:
        for version in range(first, first + 10_000):
            with torch.no_grad():
                net.layer.weight.fill_(version)
            saving.value = version  # the version being written
            if plain:  # what train.save did before: torch.save straight onto the old file
                torch.save({"format": checkpoints.FORMAT, "class": "Big", "config": net.config,
                            "state_dict": net.state_dict(), "denoiser": None, "meta": {"version": version}}, path)
            else:
                save(path, net, version=version)
            done.value = version  # the last version written whole
    except KeyboardInterrupt:
        os._exit(130)  # quietly, as Ctrl-C ends a script


def _interrupt(path: Path, sig: int, plain: bool = False) -> tuple[bool, bool]:
    """Start a saver, interrupt it at a random moment once it writes; return (whether the interrupt
    came in the middle of a save, whether the file on disk is whole afterwards)."""
    ctx = multiprocessing.get_context("fork")  # no second torch import: 20 rounds in seconds
    first = info(path)["meta"]["version"] + 1
    started, saving, done = ctx.Event(), ctx.Value("i", 0), ctx.Value("i", first - 1)
    child = ctx.Process(target=_save_forever, args=(str(path), first, started, saving, done, plain))
    child.start()
    assert started.wait(30)
    while saving.value == 0:
        time.sleep(0.001)
    time.sleep(random.uniform(0, 0.15))  # about a few saves' worth
    os.kill(child.pid, sig)
    child.join(30)
    assert child.exitcode is not None
    mid_write = saving.value != done.value
    try:
        version = info(path)["meta"]["version"]
        weights = torch.load(path, weights_only=True)["state_dict"]["layer.weight"]
        whole = bool((weights == version).all())
    except ValueError:
        whole = False
    return mid_write, whole


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_an_interrupted_save_always_leaves_a_whole_checkpoint(tmp_path):
    # 20 interrupts, Ctrl-C (SIGINT) and kill -9 (SIGKILL) in turn, at random moments of a save loop
    random.seed(0)
    path = tmp_path / "model.pt"
    save(path, Big(), version=0)
    mid_write = 0
    for k in range(20):
        before = info(path)["meta"]["version"]
        cut, whole = _interrupt(path, signal.SIGINT if k % 2 == 0 else signal.SIGKILL)
        assert whole, f"interrupt {k}: the checkpoint does not load"
        assert info(path)["meta"]["version"] >= before  # never an older file than the last one written
        mid_write += cut
    assert mid_write >= 5  # most interrupts landed inside a save: the test exercises what it claims to
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.pt"]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in leftovers)  # SIGKILL's only


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_same_interrupts_destroy_a_plain_torch_save(tmp_path):
    # the control: the harness above does catch a save that writes onto the old file
    random.seed(1)
    path = tmp_path / "model.pt"
    save(path, Big(), version=0)
    broken = 0
    for _ in range(6):
        broken += not _interrupt(path, signal.SIGKILL, plain=True)[1]
        save(path, Big(), version=0)  # whole again for the next round
    assert broken >= 2


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "notes.txt"
    atomic_write_text(path, "old")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_save({"x": Unpicklable()}, path)
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    atomic_write_text(path, "new")
    assert path.read_text() == "new"


def test_train_save_is_the_atomic_one():
    assert train.save is checkpoints.save and train.load is checkpoints.load and train.info is checkpoints.info


@pytest.mark.parametrize("cut", ["empty", "half", "all_but_one_byte"])
def test_an_empty_or_cut_short_checkpoint_is_named_as_such(tmp_path, cut):
    # before: IndexError inside the reader's own error handler (an EOFError has no message)
    whole = tmp_path / "whole.pt"
    save(whole, MLP(hidden=8, depth=1), steps=3)
    data = whole.read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes({"empty": b"", "half": data[: len(data) // 2], "all_but_one_byte": data[:-1]}[cut])
    with pytest.raises(ValueError, match=r"bad.pt is not a minidiff checkpoint .* it is "
                                         + ("empty \\(0 bytes\\)" if cut == "empty" else r"[\d,]+ bytes")):
        load(bad, MLP)
    with pytest.raises(ValueError, match="not a minidiff checkpoint"):
        info(bad)


def test_a_snapshot_bundle_is_not_a_checkpoint_and_the_other_way_round(tmp_path):
    atomic_save({"format": checkpoints.SNAPSHOTS_FORMAT, "steps": [1], "states": [{}]}, tmp_path / "s.pt")
    with pytest.raises(ValueError, match=r"s.pt is not a minidiff checkpoint .* another kind "
                                         r"\('minidiff-snapshots-1'\)"):
        info(tmp_path / "s.pt")
    assert checkpoints.read(tmp_path / "s.pt", checkpoints.SNAPSHOTS_FORMAT)["steps"] == [1]
    save(tmp_path / "c.pt", MLP(hidden=8, depth=1))
    with pytest.raises(ValueError, match="c.pt is not a minidiff snapshot bundle"):
        checkpoints.read(tmp_path / "c.pt", checkpoints.SNAPSHOTS_FORMAT)


# --- where the training scripts write -----------------------------------------------------------

def _script(name):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runs(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setattr(checkpoints, "RUNS_DIR", folder)
    return folder


def test_output_path_is_runs_unless_told(runs, tmp_path):
    shipped = checkpoints.DATA_DIR / "halves8" / "n4a.pt"
    assert checkpoints.output_path(shipped) == runs / "halves8" / "n4a.pt"
    assert checkpoints.output_path(shipped, force=True) == shipped
    assert checkpoints.output_path(shipped, out=tmp_path / "x.pt") == tmp_path / "x.pt"
    assert checkpoints.is_shipped(shipped) and not checkpoints.is_shipped(runs / "n4a.pt")


@pytest.mark.parametrize("script,argv,shipped", [
    ("train_ddpm", ["digits8"], "ddpm8.pt"),
    ("train_text2image", ["scenes"], "text2image.pt"),
    ("train_latent", ["autoencoder"], "autoencoder.pt"),
])
def test_training_scripts_write_into_runs_and_into_data_only_when_told(runs, script, argv, shipped):
    # before: `scripts/train_ddpm.py digits8 --steps 3` replaced data/ddpm8.pt
    options = _script(script).options
    assert options(argv).out == runs / shipped
    assert options(argv + ["--force"]).out == checkpoints.DATA_DIR / shipped
    assert options(argv + ["--out", "data/mine.pt"]).out == Path("data/mine.pt")


@pytest.mark.parametrize("script,argv", [
    ("train_ddpm", ["digits8", "--evaluate"]),
    ("train_text2image", ["scenes", "--evaluate"]),
    ("train_latent", ["clip", "--evaluate"]),
    ("train_beyond", ["halves8", "--evaluate"]),
])
def test_measuring_a_shipped_file_in_place_needs_force(runs, capsys, script, argv):
    # --evaluate stores its numbers in the file it measures: data/ only with --force
    with pytest.raises(SystemExit):
        _script(script).options(argv)
    assert "--force" in capsys.readouterr().err


def test_a_later_stage_without_its_start_file_says_which_to_pass(runs, capsys):
    with pytest.raises(SystemExit):
        _script("train_ddpm").options(["mnist28_cond", "--finetune"])
    err = capsys.readouterr().err
    assert "--finetune continues from" in err and "--start" in err and "data/ddpm28_cond.pt" in err


def test_beyond_and_classifier_folders(runs, tmp_path):
    args = _script("train_beyond").options(["halves8"])
    shipped = checkpoints.DATA_DIR / "halves8" / "n4a.pt"
    assert args.place(shipped) == runs / "halves8" / "n4a.pt"
    assert _script("train_beyond").options(["halves8", "--force"]).place(shipped) == shipped
    assert _script("train_beyond").options(["halves8", "--out", str(tmp_path)]).place(shipped) == \
        tmp_path / "halves8" / "n4a.pt"
    classifier = _script("train_classifier")

    class Args:
        out_dir, force = None, False

    assert classifier.place(Args, "classifier8.pt") == runs / "classifier8.pt"
    Args.force = True
    assert classifier.place(Args, "classifier8.pt") == checkpoints.DATA_DIR / "classifier8.pt"


def test_unknown_device_names_the_ones_present(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        _script("train_ddpm").options(["digits8", "--device", "cuda"])
    err = capsys.readouterr().err
    assert "device 'cuda' is not available here; the devices present are cpu" in err and "--device cpu" in err


def test_every_remake_command_into_data_says_force():
    # data/CHECKPOINTS.md's commands remake the shipped files: without --force they would write runs/
    text = (ROOT / "data" / "CHECKPOINTS.md").read_text()
    commands = [line for line in text.splitlines() if "python scripts/train_" in line]
    assert len(commands) >= 15
    lacking = [c for c in commands if "--force" not in c and ("-> data/" in c or c.startswith("    "))]
    assert lacking == []
    assert "runs/" in (ROOT / ".gitignore").read_text().split()


def test_the_registry_holds_the_classifiers_recipes_as_their_files_record_them():
    # one table for every shipped model: the classifiers' recipes moved from their script to pretrained
    from minidiff import pretrained

    assert set(pretrained.CLASSIFIER_RECIPES) == {"classifier8", "classifier28", "noisy_classifier8",
                                                  "noisy_classifier28"}
    for r in pretrained.CLASSIFIER_RECIPES.values():
        about = info(checkpoints.DATA_DIR / r["file"])
        assert {k: about["meta"][k] for k in ("steps", "batch_size", "lr", "shift", "seed", "ema", "size")} == \
            {k: r[k] for k in ("steps", "batch_size", "lr", "shift", "seed", "ema", "size")}
        assert about["config"]["channels"] == list(r["channels"]) or about["config"]["channels"] == r["channels"]
        assert about["class"] == ("NoisyDigitClassifier" if r["noisy"] else "DigitClassifier")
    assert pretrained.classifier_recipe(28, noisy=True)["batch_size"] == 64
    with pytest.raises(ValueError, match="no shipped classifier for size 16; the sizes are 8 and 28"):
        pretrained.classifier_recipe(16)


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot write .*nowhere/net.pt: the folder .*nowhere does not exist"):
        save(tmp_path / "nowhere" / "net.pt", MLP(hidden=8, depth=1))
