"""Condition pitfalls, live: a stolen item (``if`` instead of ``while``) and the thundering herd.

``stolen_item_demo(use_while=False)``: consumer A waits on the condition; the producer
adds one item and, before it notifies and lets go of the lock, consumer B arrives and
queues for the lock. The lock is first come, first served, so B takes the item before A
gets the lock back. A that checked with ``if`` pops from an empty deque; A that checks
with ``while`` goes back to waiting and gets the next item. ``consumers=6`` runs the same
rounds with three waiting consumers and three newcomers, one arriving in each of the
first three rounds.

``herd_demo(waiters, notify_all=True)`` counts wake-ups: ``waiters`` consumers each want
one item and the producer adds them one at a time. ``notify()`` wakes one consumer per
item; ``notify_all()`` wakes every consumer still waiting, for every item.

``cancelled_notify_demo()`` notifies one of two waiters and cancels it in the same step,
on a plain ``asyncio.Condition``: from Python 3.13 the cancelled waiter passes the
notification on (gh-112202); on 3.11 and 3.12 it is lost and the other waiter sleeps on.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from dataclasses import dataclass

from ...lab.clock import run_virtual
from ...lab.validate import whole_number
from ...lab.trace import Trace

__all__ = ["CancelledNotifyResult", "StolenItemResult", "cancelled_notify_demo", "herd_demo", "herd_theory",
           "stolen_item_demo"]

WAITING = "in cond.wait() (until notified and the lock is back)"
LOCKED = "waiting for the lock"
HOLDING = "holding the lock"
COLORS = {WAITING: "#c7c7c7", LOCKED: "#9edae5", HOLDING: "#1f77b4"}
RECHECK = "wait() returns: re-check the deque"
POP_EMPTY = "wait() returns, no re-check: popleft() raises IndexError"


@dataclass(frozen=True)
class StolenItemResult:
    """What each consumer ended with (an item, or the error it raised), how many wake-ups
    found the deque empty, and the items nobody took."""

    use_while: bool
    outcomes: dict[str, str]
    trace: Trace
    empty_wakeups: int = 0
    left: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return "\n".join(f"{name}: {text}" for name, text in self.outcomes.items())


ROUND = 0.2  # the producer adds item k + 1 at 0.1 + k * ROUND s


async def _stolen(use_while: bool, consumers: int, notify_all: bool) -> StolenItemResult:
    trace = Trace(colors=COLORS)
    cond = asyncio.Condition()
    items: deque[str] = deque()
    outcomes: dict[str, str] = {}
    empty_wakeups = 0
    waiting = consumers // 2  # waiting from the start; the others arrive one per round
    names = [f"consumer {chr(ord('A') + i)}" for i in range(consumers)]

    async def consumer(arrive: float) -> None:
        nonlocal empty_wakeups
        me = asyncio.current_task().get_name()
        await asyncio.sleep(arrive)
        with trace.span(LOCKED):
            await cond.acquire()
        try:
            if use_while:
                with trace.span(WAITING):  # one bar: a wake-up that finds nothing waits again at once
                    while not items:  # re-checked after every wake-up
                        await cond.wait()
                        trace.mark(RECHECK)
                        if not items:
                            empty_wakeups += 1
            elif not items:  # the bug: checked once, before waiting
                with trace.span(WAITING):
                    await cond.wait()
            with trace.span(HOLDING):
                item = items.popleft()
                await asyncio.sleep(0.01)  # use the item while holding the lock
            outcomes[me] = f"got {item}"
        except IndexError as error:
            empty_wakeups += 1
            trace.mark(POP_EMPTY)
            outcomes[me] = f"IndexError: {error}"
        finally:
            cond.release()

    async def producer() -> None:
        for n in range(1, consumers + 1):
            await asyncio.sleep(0.1 + (n - 1) * ROUND - asyncio.get_running_loop().time())
            await cond.acquire()  # free by now: the last round's consumers are done
            try:
                with trace.span(HOLDING):
                    items.append(f"item {n}")
                    await asyncio.sleep(0.05)  # slow work while holding the lock (a log write)
                cond.notify_all() if notify_all else cond.notify()
                trace.mark("notify_all()" if notify_all else "notify()")
            finally:
                cond.release()

    async with asyncio.TaskGroup() as group:
        group.create_task(producer(), name="producer")
        for i, name in enumerate(names):
            arrive = 0.0 if i < waiting else 0.12 + (i - waiting) * ROUND  # while the producer holds the lock
            group.create_task(consumer(arrive), name=name)
    return StolenItemResult(use_while, {name: outcomes[name] for name in names}, trace, empty_wakeups, tuple(items))


def stolen_item_demo(use_while: bool = False, consumers: int = 2, notify_all: bool = False) -> StolenItemResult:
    """Consumer B takes the item consumer A was notified about; in virtual time.

    ``use_while=False`` re-checks nothing after waking (the ``if`` bug) and A raises
    ``IndexError``; ``use_while=True`` re-checks and A waits for the next item.
    ``consumers`` (at least 2): ``consumers // 2`` of them wait from the start and the rest
    arrive one per round, each while the producer holds the lock; the producer adds one item
    per consumer, one every 0.2 s. ``notify_all=True`` wakes every waiter for each item.
    """
    whole_number("consumers", consumers, minimum=2)
    return run_virtual(_stolen(bool(use_while), consumers, bool(notify_all)))


def herd_theory(waiters: int, notify_all: bool) -> float:
    """Wake-ups for ``waiters`` consumers and one item at a time: n with notify(), n(n+1)/2 with notify_all()."""
    return waiters * (waiters + 1) / 2 if notify_all else waiters


async def _herd(waiters: int, notify_all: bool) -> int:
    cond = asyncio.Condition()
    items: deque[int] = deque()
    wakeups = 0

    async def consumer() -> None:
        nonlocal wakeups
        async with cond:
            while not items:
                await cond.wait()
                wakeups += 1
            items.popleft()

    async with asyncio.TaskGroup() as group:
        for i in range(waiters):
            group.create_task(consumer(), name=f"consumer {i}")
        for i in range(waiters):
            await asyncio.sleep(0.01)  # every woken consumer is back to waiting before the next item
            async with cond:
                items.append(i)
                cond.notify_all() if notify_all else cond.notify()
    return wakeups


def herd_demo(waiters: int, notify_all: bool = True) -> int:
    """How many times consumers woke up while ``waiters`` items were handed to ``waiters`` consumers."""
    whole_number("waiters", waiters)
    return run_virtual(_herd(waiters, bool(notify_all)))


@dataclass(frozen=True)
class CancelledNotifyResult:
    """Whether a notification survived the cancellation of the waiter it woke, on this Python."""

    python: str
    other_woke: bool

    def __repr__(self) -> str:
        return (f"asyncio.Condition on Python {self.python}: notify() woke a waiter that was cancelled "
                f"in the same step; the other waiter woke: {self.other_woke}")


async def _cancelled_notify() -> CancelledNotifyResult:
    cond = asyncio.Condition()
    woke: list[str] = []

    async def waiter() -> None:
        async with cond:
            await cond.wait()
            woke.append(asyncio.current_task().get_name())

    first = asyncio.create_task(waiter(), name="first")
    second = asyncio.create_task(waiter(), name="second")
    await asyncio.sleep(0.1)  # both are waiting, first in line
    async with cond:
        cond.notify()  # wakes `first`...
        first.cancel()  # ...which is cancelled in the same step
    await asyncio.sleep(0.1)
    second.cancel()  # if the notification was lost, `second` would sleep for ever
    await asyncio.gather(first, second, return_exceptions=True)
    return CancelledNotifyResult(".".join(map(str, sys.version_info[:2])), "second" in woke)


def cancelled_notify_demo() -> CancelledNotifyResult:
    """Two tasks wait on a plain ``asyncio.Condition``; ``notify()`` wakes the first, which is
    cancelled in the same step. Does the second wake? Yes from Python 3.13 on (gh-112202),
    no on 3.11 and 3.12. In virtual time; the outcome is this Python's real behaviour."""
    return run_virtual(_cancelled_notify())
