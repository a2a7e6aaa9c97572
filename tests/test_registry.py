"""minidiff.worlds.registry: one row per shipped file, and the readers that go through it (pretrained, the
training scripts, the bench report, the table at the top of data/CHECKPOINTS.md)."""

import importlib.util
import shlex
from pathlib import Path

import pytest
import torch

from minidiff import checkpoints, metrics, pretrained, registry

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [e for e in registry.TABLE.values() if e.shipped]


def _script(name: str):
    """A script of scripts/ or benchmarks/ as a module (its main() is not run)."""
    path = next(p for p in (ROOT / "scripts" / f"{name}.py", ROOT / "benchmarks" / f"{name}.py") if p.exists())
    spec = importlib.util.spec_from_file_location(f"_registry_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _body() -> str:
    """data/CHECKPOINTS.md without the generated table: the text people write."""
    text = (registry.DATA_DIR / "CHECKPOINTS.md").read_text()
    head, rest = text.split("<!-- registry -->")
    return head + rest.split("<!-- /registry -->")[1]


def test_every_file_in_data_has_a_row_and_only_unshipped_rows_lack_a_file():
    found = {p.name for p in registry.DATA_DIR.glob("*.pt")} | {"halves8/"}
    assert found == {e.file for e in SHIPPED}
    for e in registry.TABLE.values():
        assert registry.path(e.name).exists() == e.shipped, f"{e.name}: flip `shipped` in minidiff/worlds/registry.py"
    assert not registry.TABLE["scenes_grammar"].shipped  # its recipe exists; its file does not yet
    # the folder holds exactly the networks its recipe names, and nothing else
    r = registry.entry("halves8").recipe
    assert {p.name for p in registry.path("halves8").iterdir()} == {f"n{n}{h}.pt" for n in r["sizes"]
                                                                   for h in r["halves"]}


def test_the_table_in_checkpoints_md_is_the_registrys(capsys):
    table = _script("registry_table")
    text = (registry.DATA_DIR / "CHECKPOINTS.md").read_text()
    assert text.count(table.START) == text.count(table.END) == 1
    assert table.with_table(text) == text, "run `python scripts/registry_table.py`"
    assert table.main(["--check"]) == 0
    # a stale table is found and rewritten; only the lines between the markers change
    stale = text.replace("| `digits8` |", "| `digits9` |")
    assert table.with_table(stale) == text


def test_the_script_puts_the_table_under_the_title_and_refuses_broken_markers(tmp_path):
    table = _script("registry_table")
    md = tmp_path / "CHECKPOINTS.md"
    md.write_text("# Title\n\nBody.\n")
    assert table.main(["--check"], path=md) == 1
    assert table.main([], path=md) == 0 and table.main(["--check"], path=md) == 0
    text = md.read_text()
    assert text.startswith("# Title\n\n<!-- registry -->\n") and text.endswith("<!-- /registry -->\n\nBody.\n")
    md.write_text(text + table.START)
    with pytest.raises(ValueError, match="markers"):
        table.main([], path=md)


@pytest.mark.parametrize("e", SHIPPED, ids=lambda e: e.name)
def test_every_command_is_the_one_checkpoints_md_gives(e):
    body = _body()
    for command in e.command.split(" && "):
        assert command.startswith("python scripts/") and command.endswith(" --force"), command
        assert command in body, f"{e.name}: `{command}` is not in data/CHECKPOINTS.md"


@pytest.mark.parametrize("e", [e for e in SHIPPED if e.command.split()[1] in
                               ("scripts/train_ddpm.py", "scripts/train_text2image.py", "scripts/train_latent.py")],
                         ids=lambda e: e.name)
def test_each_command_parses_and_writes_the_registrys_file(e):
    # the script's own argument parser reads the command, and its --force output is the registry's path
    for command in e.command.split(" && "):
        argv = shlex.split(command)
        args = _script(Path(argv[1]).stem).options(argv[2:])
        assert args.out == registry.path(e.name if e.kind != "snapshots" else "scenes")


def test_the_classifier_and_reader_scripts_write_the_registrys_files(tmp_path):
    assert _script("train_reader").SHIPPED == registry.path("scene_reader")

    class Args:
        out_dir, force = None, True

    place = _script("train_classifier").place
    for name in ("classifier8", "classifier28", "noisy_classifier8", "noisy_classifier28"):
        size, noisy = int(name.rpartition("classifier")[2]), name.startswith("noisy")
        assert place(Args, pretrained.classifier_recipe(size, noisy)["file"]) == registry.path(name)


@pytest.mark.parametrize("e", SHIPPED, ids=lambda e: e.name)
def test_each_loader_loads_its_file(e):
    loaded = eval(e.loader, {"pretrained": pretrained, "metrics": metrics})  # noqa: S307 - our own table
    model = loaded[0] if isinstance(loaded, tuple) else loaded
    net = getattr(model, "net", model)
    if e.kind == "snapshots":  # the weights are the bundle's at the step the loader names
        snaps = checkpoints.read(registry.path(e.name), checkpoints.SNAPSHOTS_FORMAT)
        state = snaps["states"][snaps["steps"].index(500)]
        assert all(torch.equal(net.state_dict()[k], v.float()) for k, v in state.items())
        return
    path = registry.path(e.name) / "n4a.pt" if e.file.endswith("/") else registry.path(e.name)
    assert type(net).__name__ == checkpoints.info(path)["class"]


def test_a_missing_file_gives_the_registrys_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as err:
        pretrained.load_text2image("scenes_grammar")
    assert registry.entry("scenes_grammar").command in str(err.value)
    monkeypatch.setattr(registry, "DATA_DIR", tmp_path)
    for load, name in ((lambda: pretrained.load_ddpm("mnist28_cond"), "mnist28_cond"),
                       (pretrained.load_autoencoder, "autoencoder"), (pretrained.load_scene_reader, "scene_reader"),
                       (pretrained.load_rare, "rare8")):
        with pytest.raises(FileNotFoundError) as err:
            load()
        assert str(tmp_path) in str(err.value) and registry.entry(name).command in str(err.value)


def test_unknown_names_are_refused_with_the_names_there_are():
    with pytest.raises(ValueError, match="no shipped model 'ddpm8'.*'digits8'"):
        registry.entry("ddpm8")
    with pytest.raises(ValueError, match="unknown DDPM 'scenes'"):
        pretrained.path_of("scenes")  # a registry name, but not a DDPM: pretrained's message


def test_pretrained_names_the_registrys_recipes():
    for table in ("RECIPES", "CLASSIFIER_RECIPES", "TEXT_RECIPES", "LATENT_RECIPES", "BEYOND_RECIPES"):
        assert getattr(pretrained, table) is getattr(registry, table)
    assert pretrained.text_recipe("scenes") is registry.entry("scenes").recipe
    assert pretrained.latent_path("clip") == registry.path("clip") == registry.DATA_DIR / "clip.pt"
    assert pretrained.beyond_path("halves8", 719, "b") == registry.DATA_DIR / "halves8" / "n719b.pt"


def test_the_bench_report_times_every_trained_model_of_the_registry():
    rows = [name for name, *_ in _script("report").families()]
    wanted = [e for e in SHIPPED if e.kind != "snapshots"]
    assert len(rows) == len(wanted) and all(f"{e.name} ({e.file})" in row for e, row in zip(wanted, rows))
