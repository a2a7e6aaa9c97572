"""`import minidiff` picks the CPU thread count: one, unless MINIDIFF_THREADS (or OMP_NUM_THREADS) says
otherwise. Checked in fresh interpreters, since torch's thread count is set once per process."""

import os
import subprocess
import sys

import pytest

from minidiff import runtime

CODE = "import torch; default = torch.get_num_threads(); import minidiff; print(default, torch.get_num_threads())"


def _threads(**env) -> tuple[int, int]:
    """(torch's own count before import minidiff, the count after) in a fresh Python."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MINIDIFF_THREADS")}
    done = subprocess.run([sys.executable, "-c", CODE], env=clean | env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    before, after = done.stdout.split()
    return int(before), int(after)


def test_import_sets_one_thread_by_default():
    assert _threads()[1] == 1


def test_minidiff_threads_sets_the_count_and_all_keeps_torchs_default():
    assert _threads(MINIDIFF_THREADS="2")[1] == 2
    before, after = _threads(MINIDIFF_THREADS="all")
    assert after == before


def test_omp_num_threads_is_obeyed_when_minidiff_threads_is_unset():
    before, after = _threads(OMP_NUM_THREADS="2")
    assert before == after == 2


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_setting_says_what_it_accepts(monkeypatch, value):
    monkeypatch.setenv("MINIDIFF_THREADS", value)
    with pytest.raises(ValueError, match=r"MINIDIFF_THREADS must be a whole number of threads .* or 'all', got"):
        runtime.threads_setting()
