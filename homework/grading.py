"""What every homework grader shares: which file it grades, how it calls the learner's code, how it
says what is wrong, and the numbers it measured.

Which file is graded, for homework/NN_name/test_x.py grading x's module `my_x.py`:
  MINIDIFF_HOMEWORK_SOLUTIONS=1   homework/.solutions/NN_name/my_x.py (the reference solutions, for CI)
  MINIDIFF_HOMEWORK_FROM=DIR      DIR/NN_name/my_x.py (any folder laid out like homework/)
  otherwise                       lab/homework/NN_name/my_x.py, your working copy, when it exists
                                  (`make homework` or `.venv/bin/python homework/start.py` makes it),
                                  else the starter itself.

A grader never shows you a traceback: when something is wrong it fails with one message that says
what and, where it can, how to fix it (the lesson checkers' rule, minidiff/course/check/). An error in your
code is named with the line of your file it came from; a check that runs past LIMIT_S seconds (an
endless loop) stops with the function and line it was running, and the assignment's later checks are
not run, since they would wait as long.
"""

import importlib.util
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import pytest

from minidiff.course.check.limits import TimeUp, time_limit

HOMEWORK = Path(__file__).resolve().parent
ROOT = HOMEWORK.parent
WORKING_COPY = ROOT / "lab" / "homework"
SOLUTIONS = HOMEWORK / ".solutions"
SOLUTIONS_ENV, FROM_ENV = "MINIDIFF_HOMEWORK_SOLUTIONS", "MINIDIFF_HOMEWORK_FROM"
LIMIT_ENV, TRACEBACK_ENV = "MINIDIFF_HOMEWORK_LIMIT", "MINIDIFF_HOMEWORK_TRACEBACK"

# Seconds one check (its set-up included) may take; MINIDIFF_HOMEWORK_LIMIT=seconds overrides it. Measured
# with the reference solutions on a busy 2-core CPU, one torch thread: the slowest check takes 6.9 to 7.5 s
# in full mode (01's measurement against VPCosine; 02's three measuring checks 2.6 to 3.6 s, every other
# check under 1.1 s) and 1.5 s in fast mode. 120 s leaves a margin of 16x for a slower machine and a
# correct but slower answer (a schedule without an exact inverse, a sampler that loops over points).
DEFAULT_LIMIT_S = 120.0


def set_limit() -> None:
    """Read MINIDIFF_HOMEWORK_LIMIT (at pytest's configure, where a usage error is reported without a traceback)."""
    global LIMIT_S
    LIMIT_S = _limit()


def _limit() -> float:
    """LIMIT_S from the environment, or a usage error (pytest's one line, no traceback) that says what is wrong."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_LIMIT_S
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise pytest.UsageError(f"{LIMIT_ENV} must be a number of seconds above 0, got {raw!r}; leave it unset for "
                                f"{DEFAULT_LIMIT_S:g} s")
    return seconds


LIMIT_S = DEFAULT_LIMIT_S  # conftest.py's pytest_configure reads the environment's (_limit)
TIMED_OUT: dict[str, str] = {}  # assignment folder -> what ran out of time (its later checks are not run)

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
             f"(`.venv/bin/python homework/start.py` copies the starters to lab/homework/)")
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


def _at(frame) -> str:
    """'my_sampler (my_sampler.py, line 12: `x = x + d`)' for a frame of a traceback."""
    code = f": `{frame.line.strip()}`" if frame.line and frame.line.strip() else ""
    return f"{frame.name} ({Path(frame.filename).name}, line {frame.lineno}{code})"


def _said(err: BaseException) -> str:
    """The error's message as one paragraph: its first, newlines joined, at most 400 characters."""
    text = " ".join(f"{err}".strip().split("\n\n")[0].split())
    return text if len(text) <= 400 else text[:397] + "..."


def explain(what: str, err: BaseException) -> str:
    """What the learner's code did wrong, in one line: 'not attempted yet' for a NotImplementedError, else
    the error with the function and line of the learner's file it came from. `what` names the call that failed."""
    frame = _learner_frame(err)
    if isinstance(err, NotImplementedError):
        name = _at(frame) if frame else what
        return f"not attempted yet: {name} still raises NotImplementedError; replace the `raise` with your code"
    where = f", in {_at(frame)}" if frame else ""
    return f"{what} raised {type(err).__name__}: {_said(err)}{where}"


def ran_out_of_time(check: str, err: TimeUp) -> str:
    """The message for a check stopped by its time limit: what of the learner's was running, and where."""
    frame = _learner_frame(err)
    if frame is not None:
        running = f"your {_at(frame)} was still running"
    else:  # the time went in minidiff or the grader, on something of yours (a huge grid, a slow schedule)
        last = traceback.extract_tb(err.__traceback__)[-1:]
        running = "it was still running" + (f" {_at(last[0])}" if last else "")
    return (f"{check} did not finish within {LIMIT_S:g} s: {running}. The reference solution takes a few seconds: "
            "look for a loop that never ends, or work that grows with the wrong size "
            f"(set {LIMIT_ENV}=seconds for a longer limit)")


@contextmanager
def graded(item):
    """One phase (set-up or call) of the check `item`, within LIMIT_S; whatever goes wrong fails it with one
    message instead of a traceback (conftest.py's hooks run each phase in it)."""
    folder = Path(str(item.fspath)).resolve().parent.name
    if folder in TIMED_OUT:
        fail(f"not run: {TIMED_OUT[folder]}; fix that first (this check would wait as long)")
    expired = None
    try:
        with time_limit(LIMIT_S) as expired:
            yield
        return
    except TimeUp as err:
        if type(err) is not expired:  # an enclosing limit's, not ours
            raise
        message = ran_out_of_time(item.name, err)
        frame = _learner_frame(err)
        TIMED_OUT[folder] = f"{item.name} ran out of time" + (f" in your {_at(frame)}" if frame else "")
    except Exception as err:
        if os.environ.get(TRACEBACK_ENV, "").strip():
            raise
        if is_learners(err):
            message = explain("your code", err)
        else:
            last = traceback.extract_tb(err.__traceback__)[-1:]
            at = f" at {_at(last[0])}" if last else ""
            message = (f"{item.name} stopped on {type(err).__name__}: {_said(err)}{at}, in the grader, not in your "
                       "file: it usually follows from something your code returned (a shape, a dtype, a kind of "
                       f"value the checks above did not expect). If your code looks right, show this to your "
                       f"teacher ({TRACEBACK_ENV}=1 shows the traceback)")
    # from None: pytest would show the exception caught above, "During handling of ...", as the cause
    raise pytest.fail.Exception(message, pytrace=False) from None


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
            note = ("  (the starter: run `make homework` or `.venv/bin/python homework/start.py`, and edit your copy "
                    "in lab/homework/)"
                    if _is_starter(path) else "")
            lines.append(f"{folder}: graded {_where(path)}{note}")
        lines.extend(f"    {line}" for line in MEASURED.get(folder, []))
    return lines
