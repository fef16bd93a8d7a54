"""Taking a lock with a time limit.

``locked(lock, timeout=...)`` is the safe shape: the deadline covers only the acquire,
which runs in the calling task, so either the task gets the lock and no error, or it
gets ``TimeoutError`` (or ``CancelledError``) and the lock is not held. Never both.

``asyncio.wait_for(lock.acquire(), t)`` has this shape from Python 3.12 on. Up to 3.11 it
ran the acquire in a task of its own, and a task cancelled at the instant the lock was
handed to that inner task got the lock and no ``CancelledError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["locked"]


@asynccontextmanager
async def locked(lock: asyncio.Lock, *, timeout: float | None) -> AsyncIterator[None]:
    """Hold ``lock`` for the ``async with`` block, waiting at most ``timeout`` seconds for it.

    Raises ``TimeoutError`` (and the block does not run) if the lock was not acquired
    in time. The timeout covers the acquire only, never the block: a slow block is not
    reported as "could not get the lock".
    """
    async with asyncio.timeout(timeout):
        await lock.acquire()
    try:
        yield
    finally:
        lock.release()
