"""The front page of the rendered course: `make course` runs every lesson in full mode into
build/course/NN_name.html, records how long each took in build/course/times.txt, then runs this script,
which writes build/course/index.html: the lessons in order, each with its title, its goals and its
measured full-mode run time, linked to its page. Links between lessons (NN_name.ipynb) become .html.
"""

import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minidiff.core.checkpoints import atomic_write_text  # noqa: E402


def lesson_summary(path: Path) -> dict:
    """Title (the first heading) and goals (the bullets after '**Goals.**' or '**You will learn**')."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), path.stem)
    goals, in_goals = [], False
    for line in text.splitlines():
        if "**Goals.**" in line or "**You will learn**" in line:
            in_goals = True
        elif in_goals and line.startswith("- "):
            goals.append(line[2:].strip())
        elif in_goals and line.startswith("  ") and goals:
            goals[-1] += " " + line.strip()
        elif in_goals and goals and not line.strip():
            break
    return {"name": path.stem, "title": title, "goals": goals}


def read_times(path: Path) -> dict:
    """{lesson name: seconds} from lines 'NN_name seconds'."""
    if not path.exists():
        return {}
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {name: int(seconds) for name, seconds in pairs}


def index_page(lessons: list, times: dict) -> str:
    rows = []
    for lesson in lessons:
        seconds = times.get(lesson["name"])
        run = f"{seconds} s in full mode" if seconds is not None else "not run yet"
        goals = "".join(f"<li>{html.escape(g)}</li>" for g in lesson["goals"])
        rows.append(f'<li><a href="{lesson["name"]}.html">{html.escape(lesson["title"])}</a> '
                    f'<span class="time">({run})</span>{f"<ul>{goals}</ul>" if goals else ""}</li>')
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>minidiff: the course</title>\n"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.4}"
            ".time{color:#666;font-size:90%}li{margin:.4em 0}</style></head><body>\n"
            "<h1>minidiff: diffusion models from two pixels to text-to-image</h1>\n"
            "<p>Every lesson as it ran on a CPU in full mode, with its outputs. Run them yourself with "
            "<code>make lab</code>.</p>\n<ul style='list-style:none;padding:0'>\n" + "\n".join(rows) + "\n</ul>\n</body></html>\n")


def link_pages(out: Path) -> None:
    """Links from one lesson to another point at the rendered pages, not the notebooks."""
    for page in out.glob("[0-9][0-9]_*.html"):
        text = page.read_text(encoding="utf-8")
        linked = re.sub(r'href="(\d\d_[a-z0-9_]+)\.ipynb', r'href="\1.html', text)
        if linked != text:
            atomic_write_text(page, linked)


def main(out: Path = ROOT / "build" / "course") -> None:
    lessons = [lesson_summary(p) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    out.mkdir(parents=True, exist_ok=True)
    link_pages(out)
    atomic_write_text(out / "index.html", index_page(lessons, read_times(out / "times.txt")))
    print(f"Rendered lessons: {out}/index.html")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "course")
