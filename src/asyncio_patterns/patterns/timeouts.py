"""Time limits that give an answer: a result or a marker per task, and a hedged request.

``await result_or_timeout(fetch(url), 0.5)`` is the result, or ``TimedOut(after=0.5)`` if
the time ran out; ``await gather_with_timeouts([...], 0.5)`` does that for a batch, which
then ends within the time limit however slow its slowest request; ``await hedged(make, after=p95)``
sends a second copy of a request that is slower than ``after`` and keeps the first answer that
is not an error.
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
    (in an ``ExceptionGroup``, as ``asyncio.TaskGroup`` does). Cancelling the caller
    cancels every request and waits for them to stop, even if the caller is cancelled
    again meanwhile, before the ``CancelledError`` goes on: when this returns or raises,
    nothing it started is still running, and a coroutine it never got to start is closed.
    """
    awaitables = list(awaitables)
    try:
        timeout = seconds("timeout", timeout)
    except ValueError:
        _close(awaitables)
        raise
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(result_or_timeout(a, timeout)) for a in awaitables]
    finally:  # a task cancelled before its first step never awaited its coroutine: close it
        _close(a for a in awaitables if inspect.iscoroutine(a) and inspect.getcoroutinestate(a) == inspect.CORO_CREATED)
    return [task.result() for task in tasks]


async def hedged(request: Callable[[], Awaitable[T]], *, after: float) -> T:
    """Call ``request()``; if it has not answered within ``after`` seconds, call it once more.

    Returns the result of the first copy to *succeed*. A copy that fails does not end the
    hedge while the other copy may still succeed: a second copy that fails fast leaves the
    first one running, and this waits for it. Raises only when every copy sent has failed:
    the error of the copy that failed first (a failure, not an ``ExceptionGroup``, so that
    ``except ConnectionError`` matches as it would without the hedge), with a note naming
    the other copy's error. A first copy that fails before ``after`` raises at once and is
    not hedged: a second copy is for slowness, re-sending after an error is a retry's job
    (with a backoff), and so the extra load stays the share of requests slower than ``after``
    even when the service is failing. If both copies succeed in the same instant, the
    first copy's result is returned.

    At most two copies run: set ``after`` to a high percentile of the latency (the 95th
    sends a second copy for about 5% of requests). Only hedge requests that are safe to
    repeat (reads, idempotent writes).

    When this returns or raises, every copy has stopped: the copy still running is
    cancelled, and awaited until it has. Cancelling the caller cancels both copies and
    waits for them to stop before the ``CancelledError`` goes on, even if the caller is
    cancelled again meanwhile (as ``asyncio.TaskGroup`` waits for its tasks); so a copy
    that swallows its cancellation holds the caller up.
    """
    after = seconds("after", after)
    copies = [asyncio.ensure_future(request())]
    try:
        await asyncio.wait(copies, timeout=after)
        if not copies[0].done():
            copies.append(asyncio.ensure_future(request()))
        failed: dict[asyncio.Future, BaseException] = {}  # in the order the failures were seen
        while True:
            for copy in copies:  # in order: at a tie the first copy wins
                if copy.done() and not copy.cancelled() and copy.exception() is None:
                    return copy.result()
            for copy in copies:
                if copy.done() and copy not in failed:
                    failed[copy] = _error(copy)
            if len(failed) == len(copies):
                first, *others = failed.values()
                for other in others:
                    first.add_note(f"hedged: the other copy failed too: {other!r}")
                raise first
            await asyncio.wait([c for c in copies if not c.done()], return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _stop(copies)


def _error(task: asyncio.Future) -> BaseException:
    """The error a finished task raised (a ``CancelledError`` if someone else cancelled it)."""
    return asyncio.CancelledError() if task.cancelled() else task.exception()


async def _stop(tasks: list[asyncio.Future]) -> None:
    """Cancel ``tasks`` and wait until every one has stopped, even if cancelled meanwhile
    (then the ``CancelledError`` goes on once they have); retrieve their outcomes, so no
    "exception was never retrieved" warning follows."""
    for task in tasks:
        task.cancel()
    cancelled = None
    while not all(task.done() for task in tasks):
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError as error:
            cancelled = error  # keep waiting: the copies are still stopping
    for task in tasks:
        _error(task)
    if cancelled is not None:
        raise cancelled
