"""The README is the front door: its script runs as printed, and its module map names every module."""

import os
import pathlib
import re
import subprocess
import sys

import minidiff

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_the_homework_script_runs_and_prints_a_distance_in_floor_units(tmp_path):
    code = re.search(r"```python\n(.*?)```", _section("minidiff in your own script"), re.S).group(1)
    script = tmp_path / "homework.py"
    script.write_text(code)
    env = dict(os.environ, MINIDIFF_FAST="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ratio = float(re.search(r"([\d.]+)x the floor", done.stdout).group(1))
    # 200 fast-mode steps train it only roughly; an untrained network scores above 100x (lesson 07)
    assert 0.5 < ratio < 20, done.stdout


def test_the_module_map_names_every_module_and_only_real_ones():
    # one row per module, under the folder it lives in (the folder is said on the first row of each)
    table = _section("minidiff in your own script").split("| folder | module |", 1)[1]
    named, folder = {}, "runtime"
    for row in table.splitlines()[2:]:
        if not row.startswith("|"):
            break
        cells = row.split("|")
        folder = re.search(r"`(\w+)/`", cells[1]).group(1) if cells[1].strip() else folder
        named.update({m: folder for m in re.findall(r"`(\w+)`", cells[2])})
    package = pathlib.Path(minidiff.__file__).parent
    modules = {p.stem: "runtime" for p in package.glob("*.py") if p.stem != "__init__"}
    for sub in ("core", "worlds", "course"):
        modules |= {p.stem: sub for p in (package / sub).glob("*.py") if p.stem != "__init__"}
        modules |= {p.name: sub for p in (package / sub).iterdir() if (p / "__init__.py").exists()}
    assert named == modules, f"missing from the README: {modules.keys() - named.keys()}; not modules: " \
                             f"{named.keys() - modules.keys()}; in another folder: " \
                             f"{[m for m in named.keys() & modules.keys() if named[m] != modules[m]]}"
