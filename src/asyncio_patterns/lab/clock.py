"""Run a coroutine on a virtual clock (instant, exact, deterministic) or on the real one.

In virtual time, ``asyncio.sleep(5)`` returns at once with ``loop.time()`` five seconds
later: whenever every task is waiting, the clock jumps straight to the next timer.
Sleeps, timeouts and simulated work behave exactly as in real time, so the same
coroutine can be run both ways. Real I/O cannot be faked: a socket opened inside a
virtual-time run raises :class:`VirtualClockError`.

Both runners start a fresh event loop in a worker thread, so they work anywhere,
including a notebook whose own event loop is already running.

Ties: many callbacks fall due at the same virtual instant (two timers with the same
deadline, the wake-ups of every task a lock release or an event touches), and asyncio runs
them in the order they were scheduled. ``run_virtual(main, seed=7)`` runs each batch of
callbacks that became ready together in an order shuffled by ``random.Random(7)`` instead,
so a result that depends on that order shows up under some seed, and the seed replays it.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import random
import re
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from .loopthread import LoopThread
from .validate import seconds

__all__ = ["Deadlock", "VirtualClockError", "VirtualTimeLoop", "next_timer_due", "run_real", "run_virtual", "task_label"]

_CANCEL_GRACE = 5.0  # real seconds a run past its real_limit gets to end once cancelled

T = TypeVar("T")


REAL_IO_MESSAGE = (
    "real I/O (sockets, servers, subprocesses) cannot run in virtual time; "
    "run this coroutine with run_real() or a top-level await instead"
)


class VirtualClockError(RuntimeError):
    """Something that cannot happen in virtual time was attempted (real sockets)."""


class Deadlock(VirtualClockError):
    """Every task is waiting, no timer is pending and nothing else can wake them."""


class _VirtualSelector(selectors.DefaultSelector):
    """A selector that advances the loop's virtual clock instead of blocking."""

    def __init__(self, thread_grace: float) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None
        self.thread_grace = thread_grace

    def register(self, fileobj, events, data=None):
        if self.loop is not None:  # the loop's own wake-up pipe is registered before this
            raise VirtualClockError(REAL_IO_MESSAGE)
        return super().register(fileobj, events, data)

    def select(self, timeout=None):
        # Only the loop's wake-up pipe is registered, and a callback another thread hands
        # over (call_soon_threadsafe) is queued before the pipe is written, so the next
        # iteration runs it either way: the pipe is polled only where the loop would wait.
        # (Polling it on every jump from timer to timer cost a sixth of a run of short sleeps.)
        if timeout == 0:
            return []
        if self.loop.executor_jobs:
            # Threads take real time: while one works, the virtual clock runs at real speed.
            began = time.monotonic()
            ready = super().select(timeout)
            self.loop.advance(min(time.monotonic() - began, timeout if timeout is not None else math.inf))
            if ready or timeout is None:
                return ready
        elif timeout is None:
            # Every task waits and no timer is pending: only another thread could still
            # wake the loop, so give threads a little real time before calling it a deadlock.
            ready = super().select(self.thread_grace)
            if not ready:
                raise Deadlock(self.loop.describe_waiting())
            return ready
        self.loop.advance_to_next_timer()
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is virtual and starts at 0.0.

    With a ``seed``, callbacks that become ready together run in a seeded random order
    (see the module's "Ties"); without one, in the order they were scheduled, as asyncio does.
    """

    def __init__(self, thread_grace: float = 0.1, *, seed: int | None = None) -> None:
        selector = _VirtualSelector(thread_grace)
        self._virtual_now = 0.0
        self.executor_jobs = 0  # run_in_executor calls not yet finished
        super().__init__(selector)
        selector.loop = self
        self.seed = seed
        if seed is not None:
            self._shuffle = random.Random(seed).shuffle
            self._held: list[tuple[asyncio.Handle, Any, tuple, contextvars.Context]] = []  # scheduled, not yet released
            self.call_soon = self._call_soon_shuffled  # on the instance: an unseeded loop pays nothing

    def _call_soon_shuffled(self, callback, *args, context=None):
        # Everything that makes a callback ready goes through call_soon: a task's first step,
        # a future's done-callbacks (so a task's wake-up after a timer or a lock), a timer
        # firing. Hold them, and release the whole batch, shuffled, in the loop's next turn.
        if context is None:
            context = contextvars.copy_context()  # as call_soon does: the caller's context
        handle = asyncio.Handle(callback, args, self, context)  # what the caller may cancel
        if not self._held:
            super().call_soon(self._release_held)
        self._held.append((handle, callback, args, context))
        return handle

    def _release_held(self) -> None:
        batch, self._held = self._held, []
        self._shuffle(batch)
        for handle, callback, args, context in batch:
            super().call_soon(self._run_held, handle, callback, args, context=context)

    @staticmethod
    def _run_held(handle: asyncio.Handle, callback, args: tuple) -> None:
        if not handle.cancelled():
            callback(*args)

    def time(self) -> float:
        return self._virtual_now

    def _refuse_real_io(self, *args, **kwargs):
        # Refuse before any socket is created, so nothing is left open behind the error.
        raise VirtualClockError(REAL_IO_MESSAGE)

    create_connection = create_server = create_datagram_endpoint = _refuse_real_io
    create_unix_connection = create_unix_server = connect_accepted_socket = _refuse_real_io
    sock_connect = sock_accept = subprocess_exec = subprocess_shell = _refuse_real_io

    def call_at(self, when, callback, *args, context=None):
        # A timer due now (or earlier) would run without moving the clock. Code that
        # waits until a float sum crosses a threshold (a token bucket) can then compute
        # a wait of 1e-17 s, which `now + wait` rounds away, and spin for ever; on a
        # real clock time moves on. Here the timer goes one representable instant later.
        if when <= self._virtual_now:
            when = math.nextafter(self._virtual_now, math.inf)
        return super().call_at(when, callback, *args, context=context)

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds

    def advance_to_next_timer(self) -> None:
        # Jumping to the exact deadline (rather than now + timeout) keeps virtual
        # times free of rounding drift.
        due = next_timer_due(self)
        if due is not None:
            self._virtual_now = max(self._virtual_now, due)

    def run_in_executor(self, executor, func, *args):
        future = super().run_in_executor(executor, func, *args)
        self.executor_jobs += 1
        future.add_done_callback(self._executor_job_done)
        return future

    def _executor_job_done(self, future: asyncio.Future) -> None:
        self.executor_jobs -= 1

    async def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> None:
        # Joins the executor's threads from another thread: a real-time wait like a job.
        # asyncio.Runner passes a timeout from 3.12 on; whatever it passes goes through.
        self.executor_jobs += 1
        try:
            await super().shutdown_default_executor(*args, **kwargs)
        finally:
            self.executor_jobs -= 1

    def describe_waiting(self) -> str:
        names = sorted(task_label(t) for t in asyncio.all_tasks(self) if not t.done())
        return (
            f"deadlock at t={self._virtual_now:g}s: {len(names)} task(s) waiting "
            f"({', '.join(names)}) and no timer pending; add a timeout to find where"
        )


def next_timer_due(loop: asyncio.BaseEventLoop) -> float | None:
    """When the loop's earliest pending timer is due (loop time), or None if none is.

    asyncio has no public way to ask this. This reads ``BaseEventLoop._scheduled``, the heap
    of ``TimerHandle`` objects, and the handle's ``_when``: the one place in the package that
    reads the loop's private state. Checked on CPython 3.11.7, 3.12.1 and 3.13.0: in each,
    ``_run_once`` pops cancelled handles off the heap's head just before it calls the
    selector, which is where this is called from, so the head is a live timer.
    """
    scheduled = loop._scheduled
    return scheduled[0]._when if scheduled else None


def task_label(task: asyncio.Task) -> str:
    """The task's own name, or its coroutine function's when it was left as 'Task-N'."""
    name = task.get_name()
    if re.fullmatch(r"Task-\d+", name):
        return getattr(task.get_coro(), "__qualname__", name).rsplit(".", 1)[-1]
    return name


def _run_in_thread(main: Coroutine[Any, Any, T], loop_factory, runner_name: str,
                   real_limit: float = math.inf) -> T:
    if not asyncio.iscoroutine(main):
        hint = f"{runner_name}(main()) not {runner_name}(main)" if callable(main) else ""
        raise TypeError(f"{runner_name}() needs a coroutine object, got {type(main).__name__}; {hint}".rstrip("; "))
    run = LoopThread(main, loop_factory=loop_factory, name=runner_name)
    # Ctrl-C here cancels main in its thread, waits for it to end, and is raised
    if not run.join(None if real_limit == math.inf else real_limit):
        virtual_now = run.loop.time()
        run.cancel()
        ended = run.join(_CANCEL_GRACE)
        raise VirtualClockError(
            f"{runner_name}() ran for {real_limit:g} real seconds, to {virtual_now:g} s on its clock, "
            f"without finishing: {'it was cancelled' if ended else 'it was cancelled but never awaited again'}; "
            "does a loop run for ever? Pass real_limit=... for a longer run")
    return run.result()


def run_virtual(main: Coroutine[Any, Any, T], *, thread_grace: float = 0.1, seed: int | None = None,
                real_limit: float = 120.0) -> T:
    """Run ``main`` to completion in virtual time and return its result.

    The clock starts at 0.0 and only moves when every task is waiting, straight to the
    next timer, so the run takes no real time and gives the same result every time.
    While a ``run_in_executor`` or ``to_thread`` job runs, the clock runs at real
    speed; other threads get ``thread_grace`` real seconds to call back. Raises :class:`Deadlock` if every task waits and nothing can wake them.
    With ``seed`` (an int), callbacks that become ready together run in an order shuffled
    by that seed: the same seed gives the same order, another seed another order.
    A KeyboardInterrupt (a notebook's stop button) cancels ``main`` and is raised again.
    A run still going after ``real_limit`` real seconds (a loop that runs for ever in
    virtual time spins a core flat out; where Ctrl-C cannot reach it, as in a job started
    in the background, nothing else would stop it) is cancelled, and
    :class:`VirtualClockError` is raised.
    """
    try:
        thread_grace = seconds("thread_grace", thread_grace)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"seed must be an int (or None for asyncio's own order), got {seed!r}")
        real_limit = seconds("real_limit", real_limit, positive=True)
    except ValueError:
        if asyncio.iscoroutine(main):
            main.close()  # it will never run; closing it avoids a "never awaited" warning
        raise
    return _run_in_thread(main, lambda: VirtualTimeLoop(thread_grace, seed=seed), "run_virtual", real_limit)


def run_real(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a fresh event loop with the real clock.

    Like ``asyncio.run``, but usable where a loop is already running (a notebook).
    In a notebook, a top-level ``await main()`` does the same on the kernel's loop.
    A KeyboardInterrupt (a notebook's stop button) cancels ``main`` and is raised again.
    """
    return _run_in_thread(main, asyncio.new_event_loop, "run_real")
