"""The graders and the exercise checkers stop an endless loop with a message (a time limit), report a learner's
error in one paragraph without a traceback, and name a wrong shape before any work is done with it."""

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from minidiff import check, schedules
from minidiff.course.check import _core, limits

ROOT = Path(__file__).resolve().parents[1]
HOMEWORK = ROOT / "homework"


# ---- the time limit itself --------------------------------------------------------------------------

def _forever():
    while True:
        pass


def test_time_limit_stops_an_endless_loop_and_one_that_catches_exceptions():
    def catching():
        for _ in range(10**9):
            try:
                _forever()
            except Exception:  # a learner's except Exception: the limit's TimeUp is not one
                pass

    bodies = (_forever, catching) + ((lambda: time.sleep(30),) if limits._can_alarm() else ())  # SIGALRM stops sleep
    for body in bodies:
        start = time.monotonic()
        with pytest.raises(limits.TimeUp):
            with limits.time_limit(0.3):
                body()
        assert time.monotonic() - start < 2.5


def test_time_limit_without_alarms_falls_back_to_a_watchdog_thread(monkeypatch):
    # As on Windows, or off the main thread: the exception is raised in the caller's thread by a watchdog.
    monkeypatch.setattr(limits, "_can_alarm", lambda: False)
    start = time.monotonic()
    with pytest.raises(limits.TimeUp):
        with limits.time_limit(0.3):
            _forever()
    assert time.monotonic() - start < 2.5
    with limits.time_limit(0.3):  # a block that ends in time is left alone, also after its limit
        pass
    time.sleep(0.5)


@pytest.mark.skipif(not limits._can_alarm(), reason="SIGALRM: Linux and macOS, in the main thread")
def test_time_limit_keeps_an_outer_alarm_such_as_pytest_timeouts():
    fired = []

    def outer(*args):
        fired.append(1)

    before = signal.signal(signal.SIGALRM, outer)
    pytest_timeout = signal.setitimer(signal.ITIMER_REAL, 30)  # (pytest-timeout's own, when it runs with signals)
    try:
        with limits.time_limit(5):
            pass
        left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        assert 25 < left <= 30 and not fired  # set again, less the time spent
        assert signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.signal(signal.SIGALRM, before)
        signal.setitimer(signal.ITIMER_REAL, *pytest_timeout)


# ---- the lesson checkers ----------------------------------------------------------------------------

def test_checker_stops_an_endless_loop_and_names_the_function(monkeypatch):
    monkeypatch.setattr(_core, "LIMIT_S", 0.5)

    def my_ddim(x, eps, alpha, sigma, alpha_next, sigma_next):
        i = 0
        while i < 3:  # forgot i += 1
            x = x + 0
        return x

    start = time.monotonic()
    fb = check.ddim_step(my_ddim)
    assert time.monotonic() - start < 3
    assert fb.status == "error"
    assert re.search(r"did not finish within 0.5 s \(in my_ddim, line \d+: `(while i < 3:|x = x \+ 0)",
                     fb.message), fb.message
    # Off the main thread (a thread of the learner's own) the watchdog stops it the same way.
    out = []
    worker = threading.Thread(target=lambda: out.append(check.ddim_step(my_ddim)))
    worker.start()
    worker.join(10)
    assert out and "did not finish within 0.5 s" in out[0].message


def test_checker_reports_an_error_with_the_learners_line_and_no_traceback(capsys):
    def my_ddim(x, eps, alpha, sigma, alpha_next, sigma_next):
        x0 = (x - sigma * eps) / alpha
        return alpha_next * x0 @ torch.ones(3, 3)

    fb = check.ddim_step(my_ddim)
    print(fb)
    out = capsys.readouterr().out
    assert fb.status == "error" and "your function raised RuntimeError" in fb.message
    assert re.search(r"\(in my_ddim, line \d+: `return alpha_next \* x0 @ torch.ones\(3, 3\)`\)", fb.message)
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_checker_names_a_wrong_shape_before_comparing():
    fb = check.ddim_step(lambda x, eps, a, s, an, sn: (an * (x - s * eps) / a + sn * eps)[..., None])
    assert fb.status == "wrong" and "wrong shape: expected (6, 2), got (6, 2, 1)" in fb.message, fb


# ---- the homework graders, in this process: fast checks of the shape guards and the messages ---------

@pytest.fixture
def grader(monkeypatch):
    """Import one homework grader module as pytest would (grading.py on the path); returns a loader."""
    monkeypatch.syspath_prepend(str(HOMEWORK))

    def load(assignment: str, name: str):
        spec = importlib.util.spec_from_file_location(f"grader_{assignment}", HOMEWORK / assignment / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


class _ColumnAlpha(schedules.VPCosine):
    """A typical mistake: alpha of shape (N, 1) for t of shape (N,)."""

    def alpha(self, t):
        return super().alpha(t)[..., None]


def test_schedule_grader_names_a_wrong_shape_before_any_work(grader):
    tests = grader("01_schedule", "test_my_schedule.py")
    schedule = _ColumnAlpha()
    # Before, this check made a bisection over (49, 49) arrays grow to about 110 GB and ran for 85 s.
    for check_ in (tests.test_t_from_log_snr_inverts_log_snr, tests.test_variance_preserving,
                   tests.test_samplers_run_on_it, tests.test_log_snr_falls, tests.test_derivatives_match_autograd):
        start = time.monotonic()
        with pytest.raises(pytest.fail.Exception, match=r"MySchedule.alpha\(t\) for t of shape \(\d+,\) has shape "
                                                        r"\(\d+, 1\): give one value per time"):
            check_(schedule)
        assert time.monotonic() - start < 0.5, check_.__name__


def test_sampler_grader_names_wrong_shapes_and_step_counts_before_any_work(grader):
    tests = grader("02_sampler", "test_my_sampler.py")
    from minidiff import samplers

    def column_sampler(model, x, ts, schedule, generator=None):
        for step in samplers.ddim(model, x, ts, schedule):
            yield samplers.Step(t=step.t, x=step.x[:, :1], x0=step.x0)

    def endless(model, x, ts, schedule, generator=None):
        while True:
            yield samplers.Step(t=0.0, x=x, x0=x)

    class Mine:
        my_sampler = staticmethod(column_sampler)
        steps_for_nfe = staticmethod(lambda nfe: 10**9)  # a grid of 10**9 times would take 8 GB

    model = tests.exact.mixture_denoiser(tests.toy.ring().to(torch.float64), tests.SCHEDULE)
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"Step 1's x must be a tensor shaped like the start \(50, 2\), "
                                                    r"got \(50, 1\)"):
        tests.test_yields_one_step_per_grid_time(Mine, model)
    with pytest.raises(pytest.fail.Exception, match=r"steps_for_nfe\(1\) = 1000000000: it must be a whole number"):
        tests.test_counts_its_network_calls(Mine, model)
    Mine.my_sampler, Mine.steps_for_nfe = staticmethod(endless), staticmethod(lambda nfe: max(1, nfe // 2))
    with pytest.raises(pytest.fail.Exception, match=r"yielded more than 6 Steps on a grid of 7 times"):
        tests.test_yields_one_step_per_grid_time(Mine, model)
    assert time.monotonic() - start < 0.5


def test_graded_turns_errors_into_one_paragraph(grader, monkeypatch):
    grader("02_sampler", "test_my_sampler.py")
    import grading  # homework/grading.py, on the path now

    monkeypatch.setattr(grading, "TIMED_OUT", {})

    class Item:
        name, fspath = "test_something", HOMEWORK / "02_sampler" / "test_my_sampler.py"

    # An error in the grader (not in the learner's file) still fails with one message, naming where; of a
    # long message (torch's may add a C++ stack) only the first paragraph.
    error = ValueError("boom\n\nC++ stack: frame #0 ...")
    with pytest.raises(pytest.fail.Exception, match=r"test_something stopped on ValueError: boom at .* in the "
                                                    r"grader, not in your file") as raised:
        with grading.graded(Item):
            raise error
    assert "C++" not in f"{raised.value}" and not raised.value.pytrace
    assert raised.value.__suppress_context__  # pytest shows no "During handling of the above exception"


# ---- the homework graders end to end, as a learner runs them ------------------------------------------

LOOPING_SAMPLER = '''
import torch
from minidiff import samplers

def my_sampler(model, x, ts, schedule, generator=None):
    samplers.check_grid(ts, x, schedule, "my_sampler")
    i = 0
    while i < len(ts) - 1:
        x = x + 0  # forgot i += 1
    yield samplers.Step(t=0.0, x=x, x0=x)

def steps_for_nfe(nfe):
    return max(1, nfe // 2)
'''

RAISING_SCHEDULE = '''
import torch
from minidiff import schedules

class MySchedule(schedules.Schedule):
    def alpha(self, t):
        return torch.cos(t * torch.pi / 2).clamp(min=1e-5)

    def sigma(self, t):
        return (1 - self.alpha(t) ** 2).sqrt() / {}["zero"]
'''


def test_graders_stop_an_endless_loop_and_report_an_error_without_a_traceback(tmp_path):
    for folder, name, code in (("02_sampler", "my_sampler.py", LOOPING_SAMPLER),
                               ("01_schedule", "my_schedule.py", RAISING_SCHEDULE)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIDIFF_HOMEWORK_")}
    env.update(MINIDIFF_FAST="1", OMP_NUM_THREADS="1", COLUMNS="1000", MINIDIFF_HOMEWORK_FROM=str(tmp_path),
               MINIDIFF_HOMEWORK_LIMIT="2")
    command = [sys.executable, "-m", "pytest", "homework/01_schedule", "homework/02_sampler", "-q", "-rA",
               "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:nbval", "--durations=0"]
    start = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = result.stdout + result.stderr
    # Before: 9 checks x 900 s (pytest-timeout's limit, then a traceback). Now: one limit, then the rest not run.
    assert time.monotonic() - start < 60, out
    assert re.search(r"test_yields_one_step_per_grid_time did not finish within 2 s: your my_sampler "
                     r"\(my_sampler.py, line (8|9): `(while i < len\(ts\) - 1:|x = x \+ 0  # forgot i \+= 1)`\) "
                     r"was still running", out), out
    assert "not run: test_yields_one_step_per_grid_time ran out of time in your my_sampler" in out, out
    assert re.search(r"MySchedule.sigma\(t\) raised KeyError: 'zero', in sigma \(my_schedule.py, line 10: "
                     r"`return \(1 - self.alpha\(t\) \*\* 2\).sqrt\(\) / \{\}\[\"zero\"\]`\)", out), out
    assert "Traceback" not in out and "During handling" not in out, out
    assert result.returncode == 1, out


def test_the_homework_readme_gives_commands_that_work_as_written():
    text = (HOMEWORK / "README.md").read_text()
    blocks = re.findall(r"```\n(.*?)```", text, re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    commands = [c for c in commands if c]
    assert commands and all(c.startswith(("make ", ".venv/bin/")) for c in commands), commands
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^homework: ", makefile, re.M) and "make homework" in makefile


def test_a_bad_limit_setting_is_refused_with_a_message(grader, monkeypatch):
    grader("02_sampler", "test_my_sampler.py")
    import grading

    for bad in ("abc", "0", "-5", "inf"):
        monkeypatch.setenv("MINIDIFF_HOMEWORK_LIMIT", bad)
        with pytest.raises(pytest.UsageError, match=rf"MINIDIFF_HOMEWORK_LIMIT must be a number of seconds above 0, "
                                                    rf"got '{bad}'"):
            grading._limit()
    monkeypatch.setenv("MINIDIFF_HOMEWORK_LIMIT", "7.5")
    assert grading._limit() == 7.5
