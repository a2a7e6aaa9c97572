"""The learner's own copy of the lessons: `make lab` opens lab/, never notebooks/.

    python scripts/working_copy.py                 # copy every lesson that lab/ lacks; list updated ones
    python scripts/working_copy.py --fresh 03      # keep your 03 as 03_....mine.ipynb, take the course's

lab/ is git-ignored, so outputs that JupyterLab autosaves and the learner's own edits stay out of the
course's files: `make test` checks notebooks/, and a `git pull` never conflicts with a learner's work.
A lesson already in lab/ is never overwritten. When the course's version of a lesson changes after it
was copied (lab/.origin.json keeps the sha256 of the version each copy came from), this script says so
and how to take the new version.
"""

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sync(course: Path, work: Path) -> tuple[list[str], list[str]]:
    """Copy the lessons of `course` that `work` lacks; return (copied, updated in the course since copied)."""
    work.mkdir(exist_ok=True)
    origin_file = work / ".origin.json"
    origin = json.loads(origin_file.read_text()) if origin_file.exists() else {}
    copied, updated = [], []
    for lesson in sorted(course.glob("*.ipynb")):
        mine = work / lesson.name
        if not mine.exists():
            shutil.copyfile(lesson, mine)
            origin[lesson.name] = _digest(lesson)
            copied.append(lesson.name)
        elif origin.get(lesson.name) not in (None, _digest(lesson)):
            updated.append(lesson.name)
    origin_file.write_text(json.dumps(origin, indent=1, sort_keys=True) + "\n")
    return copied, updated


def fresh(course: Path, work: Path, prefix: str) -> str:
    """Take the course's version of the lesson whose name starts with `prefix`; the old copy is kept as
    <name>.mine.ipynb (or .mine2, ... when that exists). Returns what was kept."""
    matches = sorted(course.glob(f"{prefix}*.ipynb"))
    if len(matches) != 1:
        raise SystemExit(f"--fresh {prefix}: expected one lesson starting with {prefix!r} in {course}, "
                         f"found {[m.name for m in matches]}")
    lesson, kept = matches[0], ""
    mine = work / lesson.name
    if mine.exists():
        k, target = 1, work / lesson.name.replace(".ipynb", ".mine.ipynb")
        while target.exists():
            k += 1
            target = work / lesson.name.replace(".ipynb", f".mine{k}.ipynb")
        mine.rename(target)
        kept = target.name
    origin_file = work / ".origin.json"
    origin = json.loads(origin_file.read_text()) if origin_file.exists() else {}
    shutil.copyfile(lesson, mine)
    origin[lesson.name] = _digest(lesson)
    origin_file.write_text(json.dumps(origin, indent=1, sort_keys=True) + "\n")
    return kept


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--course", type=Path, default=ROOT / "notebooks")
    p.add_argument("--work", type=Path, default=ROOT / "lab")
    p.add_argument("--fresh", metavar="NN", help="take the course's version of lesson NN (yours is kept)")
    args = p.parse_args()
    if args.fresh:
        kept = fresh(args.course, args.work, args.fresh)
        print(f"lab/: took the course's version of lesson {args.fresh}" + (f"; yours is now {kept}" if kept else ""))
        return
    copied, updated = sync(args.course, args.work)
    if copied:
        print(f"lab/: copied {len(copied)} lesson(s) into your working copy: {', '.join(copied)}")
    for name in updated:
        print(f"lab/{name}: the course's version has changed since your copy was made; to take it (yours is "
              f"kept as .mine.ipynb): python scripts/working_copy.py --fresh {name[:2]}", file=sys.stderr)


if __name__ == "__main__":
    main()
