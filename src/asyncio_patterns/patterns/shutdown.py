"""Stopping a service gracefully: signals become events, then drain, then cancel.

    with ShutdownSignals() as signals:                 # SIGTERM and SIGINT, on the running loop
        async with WorkerPool(handle, workers=4) as pool:
            ...pool.submit(job)...
            await signals.requested.wait()             # the first signal
            report = await pool.stop(deadline=10.0, hurry=signals.forced)
    print(report)                                      # nothing accepted is dropped

:meth:`WorkerPool.stop` runs the three phases in order, each also a method of its own:

1. :meth:`~WorkerPool.close`: stop accepting; ``submit`` raises :class:`PoolStopping` from here on.
2. :meth:`~WorkerPool.drain`: the workers go on with the jobs already accepted, running and
   queued, until none is left or ``deadline`` seconds have passed (or ``hurry`` is set).
3. :meth:`~WorkerPool.cancel`: hand back the jobs never started, cancel the workers and *await*
   them (a cancelled job's clean-up runs now, not after the caller has moved on); the jobs
   they were running are handed back as their clean-up ends.

``stop`` takes ``deadline`` plus that clean-up. A cancel of the task running it, at any of its
awaits, loses no job (see :class:`WorkerPool`).

Every job accepted ends in exactly one list of the :class:`StopReport`: ``completed``,
``failed`` (its handler raised) or ``handed_back`` (cancelled while running, or never
started), so a caller can put the handed-back jobs back where they came from.
"""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._checks import seconds, whole_number

__all__ = ["PoolStopping", "ShutdownSignals", "StopReport", "WorkerPool"]

J = TypeVar("J")


class ShutdownSignals:
    """SIGTERM and SIGINT as two events on the running loop.

    The first signal sets :attr:`requested` (stop gracefully), a second sets :attr:`forced`
    (stop now). ``on_signal(signum, count)`` is called for each, for logging. Use it as a
    ``with`` block inside the running loop's main thread; on exit the handlers are removed
    and the ones found on entry put back: inside ``asyncio.run``, the Runner's own SIGINT
    handler (Ctrl-C cancels the main task), elsewhere the default actions. Do not nest it
    with another ``loop.add_signal_handler`` for the same signal: a loop keeps one per signal.

    The handlers are installed with ``loop.add_signal_handler``, so they run in the event
    loop as ordinary callbacks, between two steps of the tasks, where setting an event or
    cancelling a task is safe. A handler installed with ``signal.signal`` runs between two
    bytecodes of whatever the main thread is doing, possibly the event loop's own code.

    :meth:`receive` is what a handler does; call it directly to simulate a signal (in a
    test, or in virtual time, where no real signal can be delivered).

    Windows has no ``loop.add_signal_handler`` (``NotImplementedError``). There, SIGINT
    (Ctrl-C) is caught with ``signal.signal`` and passed to the loop with
    ``call_soon_threadsafe``; SIGTERM cannot be caught at all (it ends the process at
    once), and is listed in :attr:`uncatchable`.
    """

    def __init__(self, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT), *,
                 on_signal: Callable[[signal.Signals, int], object] | None = None) -> None:
        self.signals = tuple(signal.Signals(s) for s in signals)
        self.on_signal = on_signal
        self.requested = asyncio.Event()  # set by the first signal
        self.forced = asyncio.Event()  # set by the second
        self.received: list[str] = []  # the names of the signals received, in order
        self.uncatchable: list[str] = []  # signals this platform cannot catch (Windows: SIGTERM)
        self._installed: list[signal.Signals] = []
        self._previous: dict[signal.Signals, Any] = {}  # the handlers found on entry, to restore
        self._loop: asyncio.AbstractEventLoop | None = None

    def receive(self, signum: int) -> None:
        """Count one signal: the first sets ``requested``, any later one ``forced``."""
        name = signal.Signals(signum)
        self.received.append(name.name)
        (self.requested if len(self.received) == 1 else self.forced).set()
        if self.on_signal is not None:
            self.on_signal(name, len(self.received))

    def __enter__(self) -> ShutdownSignals:
        self._loop = loop = asyncio.get_running_loop()
        for signum in self.signals:
            found = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, self.receive, signum)
            except NotImplementedError:  # Windows: no add_signal_handler
                if signum == signal.SIGINT:
                    self._previous[signum] = signal.signal(
                        signum, lambda number, frame: loop.call_soon_threadsafe(self.receive, number))
                else:
                    self.uncatchable.append(signum.name)
                continue
            self._installed.append(signum)
            self._previous[signum] = found  # None: one not installed from Python, which cannot be put back
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum in self._installed:
            self._loop.remove_signal_handler(signum)  # sets the default action...
        for signum, previous in self._previous.items():
            if previous is not None:
                signal.signal(signum, previous)  # ...and this the handler found on entry
        self._installed.clear()
        self._previous.clear()


class PoolStopping(RuntimeError):
    """A job was submitted after the pool began to stop."""


@dataclass
class StopReport(Generic[J]):
    """Where every job a :class:`WorkerPool` accepted ended up."""

    accepted: int
    completed: list[J] = field(default_factory=list)
    failed: list[tuple[J, Exception]] = field(default_factory=list)
    handed_back: list[J] = field(default_factory=list)  # cancelled while running first, then never started
    cancelled: int = 0  # how many of handed_back were cancelled while running
    drained: bool = True  # every accepted job ended before the deadline: nothing was cancelled

    @property
    def lost(self) -> int:
        """Accepted jobs in none of the lists. Always 0 for a :class:`WorkerPool`."""
        return self.accepted - len(self.completed) - len(self.failed) - len(self.handed_back)

    def __str__(self) -> str:
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return (f"{self.accepted} accepted: {len(self.completed)} completed{failed}, "
                f"{len(self.handed_back)} handed back ({self.cancelled} cancelled while running, "
                f"{len(self.handed_back) - self.cancelled} never started), {self.lost} lost")


class WorkerPool(Generic[J]):
    """``workers`` tasks that take jobs from one queue and run ``await handle(job)``.

    Jobs start in the order they were submitted. An error raised by ``handle`` is recorded
    in the report's ``failed`` and the worker goes on; a cancellation is not an error: the
    job is handed back. Use it as ``async with WorkerPool(...) as pool:``; leaving the block
    without calling :meth:`stop` stops it with ``deadline=0`` (cancel at once, hand back).

    During the drain the workers go on starting queued jobs, even ones that will not finish
    before the deadline: the pool cannot know how long a job takes, and a job that does
    finish in time is one less to hand back. The price is the partial work of the jobs cut at
    the deadline, which their clean-up undoes and whoever takes them back redoes.

    A cancel of the task running :meth:`stop` or :meth:`cancel` (an outer timeout, a second
    Ctrl-C, a failing TaskGroup) loses nothing: from the cancel phase on, the queued jobs are
    handed back and the workers cancelled before anything is awaited, so a cancel during the
    drain turns it into the cancel phase at once. The cancelled ``stop()`` raises
    ``CancelledError`` without waiting for the workers' clean-up, and does not cut it short
    (the workers are not cancelled a second time); each running job reaches the report when
    its clean-up ends. Calling :meth:`stop` again waits for that and returns the report.
    """

    def __init__(self, handle: Callable[[J], Awaitable[object]], *, workers: int, name: str = "worker") -> None:
        whole_number("workers", workers)
        self._handle = handle
        self._size = workers
        self._name = name
        self._queue: asyncio.Queue[J] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._running: dict[asyncio.Task[None], J] = {}
        self._report: StopReport[J] = StopReport(accepted=0)
        self._state = "new"  # new, running, closed (draining), cancelling, stopped

    async def __aenter__(self) -> WorkerPool[J]:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._state != "stopped":
            await self.stop(deadline=0)

    def start(self) -> None:
        """Start the workers (``async with`` does it)."""
        if self._state != "new":
            raise RuntimeError("the pool was already started")
        self._workers = [asyncio.create_task(self._work(), name=f"{self._name}-{i}") for i in range(self._size)]
        self._state = "running"

    @property
    def accepting(self) -> bool:
        return self._state in ("new", "running")

    @property
    def running(self) -> list[J]:
        """The jobs being run now (after the cancel: the ones still cleaning up)."""
        return list(self._running.values())

    @property
    def report(self) -> StopReport[J]:
        """Where the accepted jobs have gone so far (final once the pool has stopped)."""
        return self._report

    @property
    def queued(self) -> int:
        """How many accepted jobs are waiting for a worker."""
        return self._queue.qsize()

    def submit(self, job: J) -> None:
        """Accept ``job``; raises :class:`PoolStopping` once the pool has begun to stop."""
        if not self.accepting:
            raise PoolStopping(f"the pool is {self._state}: it accepts no new jobs")
        self._queue.put_nowait(job)
        self._report.accepted += 1

    async def join(self) -> None:
        """Wait until every job accepted so far has ended (the pool goes on accepting)."""
        await self._queue.join()

    def close(self) -> None:
        """Phase 1: stop accepting. Jobs already accepted still run."""
        if self._state in ("new", "running"):
            self._state = "closed"

    async def drain(self, deadline: float, *, hurry: asyncio.Event | None = None) -> bool:
        """Phase 2: wait until every accepted job has ended, for at most ``deadline`` seconds
        (``math.inf``: no limit), and no longer once ``hurry`` is set. True if all ended.

        Returns at once if the pool was never started (no worker would run the jobs) or is
        already cancelling. A cancel here leaves the workers running: :meth:`stop` goes on
        to the cancel phase, a caller of ``drain`` alone decides."""
        seconds("deadline", deadline)
        self.close()
        if not self._workers or self._state != "closed":
            return not self._running and self._queue.empty()
        waits = [asyncio.ensure_future(self._queue.join())]
        if hurry is not None:
            waits.append(asyncio.ensure_future(hurry.wait()))
        try:
            await asyncio.wait(waits, timeout=None if deadline == math.inf else deadline,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        await asyncio.wait(waits)  # let the helpers finish: no task is left behind
        return not waits[0].cancelled()  # the join() ended by itself: every job had ended

    def _begin_cancel(self) -> None:
        """Hand back the queued jobs and cancel the workers, all before any await; once only."""
        self.close()
        if self._state != "closed":
            return
        self._state = "cancelling"
        self._report.drained = not self._running and self._queue.empty()
        while not self._queue.empty():
            self._report.handed_back.append(self._queue.get_nowait())
            self._queue.task_done()
        for task in self._workers:
            task.cancel()

    async def cancel(self) -> StopReport[J]:
        """Phase 3: hand back the queued jobs, cancel the workers and wait for them; their
        cancelled jobs are handed back as their clean-up ends. Return the final report.

        The workers are awaited with ``asyncio.wait``, not ``gather``: a cancel of this
        call ends the wait but is not passed on to the workers' clean-up."""
        self._begin_cancel()
        if self._workers:
            await asyncio.wait(self._workers)
        self._state = "stopped"
        return self._report

    async def stop(self, deadline: float, *, hurry: asyncio.Event | None = None) -> StopReport[J]:
        """Close, drain for at most ``deadline`` seconds (less if ``hurry`` is set), cancel.

        It takes ``deadline`` plus the cancelled jobs' clean-up, which is not cut short: a
        clean-up is the job's own code (a rollback, a reply), and stopping it half-way would
        leave the half-done work the pool exists to prevent. To bound the total, put
        ``asyncio.timeout`` around ``stop()``: when it fires nothing is lost (see the class),
        ``running`` lists the jobs still cleaning up, and a second ``stop()`` waits for them.
        On a stopped pool ``stop()`` returns the same report again."""
        seconds("deadline", deadline)
        try:
            if self._state in ("new", "running", "closed"):
                await self.drain(deadline, hurry=hurry)
        finally:  # even when cancelled during the drain: nothing queued is left in the queue
            self._begin_cancel()
        return await self.cancel()

    async def _work(self) -> None:
        me = asyncio.current_task()
        while True:
            job = await self._queue.get()  # a cancel here takes no job: it stays queued
            self._running[me] = job
            try:
                await self._handle(job)
            except asyncio.CancelledError:
                # cancelled while running: before the never-started ones handed back at the cancel
                self._report.handed_back.insert(self._report.cancelled, job)
                self._report.cancelled += 1
                raise
            except Exception as error:
                self._report.failed.append((job, error))
            else:
                self._report.completed.append(job)
            finally:
                del self._running[me]
                self._queue.task_done()
            if self._state in ("cancelling", "stopped"):
                return  # the handler swallowed our cancel and finished its job: stop all the same
