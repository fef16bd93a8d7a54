"""The race window in ``wait_for(lock.acquire(), t)``, against :func:`locked`'s shape.

``handover_race`` stages the dangerous instant: the task holding the lock releases it
and, in the same step, cancels the task waiting for it (as a shutdown would). What the
waiter then does depends on how it waits, and with ``asyncio.wait_for`` on the Python
version: before 3.12, ``wait_for`` ran ``acquire()`` in a task of its own, so the lock
can be granted to that inner task while ``wait_for`` is being cancelled.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from ...lab.clock import run_virtual
from ...lab.validate import seconds
from ...lab.trace import Trace

__all__ = ["HandoverResult", "handover_race"]

HOLDING = "holding the lock"
WAITING = "waiting for the lock"
INNER = "acquire() in wait_for's own task"
AFTER_CANCEL = "critical section, after being cancelled"
CRITICAL = "critical section"
COLORS = {HOLDING: "#1f77b4", WAITING: "#c7c7c7", INNER: "#9467bd", AFTER_CANCEL: "#d62728", CRITICAL: "#2ca02c"}


@dataclass(frozen=True)
class HandoverResult:
    """What the waiting task saw when it was cancelled at the instant the lock was handed to it."""

    method: str
    python: str
    outcome: str
    ran_after_cancel: bool
    lock_held_at_end: bool
    trace: Trace

    def __repr__(self) -> str:
        return (f"{self.method} on Python {self.python}: {self.outcome}; "
                f"ran its critical section after being cancelled: {self.ran_after_cancel}; "
                f"lock still held at the end: {self.lock_held_at_end}")


async def _handover(method: str, hold: float, work: float) -> HandoverResult:
    trace = Trace(colors=COLORS)
    lock = asyncio.Lock()
    ran_after_cancel = False
    outcome = ""

    async def inner_acquire() -> bool:
        asyncio.current_task().set_name("wait_for's inner task")
        with trace.span(INNER):
            return await lock.acquire()

    async def waiter() -> None:
        nonlocal ran_after_cancel, outcome
        try:
            with trace.span(WAITING):
                if method == "wait_for":
                    await asyncio.wait_for(inner_acquire(), timeout=10)
                else:
                    async with asyncio.timeout(10):
                        await lock.acquire()
        except asyncio.CancelledError:
            outcome = "raised CancelledError, did not get the lock"
            raise
        outcome = "got the lock, no CancelledError"
        try:
            cancelled = asyncio.current_task().cancelling() > 0
            with trace.span(AFTER_CANCEL if cancelled else CRITICAL):
                await asyncio.sleep(work)
            ran_after_cancel = cancelled
        finally:
            lock.release()

    async def holder() -> None:
        await lock.acquire()
        with trace.span(HOLDING):
            await asyncio.sleep(hold)
        lock.release()
        victim.cancel()  # shutdown: the same step that hands the lock over cancels the waiter
        trace.mark("release(), then cancel() the waiter")

    holding = asyncio.create_task(holder(), name="holder")
    victim = asyncio.create_task(waiter(), name="waiter")  # queues on the lock the holder took
    await holding
    try:
        await victim
    except asyncio.CancelledError:
        pass
    version = ".".join(map(str, sys.version_info[:2]))
    return HandoverResult(method, version, outcome, ran_after_cancel, lock.locked(), trace)


def handover_race(method: str = "wait_for", *, hold: float = 0.1, work: float = 0.05) -> HandoverResult:
    """Cancel a task waiting for a lock at the very instant the lock is released to it.

    ``method`` is how the task waits: ``"wait_for"`` (``asyncio.wait_for(lock.acquire(), 10)``)
    or ``"timeout"`` (``async with asyncio.timeout(10): await lock.acquire()``). The holder
    keeps the lock ``hold`` seconds; a task that gets the lock holds it ``work`` seconds.
    Deterministic (virtual time); the outcome is this Python's real behaviour.
    """
    if method not in ("wait_for", "timeout"):
        raise ValueError(f"method must be 'wait_for' or 'timeout', got {method!r}")
    seconds("hold", hold)
    seconds("work", work)
    return run_virtual(_handover(method, hold, work))
