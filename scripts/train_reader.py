"""Train the scene attribute reader: `python scripts/train_reader.py` -> runs/scene_reader.pt
(`--force`: data/scene_reader.pt, replacing the shipped file; or `--out FILE`).

Scenes of every combination (held-out ones too: the reader is the judge, not the model judged) are
rendered fresh from seeds; light Gaussian noise is added in training so that the reader also reads
imperfect samples. Accuracy per attribute is measured on 2,000 scenes from another seed. The recipe is
minidiff.registry.READER_RECIPE.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minidiff  # noqa: E402
from minidiff import checkpoints, registry, scenes as S, train  # noqa: E402
from minidiff.worlds.metrics.scenes import reader_accuracy  # noqa: E402
from minidiff.worlds.reader import SceneReader, reader_loss  # noqa: E402

SHIPPED, R = registry.path("scene_reader"), registry.READER_RECIPE


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=R["images"])
    p.add_argument("--epochs", type=int, default=R["epochs"])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="where to write (default: runs/scene_reader.pt)")
    p.add_argument("--force", action="store_true", help="write the shipped file, data/scene_reader.pt")
    args = p.parse_args()
    out = checkpoints.output_path(SHIPPED, args.out, args.force)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    g = minidiff.seed_all(R["seed"])
    start = time.perf_counter()
    x, scenes = S.sample_scenes(args.images, seed=R["data_seed"], split="all")
    reader = SceneReader()
    opt = torch.optim.Adam(reader.parameters(), lr=R["lr"])
    steps = 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(x), generator=g)
        for k in range(0, len(x), R["batch_size"]):
            index = order[k:k + R["batch_size"]]
            batch = x[index]
            noise = torch.rand(len(batch), 1, 1, 1, generator=g) * R["noise"]  # sigma up to R["noise"]
            batch = batch + noise * torch.randn(batch.shape, generator=g)
            loss = reader_loss(reader(batch), [scenes[i] for i in index.tolist()])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        for group in opt.param_groups:
            group["lr"] *= 0.5
        print(f"epoch {epoch}: loss {loss.item():.4f}", flush=True)
    reader.eval()
    xt, st = S.sample_scenes(2000, seed=7, split="all")
    acc = reader_accuracy(reader, xt, st)
    meta = dict(images=args.images, epochs=args.epochs, steps=steps, seconds=round(time.perf_counter() - start, 1),
                threads=torch.get_num_threads(), accuracy=acc, data=f"scenes.sample_scenes(N, seed={R['data_seed']}, 'all')",
                test="scenes.sample_scenes(2000, seed=7, 'all')")
    train.save(out, reader, **meta)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
