"""The one training loop of the course: Adam, gradient clipping, an EMA of the weights, a progress
bar, a loss history, a stop on NaN; checkpoints (save, load, info) come from minidiff.checkpoints.

    history = train(net, loss_fn, data, steps=2000, generator=minidiff.seed_all(0))
    history.losses        # one float per step
    history.ema           # a copy of net holding the averaged weights: sample with this one

The same call runs data-parallel under `torchrun --nproc_per_node=N script.py` (see `train`).
"""

import copy
import inspect
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

# Checkpoints are read and written by minidiff.checkpoints (atomic writes, one reader); the names stay
# importable from here because the lessons, the README and the homework call train.save and train.load.
from .checkpoints import FORMAT, info, load, save, trained_on  # noqa: F401
from .guidance import _check_training_labels
from .params import Denoiser
from ..runtime import check_generator


@dataclass
class History:
    """What a training run leaves behind: the loss of every step, the EMA model, the time taken."""

    losses: list[float]
    ema: nn.Module | None
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return len(self.losses) / self.seconds if self.seconds > 0 else math.inf

    def smoothed(self, window: int = 50) -> torch.Tensor:
        """The loss averaged over a trailing window of steps (single steps are noisy)."""
        losses = torch.tensor(self.losses, dtype=torch.float64)
        kernel = torch.ones(min(window, len(losses)), dtype=torch.float64)
        sums = torch.nn.functional.conv1d(losses[None, None], kernel[None, None])[0, 0]
        return sums / len(kernel)


class EMA:
    """An exponential moving average of a model's weights (Polyak & Juditsky 1992), kept in a copy.

    Bias-corrected like Adam's moments (Kingma & Ba 2015, Algorithm 1): after n updates it holds
    sum_k (1 - d) d^(n - k) w_k / (1 - d^n), so the random initial weights never linger in it.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0 <= decay < 1:
            raise ValueError(f"EMA: decay must be in [0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average."""
        self.updates += 1
        d, n = self.decay, self.updates
        keep = d * (1 - d ** (n - 1)) / (1 - d**n)  # 0 at the first update: start from w_1
        for avg, w in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(w.detach(), 1 - keep)  # avg = keep * avg + (1 - keep) * w
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)  # buffers (counts, running statistics) are copied, not averaged


def train(model: nn.Module, loss_fn: Callable, data, steps: int, *, lr: float = 1e-3,
          batch_size: int = 256, ema: float | None = 0.999, clip: float | None = 1.0,
          decay: bool = False, generator: torch.Generator | None = None, progress: bool = True,
          callback: Callable | None = None, desc: str = "training") -> History:
    """Train `model` in place with Adam for `steps` steps and return the History.

    loss_fn(model, batch) -> scalar tensor; when it has a `generator` parameter it also gets
    `generator=` (so its noise is seeded too). data is one of: a tensor of examples (random
    batches of `batch_size` are drawn with `generator`), a function `data(generator)` that returns
    a fresh batch, or an iterable of batches (a DataLoader), cycled. Batches move to the model's
    device. clip: the largest gradient norm (None: no clipping). ema: the decay of the weight
    average (None: no average). decay: the learning rate falls linearly from lr (step 1) towards 0
    (lr / steps at the last step) instead of staying at lr; a cooldown that shrinks the jitter Adam
    leaves in the weights at the end of a run. callback(step, model, ema_model) runs after every
    step; when it returns True, training stops there and the History holds the steps done (a time
    budget, ...).

    Data-parallel: when a torch.distributed process group with more than one process is set up
    (`torchrun --nproc_per_node=N`, then dist.init_process_group("gloo") on CPUs, "nccl" on
    GPUs), every process runs this same call with the same seed: rank 0's weights are copied to
    all at the start, every batch is the global one (batch_size, or what data gives) of which each
    process takes its own contiguous block of rows, the gradients are averaged over the processes
    (what DistributedDataParallel does; done here after backward, so loss_fn still gets the plain
    model and may call any of its methods), and the losses in the History are the global-batch
    means, as in one process with the whole batch. A DataLoader with a DistributedSampler already
    gives each process its own batches: these are not split again. loss_fn's `generator` is then
    one per process (seeded from `generator`), so that the processes draw different noise. EMA
    runs on every process (the weights are the same everywhere); the callback and the progress bar
    on rank 0 only (save checkpoints there), and its stop is sent to all. With one process, or no
    process group, nothing of this happens.
    """
    if steps < 1:
        raise ValueError(f"train: steps must be >= 1, got {steps}")
    check_generator(generator, "train")
    if lr <= 0 or (clip is not None and clip <= 0):
        raise ValueError(f"train: lr and clip must be > 0, got lr={lr}, clip={clip}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("train: the model has no trainable parameters")
    if isinstance(data, torch.Tensor) and data.is_floating_point() and not data.isfinite().all():
        raise ValueError(_bad_data_message(data, "the training data"))
    device = params[0].device
    rank, world = (dist.get_rank(), dist.get_world_size()) if _distributed() else (0, 1)
    noise = generator
    if world > 1:
        if isinstance(data, torch.Tensor) and batch_size < world:
            raise ValueError(f"train: batch_size ({batch_size}) is the global batch, split over {world} "
                             f"processes: it must be at least {world}")
        _broadcast_weights(model)  # all processes start from rank 0's weights, like DDP
        if generator is not None:  # same data stream everywhere, different noise per process
            copy_ = torch.Generator(device=generator.device).set_state(generator.get_state())
            seed = int(torch.randint(2**62, (1,), generator=copy_, device=generator.device))  # generator untouched
            noise = torch.Generator(device=generator.device).manual_seed(seed + rank)
        split = not isinstance(getattr(data, "sampler", None), torch.utils.data.DistributedSampler)
    batches = _batches(data, batch_size, generator)
    takes_generator = _takes_generator(loss_fn)
    classes = _num_classes(model)  # a class-conditional model or a classifier: its labels are checked
    if classes is not None and isinstance(data, (tuple, list)):  # all the labels at hand: checked once
        _check_labels(data, classes, "train (the data's labels)")
        classes = None  # so not again at every step
    optimizer = torch.optim.Adam(params, lr=lr)
    average = EMA(model, ema) if ema is not None else None
    losses, was_training, start = [], model.training, time.perf_counter()
    model.train()
    bar = tqdm(total=steps, desc=desc, disable=not progress or rank != 0, leave=True)
    every = max(1, steps // 200)  # refresh the bar's loss ~200 times, not every step
    try:
        for step in range(1, steps + 1):
            if decay:
                for group in optimizer.param_groups:
                    group["lr"] = lr * (1 - (step - 1) / steps)
            batch = _to(next(batches), device)
            if classes is not None:
                _check_labels(batch, classes, f"train (the batch of step {step})")
            if world > 1 and split:
                batch = _rows(batch, rank, world)
            loss = loss_fn(model, batch, generator=noise) if takes_generator else loss_fn(model, batch)
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise ValueError("train: loss_fn must return a scalar tensor, got "
                                 f"{getattr(loss, 'shape', type(loss).__name__)} (forgot a .mean()?)")
            if world > 1:  # backward first: all processes must reach the all_reduce, NaN or not
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                value = _average_gradients(params, loss.detach(), world)
            else:
                value = loss.item()
            if not math.isfinite(value):
                _check_batch(batch, step)  # NaN in the data is the first thing to rule out
                raise FloatingPointError(_nan_message("the loss", value, step, steps, lr, clip))
            if world == 1:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            # clip_grad_norm_ also measures the norm: a NaN there means a NaN gradient.
            norm = float(nn.utils.clip_grad_norm_(params, clip if clip is not None else math.inf))
            if not math.isfinite(norm):
                raise FloatingPointError(_nan_message("the gradient norm", norm, step, steps, lr, clip))
            optimizer.step()
            if average is not None:
                average.update(model)
            losses.append(value)
            if callback is not None:
                stop = rank == 0 and bool(callback(step, model, average.model if average is not None else None))
                if world > 1:  # rank 0 decides for all: a process left alone would wait forever
                    flag = torch.tensor([float(stop)], device=device)
                    dist.broadcast(flag, 0)
                    stop = bool(flag.item())
                if stop:
                    break  # the callback asked to stop (a time budget, a target loss reached, ...)
            if step % every == 0 or step == steps:
                recent = losses[-every:]
                bar.set_postfix(loss=f"{sum(recent) / len(recent):.4g}", refresh=False)
                bar.update(step - bar.n)
    finally:  # also on an error or an interrupt: close the bar, restore the model's mode
        bar.close()
        model.train(was_training)
    return History(losses, average.model if average is not None else None,
                   time.perf_counter() - start)


def _distributed() -> bool:
    """True when a torch.distributed process group of more than one process is set up."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@torch.no_grad()
def _broadcast_weights(model: nn.Module) -> None:
    for t in [*model.parameters(), *model.buffers()]:
        dist.broadcast(t.data, 0)


@torch.no_grad()
def _average_gradients(params: list, loss: torch.Tensor, world: int) -> float:
    """Average the gradients (and the loss) over all processes, one all_reduce per dtype; return
    the averaged loss. A parameter without a gradient on this process counts as a zero gradient."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    groups = {}
    for g in [loss.reshape(1)] + [p.grad for p in params]:
        groups.setdefault(g.dtype, []).append(g)
    for grads in groups.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view_as(g))
    return groups[loss.dtype][0].item()


def _rows(batch, rank: int, world: int):
    """This process's block of rows of a global batch (tensors, or tuples, lists, dicts of them)."""
    if isinstance(batch, torch.Tensor):
        if len(batch) < world:
            raise ValueError(f"train: a batch of {len(batch)} cannot be split over {world} processes")
        return batch.tensor_split(world)[rank]
    if isinstance(batch, (tuple, list)):
        return type(batch)(_rows(b, rank, world) for b in batch)
    if isinstance(batch, dict):
        return {k: _rows(v, rank, world) for k, v in batch.items()}
    return batch


def _nan_message(what: str, value: float, step: int, steps: int, lr: float, clip) -> str:
    # Suggest a number for clip: clip=None is no clipping, never advice.
    clipping = ("gradient clipping (clip=1.0; now None, no clipping)" if clip is None
                else f"stronger gradient clipping (clip={clip / 10:g}; now {clip:g})")
    return (f"train: {what} became {value} at step {step} of {steps}; the weights are those from "
            f"before this step. Try a lower learning rate (lr={lr:g} now, e.g. {lr / 10:g}), "
            f"{clipping}, and check the loss for NaN or inf (a division by a noise level of 0, "
            f"the log of 0, ...).")


def _bad_data_message(x: torch.Tensor, where: str) -> str:
    bad = ~x.isfinite()
    rows = bad.flatten(1).any(1) if x.ndim > 1 else bad
    return (f"train: {where} holds NaN or inf ({int(bad.sum())} values in {int(rows.sum())} of "
            f"{len(x)} examples); the loss cannot be finite. Remove them first, e.g. "
            f"x = x[x.flatten(1).isfinite().all(1)]")


def _check_batch(batch, step: int) -> None:
    """Raise a message about the data when a batch (or a tensor inside it) is not finite."""
    parts = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (tuple, list)) \
        else [batch]
    for x in parts:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and not x.isfinite().all():
            raise ValueError(_bad_data_message(x, f"the batch of step {step}"))


def _num_classes(model: nn.Module) -> int | None:
    """The number of classes of a class-conditional network (or a Denoiser around one) or a classifier."""
    net = model.net if isinstance(model, Denoiser) else model
    n = getattr(net, "num_classes", None)
    if n is None:
        n = (getattr(net, "config", None) or {}).get("num_classes")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def _check_labels(batch, classes: int, where: str) -> None:
    """Refuse a batch (x, labels) whose labels are bool or outside 0..classes-1 (see guidance)."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[1], torch.Tensor) \
            and batch[1].ndim == 1 and not batch[1].is_floating_point():
        _check_training_labels(batch[1], classes, where)


def _takes_generator(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return any(p.name == "generator" or p.kind is p.VAR_KEYWORD for p in params)


def _batches(data, batch_size: int, generator: torch.Generator | None) -> Iterator:
    if isinstance(data, torch.Tensor):
        if batch_size < 1 or len(data) == 0:
            raise ValueError(f"train: need batch_size >= 1 and data, got {batch_size} and {len(data)} examples")
        gen_device = generator.device if generator is not None else torch.device("cpu")
        while True:  # batches drawn with replacement: a seeded, endless stream
            index = torch.randint(len(data), (batch_size,), generator=generator, device=gen_device)
            yield data[index.to(data.device)]
    elif callable(data):
        while True:
            yield data(generator)
    else:
        try:
            iter(data)
        except TypeError:
            raise ValueError("train: data must be a tensor, a function data(generator) or an "
                             f"iterable of batches, got {type(data).__name__}") from None
        while True:
            empty = True
            for batch in data:
                empty = False
                yield batch
            if empty:
                raise ValueError("train: the iterable of batches is empty")


def _to(batch, device: torch.device):
    """Move a tensor, or tensors inside tuples, lists and dicts, to the model's device."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch

