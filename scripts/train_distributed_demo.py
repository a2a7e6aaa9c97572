"""A small diffusion training on the two moons, data-parallel over N processes with minidiff.train.

    python scripts/train_distributed_demo.py                                # one process
    torchrun --nproc_per_node=2 scripts/train_distributed_demo.py           # two CPU processes (gloo)
    torchrun --nproc_per_node=4 scripts/train_distributed_demo.py --steps 2000   # on 4 GPUs (NCCL);
                                        # with fewer GPUs than processes, on the CPU (gloo)

Every process runs this same file; train.train sees the process group and splits each global
batch (--batch) over the processes, averages the gradients, and leaves the saving to rank 0.
--exact draws the noise levels and the noise with the data, as part of the global batch, so that
the losses of N processes are those of one process (tests/test_distributed.py checks this).
"""

import argparse
import os

import torch
import torch.distributed as dist

import minidiff
from minidiff import checkpoints, toy, train
from minidiff.core.losses import diffusion_loss
from minidiff.core.nets.mlp import MLP
from minidiff.core.schedules import VPCosine


def main(argv=None) -> train.History:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=256, help="the global batch, over all processes")
    parser.add_argument("--exact", action="store_true", help="noise drawn with the global batch")
    parser.add_argument("--stop", type=int, default=0, help="let the callback stop after this step")
    parser.add_argument("--out", default="", help="save the losses and weights here (.rank<r> added)")
    args = parser.parse_args(argv)

    started = "RANK" in os.environ and not dist.is_initialized()  # launched by torchrun
    # one GPU per process, or all on the CPU: two processes on one GPU is not what NCCL is for
    cuda = started and torch.cuda.device_count() >= int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if started:
        if cuda:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    try:
        torch.manual_seed(rank)  # other initial weights on each process: train copies rank 0's
        net = MLP(hidden=64, depth=2).to(device)
        g = minidiff.seed_all(0)  # the same seed on every process: the same global batches
        schedule = VPCosine()

        if args.exact:
            def data(generator):  # a global batch with its noise levels and noise
                x0 = toy.moons().sample(args.batch, generator=generator)
                return {"x0": x0, "t": 1 - torch.rand(args.batch, generator=generator),
                        "eps": torch.randn(x0.shape, generator=generator)}

            def loss_fn(model, b):
                return diffusion_loss(model, b["x0"], schedule, t=b["t"], eps=b["eps"])
        else:
            data = toy.moons().sample(20_000, generator=g)

            def loss_fn(model, x0, generator=None):
                return diffusion_loss(model, x0, schedule, generator=generator)

        calls = []

        def callback(step, model, ema_model):  # runs on rank 0 only: save checkpoints here
            calls.append(step)
            return step == args.stop

        processes = dist.get_world_size() if started else 1
        history = train.train(net, loss_fn, data, args.steps, lr=3e-3, batch_size=args.batch, generator=g,
                              callback=callback, desc=f"{processes} process(es)")
        if rank == 0:
            print(f"{len(history.losses)} steps, last loss {history.losses[-1]:.4f}, "
                  f"{history.steps_per_second:.1f} steps/s", flush=True)
        if args.out:
            checkpoints.atomic_save({"losses": history.losses, "calls": calls,
                                     "weights": {k: v.cpu() for k, v in net.state_dict().items()},
                                     "ema": {k: v.cpu() for k, v in history.ema.state_dict().items()}},
                                    f"{args.out}.rank{rank}")
        return history
    finally:
        if started:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
