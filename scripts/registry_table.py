"""Write the table of shipped models (minidiff.registry) at the top of data/CHECKPOINTS.md.

    python scripts/registry_table.py           # rewrite the table between the markers
    python scripts/registry_table.py --check   # exit 1 if the table there is not the registry's

Only the lines between <!-- registry --> and <!-- /registry --> are written (atomically); the rest of the
file stays as it is. A file without the markers gets them under its title.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minidiff import checkpoints, registry  # noqa: E402

START, END = "<!-- registry -->", "<!-- /registry -->"
CHECKPOINTS_MD = registry.DATA_DIR / "CHECKPOINTS.md"
RECIPE_TABLES = ("RECIPES", "CLASSIFIER_RECIPES", "TEXT_RECIPES", "LATENT_RECIPES", "BEYOND_RECIPES")


def recipe_name(recipe: dict) -> str:
    """Where the recipe dict lives in minidiff.registry, e.g. RECIPES["digits8"]."""
    if recipe is registry.READER_RECIPE:
        return "READER_RECIPE"
    for table in RECIPE_TABLES:
        for key, r in getattr(registry, table).items():
            if r is recipe:
                return f'{table}["{key}"]'
    raise ValueError("recipe_name: a registry row's recipe is in none of the registry's recipe tables")


def table() -> str:
    """The Markdown block, its markers included."""
    rows = [START,
            "Every shipped file, with the call that loads it and the command that remakes it in `data/`; the recipes "
            "are in `minidiff.registry` (also named `minidiff.pretrained.RECIPES`, ...). Written from the registry "
            "by `python scripts/registry_table.py`: edit the registry, not this table.",
            "",
            "| name | file | kind | recipe | loader | command |",
            "|---|---|---|---|---|---|"]
    for e in registry.TABLE.values():
        file = f"`{e.file}`" + ("" if e.shipped else " (not shipped yet)")
        command = " then ".join(f"`{c}`" for c in e.command.split(" && "))
        rows.append(f"| `{e.name}` | {file} | {e.kind} | `{recipe_name(e.recipe)}` | `{e.loader}` | {command} |")
    return "\n".join(rows + [END])


def with_table(text: str) -> str:
    """`text` with the block between the markers replaced by table() (or put under the title line)."""
    if text.count(START) != text.count(END) or text.count(START) > 1:
        raise ValueError(f"registry_table: {CHECKPOINTS_MD.name} should hold {START} and {END} once each; "
                         f"mend the markers by hand, then run this again")
    if START in text:
        head, rest = text.split(START, 1)
        return head + table() + rest.split(END, 1)[1]
    title, _, body = text.partition("\n")
    return f"{title}\n\n{table()}\n{body}"


def main(argv=None, path: Path = CHECKPOINTS_MD) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that the table is the registry's")
    args = p.parse_args(argv)
    text = path.read_text()
    new = with_table(text)
    if args.check:
        if new != text:
            print(f"{path} does not hold the registry's table; run `python scripts/registry_table.py`")
            return 1
        print(f"{path}: the table is the registry's ({len(registry.TABLE)} rows)")
        return 0
    if new != text:
        checkpoints.atomic_write_text(path, new)
    print(f"{path}: {'written' if new != text else 'already up to date'} ({len(registry.TABLE)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
