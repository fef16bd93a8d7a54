"""Execute notebooks in place, top to bottom, so their stored outputs are fresh.

    python tools/execute_notebooks.py notebooks/*.ipynb

Cells tagged ``raises-exception`` may fail; any other error stops with the cell shown.
No timing metadata is written, and the kernel's version is written as major.minor, so
re-running changes only what the code prints.
``run`` is the one executor: the bench and the notebook tests call it too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CELL_TIMEOUT = 120  # seconds a cell may take, here, in the bench, the tests and nbval


def run(nb, directory: Path, *, record_timing: bool = False, **kernel_options) -> float:
    """Execute ``nb`` (in memory) in a fresh python3 kernel started in ``directory``;
    return the wall-clock seconds. ``kernel_options`` go to ``NotebookClient.execute``."""
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=record_timing,
        store_widget_state=False,  # a panel's widgets live in the kernel: nothing to keep in the file
        resources={"metadata": {"path": str(directory)}},
    )
    began = time.perf_counter()
    client.execute(**kernel_options)
    return time.perf_counter() - began


def execute(path: Path) -> float:
    """Execute the notebook at ``path`` and write it back with its new outputs."""
    nb = nbformat.read(path, as_version=4)
    seconds = run(nb, path.parent)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    # The kernel writes its full version (3.14.10); the notebook says which Python it was
    # recorded on, not which patch release of it, so a patch upgrade changes nothing stored.
    info = nb.metadata.get("language_info", {})
    if "version" in info:
        info["version"] = ".".join(info["version"].split(".")[:2])
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python tools/execute_notebooks.py NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    for name in paths:
        print(f"{name}: {execute(Path(name)):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
