"""The hand-over instant: a task waiting for a lock is cancelled as the lock is handed to it.

``handover_race`` stages that instant: the task holding the lock releases it and, in the
same step, cancels the task waiting for it (as a shutdown would). What the waiter then
does depends on how it waits:

- ``"own task"``: the acquire runs in a task of its own (:func:`in_own_task`), the way
  ``asyncio.wait_for`` ran its awaitable up to Python 3.11. The lock can be granted to
  that inner task while the waiter is being cancelled. The same on every Python version.
- ``"wait_for"``: ``asyncio.wait_for(lock.acquire(), 10)`` on this interpreter: an inner
  task up to 3.11; from 3.12 on, ``wait_for`` is built on ``asyncio.timeout`` and has none.
- ``"timeout"``: ``async with asyncio.timeout(10): await lock.acquire()``, no inner task.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from ...lab.clock import run_virtual
from ...lab.trace import Trace
from ...lab.validate import seconds

__all__ = ["HandoverResult", "METHODS", "handover_race", "in_own_task"]

T = TypeVar("T")
METHODS = ("own task", "wait_for", "timeout")
HOLDING = "holding the lock"
WAITING = "waiting for the lock"
INNER = "acquire() in a task of its own"
AFTER_CANCEL = "critical section, after being cancelled"
CRITICAL = "critical section"
COLORS = {HOLDING: "#1f77b4", WAITING: "#c7c7c7", INNER: "#9467bd", AFTER_CANCEL: "#d62728", CRITICAL: "#2ca02c"}


async def in_own_task(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` in a task of its own, as ``asyncio.wait_for`` did up to Python 3.11
    (without its deadline).

    If the calling task is cancelled in the same loop step in which the inner task finishes,
    this returns the inner task's result and the cancellation is swallowed, as ``wait_for``
    did from Python 3.8 to 3.11 so that what the inner task got (a lock, a connection) is
    not lost. If the inner task has not finished, it is cancelled and waited for, and the
    ``CancelledError`` propagates.
    """
    inner = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({inner})
    except asyncio.CancelledError:
        if inner.done():
            return inner.result()  # granted in the same instant: keep it, swallow the cancel
        inner.cancel()
        await asyncio.wait({inner})  # the inner task has finished when the error propagates
        raise
    return inner.result()


@dataclass(frozen=True)
class HandoverResult:
    """What the waiting task saw when it was cancelled at the instant the lock was handed to it."""

    method: str
    python: str
    outcome: str
    ran_after_cancel: bool
    lock_held_at_end: bool
    trace: Trace

    @property
    def label(self) -> str:
        """How the task waited; for ``wait_for``, on which Python (its behaviour changed in 3.12)."""
        return {"own task": "acquire() in a task of its own",
                "wait_for": f"asyncio.wait_for on Python {self.python}",
                "timeout": "asyncio.timeout around acquire()"}[self.method]

    def __repr__(self) -> str:
        return (f"{self.label}: {self.outcome}; "
                f"ran its critical section after being cancelled: {self.ran_after_cancel}; "
                f"lock still held at the end: {self.lock_held_at_end}")


async def _handover(method: str, hold: float, work: float) -> HandoverResult:
    trace = Trace(colors=COLORS)
    lock = asyncio.Lock()
    ran_after_cancel = False
    outcome = ""

    async def traced_acquire() -> bool:
        asyncio.current_task().set_name("acquire()'s own task")
        with trace.span(INNER):
            return await lock.acquire()

    async def waiter() -> None:
        nonlocal ran_after_cancel, outcome
        try:
            with trace.span(WAITING):
                if method == "own task":
                    await in_own_task(traced_acquire())
                elif method == "wait_for":
                    await asyncio.wait_for(lock.acquire(), timeout=10)
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


def handover_race(method: str = "own task", *, hold: float = 0.1, work: float = 0.05) -> HandoverResult:
    """Cancel a task waiting for a lock at the very instant the lock is released to it.

    ``method`` is how the task waits: ``"own task"`` (the acquire in a task of its own,
    :func:`in_own_task`, the mechanism of ``wait_for`` up to 3.11), ``"wait_for"``
    (``asyncio.wait_for(lock.acquire(), 10)`` as this Python implements it) or
    ``"timeout"`` (``async with asyncio.timeout(10): await lock.acquire()``). The holder
    keeps the lock ``hold`` seconds; a task that gets the lock holds it ``work`` seconds.
    Deterministic (virtual time); the outcome is this Python's real behaviour.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    seconds("hold", hold)
    seconds("work", work)
    return run_virtual(_handover(method, hold, work))
