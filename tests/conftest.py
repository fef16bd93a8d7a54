"""Puts tools/ on sys.path, so tests import the repository's scripts as modules (``import bench``),
as those scripts import each other when run as ``python tools/<name>.py``; and holds the fixtures
tests in several files share."""

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt in the main thread during the test, as in a terminal,
    even where the suite was started with SIGINT ignored (in the background, under nohup);
    the handler found is put back afterwards."""
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, found)
