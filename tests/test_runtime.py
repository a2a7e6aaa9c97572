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
