"""How many torch threads? Wall time of the README script and of a lesson with 1, 2 and all threads,
on an idle machine and beside a competing job (another program keeping every core busy).

On a 2-core machine "2" and "all" are the same setting; they are kept apart for larger machines.
The competing job is a torch process multiplying matrices on all its threads, as a second notebook or
a training run in the background would. Prints a Markdown table of medians (and min-max).
Run: python benchmarks/threads.py [--repeats 3] [--lessons 09] [--fast]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ["1", "2", "all"]
COMPETITOR = "import torch\na = torch.randn(1024, 1024)\nwhile True:\n    a = (a @ a).tanh()\n"


def readme_script(folder: Path) -> Path:
    """The README's homework script, written to a file as printed."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## minidiff in your own script"):]
    path = folder / "readme_script.py"
    path.write_text(re.search(r"```python\n(.*?)```", section, re.S).group(1))
    return path


def command(job: str, folder: Path, fast: bool) -> list[str]:
    if job == "README script":
        return [sys.executable, str(readme_script(folder))]
    return [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
            "--output-dir", str(folder), "--log-level=WARN", str(next((ROOT / "notebooks").glob(f"{job}_*.ipynb")))]


def timed(cmd: list[str], threads: str, fast: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(MINIDIFF_THREADS=threads, MINIDIFF_FAST="1" if fast else "0")
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lessons", nargs="*", default=["09"])
    parser.add_argument("--fast", action="store_true", help="lessons in fast mode (the README script always is)")
    args = parser.parse_args()
    jobs = ["README script"] + args.lessons
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for busy in (False, True):
            competitor = None
            if busy:
                env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
                competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR], env=env)
                time.sleep(3)
            try:
                for job in jobs:
                    # the README script in fast mode trains 200 steps: the same work whatever the setting
                    fast = args.fast or job == "README script"
                    cells = []
                    for threads in SETTINGS:
                        t = [timed(command(job, folder, fast), threads, fast) for _ in range(args.repeats)]
                        cells.append(f"{statistics.median(t):.1f} ({min(t):.1f}-{max(t):.1f})")
                        print(f"{job} busy={busy} threads={threads}: {t}", file=sys.stderr, flush=True)
                    mode = "fast" if fast else "full"
                    rows.append(f"| {job} ({mode} mode) | {'beside a competing job' if busy else 'idle'} | "
                                + " | ".join(cells) + " |")
            finally:
                if competitor:
                    competitor.kill()
                    competitor.wait()
    print(f"Seconds, median of {args.repeats} (min-max); {os.cpu_count()} cores.\n")
    print("| job | machine | " + " | ".join(f"{s} thread{'s' if s != '1' else ''}" for s in SETTINGS) + " |")
    print("|---|---|" + "---|" * len(SETTINGS))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
