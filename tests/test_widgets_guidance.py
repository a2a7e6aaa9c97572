"""Lesson 09's sliders: moving one redraws the picture and the label, which states what was measured;
a setting seen before is served from the cache."""

import torch

from minidiff import params, schedules, toy, widgets
from minidiff.core.nets import UNet

PNG = b"\x89PNG\r\n\x1a\n"


def test_powered_explorer_redraws_and_measures():
    gm = toy.GaussianMixture(torch.tensor([[-1.5, 0.0], [1.5, 0.0], [0.0, 1.0]]), torch.tensor([0.5, 0.5, 0.5]))
    ui = widgets.powered_explorer(gm, torch.tensor([0, 1, 1]), 0, schedules.VPLinear(), w=1.0, n=200, steps=20,
                                  grid=60, parts=2)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and label.startswith("w = 1, class y = 0: distance to the powered target, ddpm ")
    ui.controls["w"].value = 4.0
    assert ui.image.value != before and ui.label.value.startswith("w = 4, class y = 0")
    ui.controls["w"].value = 1.0
    assert ui.label.value == label  # the cached measurement, not a new draw


def test_cfg_explorer_redraws_for_digit_and_w():
    net = UNet(channels=(8, 16), num_classes=10)  # untrained: only the wiring is tested here
    model = params.Denoiser(net, schedules.VPLinear(), clip=1.0, sample_shape=(1, 8, 8)).eval()
    ui = widgets.cfg_explorer(model, digit=3, w=2.0, n=4, steps=3)
    before, label = ui.image.value, ui.label.value
    assert before[:8] == PNG and label.startswith("digit 3, w = 2: the classifier reads ")
    assert label.endswith("of 4 samples as a 3")
    ui.controls["digit"].value = 7
    assert ui.image.value != before and ui.label.value.startswith("digit 7, w = 2")
    ui.controls["w"].value = 0.5
    assert ui.label.value.startswith("digit 7, w = 0.5")
