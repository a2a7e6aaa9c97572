"""Rewrite the shipped DDPMs so that each file holds its whole Denoiser: `python scripts/upgrade_checkpoints.py`.

Older files recorded the network (class, config, weights) with the schedule and target only in
their meta. This reads each one, wraps the same network in the Denoiser its recipe describes
(schedule from the meta, target, x0 clipped to [-1, 1], images (1, size, size)) and saves it with
train.save(path, denoiser), which stores that spec beside the weights (atomically: an interrupt
leaves the old file). The weights are copied
unchanged: the script checks them bit for bit, and checks the outputs on a fixed input.
Running it on files already upgraded rewrites them identically.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minidiff import pretrained, train  # noqa: E402
from minidiff.core.nets import UNet  # noqa: E402
from minidiff.core.params import Denoiser  # noqa: E402
from minidiff.core.schedules import from_config  # noqa: E402


def upgrade(name: str) -> None:
    path, r = pretrained.path_of(name), pretrained.recipe(name)
    about = train.info(path)
    net = train.load(path, UNet).eval()
    spec = about["denoiser"] or dict(schedule=about["meta"]["schedule"], target=about["meta"]["target"],
                                     clip=1.0, sample_shape=[1, r["size"], r["size"]])
    model = Denoiser(net, from_config(spec["schedule"]), spec["target"], clip=spec["clip"],
                     sample_shape=spec["sample_shape"])
    x = torch.randn(4, 1, r["size"], r["size"], generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.05, 0.3, 0.6, 0.95])
    with torch.no_grad():
        before = model(x, t)
    train.save(path, model, **about["meta"])
    again = pretrained.load_ddpm(name)
    same = all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.net.state_dict().values()))
    with torch.no_grad():
        after = again(x, t)
    assert same and torch.equal(before.eps, after.eps) and torch.equal(before.x0, after.x0), name
    print(f"{path.name}: {again.config}; weights and outputs unchanged")


if __name__ == "__main__":
    for name in pretrained.RECIPES:
        upgrade(name)
