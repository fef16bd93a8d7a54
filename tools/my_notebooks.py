"""Keep the learner's own copies of the lessons, so that the committed ones are never written to.

    python tools/my_notebooks.py SOURCE DEST      (make lab: notebooks -> my-notebooks)

JupyterLab saves a notebook whenever it is run and closed, and autosaves it meanwhile (new
outputs, new widget ids), so a learner who works in notebooks/ soon has a changed clone, and
`git pull` then refuses to bring the course's updates. `make lab` opens the learner's copies
in DEST (my-notebooks/, which git ignores) instead, brought up to date here each time:

- a lesson DEST does not have yet is copied in;
- a lesson whose cells changed in the course since it was copied is copied again, unless the
  learner changed that lesson's cells too: then the learner's copy is kept, and one line says
  how to get the new one. Outputs alone are no change, on either side (running a lesson
  changes them).

DEST/.copied.json keeps, for each lesson, a digest of the cells it was copied with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

RECORD = ".copied.json"


def cells_digest(path: Path) -> str:
    """A digest of a notebook's cells (their kind and text), leaving out outputs and metadata."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = json.dumps([(cell["cell_type"], "".join(cell["source"])) for cell in cells])
    return hashlib.sha256(text.encode()).hexdigest()


def sync(source: Path, dest: Path) -> list[str]:
    """Bring ``dest``'s copies of ``source``'s notebooks up to date; return one line per
    lesson kept back because the learner changed it."""
    dest.mkdir(parents=True, exist_ok=True)
    record_path = dest / RECORD
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    kept = []
    for lesson in sorted(source.glob("*.ipynb")):
        copy = dest / lesson.name
        course = cells_digest(lesson)
        if copy.exists() and record.get(lesson.name) in (course, None):
            continue  # up to date, or the learner's own file of that name: leave it
        if copy.exists() and cells_digest(copy) != record[lesson.name]:
            kept.append(f"{copy}: the course has a new version of this lesson, and you have changed "
                        f"your copy, so yours is kept; rename it and run make lab again to get the new one")
            continue
        shutil.copy2(lesson, copy)
        record[lesson.name] = course
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return kept


def main(args: list[str]) -> int:
    if len(args) != 2:
        print("usage: python tools/my_notebooks.py SOURCE DEST", file=sys.stderr)
        return 2
    source = Path(args[0])
    if not any(source.glob("*.ipynb")):
        print(f"{source}: no notebooks there; give the course's notebooks folder", file=sys.stderr)
        return 2
    for line in sync(source, Path(args[1])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
