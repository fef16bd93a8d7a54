"""Helpers for the asyncio patterns course: clocks, traces, timelines, measurements, a lab server."""

from .clock import Deadlock, VirtualClockError, run_real, run_virtual
from .labserver import LabServer
from .measure import Measurement, measure, percentile, sweep
from .plots import sweep_plot, timeline
from .ratelimit import TokenBucket
from .trace import Trace

__all__ = [
    "Deadlock", "LabServer", "Measurement", "TokenBucket", "Trace", "VirtualClockError",
    "measure", "percentile", "run_real", "run_virtual", "sweep", "sweep_plot", "timeline",
]
