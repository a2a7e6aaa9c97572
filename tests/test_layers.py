"""The package is layered: a module imports only from its own layer or the layers below, and no
imports go round in a circle. Checked on the source (ast), so a lazy import inside a function counts."""

import ast
import pathlib

import minidiff

PACKAGE = pathlib.Path(minidiff.__file__).parent

# Bottom to top. A module in layer k may import from layers below it, and from its own layer only
# where WITHIN lists the pair (and never in a cycle). The layers follow the folders: runtime, then
# core/, then worlds/, then course/ (FOLDERS), so that no folder imports from one after it.
FOLDERS = {
    "runtime": [["runtime"]],
    "core": [
        ["schedules", "params"],
        ["forward", "losses", "sde", "text", "checkpoints", "nets"],
        ["sampling", "samplers", "guidance", "train", "likelihood", "inverse"],
    ],
    "worlds": [
        ["toy", "exact", "data", "captions", "scenes", "ink", "gan", "registry"],
        ["reader", "metrics", "pretrained"],
        ["text2image", "latent"],
    ],
    "course": [["nfe", "beyond"], ["plot"], ["widgets"], ["check"]],
}
LAYERS = [layer for layers in FOLDERS.values() for layer in layers]
LAYER = {name: k for k, names in enumerate(LAYERS) for name in names}

# The imports allowed within a layer, each with its reason: any other is a violation, so that a new
# sideways dependency is a decision someone wrote down, not an accident.
WITHIN = {
    ("params", "schedules"): "a Denoiser reads alpha and sigma from its schedule",
    ("nets", "text"): "the text U-Net holds a text encoder",
    ("samplers", "sampling"): "the loops' shared steps: grids, progress, the prepared model",
    ("likelihood", "samplers"): "the exact likelihood integrates the probability-flow ODE",
    ("inverse", "samplers"): "inpainting and editing are samplers with a seen part",
    ("inverse", "sampling"): "the same grids and prepared model as the samplers",
    ("train", "guidance"): "training a class-conditional model drops labels to the null label",
    ("exact", "toy"): "the exact denoisers are those of toy's Gaussian mixtures",
    ("scenes", "captions"): "the world's values and its grammar, read from scenes too",
    ("metrics", "reader"): "prompt adherence is what the scene reader reads",
    ("pretrained", "reader"): "the shipped scene reader",
    ("latent", "text2image"): "the latent pipeline samples as lesson 10 does, through a decoder",
}


def _module_name(path: pathlib.Path, package: pathlib.Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top(module: str) -> str:
    """minidiff.course.plot.points -> plot; minidiff.runtime -> runtime; minidiff itself and its folders'
    __init__ files (docstrings and short names only) -> runtime."""
    parts = [p for p in module.split(".") if p not in FOLDERS]
    return parts[1] if len(parts) > 1 else "runtime"


def imports_of(path: pathlib.Path, package_dir: pathlib.Path = PACKAGE) -> set[str]:
    """Every minidiff module that `path` imports, as top-level names (plot, widgets, ...)."""
    here = _module_name(path, package_dir)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "minidiff"}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == "minidiff":
                    found |= {f"{node.module}.{a.name}" for a in node.names}
                continue
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
            # `from .. import plot` names a module; `from ..plot import figure` names a function in one
            found |= {f"{module}.{a.name}" for a in node.names}
    return {_top(m) for m in found} - {_top(here)}


def graph(package: pathlib.Path = PACKAGE) -> dict[str, set[str]]:
    """Top-level module -> the top-level modules it imports, over every .py file of the package."""
    edges: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        edges.setdefault(_top(_module_name(path, package)), set()).update(imports_of(path, package))
    return edges


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Imports that go up a layer, modules with no layer, and cycles, in words."""
    problems = [f"{m} is in no layer: add it to LAYERS in tests/test_layers.py"
                for m in edges if m not in LAYER]
    problems += [f"{m} (layer {LAYER[m]}) imports {d} (layer {LAYER[d]}), a layer above it"
                 for m, deps in edges.items() for d in sorted(deps)
                 if m in LAYER and d in LAYER and LAYER[d] > LAYER[m]]
    problems += [f"{m} imports {d}, both in layer {LAYER[m]}: add the pair to WITHIN in tests/test_layers.py, "
                 "with its reason, or move one of them" for m, deps in edges.items() for d in sorted(deps)
                 if m in LAYER and d in LAYER and LAYER[d] == LAYER[m] and (m, d) not in WITHIN]
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that is on one (depth-first search)."""
    found, done = [], set()

    def visit(node, path):
        if node in path:
            found.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for d in sorted(edges.get(node, ())):
            visit(d, path + [node])
        done.add(node)

    for node in sorted(edges):
        visit(node, [])
    return found


def test_every_module_imports_only_downward_and_nothing_goes_in_a_circle():
    assert violations(graph()) == []


def test_plot_never_imports_widgets():
    # plot draws from tensors it is given; the sliders that drive it sit above it
    assert "widgets" not in graph()["plot"]


def test_the_check_catches_the_old_plot_widgets_cycle(tmp_path):
    # A copy of the package as it was: plot/points.py imported widgets lazily, widgets imported plot.
    pkg = tmp_path / "minidiff"
    (pkg / "plot").mkdir(parents=True)
    (pkg / "widgets").mkdir()
    for name in ("__init__.py", "plot/__init__.py", "widgets/__init__.py"):
        (pkg / name).write_text("")
    (pkg / "plot" / "points.py").write_text("def cursor_explorer():\n    from .. import widgets\n")
    (pkg / "widgets" / "_controls.py").write_text("from ..plot import to_png\n")
    problems = violations(graph(pkg))
    upward = f"plot (layer {LAYER['plot']}) imports widgets (layer {LAYER['widgets']})"
    assert any(upward in p for p in problems), problems
    assert any(p.startswith("import cycle: plot -> widgets -> plot") for p in problems), problems


def test_an_unlisted_import_within_a_layer_is_named():
    problems = violations({"toy": {"scenes"}, "scenes": {"captions"}, "captions": set()})
    assert problems == [f"toy imports scenes, both in layer {LAYER['toy']}: add the pair to WITHIN in tests/test_layers.py, "
                        "with its reason, or move one of them"]


def test_every_pair_within_a_layer_is_still_used():
    edges = graph()
    assert [pair for pair in WITHIN if pair[1] not in edges.get(pair[0], ())] == []


def test_each_module_lives_in_the_folder_of_its_layer():
    # the folders show the architecture: a module's file sits in the folder whose layers list it, and
    # the short names (minidiff.samplers) go to the same place
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        folder = parts[0] if parts[0] in FOLDERS and len(parts) > 1 else "runtime"
        name = _top(_module_name(path, PACKAGE))
        if path.name != "__init__.py" or len(parts) > 2:
            found.setdefault(name, set()).add(folder)
    listed = {name: folder for folder, layers in FOLDERS.items() for layer in layers for name in layer}
    assert {name: folders for name, folders in found.items() if folders != {listed.get(name)}} == {}
    assert minidiff.FOLDER == {name: folder for name, folder in listed.items() if folder != "runtime"}


def test_the_short_names_are_the_modules_themselves():
    # code written before the folders (a learner's homework, an old lab copy) imports the very same
    # modules, so a class is one class whichever path reached it
    import importlib

    import minidiff.core.nets.unet
    import minidiff.core.samplers

    assert importlib.import_module("minidiff.samplers") is minidiff.core.samplers
    assert importlib.import_module("minidiff.nets.unet").UNet is minidiff.core.nets.unet.UNet
    assert minidiff.reader is importlib.import_module("minidiff.worlds.reader")
    try:
        minidiff.not_a_module
    except AttributeError as err:
        assert "not_a_module" in str(err)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_a_module_without_a_layer_is_named():
    assert violations({"shiny_new_thing": {"runtime"}}) == [
        "shiny_new_thing is in no layer: add it to LAYERS in tests/test_layers.py"]


def test_only_widgets_builds_sliders():
    # every slider and explorer lives in widgets: nothing else imports ipywidgets
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "ipywidgets" for n in names):
                importers.add(_top(_module_name(path, PACKAGE)))
    assert importers == {"widgets"}


def test_plot_moves_tensors_to_the_cpu_before_float64():
    # Apple's MPS has no float64: x.double() on such a tensor fails, x.cpu().double() works.
    import re

    unsafe = re.compile(r"(?<!\.cpu\(\))\.double\(\)|\.to\(torch\.float64\)")
    found = [f"{path.name}:{i}: {line.strip()}" for path in sorted((PACKAGE / "plot").glob("*.py"))
             for i, line in enumerate(path.read_text().splitlines(), 1) if unsafe.search(line)]
    assert found == []
