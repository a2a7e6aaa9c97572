"""One benchmark report of the course, in Markdown: the machine, each lesson's run time in fast and full
mode, sample quality against the number of network calls, training throughput of every shipped model,
slider redraw times, and the quality figures each shipped checkpoint recorded when it was made.

Run: python benchmarks/report.py            (everything: lessons 3 times in each mode; about 1 h 45 min on 2 cores)
     python benchmarks/report.py --quick    (a smoke run: lessons once in fast mode, fast benchmarks)
     python benchmarks/report.py --lessons 00 03 --modes fast --skip samplers widgets
The parts also run alone: python benchmarks/samplers.py, python benchmarks/widgets.py (and latent.py,
sampler_overhead.py, zero_snr.py, which this report leaves out).
"""

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"
BENCHMARKS = ROOT / "benchmarks"
SECTIONS = ("lessons", "samplers", "throughput", "widgets", "checkpoints")


# ---- small pure helpers --------------------------------------------------------------------------

def spread(values) -> tuple[float, float, float]:
    """(median, min, max) of a list of numbers."""
    values = list(values)
    if not values:
        raise ValueError("spread: no values")
    return statistics.median(values), min(values), max(values)


def format_spread(values, digits: int = 1) -> str:
    """'12.3 (11.9-13.0)': the median and, when there is more than one value, the range."""
    median, low, high = spread(values)
    if len(values) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def markdown_table(header, rows) -> str:
    """A Markdown table; cells are turned into text and pipes escaped, so a cell never splits."""
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(r) for r in rows])


def fenced(text: str) -> str:
    """Text printed by another script, kept as it is (its columns are aligned with spaces)."""
    return "```text\n" + text.strip("\n") + "\n```"


def natural_key(name: str) -> list:
    """Sort key that puts 'n4a' before 'n16a': runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def lesson_key(path: Path) -> str:
    """'03' for notebooks/03_noise_schedules.ipynb: what --lessons names."""
    return path.stem.split("_", 1)[0]


# ---- 1. the machine ------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> str:
    """Other programs' load slows every timing here: the report says how busy the machine was."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def machine_section() -> str:
    import minidiff

    device = minidiff.default_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = f"{torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
    rows = [("CPU", cpu_model()), ("cores", f"{os.cpu_count()} ({usable} usable by this process)"),
            ("load average (1, 5, 15 min) at the start", load_average()),
            ("Python", platform.python_version()), ("torch", torch.__version__),
            ("torch threads", threads),
            ("device (minidiff.default_device())", name), ("system", platform.platform()),
            ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))]
    return markdown_table(("", "value"), rows)


# ---- 2. lesson run times -------------------------------------------------------------------------

def run_lesson(path: Path, fast: bool, timeout: int) -> float:
    """Seconds to execute one lesson with nbconvert, into a temporary copy (notebooks/ is never written)."""
    env = dict(os.environ, MINIDIFF_FAST="1" if fast else "0")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                               f"--ExecutePreprocessor.timeout={timeout}", "--log-level=WARN",
                               "--output-dir", tmp, "--output", path.stem, str(path)],
                              env=env, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise RuntimeError(f"{path.name} failed in {'fast' if fast else 'full'} mode: {last[:200]}")
    return seconds


def lessons_section(keys, modes, repeats: int, timeout: int) -> str:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if keys:
        paths = [p for p in paths if lesson_key(p) in keys]
    rows, totals = [], {m: 0.0 for m in modes}
    for path in paths:
        row = [path.stem]
        for mode in modes:
            try:
                seconds = [run_lesson(path, mode == "fast", timeout) for _ in range(repeats)]
            except RuntimeError as err:
                row.append(f"failed: {err}")
                continue
            progress(f"{path.stem} {mode}: " + ", ".join(f"{s:.1f}" for s in seconds) + " s")
            totals[mode] += statistics.median(seconds)
            row.append(format_spread(seconds))
        rows.append(row)
    rows.append(["all (sum of medians)"] + [f"{totals[m]:.0f}" for m in modes])
    header = ["lesson"] + [f"{m} mode, s" for m in modes]
    runs = "one run" if repeats == 1 else f"median of {repeats} runs (range in brackets)"
    return (f"Seconds of `jupyter nbconvert --execute` per lesson, {runs}, kernel start included.\n\n"
            + markdown_table(header, rows))


# ---- 3 and 5. the sampler and slider benchmarks, run as they are --------------------------------

def run_benchmark(name: str, fast: bool) -> tuple[str, float]:
    """(stdout, seconds) of benchmarks/<name>.py in fast or full mode."""
    env = dict(os.environ, MINIDIFF_FAST="1" if fast else "0")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py")], env=env, capture_output=True,
                          text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks/{name}.py failed: {done.stderr.strip()[-500:]}")
    return done.stdout, seconds


def samplers_section(fast: bool) -> str:
    out, seconds = run_benchmark("samplers", fast)
    return (f"`benchmarks/samplers.py` ({'fast' if fast else 'full'} mode, {seconds:.0f} s), as it prints:\n\n"
            + fenced(out))


def parse_widget_table(text: str) -> tuple[str, list]:
    """benchmarks/widgets.py's output -> (its first line, rows of explorer, control, build s, median s, max s).
    Rows that do not have that shape (the header) are left out."""
    lines = text.strip().splitlines()
    rows = []
    for line in lines[1:]:
        cells = line.split()
        if len(cells) == 5:
            try:
                rows.append([cells[0], cells[1]] + [float(c) for c in cells[2:]])
            except ValueError:
                continue  # the header line
    return (lines[0] if lines else ""), rows


def widgets_section(fast: bool) -> str:
    out, seconds = run_benchmark("widgets", fast)
    first, rows = parse_widget_table(out)
    if not rows:
        return fenced(out)
    table = markdown_table(("explorer", "control", "build s", "redraw median s", "redraw max s"),
                           [(n, c, f"{b:.2f}", f"{m:.3f}", f"{x:.3f}") for n, c, b, m, x in rows])
    return (f"`benchmarks/widgets.py` ({'fast' if fast else 'full'} mode, {seconds:.0f} s; {first}). "
            f"A slider feels sluggish above about 0.5 s.\n\n" + table)


# ---- 4. training throughput ----------------------------------------------------------------------

def fresh_network(path: Path) -> torch.nn.Module:
    """A new, untrained network of the class and config the checkpoint records (its weights unused)."""
    from minidiff import pretrained, train

    about = train.info(path)
    net = pretrained.NETWORKS[about["class"]](**about["config"])
    net.vocabulary = about["meta"].get("vocabulary")  # a text model's words: its batches are tokenised with them
    return net


def digit_batch(size: int, batch_size: int, labels: bool, device):
    from minidiff.worlds.data import load_digits

    x, y = load_digits(size, "train")
    index = torch.randint(len(x), (batch_size,), generator=torch.Generator().manual_seed(0))
    return (x[index].to(device), y[index].to(device)) if labels else x[index].to(device)


def scene_batch(batch_size: int, max_len: int, device, vocabulary=None):
    """Rendered scenes and their plain captions, tokenised with `vocabulary` (default: the grammar's)."""
    from minidiff import scenes as S
    from minidiff import text

    images, scenes = S.sample_scenes(batch_size, seed=0)
    ids = text.Tokenizer(vocabulary or S.vocabulary(), max_len=max_len)([S.prompt(s) for s in scenes])
    return images.to(device), ids.to(device), scenes


def vp_linear():
    from minidiff import schedules

    return schedules.VPLinear(beta_min=0.1, beta_max=20.0)  # every shipped denoiser's schedule


def ddpm_job(net, size: int, batch_size: int, p_uncond: float | None, device):
    """Batch and loss of a U-Net DDPM; with p_uncond, labels dropped to the null label 10 (train_ddpm.py)."""
    from minidiff.core.guidance import drop_labels
    from minidiff.core.losses import diffusion_loss

    schedule = vp_linear()
    batch = digit_batch(size, batch_size, p_uncond is not None, device)

    def loss(model, batch, generator=None):
        cond = None
        if p_uncond is not None:
            batch, cond = batch
            cond = drop_labels(cond, p_uncond, 10, generator)
        return diffusion_loss(model, batch, schedule, generator=generator, cond=cond)
    return batch, loss


def classifier_job(net, size: int, batch_size: int, noisy: bool, device):
    """Cross-entropy on digits; the noise-aware classifier sees x_t at t ~ U(0, 1) (train_classifier.py)."""
    from minidiff.core.forward import q_sample

    schedule = vp_linear()
    batch = digit_batch(size, batch_size, True, device)

    def loss(model, batch, generator=None):
        x0, y = batch
        if not noisy:
            return F.cross_entropy(model(x0), y)
        t = torch.rand(len(x0), generator=generator).to(x0.device)
        eps = torch.randn(x0.shape, generator=generator).to(x0.device)
        return F.cross_entropy(model(q_sample(x0, t, schedule, eps)[0], t), y)
    return batch, loss


def text_unet_job(net, batch_size: int, p_uncond: float, device):
    """Caption-conditioned eps loss with caption dropout: on images (lesson 10) or on latents (lesson 11,
    where the latents are precomputed in training, so random ones of the right shape cost the same)."""
    from minidiff import text
    from minidiff.core.losses import diffusion_loss

    schedule = vp_linear()
    images, ids, _ = scene_batch(batch_size, net.config["encoder"]["max_len"], device, getattr(net, "vocabulary", None))
    c = net.config["in_channels"]
    x = images if c == 3 else torch.randn(batch_size, c, 6, 6, generator=torch.Generator().manual_seed(0)).to(device)

    def loss(model, batch, generator=None):
        x0, ids = batch
        return diffusion_loss(model, x0, schedule, generator=generator,
                              cond=text.drop_captions(ids, p_uncond, generator))
    return (x, ids), loss


def autoencoder_job(net, batch_size: int, beta: float, device):
    from minidiff.core.nets.autoencoder import vae_loss

    images, _, _ = scene_batch(batch_size, 20, device)
    return images, lambda model, x, generator=None: vae_loss(model, x, beta, generator)[0]


def clip_job(net, batch_size: int, device):
    from minidiff.core.nets.contrastive import contrastive_loss

    images, ids, _ = scene_batch(batch_size, net.config["max_len"], device, getattr(net, "vocabulary", None))
    return (images, ids), lambda model, pair: contrastive_loss(model(*pair))


def reader_job(net, batch_size: int, device):
    from minidiff.worlds.reader import reader_loss

    images, _, scenes = scene_batch(batch_size, 20, device)
    # the scenes stay in the closure: train.train would take their named tuples apart to move them
    return images, lambda model, x: reader_loss(model(x), scenes)


def families() -> list:
    """(name, how the network is made, batch size, EMA decay, job) for each model of minidiff.registry that
    is trained (not the snapshot bundle, nor a recipe not shipped yet); a job is job(net, device) -> (batch,
    loss_fn), at the recipe's batch size and with its loss."""
    from minidiff import registry
    from minidiff.core.nets.unet import unet_preset

    ddpm = lambda net, dev, r: ddpm_job(net, r["size"], r["batch_size"], r.get("p_uncond"), dev)  # noqa: E731
    text = lambda net, dev, r: text_unet_job(net, r["batch_size"], r["p_uncond"], dev)  # noqa: E731
    classifier = lambda net, dev, r: classifier_job(net, r["size"], r["batch_size"], r["noisy"], dev)  # noqa: E731
    jobs = {"DDPM": ddpm, "conditional DDPM": ddpm, "memorisation halves": ddpm, "digit classifier": classifier,
            "noise-aware classifier": classifier, "text-to-image": text, "latent denoiser": text,
            "autoencoder": lambda net, dev, r: autoencoder_job(net, r["batch_size"], r["beta"], dev),
            "contrastive": lambda net, dev, r: clip_job(net, r["batch_size"], dev),
            "scene reader": lambda net, dev, r: reader_job(net, r["batch_size"], dev)}
    out = []
    for e in registry.TABLE.values():
        if e.kind == "snapshots" or not e.shipped:
            continue
        r, path = e.recipe, registry.path(e.name)
        # a file gives the class and config it records; a folder of networks (halves8/), its recipe's preset
        make = (lambda r=r: unet_preset(r["preset"])) if e.file.endswith("/") else (lambda p=path: fresh_network(p))
        out.append((f"{e.kind} {e.name} ({e.file})", make, r["batch_size"], r.get("ema"),
                    lambda net, dev, job=jobs[e.kind], r=r: job(net, dev, r)))
    return out


def steps_per_second(net, batch, loss_fn, ema, steps: int, warmup: int, repeats: int) -> list[float]:
    """Rates of `repeats` runs of train.train (Adam, clipping, EMA: the loop every recipe uses) on one
    fixed batch, after `warmup` steps; the data is not part of what is timed."""
    from minidiff import train

    g = torch.Generator().manual_seed(0)
    data = lambda generator: batch  # noqa: E731 - the same batch every step
    if warmup:
        train.train(net, loss_fn, data, warmup, ema=ema, generator=g, progress=False)
    return [train.train(net, loss_fn, data, steps, ema=ema, generator=g, progress=False).steps_per_second
            for _ in range(repeats)]


def throughput_section(steps: int, warmup: int, repeats: int) -> str:
    import minidiff

    device = minidiff.default_device()
    rows = []
    for name, make, batch_size, ema, job in families():
        try:
            torch.manual_seed(0)
            net = make().to(device).train()
            batch, loss_fn = job(net, device)
            rates = steps_per_second(net, batch, loss_fn, ema, steps, warmup, repeats)
        except Exception as err:  # noqa: BLE001 - one family that cannot be built is a row, not a lost report
            rows.append((name, batch_size, f"not measured: {type(err).__name__}: {str(err)[:120]}", ""))
            continue
        median = statistics.median(rates)
        progress(f"{name}: {median:.2f} steps/s")
        rows.append((name, batch_size, format_spread(rates, 2), f"{median * batch_size:.0f}"))
    runs = "one run" if repeats == 1 else f"median of {repeats} runs (range in brackets)"
    return (f"Optimizer steps per second of a fresh network on {device} in minidiff.train.train, {runs} of "
            f"{steps} steps after {warmup} warm-up steps, at each recipe's batch size and loss.\n\n"
            + markdown_table(("model", "batch", "steps/s", "examples/s"), rows))


# ---- 6. what the shipped checkpoints recorded ----------------------------------------------------

QUALITY_KEYS = ("quality", "test_accuracy", "test_accuracy_over_t", "accuracy", "scores", "adherence")
NOT_QUALITY = {"histogram", "sampler", "seconds", "sample_seconds"}  # descriptions and timings, not figures


def number(v) -> str:
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def compact(value) -> str:
    """Nested meta figures on one line: dicts as 'key value' (';' between groups, ',' within one),
    (mean, std) pairs as 'mean±std', lists joined by '/', and a dict keyed by guidance weights
    ('0', '1', '3', ...) as 'w 0/1/3: a/b/c'."""
    if isinstance(value, dict):
        items = {k: v for k, v in value.items() if k not in NOT_QUALITY}
        if items and all(str(k).replace(".", "", 1).isdigit() for k in items):
            return f"w {'/'.join(map(str, items))}: " + "/".join(number(v) for v in items.values())
        nested = any(isinstance(v, dict) for v in items.values())
        return ("; " if nested else ", ").join(f"{k} {compact(v)}" for k, v in items.items())
    if isinstance(value, tuple) and len(value) == 2:
        return f"{number(value[0])}±{number(value[1])}"
    if isinstance(value, (list, tuple)):
        return "/".join(number(v) for v in value)
    return number(value)


def quality_summary(meta: dict) -> str:
    """The quality figures a checkpoint's meta records, or 'none recorded'."""
    parts = []
    for key in QUALITY_KEYS:
        if key not in meta:
            continue
        text = compact(meta[key])
        if key == "test_accuracy_over_t" and "times" in meta:
            text += f" at t {compact(meta['times'])}"
        if key.startswith("test_accuracy") and "n_test" in meta:
            text += f" (n_test {meta['n_test']})"
        parts.append(f"{key}: {text}")
    return "; ".join(parts) or "none recorded"


def checkpoint_rows(folder: Path = DATA) -> list:
    """One row per minidiff checkpoint in folder and its subfolders: file, network, training images,
    steps, training seconds, where it trained (CPU threads, or the device when not the CPU), final loss,
    quality. Other files (datasets, snapshot bundles) are
    left out."""
    from minidiff import train

    rows = []
    paths = sorted(folder.glob("*.pt"), key=lambda p: natural_key(p.name))
    paths += sorted(folder.glob("*/*.pt"), key=lambda p: natural_key(str(p.relative_to(folder))))
    for path in paths:
        try:
            about = train.info(path)
        except ValueError:
            continue  # not a checkpoint (e.g. text2image_steps.pt, a bundle of snapshots)
        m = about["meta"]
        seconds = f"{m['seconds']:.0f}" if isinstance(m.get("seconds"), (int, float)) else ""
        steps, where, loss = number(m.get("steps", "")), train.trained_on(m), number(m.get("final_loss", ""))
        for ft in m.get("finetune", []):  # later stages, each from the last one's weights: all, the last loss
            steps, seconds = f"{steps} + {number(ft['steps'])}", f"{seconds} + {ft['seconds']:.0f}"
            where, loss = f"{where}, then {train.trained_on(ft)}", number(ft["final_loss"])
        rows.append((str(path.relative_to(folder)), about["class"], number(m.get("images", "")),
                     steps, seconds, where, loss, quality_summary(m)))
    return rows


def checkpoints_section() -> str:
    return ("What each file in data/ recorded when it was made (`minidiff.train.info(path)['meta']`; "
            "nothing is sampled here). Training seconds are wall clock on the machine and load of the time "
            "(data/CHECKPOINTS.md).\n\n"
            + markdown_table(("file", "network", "images", "steps", "training s", "trained on", "final loss", "quality"),
                             checkpoint_rows()))


# ---- the report ----------------------------------------------------------------------------------

def progress(message: str) -> None:
    """Progress goes to stderr, so that stdout is the report alone."""
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run: repeats 1, lessons in fast mode only, 5 timed steps, benchmarks in fast mode")
    p.add_argument("--lessons", nargs="+", metavar="NN", help="only these lessons, by number (00 03 ...)")
    p.add_argument("--modes", nargs="+", choices=("fast", "full"), help="lesson modes (default: fast full)")
    p.add_argument("--repeats", type=int, help="runs per lesson and per throughput figure (default 3)")
    p.add_argument("--steps", type=int, help="timed optimizer steps per throughput run (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps first (default 3)")
    p.add_argument("--fast-benchmarks", action="store_true",
                   help="run samplers.py and widgets.py in fast mode (MINIDIFF_FAST=1); --quick implies it")
    p.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="sections to leave out")
    p.add_argument("--skip-lessons", action="store_true", help="same as --skip lessons")
    p.add_argument("--timeout", type=int, default=900, help="seconds a lesson's cell may run (default 900)")
    args = p.parse_args(argv)
    known = {lesson_key(path) for path in NOTEBOOKS.glob("*.ipynb")}
    unknown = sorted(set(args.lessons or ()) - known)
    if unknown:
        p.error(f"--lessons: no lesson numbered {', '.join(unknown)}; there are {', '.join(sorted(known))}")
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.steps = args.steps or (5 if args.quick else 20)
    args.modes = args.modes or (["fast"] if args.quick else ["fast", "full"])
    args.fast_benchmarks = args.fast_benchmarks or args.quick
    if args.skip_lessons:
        args.skip.append("lessons")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    parts = [
        ("lessons", "Lesson run times", lambda: lessons_section(args.lessons, args.modes, args.repeats, args.timeout)),
        ("samplers", "Sample quality against network calls (NFE)", lambda: samplers_section(args.fast_benchmarks)),
        ("throughput", "Training throughput", lambda: throughput_section(args.steps, args.warmup, args.repeats)),
        ("widgets", "Slider redraw times", lambda: widgets_section(args.fast_benchmarks)),
        ("checkpoints", "Quality of the shipped checkpoints", checkpoints_section),
    ]
    print("# minidiff benchmark report\n", flush=True)
    print("## 1. Machine\n\n" + machine_section() + "\n", flush=True)
    for number_, (key, title, build) in enumerate(parts, 2):
        if key in args.skip:
            print(f"## {number_}. {title}\n\n(skipped)\n", flush=True)
            continue
        progress(f"{title} ...")
        section_start = time.perf_counter()
        try:
            body = build()
        except RuntimeError as err:  # one broken part should not cost the rest of a long report
            body = f"failed: {err}"
        print(f"## {number_}. {title}\n\n{body}\n\n({time.perf_counter() - section_start:.0f} s)\n", flush=True)
    print(f"Report took {time.perf_counter() - start:.0f} s in all (load average at the end: {load_average()}).")


if __name__ == "__main__":
    main()
