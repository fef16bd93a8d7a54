"""Puts tools/ on sys.path, so tests import the repository's scripts as modules (``import bench``),
as those scripts import each other when run as ``python tools/<name>.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
