"""train.train data-parallel: 2 CPU processes (torchrun, gloo) give the losses of 1 process."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from minidiff import train

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_distributed_demo.py"

needs_gloo = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this build")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args, tmp_path, name):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args, "--exact", "--steps", "25", "--stop", "20", "--batch", "64",
                           "--out", str(tmp_path / name)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


@needs_gloo
def test_two_processes_match_one(tmp_path):
    _run([str(SCRIPT)], tmp_path, "one")
    _run(["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
          f"--master_port={_free_port()}", str(SCRIPT)], tmp_path, "two")
    one = torch.load(tmp_path / "one.rank0")
    ranks = [torch.load(tmp_path / f"two.rank{r}") for r in (0, 1)]
    # the callback (rank 0 only) stopped the run at step 20, on both processes
    assert len(one["losses"]) == 20 and one["calls"] == list(range(1, 21))
    assert ranks[0]["calls"] == list(range(1, 21)) and ranks[1]["calls"] == []
    for r in ranks:
        assert len(r["losses"]) == 20
        # the History holds the global-batch loss: the mean of the two halves' losses
        torch.testing.assert_close(torch.tensor(r["losses"]), torch.tensor(one["losses"]), rtol=1e-4, atol=1e-6)
        for key in ("weights", "ema"):  # gloo's sums are not bit for bit those of one process
            for k, w in one[key].items():
                torch.testing.assert_close(r[key][k], w, rtol=1e-4, atol=1e-5)
    # the two processes hold the same weights (rank 1 started from other ones: rank 0's were copied)
    for k, w in ranks[0]["weights"].items():
        assert torch.equal(ranks[1]["weights"][k], w)


@needs_gloo
def test_a_group_of_one_changes_nothing(tmp_path):
    def run():
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        g = torch.Generator().manual_seed(1)
        h = train.train(net, lambda m, x, generator=None: (m(x) - x.sum(1, keepdim=True)).pow(2).mean()
                        + 0 * torch.rand(1, generator=generator).sum(), torch.randn(100, 3, generator=g), 5,
                        batch_size=8, generator=g, progress=False)
        return h.losses, net.weight.detach().clone()

    alone = run()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        grouped = run()
    finally:
        dist.destroy_process_group()
    assert alone[0] == grouped[0] and torch.equal(alone[1], grouped[1])


def test_rows_split_every_tensor_of_a_batch():
    batch = {"x": torch.arange(10), "pair": (torch.arange(10) * 2, "label")}
    parts = [train._rows(batch, r, 2) for r in (0, 1)]
    assert parts[0]["x"].tolist() == [0, 1, 2, 3, 4] and parts[1]["pair"][0].tolist() == [10, 12, 14, 16, 18]
    assert parts[1]["pair"][1] == "label"
    with pytest.raises(ValueError, match="cannot be split"):
        train._rows(torch.zeros(1, 2), 0, 2)
