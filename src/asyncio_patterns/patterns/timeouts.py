"""Time limits that give an answer: a result or a marker per task, and a hedged request.

``await result_or_timeout(fetch(url), 0.5)`` is the result, or ``TimedOut(after=0.5)`` if
the time ran out; ``await gather_with_timeouts([...], 0.5)`` does that for a batch, which
then ends within the time limit however slow its slowest request; ``await hedged(make, after=p95)``
sends a second copy of a request that is slower than ``after`` and keeps whichever answers first.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from ._checks import seconds

__all__ = ["TimedOut", "gather_with_timeouts", "hedged", "result_or_timeout"]

T = TypeVar("T")


@dataclass(frozen=True)
class TimedOut:
    """The marker for work that did not finish within ``after`` seconds (and was cancelled).

    It is false in a boolean test and never equal to a result, so it cannot be mistaken
    for one, not even for ``None``.
    """

    after: float

    def __bool__(self) -> bool:
        return False


def _close(awaitables: Iterable[object]) -> None:
    for awaitable in awaitables:  # they will never run: closing avoids "never awaited"
        if inspect.iscoroutine(awaitable):
            awaitable.close()


async def result_or_timeout(awaitable: Awaitable[T], timeout: float) -> T | TimedOut:
    """Await ``awaitable`` for at most ``timeout`` seconds: its result, or ``TimedOut(timeout)``.

    On time-out the work is cancelled (its ``finally`` blocks run) before this returns.
    Only this call's own deadline becomes ``TimedOut``: a ``TimeoutError`` that the work
    raises itself (an inner deadline, a socket timeout) propagates, as do its other
    errors and a cancellation of the calling task.
    """
    try:
        timeout = seconds("timeout", timeout)
    except ValueError:
        _close([awaitable])
        raise
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await awaitable
    except TimeoutError:
        if deadline.expired():
            return TimedOut(timeout)
        raise


async def gather_with_timeouts(awaitables: Iterable[Awaitable[T]], timeout: float) -> list[T | TimedOut]:
    """Run every awaitable at once, each with its own time limit of ``timeout`` seconds.

    Returns one entry per awaitable, in their order: its result or ``TimedOut(timeout)``.
    The batch therefore ends about ``timeout`` seconds after it started, however slow the
    slowest one is. An error other than the time-out cancels the others and is raised
    (in an ``ExceptionGroup``, as ``asyncio.TaskGroup`` does).
    """
    awaitables = list(awaitables)
    try:
        timeout = seconds("timeout", timeout)
    except ValueError:
        _close(awaitables)
        raise
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(result_or_timeout(a, timeout)) for a in awaitables]
    return [task.result() for task in tasks]


async def hedged(request: Callable[[], Awaitable[T]], *, after: float) -> T:
    """Call ``request()``; if it has not answered within ``after`` seconds, call it once more.

    Returns (or raises) whatever the first copy to finish returns (or raises); the other
    copy is cancelled, and has stopped, before this returns. If both finish in the same
    instant the first copy wins. At most two copies run: set ``after`` to a high
    percentile of the latency (the 95th sends a second copy for about 5% of requests).
    Only hedge requests that are safe to repeat (reads, idempotent writes). Cancelling
    the caller cancels both copies.
    """
    after = seconds("after", after)
    first = asyncio.ensure_future(request())
    copies = [first]
    try:
        done, _ = await asyncio.wait(copies, timeout=after)
        if not done:
            copies.append(asyncio.ensure_future(request()))
            done, _ = await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
        winner = first if first in done else done.pop()
        return winner.result()
    finally:
        for copy in copies:
            copy.cancel()
        # Wait for the loser to stop, and retrieve its outcome, so nothing is left running
        # and no "exception was never retrieved" warning follows.
        await asyncio.gather(*copies, return_exceptions=True)
