"""Backpressure through a bounded queue, in virtual time: a fast producer, slow consumers.

    backpressure_demo(maxsize=2, consumers=2, every=0.05)

Lesson 01's run: a producer makes ``items`` items, one every ``every`` seconds, and puts
each in a queue of ``maxsize`` (0: unbounded); ``consumers`` tasks take them and work
``work`` seconds on each. A full queue makes ``put`` wait, so a bounded queue holds the
producer back to the consumers' pace, and an unbounded one lets the backlog pile up in it.
The queue is a :class:`~asyncio_patterns.lab.depth.DepthQueue`, so the run also says how many
items waited at the most.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.depth import DepthQueue
from ...lab.plots import timeline
from ...lab.trace import Trace
from ...lab.validate import seconds, whole_number

__all__ = ["BackpressureResult", "backpressure_demo"]

MAKING = "making an item"
BLOCKED = "blocked on put (queue full)"
WAITING = "waiting for an item"
PROCESSING = "processing"
COLORS = {MAKING: "tab:green", BLOCKED: "tab:red", WAITING: "lightgray", PROCESSING: "tab:blue"}


@dataclass(frozen=True)
class BackpressureResult:
    """What ``backpressure_demo`` saw: the producer's time ``blocked`` in ``put``, when it
    finished (``producer_done``) and when the last item was done (``all_done``), in seconds."""

    maxsize: int
    consumers: int
    items: int
    every: float
    work: float
    blocked: float
    producer_done: float
    all_done: float
    queue: DepthQueue
    trace: Trace

    @property
    def label(self) -> str:
        return f"maxsize={self.maxsize}" if self.maxsize else "unbounded"

    @property
    def most_waiting(self) -> int:
        """The most items left waiting at the end of an instant: an item put and taken at
        the same moment never waited, though ``queue.max_depth`` counts it."""
        at_end_of_instant = dict(self.queue.samples)
        return max(at_end_of_instant.values(), default=0)

    def __repr__(self) -> str:
        return (f"{self.items} items, {self.label}, {self.consumers} consumers: producer blocked "
                f"{self.blocked:.2f} s, done at {self.producer_done:.2f} s, all done at {self.all_done:.2f} s, "
                f"at most {self.most_waiting} waiting")

    def timeline(self, *, title: str | None = None, unit: str = "s", ax: Axes | None = None) -> Axes:
        """The producer and the consumers on a timeline, time in ``put`` in red."""
        if title is None:
            waits = (f"the producer waits {self.blocked:.2f} s in put" if round(self.blocked, 9) > 0 else
                     "the producer never waits")
            backlog = (f"at most {self.most_waiting} waiting in the queue" if self.most_waiting else
                       "no item ever waits in the queue")
            title = f"{self.label}: {waits}, {backlog}, all done at {self.all_done:.2f} s"
        return timeline(self.trace, title=title, unit=unit, ax=ax)


async def _produce(queue: asyncio.Queue, trace: Trace, items: int, every: float) -> None:
    for i in range(items):
        with trace.span(MAKING):
            await asyncio.sleep(every)
        with trace.span(BLOCKED):
            await queue.put(i)


async def _consume(queue: asyncio.Queue, trace: Trace, work: float) -> None:
    while True:
        with trace.span(WAITING):
            await queue.get()
        with trace.span(PROCESSING):
            await asyncio.sleep(work)
        queue.task_done()


async def _run(maxsize: int, consumers: int, items: int, every: float, work: float) -> BackpressureResult:
    loop, queue, trace = asyncio.get_running_loop(), DepthQueue(maxsize), Trace(colors=COLORS)
    producer = asyncio.create_task(_produce(queue, trace, items, every), name="producer")
    workers = [asyncio.create_task(_consume(queue, trace, work), name=f"consumer-{i}") for i in range(consumers)]
    await producer
    producer_done = loop.time()
    trace.mark("producer done", lane="producer")
    await queue.join()
    all_done = loop.time()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)  # wait until they have stopped
    return BackpressureResult(maxsize, consumers, items, every, work, trace.total(BLOCKED),
                              producer_done, all_done, queue, trace)


def backpressure_demo(maxsize: int = 2, consumers: int = 2, items: int = 10, every: float = 0.05,
                      work: float = 0.3) -> BackpressureResult:
    """Run lesson 01's producer and consumers in virtual time through a queue of ``maxsize``
    (0: unbounded): ``items`` made one every ``every`` seconds, ``work`` seconds each to consume."""
    whole_number("maxsize", maxsize, minimum=0)
    whole_number("consumers", consumers)
    whole_number("items", items)
    seconds("every", every)
    seconds("work", work, positive=True)
    return run_virtual(_run(maxsize, consumers, items, every, work))
