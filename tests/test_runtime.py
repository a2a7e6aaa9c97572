import random

import numpy as np
import pytest
import torch

import minidiff


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("MINIDIFF_FAST", value)
    assert minidiff.fast_mode() is expected
    assert minidiff.by_mode(full=1000, fast=10) == (10 if expected else 1000)


def test_fast_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("MINIDIFF_FAST", "maybe")
    with pytest.raises(ValueError, match="MINIDIFF_FAST must be 1 or 0"):
        minidiff.fast_mode()


def test_fast_mode_off_when_unset(monkeypatch):
    monkeypatch.delenv("MINIDIFF_FAST", raising=False)
    assert minidiff.fast_mode() is False


def test_seed_all_repeats_every_generator():
    def draw():
        g = minidiff.seed_all(7)
        return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item()

    assert draw() == draw()
    with pytest.raises(ValueError, match="non-negative int"):
        minidiff.seed_all(-1)


def test_default_device_is_usable():
    d = minidiff.default_device()
    assert torch.ones(2, device=d).sum().item() == 2.0


def test_device_name_says_which_card(monkeypatch):
    # what a checkpoint records: the device type, and for CUDA the card's name too
    from minidiff.runtime import device_name

    assert device_name("cpu") == "cpu" and device_name(torch.device("mps")) == "mps"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert device_name(torch.device("cuda", 0)) == "cuda (NVIDIA H200)"


def test_pick_device_refuses_a_device_that_is_not_here_and_names_those_that_are(monkeypatch):
    # before: the scripts failed deep inside torch ("Torch not compiled with CUDA enabled", ...)
    from minidiff.runtime import device_arg, pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("cpu") == torch.device("cpu") and pick_device(None) == torch.device("cpu")
    for name in ("cuda", "mps", "cuda:0", "gpu"):
        with pytest.raises(ValueError, match=f"device '{name}' is not available here; the devices present are cpu. "
                                             "Use --device cpu"):
            pick_device(name)
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="devices present are cpu"):
        device_arg("mps")


def test_pick_device_knows_how_many_cards_there_are(monkeypatch):
    from minidiff.runtime import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("cuda") == torch.device("cuda") and pick_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="device 'cuda:2' is not available here; the devices present are "
                                         "cpu, cuda, cuda:1"):
        pick_device("cuda:2")
