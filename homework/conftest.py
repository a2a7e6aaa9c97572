"""pytest set-up for the homework graders (homework/NN_name/test_*.py); the helpers are in grading.py."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the graders import grading.py from here

import grading  # noqa: E402


def pytest_configure(config):
    grading.set_limit()  # MINIDIFF_HOMEWORK_LIMIT, checked


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
def pytest_runtest_setup(item):
    """Fixtures import and build the learner's code: the same time limit and messages as the checks."""
    with grading.graded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Each check within grading.LIMIT_S; an error, in the learner's file or in the grader after it, fails the
    check with one message, like the checks' own, not a traceback (grading.graded)."""
    with grading.graded(item):
        return (yield)
