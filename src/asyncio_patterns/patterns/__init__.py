"""Correct implementations a learner may copy into their own code.

Standard library only, one small class or function per idea, each docstring stating the
semantics (fairness, what cancellation does), in the manner of CPython's asyncio/locks.py.
"""

from .batch import ItemResult, bounded_map
from .breaker import BreakerStats, CircuitBreaker, CircuitOpen, FailureRateBreaker
from .buffer import BoundedBuffer
from .locks import locked
from .pool import Pool, PoolClosed
from .ratelimit import TokenBucket
from .retry import Attempt, backoff_delays, retry
from .shutdown import PoolStopping, ShutdownSignals, StopReport, WorkerPool
from .timeouts import TimedOut, gather_with_timeouts, hedged, result_or_timeout

__all__ = [
    "Attempt", "BoundedBuffer", "BreakerStats", "CircuitBreaker", "CircuitOpen", "FailureRateBreaker",
    "ItemResult", "Pool", "PoolClosed", "PoolStopping", "ShutdownSignals", "StopReport",
    "TimedOut", "TokenBucket", "WorkerPool", "backoff_delays", "bounded_map", "gather_with_timeouts",
    "hedged", "locked", "result_or_timeout", "retry",
]
