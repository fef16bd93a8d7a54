"""Helpers for the asyncio patterns course: the lab bench every lesson uses (clocks, traces,
timelines, measurements, a lab server) and the patterns' correct implementations.

The package has four parts: ``lab`` (runs, measures and draws), ``patterns`` (code to copy),
``demos`` (each lesson's wrong-then-right demos) and ``exercises`` (the checkers).
"""

from .lab.clock import Deadlock, VirtualClockError, run_real, run_virtual
from .lab.measure import Measurement, measure, percentile, sweep
from .lab.plots import sweep_plot, timeline
from .lab.trace import Trace
from .patterns import BoundedBuffer, TokenBucket, locked

__all__ = [
    "BoundedBuffer", "Deadlock", "LabServer", "Measurement", "TokenBucket", "Trace", "VirtualClockError",
    "locked", "measure", "percentile", "run_real", "run_virtual", "sweep", "sweep_plot", "timeline",
]


def __getattr__(name: str):
    # Imported on first use: aiohttp takes a while to import, and most lessons' first cells
    # need only the clock and the plots.
    if name == "LabServer":
        from .lab.server import LabServer

        return LabServer
    raise AttributeError(f"module 'asyncio_patterns' has no attribute {name!r}")
