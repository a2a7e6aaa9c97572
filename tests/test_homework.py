"""The homework (homework/): every grader passes its reference solution, fails its starter with a message
instead of a traceback, and names a typical mistake. Each grader runs in its own pytest process, as a
learner runs it, in fast mode; `make test` itself never collects homework/ (testpaths)."""

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOMEWORK = ROOT / "homework"
ASSIGNMENTS = sorted(p.name for p in HOMEWORK.glob("[0-9][0-9]_*") if p.is_dir())


def _grade(*paths: str, **env) -> str:
    """pytest on the graders at `paths` in a fresh process, fast mode, with the MINIDIFF_HOMEWORK_* settings in env;
    returns its output, with one summary line per check (-rA; COLUMNS keeps the lines whole). addopts is emptied
    and nbval left out: the repository's addopts are for the notebooks (and loading nbval costs seconds per
    process); the rest of its configuration (the timeout) applies."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MINIDIFF_HOMEWORK_")}
    clean.update(MINIDIFF_FAST="1", OMP_NUM_THREADS="1", COLUMNS="1000", **env)
    command = [sys.executable, "-m", "pytest", *paths, "-q", "-rA", "-o", "addopts=", "-p", "no:cacheprovider",
               "-p", "no:nbval"]
    result = subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=600)
    return f"exit status {result.returncode}\n{result.stdout}{result.stderr}"


def _outcomes(out: str, assignment: str) -> dict[str, list[str]]:
    """{'PASSED': [summary lines], 'FAILED': [...], 'ERROR': [...]} for one assignment's checks."""
    found = {"PASSED": [], "FAILED": [], "ERROR": []}
    for line in out.splitlines():
        word, _, rest = line.partition(" ")
        if word in found and rest.startswith(f"homework/{assignment}/"):
            found[word].append(line)
    return found


@pytest.fixture(scope="module")
def graded_solutions() -> str:
    return _grade("homework", MINIDIFF_HOMEWORK_SOLUTIONS="1")


@pytest.fixture(scope="module")
def graded_starters() -> str:
    # FROM=homework: the starters themselves, even where a learner has a copy in lab/homework/
    return _grade("homework", MINIDIFF_HOMEWORK_FROM=str(HOMEWORK))


def test_three_assignments_each_with_a_starter_a_grader_and_a_solution():
    assert len(ASSIGNMENTS) >= 3, ASSIGNMENTS
    for name in ASSIGNMENTS:
        starters = sorted((HOMEWORK / name).glob("my_*.py"))
        assert len(starters) == 1, f"{name}: expected one starter my_*.py, found {starters}"
        assert list((HOMEWORK / name).glob("test_*.py")), f"{name}: no grader test_*.py"
        assert (HOMEWORK / ".solutions" / name / starters[0].name).exists(), f"{name}: no reference solution"


def test_make_test_does_not_collect_the_homework():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert not any(Path(p).parts[0] == "homework" for p in config["testpaths"]), config["testpaths"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grader_passes_its_reference_solution(assignment, graded_solutions):
    found = _outcomes(graded_solutions, assignment)
    assert found["PASSED"] and not found["FAILED"] and not found["ERROR"], graded_solutions
    assert f"graded homework/.solutions/{assignment}/" in graded_solutions  # the summary says what was graded


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grader_fails_its_starter_with_a_message(assignment, graded_starters):
    found = _outcomes(graded_starters, assignment)
    assert not found["PASSED"], f"checks pass on the starter: {found['PASSED']}"
    failed = found["FAILED"] + found["ERROR"]
    assert failed, graded_starters
    for line in failed:  # each check fails with the grader's own one-line message
        assert " - Failed: " in line and "not attempted yet" in line, line
    assert graded_starters.startswith("exit status 1\n"), graded_starters  # 2 or more: pytest could not run them
    for bare in ("Traceback", "ImportError", "ModuleNotFoundError"):
        assert bare not in graded_starters, f"{bare!r} in the graders' output on the starters:\n{graded_starters}"


MISTAKES = {  # assignment: (file, code with a typical mistake, the check that must fail, what it must say)
    "01_schedule": ("my_schedule.py", '''
import torch
from minidiff import schedules

class MySchedule(schedules.Schedule):
    def alpha(self, t):
        return torch.cos(t * torch.pi / 2).clamp(min=1e-5)

    def sigma(self, t):
        return 1 - self.alpha(t)  # the mistake: the scales add up to 1, not the variances
''', "test_variance_preserving", "sigma = sqrt(1 - alpha^2)"),
    "02_sampler": ("my_sampler.py", '''
import torch
from minidiff import samplers

def my_sampler(model, x, ts, schedule, generator=None):
    """DDIM (first order) that spends a second call per step: the second call does not change the step."""
    for step in samplers.ddim(model, x, ts, schedule):
        samplers.predict(model, step.x, torch.tensor(max(step.t, 1e-3), dtype=x.dtype))
        yield step

def steps_for_nfe(nfe):
    return max(1, nfe // 2)
''', "test_second_order", "slower than NFE^-1.5"),
    "03_scene_object": ("my_object.py", '''
WORD = "moon"
SPRITE = ["..###", ".##l.", "##l..", "##l..", "##l..", "##l..", "##l..", ".##l.", "..###"]  # 9 rows

def render(scene, seed=0):
    raise NotImplementedError

def caption(scene, template=0):
    raise NotImplementedError

def parse(text):
    raise NotImplementedError
''', "test_sprite_fits_the_renderer", "at most 8 x 8"),
}


def test_graders_name_typical_mistakes(tmp_path):
    for assignment, (filename, code, _, _) in MISTAKES.items():
        (tmp_path / assignment).mkdir()
        (tmp_path / assignment / filename).write_text(code)
    checks = [f"homework/{a}/test_{m[0].removesuffix('.py')}.py::{m[2]}" for a, m in MISTAKES.items()]
    out = _grade(*checks, MINIDIFF_HOMEWORK_FROM=str(tmp_path))
    for assignment, (_, _, check, says) in MISTAKES.items():
        failed = _outcomes(out, assignment)["FAILED"]
        assert len(failed) == 1 and says in failed[0], f"{assignment}: {check} did not fail saying {says!r}:\n{out}"
    assert "Traceback" not in out, out


def test_start_copies_the_starters_and_never_overwrites(tmp_path):
    spec = importlib.util.spec_from_file_location("homework_start", HOMEWORK / "start.py")
    start = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(start)
    copied, kept = start.copy(HOMEWORK, tmp_path)
    assert sorted(p.parent.name for p in copied) == ASSIGNMENTS and kept == []
    mine = copied[0]
    mine.write_text("# my own work\n")
    copied, kept = start.copy(HOMEWORK, tmp_path)
    assert copied == [] and mine in kept and mine.read_text() == "# my own work\n"
