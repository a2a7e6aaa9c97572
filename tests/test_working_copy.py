"""The learner's working copy (scripts/working_copy.py) and the output-stripping git filter
(scripts/strip_outputs.py): a learner's edits and saved outputs never touch notebooks/, are never
overwritten, and a course update is reported, not forced."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


working_copy, strip_outputs = _script("working_copy"), _script("strip_outputs")


def _lesson(path: Path, text: str, outputs=()) -> None:
    cell = {"cell_type": "code", "id": "a", "metadata": {}, "source": [text], "execution_count": 3 if outputs else None,
            "outputs": list(outputs)}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1) + "\n")


def test_sync_copies_missing_lessons_and_never_overwrites(tmp_path):
    course, work = tmp_path / "notebooks", tmp_path / "lab"
    course.mkdir()
    _lesson(course / "00_a.ipynb", "x = 1")
    _lesson(course / "01_b.ipynb", "y = 2")
    assert working_copy.sync(course, work) == (["00_a.ipynb", "01_b.ipynb"], [])
    (work / "00_a.ipynb").write_text("my own edits, with outputs")  # what JupyterLab autosaves
    assert working_copy.sync(course, work) == ([], [])
    assert (work / "00_a.ipynb").read_text() == "my own edits, with outputs"
    # the course changes lesson 00 (a git pull) and adds lesson 02: 02 is copied, 00 reported, not overwritten
    _lesson(course / "00_a.ipynb", "x = 10")
    _lesson(course / "02_c.ipynb", "z = 3")
    assert working_copy.sync(course, work) == (["02_c.ipynb"], ["00_a.ipynb"])
    assert (work / "00_a.ipynb").read_text() == "my own edits, with outputs"


def test_fresh_takes_the_course_version_and_keeps_the_learners(tmp_path):
    course, work = tmp_path / "notebooks", tmp_path / "lab"
    course.mkdir()
    _lesson(course / "03_c.ipynb", "a = 1")
    working_copy.sync(course, work)
    (work / "03_c.ipynb").write_text("mine")
    _lesson(course / "03_c.ipynb", "a = 2")
    assert working_copy.fresh(course, work, "03") == "03_c.mine.ipynb"
    assert (work / "03_c.mine.ipynb").read_text() == "mine"
    assert (work / "03_c.ipynb").read_text() == (course / "03_c.ipynb").read_text()
    assert working_copy.sync(course, work) == ([], [])  # up to date again
    (work / "03_c.ipynb").write_text("mine again")
    assert working_copy.fresh(course, work, "03") == "03_c.mine2.ipynb"  # the first copy is not lost
    with pytest.raises(SystemExit, match="expected one lesson"):
        working_copy.fresh(course, work, "07")


def test_strip_filter_clears_outputs_and_leaves_clean_lessons_byte_for_byte(tmp_path):
    dirty = tmp_path / "dirty.ipynb"
    _lesson(dirty, "print(1)", outputs=[{"output_type": "stream", "name": "stdout", "text": ["1\n"]}])
    nb = json.loads(strip_outputs.strip(dirty.read_text()))
    assert nb["cells"][0]["outputs"] == [] and nb["cells"][0]["execution_count"] is None
    assert nb["cells"][0]["source"] == ["print(1)"]
    for lesson in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = lesson.read_text(encoding="utf-8")
        assert strip_outputs.strip(text) == text, f"{lesson.name} would change on commit"


def test_strip_filter_runs_as_git_runs_it():
    lesson = sorted((ROOT / "notebooks").glob("*.ipynb"))[0]
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "strip_outputs.py")], input=lesson.read_bytes(),
                          capture_output=True, check=True)
    assert done.stdout == lesson.read_bytes()


def test_git_attributes_name_the_filter_for_the_lessons():
    text = (ROOT / ".gitattributes").read_text()
    assert "notebooks/*.ipynb filter=strip-outputs" in text
    assert "filter.strip-outputs.clean" in (ROOT / "Makefile").read_text()
    assert "lab/" in (ROOT / ".gitignore").read_text().split()


def test_fresh_before_the_working_copy_exists_makes_it(tmp_path, capsys):
    # before: FileNotFoundError (lab/ missing) from shutil.copyfile
    course, work = tmp_path / "notebooks", tmp_path / "lab"
    course.mkdir()
    _lesson(course / "03_c.ipynb", "a = 1")
    _lesson(course / "04_d.ipynb", "b = 1")
    assert working_copy.fresh(course, work, "03") == ""  # nothing of the learner's to keep
    assert "did not exist yet: created it" in capsys.readouterr().err
    assert sorted(p.name for p in work.glob("*.ipynb")) == ["03_c.ipynb", "04_d.ipynb"]
    assert working_copy.sync(course, work) == ([], [])


@pytest.mark.parametrize("broken", ["{\"03_c.ipynb\": \"ab", "[1, 2]", "\xff\xfe"])
def test_a_broken_bookkeeping_file_is_set_aside_and_rebuilt(tmp_path, capsys, broken):
    # before: json.JSONDecodeError, and `make lab` stopped before opening the lab
    course, work = tmp_path / "notebooks", tmp_path / "lab"
    course.mkdir()
    _lesson(course / "03_c.ipynb", "a = 1")
    _lesson(course / "04_d.ipynb", "b = 1")
    working_copy.sync(course, work)
    (work / "04_d.ipynb").write_text("my own edits")
    (work / ".origin.json").write_bytes(broken.encode("latin-1"))
    assert working_copy.sync(course, work) == ([], [])
    err = capsys.readouterr().err
    assert "lab/.origin.json could not be read" in err and "kept as .origin.json.broken and rebuilt" in err
    assert "lessons you have changed (04_d.ipynb)" in err
    assert (work / ".origin.json.broken").read_bytes() == broken.encode("latin-1")
    assert (work / "04_d.ipynb").read_text() == "my own edits"
    _lesson(course / "03_c.ipynb", "a = 2")  # a course update to an unchanged copy: noticed after the rebuild
    assert working_copy.sync(course, work) == ([], ["03_c.ipynb"])
    (work / ".origin.json").write_text("not json")
    assert working_copy.fresh(course, work, "03") == "03_c.mine.ipynb"  # --fresh with a broken file works too
    assert "could not be read" in capsys.readouterr().err


def test_make_lab_opens_whatever_the_bookkeeping_file_holds(tmp_path):
    course, work = tmp_path / "notebooks", tmp_path / "lab"
    course.mkdir()
    _lesson(course / "00_a.ipynb", "x = 1")
    work.mkdir()
    (work / ".origin.json").write_text("{truncated")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "working_copy.py"), "--course", str(course),
                           "--work", str(work)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "copied 1 lesson(s)" in done.stdout and "could not be read" in done.stderr
