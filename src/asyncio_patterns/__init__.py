"""Helpers for the asyncio patterns course: clocks, traces, timelines, measurements, a lab server."""

from .clock import Deadlock, VirtualClockError, run_real, run_virtual
from .measure import Measurement, measure, percentile, sweep
from .plots import sweep_plot, timeline
from .ratelimit import TokenBucket
from .trace import Trace

__all__ = [
    "Deadlock", "LabServer", "Measurement", "TokenBucket", "Trace", "VirtualClockError",
    "measure", "percentile", "run_real", "run_virtual", "sweep", "sweep_plot", "timeline",
]


def __getattr__(name: str):
    # Imported on first use, so `python -m asyncio_patterns.labserver` does not find the
    # module already imported by the package (runpy warns about that).
    if name == "LabServer":
        from .labserver import LabServer

        return LabServer
    raise AttributeError(f"module 'asyncio_patterns' has no attribute {name!r}")
