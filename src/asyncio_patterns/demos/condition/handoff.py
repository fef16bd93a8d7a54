"""A fast producer and a slow consumer through a :class:`BoundedBuffer` or an ``asyncio.Queue``.

``handoff_demo`` traces a fast producer and a slow consumer through
either one; ``handoff_rate`` measures how many items per second pass through each, in
real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from ...lab.clock import run_real, run_virtual
from ...lab.trace import Trace
from ...lab.validate import nonempty_list, seconds, whole_number
from ...patterns.buffer import BoundedBuffer

__all__ = ["handoff_demo", "handoff_rate"]

KINDS = ("condition", "queue")
PRODUCE = "producing an item"
PUT_WAIT = "put() waiting: buffer full"
GET_WAIT = "get() waiting: buffer empty"
WORK = "working on an item"
COLORS = {PRODUCE: "#9467bd", PUT_WAIT: "#d62728", GET_WAIT: "#c7c7c7", WORK: "#2ca02c"}


def _make(kind: str, maxsize: int) -> BoundedBuffer | asyncio.Queue:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return BoundedBuffer(maxsize) if kind == "condition" else asyncio.Queue(maxsize)


async def _handoff(kind: str, items: int, maxsize: int, produce: float, work: float) -> Trace:
    trace = Trace(colors=COLORS)
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
