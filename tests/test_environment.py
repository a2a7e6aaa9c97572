"""The set-up a learner sees: pins that agree, a light import, notebooks stored clean."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines) -> dict:
    pins = {}
    for line in lines:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==([^\s;]+)\s*", line)
        if not m:
            raise AssertionError(f"not an exact pin: {line!r}")
        pins[m.group(1).lower()] = m.group(2)
    return pins


def test_environment_yml_has_the_same_pins_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + sum(project["optional-dependencies"].values(), []))
    text = (ROOT / "environment.yml").read_text()
    pip_lines = re.findall(r"^\s+- (\S+==\S+)\s*$", text, flags=re.M)
    assert _pins(pip_lines) == wanted
    assert re.search(r"^\s+- python=3\.11\s*$", text, flags=re.M)
    assert re.search(r"^\s+- -e \.\s*$", text, flags=re.M), "environment.yml must install minidiff"


def test_constraints_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + sum(project["optional-dependencies"].values(), []))
    locked = _pins(l for l in (ROOT / "constraints.txt").read_text().splitlines() if l.strip())
    for name, version in wanted.items():
        assert locked.get(name) == version, f"constraints.txt pins {name}=={locked.get(name)}, pyproject {version}"


def test_import_is_light():
    code = ("import sys, minidiff, minidiff.toy, minidiff.check; "
            "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"import minidiff pulled in {out.stdout.strip()}"


def test_unknown_submodule_is_a_clear_error():
    import minidiff

    with pytest.raises(AttributeError, match="no attribute or submodule 'nonsense'"):
        minidiff.nonsense


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path):
    nb = json.loads(path.read_text())
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), "lessons are named NN_slug.ipynb"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{path.name} is stored with outputs: clear them before committing"
