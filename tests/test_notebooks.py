"""Checks on every notebook beyond nbval's output comparison (nbval runs via `make nbval`).

Hygiene reads the stored notebooks. The leak check runs each notebook once more in a
fresh kernel and then asks that kernel what is left behind: tasks still pending,
sockets still open, and warnings such as "Unclosed client session".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import execute_notebooks  # tools/, on the path through tests/conftest.py
import find_python

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LEAK_WARNINGS = (
    "Task was destroyed but it is pending",
    "Unclosed client session",
    "Unclosed connector",
    "was never awaited",
)
LOCAL_PATH = re.compile(r"(/home/|/Users/|/root/|/work/|/tmp/|[A-Z]:\\\\)")
ids = [p.name for p in NOTEBOOKS]


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def output_text(output) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    return "".join(data.get("text/plain", "")) + "".join(output.get("traceback", []))


def test_there_are_lessons():
    assert [p.name for p in NOTEBOOKS][:1] == ["00_start_here.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_hygiene(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["language_info"]["version"] == find_python.RECORDED, "record on the recording Python"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "re-execute top to bottom"
    for cell in code:
        source = "".join(cell["source"])
        for output in cell["outputs"]:
            if output["output_type"] == "error":
                assert "raises-exception" in tags(cell), f"stored error in an untagged cell:\n{source}"
            text = output_text(output)
            assert not LOCAL_PATH.search(text), f"a local path in a stored output:\n{text[:300]}"
            if "shows-warning" not in tags(cell):
                for warning in LEAK_WARNINGS:
                    assert warning not in text, f"{warning!r} in the output of:\n{source}"
        assert not LOCAL_PATH.search(source), f"a local path in:\n{source}"
    assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"]), "no stored plot"
    with_output = [c for c in code if c["outputs"]]
    ignored = [c for c in with_output if "nbval-ignore-output" in tags(c)]
    assert len(ignored) <= 0.2 * len(with_output), f"{len(ignored)} of {len(with_output)} cells ignore their output"


def test_generated_parts_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "course_map.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


BASELINE = """\
import asyncio as _a, os as _os

def _sockets():
    count = 0
    for fd in _os.listdir("/proc/self/fd"):
        try:
            count += _os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # the descriptor listdir itself used, closed by now
            pass
    return count

def _ours(task):
    # The kernel runs tasks of its own (ipykernel 7: shell_main, run_in_context).
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code else ""
    return not any(f"/{lib}/" in filename for lib in ("ipykernel", "IPython", "tornado", "zmq", "jupyter_client"))

_baseline_sockets = _sockets()
"""

LEFT_BEHIND = """\
import gc as _gc
await _a.sleep(0.1)  # let cancelled tasks and closing transports finish
_gc.collect()
_left = [t for t in _a.all_tasks() if not t.done() and t is not _a.current_task() and _ours(t)]
print("pending tasks:", [t.get_coro().__qualname__ for t in _left])
print("open sockets:", _sockets() - _baseline_sockets)
"""


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts sockets through /proc")
@pytest.mark.skipif(bool(os.environ.get("LEAKS_CHECKED_BY")),
                    reason=f"make test: every notebook runs {os.environ.get('LEAKS_CHECKED_BY')}")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_leaves_nothing_behind(path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(BASELINE))
    nb.cells.append(nbformat.v4.new_code_cell(LEFT_BEHIND))
    execute_notebooks.run(nb, path.parent)
    for cell in nb.cells:
        if cell.cell_type != "code" or "shows-warning" in tags(cell):
            continue
        for output in cell.outputs:
            for warning in LEAK_WARNINGS:
                assert warning not in output_text(output), f"{warning!r} after:\n{cell.source}"
    report = "".join(output_text(o) for o in nb.cells[-1].outputs)
    assert "pending tasks: []" in report and "open sockets: 0" in report, report
