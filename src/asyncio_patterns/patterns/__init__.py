"""Correct implementations a learner may copy into their own code.

Standard library only, one small class or function per idea, each docstring stating the
semantics (fairness, what cancellation does), in the manner of CPython's asyncio/locks.py.
"""

from .buffer import BoundedBuffer
from .locks import locked
from .ratelimit import TokenBucket

__all__ = ["BoundedBuffer", "TokenBucket", "locked"]
