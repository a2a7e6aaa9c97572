"""pytest set-up for the homework graders (homework/NN_name/test_*.py); the helpers are in grading.py."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the graders import grading.py from here

import grading  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def one_cpu_thread():
    """The graders' tensors are small: one torch thread is as fast, and much faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_terminal_summary(terminalreporter):
    """Which file each assignment graded, and the numbers its grader measured, after every run."""
    lines = grading.summary()
    if lines:
        terminalreporter.section("homework")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """An error that passed through the learner's file, anywhere in a check (minidiff calling the learner's
    schedule, say), fails the check with one line, like the checks' own messages, not a traceback."""
    try:
        return (yield)
    except Exception as err:
        if isinstance(err, pytest.fail.Exception) or not grading.is_learners(err):
            raise
        message = grading.explain("your code", err)  # failed below, outside the except: no chained traceback
    grading.fail(message)
