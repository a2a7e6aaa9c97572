"""The learner's own copy of the lessons: `make lab` opens lab/, never notebooks/.

    python scripts/working_copy.py                 # copy every lesson that lab/ lacks; list updated ones
    python scripts/working_copy.py --fresh 03      # keep your 03 as 03_....mine.ipynb, take the course's

lab/ is git-ignored, so outputs that JupyterLab autosaves and the learner's own edits stay out of the
course's files: `make test` checks notebooks/, and a `git pull` never conflicts with a learner's work.
A lesson already in lab/ is never overwritten. When the course's version of a lesson changes after it
was copied (lab/.origin.json keeps the sha256 of the version each copy came from), this script says so
and how to take the new version. Every file is written atomically (an interrupt leaves the old one), and
an unreadable lab/.origin.json is set aside and rebuilt with a message: `make lab` always opens.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minidiff.core.checkpoints import atomic_write_bytes, atomic_write_text  # noqa: E402

ORIGIN = ".origin.json"  # lesson file name -> sha256 of the course's version it was copied from


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_origin(course: Path, work: Path) -> dict:
    """lab/.origin.json as a dict. One that cannot be read (cut short, edited by hand, not a mapping of
    names to digests) is set aside as .origin.json.broken and rebuilt from the copies that are still
    the course's version; the others are then no longer checked for course updates, which is said."""
    origin_file = work / ORIGIN
    if not origin_file.exists():
        return {}
    try:
        origin = json.loads(origin_file.read_text(encoding="utf-8"))
        if isinstance(origin, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in origin.items()):
            return origin
        problem = f"it holds a {type(origin).__name__}, not a mapping of lesson names to sha256 digests"
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        problem = f"it is not valid JSON ({e})"
    kept = origin_file.with_name(ORIGIN + ".broken")
    origin_file.replace(kept)
    rebuilt = {lesson.name: _digest(lesson) for lesson in sorted(course.glob("*.ipynb"))
               if (work / lesson.name).exists() and _digest(work / lesson.name) == _digest(lesson)}
    unknown = sorted(p.name for p in work.glob("*.ipynb") if (course / p.name).exists() and p.name not in rebuilt)
    print(f"{work.name}/{ORIGIN} could not be read: {problem}. It is kept as {kept.name} and rebuilt; your lessons "
          f"are untouched." + (f" Course updates to the lessons you have changed ({', '.join(unknown)}) can no longer "
                               f"be noticed: take one with --fresh NN when you want it." if unknown else ""),
          file=sys.stderr)
    return rebuilt


def _write_origin(work: Path, origin: dict) -> None:
    atomic_write_text(work / ORIGIN, json.dumps(origin, indent=1, sort_keys=True) + "\n")


def sync(course: Path, work: Path) -> tuple[list[str], list[str]]:
    """Copy the lessons of `course` that `work` lacks; return (copied, updated in the course since copied)."""
    work.mkdir(parents=True, exist_ok=True)
    origin = read_origin(course, work)
    copied, updated = [], []
    for lesson in sorted(course.glob("*.ipynb")):
        mine = work / lesson.name
        if not mine.exists():
            atomic_write_bytes(mine, lesson.read_bytes())  # a half-copied lesson would never be copied again
            origin[lesson.name] = _digest(lesson)
            copied.append(lesson.name)
        elif origin.get(lesson.name) not in (None, _digest(lesson)):
            updated.append(lesson.name)
    _write_origin(work, origin)
    return copied, updated


def fresh(course: Path, work: Path, prefix: str) -> str:
    """Take the course's version of the lesson whose name starts with `prefix`; the old copy is kept as
    <name>.mine.ipynb (or .mine2, ... when that exists) unless it is the course's version already.
    Returns what was kept ('' for nothing). Before lab/ exists, it is made first, as `make lab` would."""
    matches = sorted(course.glob(f"{prefix}*.ipynb"))
    if len(matches) != 1:
        raise SystemExit(f"--fresh {prefix}: expected one lesson starting with {prefix!r} in {course}, "
                         f"found {[m.name for m in matches]}")
    lesson, kept = matches[0], ""
    if not work.exists():  # --fresh before the first `make lab`: make the working copy first
        print(f"{work} did not exist yet: created it with every lesson (`make lab` does the same)", file=sys.stderr)
        sync(course, work)
    mine = work / lesson.name
    if mine.exists() and _digest(mine) != _digest(lesson):  # a copy that is the course's own is not "yours"
        k, target = 1, work / lesson.name.replace(".ipynb", ".mine.ipynb")
        while target.exists():
            k += 1
            target = work / lesson.name.replace(".ipynb", f".mine{k}.ipynb")
        mine.rename(target)
        kept = target.name
    origin = read_origin(course, work)
    atomic_write_bytes(mine, lesson.read_bytes())
    origin[lesson.name] = _digest(lesson)
    _write_origin(work, origin)
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
