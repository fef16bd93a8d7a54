"""Write the generated parts of the course from the notebooks' own titles.

- the course map: a markdown cell tagged ``course-map`` in 00_start_here.ipynb;
- the navigation cell tagged ``nav`` at the end of every notebook (previous | map | next);
- the lesson list and Binder badge in README.md, between their marker comments.

Each lesson's title is its first ``# `` heading; its summary is the first sentence of the
paragraph after it. ``--check`` changes nothing and exits 1 if anything is out of date.
Only markdown cells are touched, so stored outputs stay valid.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
START = "00_start_here.ipynb"


def repository() -> str:
    """The public owner/name, read from the one place it is written: pyproject.toml."""
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    return url.removeprefix("https://github.com/").strip("/")


def binder_badge() -> str:
    target = f"https://mybinder.org/v2/gh/{repository()}/HEAD?urlpath=lab/tree/notebooks/{START}"
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({target})"


def lessons() -> list[tuple[Path, str, str]]:
    """(path, title, one-sentence summary) for every notebook, in file-name order."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
        text = "".join(cells[0]["source"]) if cells else ""
        match = re.match(r"#\s+(.+?)\n+(.+?)(?:\n\n|$)", text, re.S)
        if not match:
            raise SystemExit(f"{path.name}: the first cell must be '# Title' and a paragraph")
        title, paragraph = match.group(1).strip(), " ".join(match.group(2).split())
        summary = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
        found.append((path, title, summary))
    return found


def map_table(course: list[tuple[Path, str, str]], link_prefix: str) -> str:
    """The lessons as a table; those after the capstone, which ends the main path, in a second one."""
    def table(part):
        rows = ["| # | Lesson | The situation it solves |", "|---|---|---|"]
        for path, title, summary in part:
            rows.append(f"| {path.name[:2]} | [{title}]({link_prefix}{path.name}) | {summary} |")
        return "\n".join(rows)

    end = next((i for i, (path, _, _) in enumerate(course) if "capstone" in path.name), len(course) - 1)
    text = table(course[:end + 1])
    if course[end + 1:]:
        text += ("\n\n**Going further.** The capstone ends the main path. These lessons are for the code you "
                 "write after it: how to test it, and how to find out what it is waiting on when it hangs.\n\n"
                 + table(course[end + 1:]))
    return text


def nav_text(course: list[tuple[Path, str, str]], index: int) -> str:
    parts = []
    if index > 0:
        parts.append(f"← [{course[index - 1][1]}]({course[index - 1][0].name})")
    parts.append(f"[Course map]({START}#Course-map)")
    if index + 1 < len(course):
        parts.append(f"[{course[index + 1][1]}]({course[index + 1][0].name}) →")
    return " | ".join(parts)


def _set_tagged_cell(nb: dict, tag: str, text: str, *, append: bool) -> None:
    cell = {"cell_type": "markdown", "metadata": {"tags": [tag]}, "source": text.splitlines(keepends=True)}
    for i, existing in enumerate(nb["cells"]):
        if tag in existing.get("metadata", {}).get("tags", []):
            nb["cells"][i] = {**cell, "id": existing.get("id", tag)}
            return
    if not append:
        raise SystemExit(f"no cell tagged {tag!r} to fill in")
    nb["cells"].append({**cell, "id": tag})


def updated_files() -> dict[Path, str]:
    """Every generated file's new text, keyed by path."""
    course = lessons()
    out = {}
    for index, (path, _, _) in enumerate(course):
        nb = json.loads(path.read_text())
        _set_tagged_cell(nb, "nav", nav_text(course, index), append=True)
        if path.name == START:
            _set_tagged_cell(nb, "course-map", "## Course map\n\n" + map_table(course, ""), append=False)
        out[path] = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # as nbformat writes
    readme = ROOT / "README.md"
    text = readme.read_text()
    for marker, body in (("lessons", map_table(course, "notebooks/")), ("binder", binder_badge())):
        pattern = re.compile(rf"(<!-- {marker} -->\n).*?(<!-- /{marker} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md needs <!-- {marker} --> and <!-- /{marker} --> markers")
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    out[readme] = text
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = parser.parse_args()
    stale = [path for path, text in updated_files().items() if path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python tools/course_map.py")
        return 1 if stale else 0
    for path, text in updated_files().items():
        if path in stale:
            path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
