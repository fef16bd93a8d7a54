"""tools/my_notebooks.py: the learner's copies of the lessons, which `make lab` opens.

Running a lesson rewrites the notebook JupyterLab has open; these copies take that, so the
committed lessons stay as they are and `git pull` always brings the course's updates. A
lesson whose cells changed in the course is copied again, unless the learner changed it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import my_notebooks  # tools/, on the path through tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent


def notebook(path: Path, *sources: str, output: str = "") -> None:
    cells = [{"cell_type": "code", "source": source, "metadata": {}, "execution_count": 1,
              "outputs": [{"output_type": "stream", "name": "stdout", "text": output}] if output else []}
             for source in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def cells(path: Path) -> list[str]:
    return ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]


def test_a_missing_lesson_is_copied_in(tmp_path):
    course, mine = tmp_path / "notebooks", tmp_path / "my-notebooks"
    course.mkdir()
    notebook(course / "01_queue.ipynb", "print(1)")
    assert my_notebooks.sync(course, mine) == []
    assert cells(mine / "01_queue.ipynb") == ["print(1)"]


def test_running_a_lesson_is_no_change_and_a_new_version_replaces_it(tmp_path):
    course, mine = tmp_path / "notebooks", tmp_path / "my-notebooks"
    course.mkdir()
    notebook(course / "01_queue.ipynb", "print(1)")
    my_notebooks.sync(course, mine)
    notebook(mine / "01_queue.ipynb", "print(1)", output="1\n")  # the learner ran it and saved
    notebook(course / "01_queue.ipynb", "print(1)", "print(2)")  # git pull brought a new version
    assert my_notebooks.sync(course, mine) == []
    assert cells(mine / "01_queue.ipynb") == ["print(1)", "print(2)"]


def test_a_lesson_the_learner_changed_is_kept_and_one_line_says_how_to_get_the_new_one(tmp_path):
    course, mine = tmp_path / "notebooks", tmp_path / "my-notebooks"
    course.mkdir()
    notebook(course / "06_retry.ipynb", "answer = None")
    my_notebooks.sync(course, mine)
    notebook(mine / "06_retry.ipynb", "answer = 42")  # the learner's exercise
    assert my_notebooks.sync(course, mine) == [], "no new version yet: nothing to say"
    notebook(course / "06_retry.ipynb", "answer = None", "check(answer)")
    kept = my_notebooks.sync(course, mine)
    assert len(kept) == 1 and "06_retry.ipynb" in kept[0] and "rename it" in kept[0]
    assert cells(mine / "06_retry.ipynb") == ["answer = 42"]
    (mine / "06_retry.ipynb").rename(mine / "06_retry-mine.ipynb")
    assert my_notebooks.sync(course, mine) == []
    assert cells(mine / "06_retry.ipynb") == ["answer = None", "check(answer)"]
    assert cells(mine / "06_retry-mine.ipynb") == ["answer = 42"]


def test_the_committed_lessons_are_never_written_to(tmp_path):
    before = {path: path.read_bytes() for path in (ROOT / "notebooks").glob("*.ipynb")}
    my_notebooks.sync(ROOT / "notebooks", tmp_path / "my-notebooks")
    assert sorted(p.name for p in (tmp_path / "my-notebooks").glob("*.ipynb")) == sorted(p.name for p in before)
    assert all(path.read_bytes() == data for path, data in before.items())


def test_a_wrong_source_folder_is_refused_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "my_notebooks.py"), str(tmp_path), str(tmp_path / "x")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no notebooks there" in result.stderr


def test_git_ignores_the_copies():
    assert "my-notebooks/" in (ROOT / ".gitignore").read_text().splitlines()
