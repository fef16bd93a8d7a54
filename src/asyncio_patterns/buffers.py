"""A bounded FIFO buffer built from a Condition, to compare with ``asyncio.Queue``.

``BoundedBuffer(maxsize)`` has the blocking behaviour of ``asyncio.Queue(maxsize)``:
``put`` waits while the buffer is full, ``get`` waits while it is empty, and items come
out in FIFO order. ``handoff_demo`` traces a fast producer and a slow consumer through
either one; ``handoff_rate`` measures how many items per second pass through each, in
real time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

from .clock import run_real, run_virtual
from .checks import nonempty_list, seconds, whole_number
from .trace import Trace

__all__ = ["BoundedBuffer", "handoff_demo", "handoff_rate"]

T = TypeVar("T")
KINDS = ("condition", "queue")
PRODUCE = "producing an item"
PUT_WAIT = "put() waiting: buffer full"
GET_WAIT = "get() waiting: buffer empty"
WORK = "working on an item"
COLORS = {PRODUCE: "#9467bd", PUT_WAIT: "#d62728", GET_WAIT: "#c7c7c7", WORK: "#2ca02c"}


class BoundedBuffer(Generic[T]):
    """A FIFO buffer of at most ``maxsize`` items: one lock, two conditions on it.

    ``put`` waits until there is room, ``get`` until there is an item. Waiting getters are
    woken in arrival order; a caller that finds an item takes it at once, as with
    ``asyncio.Queue``, even if a woken getter has not run yet (putters and room likewise).
    A ``get`` cancelled after it was notified passes the notification on, so an item never
    sits in the buffer while another getter sleeps.
    """

    def __init__(self, maxsize: int) -> None:
        whole_number("maxsize", maxsize)
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        lock = asyncio.Lock()
        self._not_empty = asyncio.Condition(lock)  # getters wait here
        self._not_full = asyncio.Condition(lock)  # putters wait here

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"BoundedBuffer({len(self._items)}/{self.maxsize} items)"

    async def put(self, item: T) -> None:
        """Add ``item`` at the end, waiting while the buffer is full."""
        async with self._not_full:
            try:
                await self._not_full.wait_for(lambda: len(self._items) < self.maxsize)
            except asyncio.CancelledError:
                if len(self._items) < self.maxsize:
                    self._not_full.notify()  # the wake-up may have been meant for us: pass it on
                raise
            self._items.append(item)
            self._not_empty.notify()

    async def get(self) -> T:
        """Remove and return the oldest item, waiting while the buffer is empty."""
        async with self._not_empty:
            try:
                await self._not_empty.wait_for(lambda: self._items)
            except asyncio.CancelledError:
                if self._items:
                    self._not_empty.notify()  # as in put(): pass the wake-up on
                raise
            item = self._items.popleft()
            self._not_full.notify()
            return item


def _make(kind: str, maxsize: int) -> BoundedBuffer | asyncio.Queue:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return BoundedBuffer(maxsize) if kind == "condition" else asyncio.Queue(maxsize)


async def _handoff(kind: str, items: int, maxsize: int, produce: float, work: float) -> Trace:
    trace = Trace()
    buffer = _make(kind, maxsize)

    async def producer() -> None:
        for i in range(items):
            with trace.span(PRODUCE):
                await asyncio.sleep(produce)
            with trace.span(PUT_WAIT):
                await buffer.put(i)

    async def consumer() -> None:
        for _ in range(items):
            with trace.span(GET_WAIT):
                await buffer.get()
            with trace.span(WORK):
                await asyncio.sleep(work)

    async with asyncio.TaskGroup() as group:
        group.create_task(producer(), name="producer")
        group.create_task(consumer(), name="consumer")
    return trace


def handoff_demo(kind: str = "condition", *, items: int = 8, maxsize: int = 2,
                 produce: float = 0.04, work: float = 0.1) -> Trace:
    """A producer that makes an item every ``produce`` s and a consumer that works ``work`` s
    per item, through a buffer of ``maxsize`` (``kind`` is ``"condition"`` for
    :class:`BoundedBuffer` or ``"queue"`` for ``asyncio.Queue``), in virtual time."""
    whole_number("items", items)
    whole_number("maxsize", maxsize)
    seconds("produce", produce)
    seconds("work", work)
    _make(kind, 1)
    return run_virtual(_handoff(kind, items, maxsize, produce, work))


async def _rate(kind: str, items: int, maxsize: int) -> float:
    buffer = _make(kind, maxsize)

    async def producer() -> None:
        for i in range(items):
            await buffer.put(i)

    async def consumer() -> None:
        for _ in range(items):
            await buffer.get()

    began = time.perf_counter()
    async with asyncio.timeout(60), asyncio.TaskGroup() as group:  # a bug here must not hang a notebook
        group.create_task(producer())
        group.create_task(consumer())
    return items / (time.perf_counter() - began)


def handoff_rate(kind: str, maxsizes: Sequence[int], *, items: int = 5000, repeat: int = 3) -> list[float]:
    """Items per second from one producer to one consumer through each ``maxsize``, in real
    time: the best of ``repeat`` runs of ``items`` items (the best is the least disturbed)."""
    maxsizes = nonempty_list("maxsizes", maxsizes, "buffer sizes, e.g. [1, 4, 16]")
    whole_number("items", items)
    whole_number("repeat", repeat)
    for size in maxsizes:
        whole_number("maxsize", size)
    _make(kind, 1)  # validates kind before any run

    async def all_sizes() -> list[float]:
        return [max([await _rate(kind, items, size) for _ in range(repeat)]) for size in maxsizes]

    return run_real(all_sizes())
