"""Helpers for the asyncio patterns course: the lab bench every lesson uses (clocks, traces,
timelines, measurements, a lab server) and the patterns' correct implementations.

The package has four parts: ``lab`` (runs, measures and draws), ``patterns`` (code to copy),
``demos`` (each lesson's wrong-then-right demos) and ``exercises`` (the checkers).
"""

from .lab.clock import Deadlock, VirtualClockError, run_real, run_virtual
from .lab.measure import Measurement, measure, percentile, sweep
from .lab.trace import Trace
from .patterns import (
    BoundedBuffer, CircuitBreaker, CircuitOpen, FailureRateBreaker, ItemResult, Pool, PoolClosed,
    PoolStopping, ShutdownSignals, StopReport, TimedOut, TokenBucket, WorkerPool,
    backoff_delays, bounded_map, gather_with_timeouts, hedged, locked, result_or_timeout, retry,
)

__all__ = [
    # the lab
    "Deadlock", "LabServer", "Measurement", "Trace", "VirtualClockError", "measure", "percentile",
    "run_real", "run_virtual", "sweep", "sweep_plot", "timeline",
    # the patterns, lesson by lesson
    "TokenBucket", "locked", "BoundedBuffer",
    "retry", "backoff_delays",
    "TimedOut", "result_or_timeout", "gather_with_timeouts", "hedged",
    "WorkerPool", "StopReport", "PoolStopping", "ShutdownSignals",
    "Pool", "PoolClosed",
    "bounded_map", "ItemResult",
    "CircuitBreaker", "CircuitOpen", "FailureRateBreaker",
]

# Imported on first use: matplotlib and aiohttp take most of a second to import, which the
# console scripts (asyncio-labserver, asyncio-jobservice) and many cells never need.
_LAZY = {"LabServer": "server", "sweep_plot": "plots", "timeline": "plots"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".lab.{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'asyncio_patterns' has no attribute {name!r}")
