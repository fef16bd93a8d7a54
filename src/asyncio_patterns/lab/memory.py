"""Measure the Python memory a block of code allocates, with ``tracemalloc``.

    with traced_memory() as used:
        pending = [fetch(url) for url in urls]
    print(used)        # "27.2 MB still allocated, 27.2 MB at peak"

Counts are Python allocations (objects, frames, buffers), made by any thread while the
block runs, in bytes. After a first run has warmed up caches and imports, they repeat to
within a fraction of a percent for the same code on the same Python, which makes them good
for comparing two ways of doing the same job (the first run of a block counts its one-off
costs too).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["MemoryUse", "traced_memory"]


@dataclass
class MemoryUse:
    """Bytes allocated inside a ``traced_memory()`` block: still held at its end, and at peak.

    Both are measured from the block's start, and filled in when the block ends.
    """

    current: int = 0
    peak: int = 0

    def __str__(self) -> str:
        return f"{self.current / 1e6:.1f} MB still allocated, {self.peak / 1e6:.1f} MB at peak"


@contextmanager
def traced_memory() -> Iterator[MemoryUse]:
    """Trace allocations inside the ``with`` block; the ``MemoryUse`` is filled in at its end.

    If ``tracemalloc`` was already tracing, it keeps tracing afterwards and only the
    block's own share is reported (its peak is then reset by the block).
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    used = MemoryUse()
    try:
        yield used
    finally:
        current, peak = tracemalloc.get_traced_memory()
        used.current, used.peak = max(0, current - baseline), max(0, peak - baseline)
        if not was_tracing:
            tracemalloc.stop()
