"""What every homework grader shares: which file it grades, how it calls the learner's code, how it
says what is wrong, and the numbers it measured.

Which file is graded, for homework/NN_name/test_x.py grading x's module `my_x.py`:
  MINIDIFF_HOMEWORK_SOLUTIONS=1   homework/.solutions/NN_name/my_x.py (the reference solutions, for CI)
  MINIDIFF_HOMEWORK_FROM=DIR      DIR/NN_name/my_x.py (any folder laid out like homework/)
  otherwise                       lab/homework/NN_name/my_x.py, your working copy, when it exists
                                  (`python homework/start.py` makes it), else the starter itself.

A grader never shows you a traceback of its own: when something is wrong it fails with one message
that says what and, where it can, how to fix it (the lesson checkers' rule, minidiff/check/).
"""

import importlib.util
import os
import sys
import traceback
from pathlib import Path

import pytest

HOMEWORK = Path(__file__).resolve().parent
ROOT = HOMEWORK.parent
WORKING_COPY = ROOT / "lab" / "homework"
SOLUTIONS = HOMEWORK / ".solutions"
SOLUTIONS_ENV, FROM_ENV = "MINIDIFF_HOMEWORK_SOLUTIONS", "MINIDIFF_HOMEWORK_FROM"

GRADED: dict[str, Path] = {}  # assignment folder -> the file graded (shown at the end of the run)
MEASURED: dict[str, list[str]] = {}  # assignment folder -> lines of measurements (shown at the end)


def fail(message: str):
    """Fail the check with `message` alone: no traceback, which would point into the grader."""
    pytest.fail(message, pytrace=False)


def learner_file(test_file: str, filename: str) -> Path:
    """The file to grade for the grader `test_file` (see the module's docstring)."""
    folder = Path(test_file).resolve().parent.name
    if os.environ.get(SOLUTIONS_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return SOLUTIONS / folder / filename
    if os.environ.get(FROM_ENV, "").strip():
        return Path(os.environ[FROM_ENV]).resolve() / folder / filename
    mine = WORKING_COPY / folder / filename
    return mine if mine.exists() else HOMEWORK / folder / filename


def _where(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _is_starter(path: Path) -> bool:
    return path.parent.parent == HOMEWORK


def load(test_file: str, filename: str):
    """Import the learner's module (a fresh import each run), or fail saying why it cannot be imported."""
    path = learner_file(test_file, filename)
    GRADED[path.parent.name] = path
    if not path.exists():
        fail(f"{_where(path)} does not exist: the grader reads your {filename} from there "
             f"(python homework/start.py copies the starters to lab/homework/)")
    name = f"homework_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
        return module
    except SyntaxError as err:
        message = f"{_where(path)} has a syntax error on line {err.lineno}: {err.msg}"
    except Exception as err:  # the learner's module raised while being imported
        message = f"{_where(path)} could not be imported: {explain('importing it', err)}"
    fail(message)


def _learner_frame(err: BaseException):
    """The last frame of the traceback inside a file graded in this run (None: the error never passed one)."""
    mine = {p.resolve() for p in GRADED.values()}
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).resolve() in mine]
    return frames[-1] if frames else None


def is_learners(err: BaseException) -> bool:
    """True when the error was raised in, or passed through, a file graded in this run."""
    return _learner_frame(err) is not None


def explain(what: str, err: BaseException) -> str:
    """What the learner's code did wrong, in one line: 'not attempted yet' for a NotImplementedError, else
    the error with the line of the learner's file it came from. `what` names the call that failed."""
    frame = _learner_frame(err)
    where = f" ({Path(frame.filename).name}, line {frame.lineno})" if frame else ""
    if isinstance(err, NotImplementedError):
        name = f"{frame.name}{where}" if frame else what
        return f"not attempted yet: {name} still raises NotImplementedError; replace the `raise` with your code"
    return f"{what} raised {type(err).__name__}: {err}{where}"


def attempt(what: str, fn, *args, **kwargs):
    """fn(*args, **kwargs), the learner's code (or minidiff's calling it), named `what` in messages; on an
    error, fail with explain(what, err)."""
    try:
        return fn(*args, **kwargs)
    except pytest.fail.Exception:
        raise
    except Exception as err:  # reported below, outside the except: no chained traceback in the output
        message = explain(what, err)
    fail(message)


def measured(test_file: str, line: str) -> None:
    """Keep a line of measurements, shown in the summary at the end of the run (also when all pass)."""
    MEASURED.setdefault(Path(test_file).resolve().parent.name, []).append(line)


def summary() -> list[str]:
    """The end-of-run report: which file each assignment graded, and what was measured."""
    lines = []
    for folder in sorted(set(GRADED) | set(MEASURED)):
        path = GRADED.get(folder)
        if path is not None:
            note = ("  (the starter: run `python homework/start.py` and edit your copy in lab/homework/)"
                    if _is_starter(path) else "")
            lines.append(f"{folder}: graded {_where(path)}{note}")
        lines.extend(f"    {line}" for line in MEASURED.get(folder, []))
    return lines
