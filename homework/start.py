"""Make your own copy of the homework starters in lab/homework/, where you edit them.

    .venv/bin/python homework/start.py      (`make lab` and `make homework` run it for you)

lab/ is git-ignored (it holds your copy of the lessons too), so your work never conflicts with a
`git pull` of the course, and `make test`, which checks that the graders fail the starters in
homework/, never sees it. A file already in lab/homework/ is never overwritten. The graders read your
copy when it exists: `make homework` (or one assignment: `make homework ASSIGNMENT=01_schedule`).
With --quiet it says only what it copied.
"""

import shutil
import sys
from pathlib import Path

HOMEWORK = Path(__file__).resolve().parent
WORK = HOMEWORK.parent / "lab" / "homework"


def starters(homework: Path = HOMEWORK) -> list[Path]:
    """Every assignment's starter: homework/NN_name/my_*.py."""
    return sorted(p for p in homework.glob("[0-9][0-9]_*/my_*.py"))


def copy(homework: Path = HOMEWORK, work: Path = WORK) -> tuple[list[Path], list[Path]]:
    """Copy the starters that `work` lacks; return (copied, already there), as paths in `work`."""
    copied, kept = [], []
    for starter in starters(homework):
        mine = work / starter.parent.name / starter.name
        if mine.exists():
            kept.append(mine)
            continue
        mine.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(starter, mine)
        copied.append(mine)
    return copied, kept


def main() -> None:
    quiet = "--quiet" in sys.argv[1:]
    copied, kept = copy()
    root = HOMEWORK.parent
    for path in copied:
        print(f"copied the starter to {path.relative_to(root)}: edit it there")
    for path in [] if quiet else kept:
        print(f"{path.relative_to(root)} is already there (yours; left as it is)")
    if not copied and not kept:
        sys.exit(f"no starters found in {HOMEWORK}")
    if copied or not quiet:
        print("grade it with: make homework   (or one assignment: make homework ASSIGNMENT=01_schedule)")


if __name__ == "__main__":
    main()
