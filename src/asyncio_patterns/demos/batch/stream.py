"""A long async iterator processed two ways, with what each holds at its worst.

- **a task per item** (the common tutorial's stream processor): ``async for`` over the
  items, ``create_task`` for each one (each waits for a semaphore slot inside), then
  ``gather`` them all. Every item is pulled and has a task before the first one finishes.
- **bounded_map**: a sliding window of N calls that takes the next item only when a slot
  is free.

``stream_census`` runs one of them in virtual time and reports the peak Python memory
(``traced_memory``), the most tasks alive at once (counted by a task factory on the loop,
in a second run) and the most items pulled from the iterator but not yet finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.memory import traced_memory
from ...lab.plots import plain_numbers
from ...lab.validate import seconds, whole_number
from ...patterns.batch import bounded_map

__all__ = ["StreamCensus", "numbered", "stream_census", "stream_plot", "task_per_item"]


async def numbered(n: int) -> AsyncIterator[int]:
    """The items 0 .. n - 1, one at a time, as a paged API or a file read line by line gives them."""
    for i in range(n):
        yield i


async def task_per_item(func: Callable, items, concurrency: int) -> list:
    """The tutorial's stream processor: a task for every item, each waiting for a slot."""
    limit = asyncio.Semaphore(concurrency)

    async def bounded_process(item):
        async with limit:
            return await func(item)

    tasks = []
    async for item in items:
        tasks.append(asyncio.create_task(bounded_process(item)))
    return await asyncio.gather(*tasks)


async def _windowed(func: Callable, items, concurrency: int) -> int:
    handled = 0  # each result is used as it comes (written out, say), not kept
    async for done in bounded_map(func, items, concurrency=concurrency):
        done.result()  # raises if the call failed
        handled += 1
    return handled


_WAYS = {"a task per item": task_per_item, "bounded_map": _windowed}


@dataclass(frozen=True)
class StreamCensus:
    """What one run held at its worst."""

    way: str
    items: int
    concurrency: int
    peak_bytes: int  # Python memory allocated during the run, at its peak
    most_tasks: int  # tasks alive at once, besides the one running the whole thing
    most_ahead: int  # items pulled from the iterator and not yet finished, at most
    elapsed: float  # virtual seconds

    def __str__(self) -> str:
        megabytes = self.peak_bytes / 1e6  # to 0.1 MB: the last digits vary a little from run to run
        peak = f"{megabytes:.1f} MB" if megabytes >= 0.1 else "under 0.1 MB"
        return (f"{self.way}, {self.items:,} items: {peak} at peak, "
                f"{self.most_tasks:,} tasks at once, {self.most_ahead:,} items pulled ahead, "
                f"done in {self.elapsed:g} s")


async def _census(way: str, n: int, concurrency: int, latency: float, count_tasks: bool) -> tuple[int, int, float]:
    loop = asyncio.get_running_loop()
    alive = most_tasks = pulled = finished = most_ahead = 0

    async def counted(coro):
        nonlocal alive
        try:
            return await coro
        finally:
            alive -= 1  # the moment its coroutine ends (a done callback would run a little later)

    def factory(loop, coro, **options):
        nonlocal alive, most_tasks
        alive += 1
        most_tasks = max(most_tasks, alive)
        return asyncio.Task(counted(coro), loop=loop, **options)

    async def items():
        nonlocal pulled, most_ahead
        async for item in numbered(n):
            pulled += 1
            most_ahead = max(most_ahead, pulled - finished)
            yield item

    async def work(item):
        nonlocal finished
        await asyncio.sleep(latency)
        finished += 1
        return item

    began = loop.time()
    if count_tasks:
        loop.set_task_factory(factory)
    try:
        results = await _WAYS[way](work, items(), concurrency)
    finally:
        loop.set_task_factory(None)
    if results != (n if way == "bounded_map" else list(range(n))):
        raise AssertionError(f"{way} lost or reordered items")
    return most_tasks, most_ahead, loop.time() - began


def stream_census(way: str, n: int, *, concurrency: int = 10, latency: float = 0.05) -> StreamCensus:
    """Process ``numbered(n)`` with ``way`` ("a task per item" or "bounded_map"), each item
    taking ``latency`` seconds, in virtual time, and report what the run held at its worst.

    It runs twice: once under ``traced_memory`` for the memory, and once with a task factory
    that counts the tasks alive (it wraps each task's coroutine, which costs memory of its
    own, so the memory is measured without it)."""
    if way not in _WAYS:
        raise ValueError(f"way must be one of {sorted(_WAYS)}, got {way!r}")
    whole_number("n", n)
    whole_number("concurrency", concurrency)
    seconds("latency", latency, positive=True)
    with traced_memory() as used:
        _, most_ahead, elapsed = run_virtual(_census(way, n, concurrency, latency, count_tasks=False))
    most_tasks, _, _ = run_virtual(_census(way, n, concurrency, latency, count_tasks=True))
    return StreamCensus(way, n, concurrency, used.peak, most_tasks, most_ahead, round(elapsed, 9))


def stream_plot(censuses: Sequence[StreamCensus], *, title: str) -> tuple[Axes, Axes]:
    """Peak memory (left) and most tasks at once (right) against the number of items, one
    line per way, each with its theory dashed: a task per item grows as the bytes per item
    measured at the smallest run times n, and holds n tasks; bounded_map holds N tasks and
    its smallest run's memory, whatever n."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.9))
    for way, color in (("a task per item", "tab:red"), ("bounded_map", "tab:blue")):
        runs = sorted((c for c in censuses if c.way == way), key=lambda c: c.items)
        if not runs:
            continue
        ns = [c.items for c in runs]
        first = runs[0]
        left.plot(ns, [c.peak_bytes / 1e6 for c in runs], "o-", color=color, label=way)
        right.plot(ns, [c.most_tasks for c in runs], "o-", color=color, label=way)
        if way == "a task per item":
            per_item = first.peak_bytes / first.items
            left.plot(ns, [per_item * n / 1e6 for n in ns], "--", color="black",
                      label=f"{per_item:,.0f} bytes per item × n")
            right.plot(ns, ns, "--", color="black", label="n tasks")
        else:
            left.plot(ns, [first.peak_bytes / 1e6] * len(ns), ":", color="black", label="flat")
            right.plot(ns, [first.concurrency] * len(ns), ":", color="black", label=f"N = {first.concurrency} tasks")
    left.set_ylabel("peak Python memory (MB)")
    right.set_ylabel("tasks alive at once")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plain_numbers())
        ax.yaxis.set_major_formatter(plain_numbers())
        ax.set_xlabel("items in the async iterator")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return left, right
