"""The machinery shared by every exercise checker.

A checker runs the learner's function on a few fixed cases, compares with a reference, and when
the answer is wrong, compares it with the typical mistakes (each a function that makes that
mistake on purpose) so that it can say which one it was. It never raises: a notebook with an
unsolved or broken exercise still runs to the end. Each call of the learner's function has a time
limit, LIMIT_S, and its errors are reported with the line of the learner's code they came from.
"""

import os
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from .limits import TimeLimitError, TimeUp, time_limit

CORRECT, WRONG, NOT_ATTEMPTED, ERROR = "correct", "wrong", "not attempted", "error"
_MARK = {CORRECT: "[ok]", WRONG: "[wrong]", NOT_ATTEMPTED: "[todo]", ERROR: "[error]"}

# Seconds one call of the learner's function may take. Measured: the 1,033 calls of tests/test_check_*.py
# (right and wrong answers to every exercise) take at most 0.12 s each on a busy 2-core CPU; 20 s leaves
# a margin of over 100x for a slow machine, many torch threads and a slow but correct answer, and stops
# an endless loop with a message instead of a notebook cell that never finishes.
LIMIT_S = 20.0


@dataclass(frozen=True)
class Feedback:
    """What a checker found: a status (correct / wrong / not attempted / error) and a message."""

    exercise: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == CORRECT

    def __repr__(self) -> str:
        return f"{_MARK[self.status]} {self.exercise}: {self.message}"


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: `wrong(*args)` computes it, `hint` says how to fix it."""

    hint: str
    wrong: Callable


def _as_tensor(value, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(device=like.device, dtype=like.dtype)
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def _clone(args: Sequence) -> tuple:
    # The learner's function gets copies, so an in-place edit cannot spoil the reference.
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


# Frames in these folders are not the learner's: minidiff itself, the standard library, installed packages.
_LIBRARY = tuple({str(Path(__file__).resolve().parents[2])} | {str(Path(p).resolve()) for k, p in
                  sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib")})
_LIBRARY = tuple(os.path.join(p, "") for p in _LIBRARY)  # with the separator: minidiff/, not minidiff_extra


def learner_frame(err: BaseException):
    """The innermost frame of err's traceback in the learner's code (a notebook cell, their file), or None."""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if not str(Path(f.filename).resolve()).startswith(_LIBRARY)]
    return mine[-1] if mine else None


def where(err: BaseException) -> str:
    """' (in fn, line 3: `x = y @ z`)' for the learner's frame of err, or '' when there is none."""
    frame = learner_frame(err)
    if frame is None:
        return ""
    code = f": `{frame.line.strip()}`" if frame.line and frame.line.strip() else ""
    return f" (in {frame.name}, line {frame.lineno}{code})"


def run_learner(fn: Callable, args: Sequence):
    """fn(*args) within LIMIT_S seconds; a TimeLimitError that names the function and the limit otherwise."""
    expired = None
    try:
        with time_limit(LIMIT_S) as expired:
            return fn(*args)
    except TimeUp as err:
        if type(err) is not expired:  # an enclosing limit's, not ours
            raise
        message = (f"your function did not finish within {LIMIT_S:g} s{where(err)}; a right answer takes well "
                   "under a second. Look for a loop that never ends (a `while` whose condition never changes).")
    raise TimeLimitError(message)  # outside the except: no chained traceback


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol))


def check_function(
    exercise: str,
    fn: Callable,
    cases: Sequence[Sequence],
    reference: Callable,
    mistakes: Sequence[Mistake] = (),
    rtol: float = 1e-4,
    atol: float = 1e-5,
    shape_hint: str = "",
) -> Feedback:
    """Run `fn` on every case, compare with `reference`, and name the mistake when there is one. Some
    mistakes give an answer of another shape (padding left out, roles swapped): one that reproduces the
    learner's answer is named then too; otherwise `shape_hint` says what the right shape is made of."""
    outs, expecteds = [], []
    for args in cases:
        expected = torch.as_tensor(reference(*_clone(args)))
        try:
            out = run_learner(fn, _clone(args))
        except NotImplementedError:
            return Feedback(exercise, NOT_ATTEMPTED,
                            "not attempted yet: replace `raise NotImplementedError` with your code.")
        except TimeLimitError as err:
            return Feedback(exercise, ERROR, f"{err}")
        except Exception as err:  # the learner's bug, reported rather than raised
            return Feedback(exercise, ERROR, f"your function raised {type(err).__name__}: {err}{where(err)}")
        if out is None:
            return Feedback(exercise, ERROR, "your function returned None: did you forget `return`?")
        try:
            out = _as_tensor(out, expected)
        except Exception:
            return Feedback(exercise, ERROR, f"expected a tensor or a number, got {type(out).__name__}")
        if out.shape != expected.shape:
            named = next((m.hint for m in mistakes if _matches_everywhere([out], m.wrong, [args], rtol, atol)), None)
            why = named or shape_hint
            return Feedback(exercise, WRONG, f"wrong shape: expected {tuple(expected.shape)}, got "
                                             f"{tuple(out.shape)}" + (f": {why}" if why else "."))
        if not torch.isfinite(out).all():
            return Feedback(exercise, WRONG, "your answer has NaN or inf values in it.")
        outs.append(out)
        expecteds.append(expected)
    failed = [i for i, (o, e) in enumerate(zip(outs, expecteds)) if not _close(o, e, rtol, atol)]
    if not failed:
        return Feedback(exercise, CORRECT, f"correct on all {len(cases)} test cases.")
    return Feedback(exercise, WRONG, _diagnose(outs, expecteds, cases, mistakes, rtol, atol, failed[0]))


def _matches_everywhere(outs, answer: Callable, cases, rtol, atol) -> bool:
    # A mistake is named only when it explains the answer on every case, not by coincidence on one.
    for out, args in zip(outs, cases):
        try:
            wrong = torch.as_tensor(answer(*_clone(args))).to(out)
        except Exception:
            return False
        if not _close(out, wrong, rtol, atol):
            return False
    return True


def _diagnose(outs, expecteds, cases, mistakes, rtol, atol, case) -> str:
    for m in mistakes:
        if _matches_everywhere(outs, m.wrong, cases, rtol, atol):
            return m.hint
    if all(_close(o, -e, rtol, atol) for o, e in zip(outs, expecteds)):
        return "the sign is flipped: check the direction of your formula."
    # One constant factor off on every case suggests a missing square, square root or scale.
    out, expected = torch.cat([o.ravel() for o in outs]), torch.cat([e.ravel() for e in expecteds])
    nonzero = expected.abs() > 1e-6
    if nonzero.any():
        ratio = out[nonzero] / expected[nonzero]
        if torch.allclose(ratio, ratio.mean().expand_as(ratio), rtol=1e-3, atol=1e-6):
            return f"off by a constant factor of {ratio.mean().item():.4g}: check the scale."
    err = (outs[case] - expecteds[case]).abs().max().item()
    return f"not equal to the right answer on test case {case + 1} (largest error {err:.3g})."
