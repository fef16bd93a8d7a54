"""The lost-update race, live: a shared counter read, awaited over, then written back.

    race_demo(tasks=100, use_lock=False, delay=0.01)

Each task reads the counter, awaits ``delay`` seconds (a database call, a log write: any
``await``), then writes back what it read plus one. Without a lock, every task that reads
before another task's write is lost. The run is in virtual time, so it takes no real
time and gives the same total every run. ``thread_race`` is the same increment on real
threads, with the worst-case switch between the read and the write forced, for contrast.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

from matplotlib.axes import Axes

from ...lab.validate import seconds, whole_number
from ...lab.clock import run_virtual
from ...lab.plots import timeline
from ...lab.trace import Trace

__all__ = ["RaceResult", "ThreadRaceResult", "first_lanes", "race_demo", "thread_race"]

AWAITING = "awaiting (value read, not yet written)"
WAITING = "waiting for the lock"
COLORS = {WAITING: "#c7c7c7", AWAITING: "#ff7f0e"}  # the same colours in every run


def first_lanes(trace: Trace, lanes: int) -> Trace:
    """A copy of ``trace`` with only its first ``lanes`` lanes (a readable timeline of a big run)."""
    whole_number("lanes", lanes)
    keep = set(trace.lanes()[:lanes])
    small = Trace(colors=trace.colors)
    for span in sorted(trace.spans, key=lambda s: s.start):
        if span.lane in keep:
            small.add(span.lane, span.name, span.start, span.end)
    small.marks.extend(m for m in trace.marks if m.lane in keep)
    return small


@dataclass(frozen=True)
class RaceResult:
    """What ``race_demo`` saw: the final ``total`` and, per task, what it read and wrote."""

    tasks: int
    use_lock: bool
    delay: float
    spacing: float
    total: int
    reads: tuple[tuple[str, float, int], ...]  # (task, time, value read)
    writes: tuple[tuple[str, float, int], ...]  # (task, time, value written)
    trace: Trace

    @property
    def lost(self) -> int:
        """Increments that were overwritten by a task holding a stale copy."""
        return self.tasks - self.total

    def __repr__(self) -> str:
        how = "with the lock" if self.use_lock else "without a lock"
        return (f"{self.tasks} increments {how}: total {self.total} "
                f"(expected {self.tasks}, {self.lost} lost)")

    def timeline(self, *, lanes: int = 8, title: str | None = None, unit: str = "s",
                 ax: Axes | None = None) -> Axes:
        """The first ``lanes`` tasks on a timeline, each read and write marked with its value.

        ``unit`` is ``"s"`` or ``"ms"`` for the time axis, as in :func:`~asyncio_patterns.timeline`."""
        small = first_lanes(self.trace, lanes)
        if title is None:
            title = (f"With the lock, each task reads the value the previous one wrote"
                     if self.use_lock else
                     f"Without a lock, tasks read before others write: {self.lost} of {self.tasks} updates lost")
        ax = timeline(small, title=title, unit=unit, ax=ax)
        scale = 1000.0 if unit == "ms" else 1.0  # timeline() has already rejected any other unit
        rows = {lane: i for i, lane in enumerate(small.lanes())}
        origin = small.origin
        markers = ((self.reads, "v", "read (value)", -0.25), (self.writes, "^", "write (value)", 0.25))
        for events, marker, label, dy in markers:
            shown = [(rows[lane], (t - origin) * scale, v) for lane, t, v in events if lane in rows]
            ax.plot([t for _, t, _ in shown], [row + dy for row, _, _ in shown], marker,
                    color="black", markersize=5, linestyle="none", label=label)
            for row, t, value in shown:
                ax.annotate(str(value), (t, row + dy), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=8)
        handles, _ = ax.get_legend_handles_labels()
        old = ax.get_legend()
        ax.legend(handles=list(old.legend_handles) + handles[-2:], loc="upper left",
                  bbox_to_anchor=(1.01, 1), frameon=False)
        return ax


async def _race(tasks: int, use_lock: bool, delay: float, spacing: float) -> RaceResult:
    trace = Trace(colors=COLORS)
    lock = asyncio.Lock()
    counter = 0
    reads: list[tuple[str, float, int]] = []
    writes: list[tuple[str, float, int]] = []
    loop = asyncio.get_running_loop()

    async def increment(i: int) -> None:
        nonlocal counter
        name = asyncio.current_task().get_name()
        await asyncio.sleep(i * spacing)  # arrival
        if use_lock:
            with trace.span(WAITING):
                await lock.acquire()
        try:
            current = counter  # read
            reads.append((name, loop.time(), current))
            with trace.span(AWAITING):
                await asyncio.sleep(delay)  # the await between the read and the write
            counter = current + 1  # write back: overwrites whatever others wrote meanwhile
            writes.append((name, loop.time(), current + 1))
        finally:
            if use_lock:
                lock.release()

    async with asyncio.TaskGroup() as group:
        for i in range(tasks):
            group.create_task(increment(i), name=f"task {i}")
    return RaceResult(tasks, use_lock, delay, spacing, counter, tuple(reads), tuple(writes), trace)


def race_demo(tasks: int = 100, use_lock: bool = False, delay: float = 0.01, spacing: float = 0.0) -> RaceResult:
    """Run ``tasks`` concurrent read-await-write increments of one counter, in virtual time.

    Task ``i`` arrives at ``i * spacing`` seconds, reads the counter, awaits ``delay``
    seconds, then writes back what it read plus one. With ``use_lock=True`` each task
    holds an ``asyncio.Lock`` from its read to its write. Deterministic: the same
    arguments give the same total every run.
    """
    whole_number("tasks", tasks)
    seconds("delay", delay)
    seconds("spacing", spacing)
    return run_virtual(_race(tasks, bool(use_lock), float(delay), float(spacing)))


@dataclass(frozen=True)
class ThreadRaceResult:
    """What ``thread_race`` saw: the final ``total`` of ``threads * increments`` increments."""

    threads: int
    increments: int
    use_lock: bool
    total: int

    @property
    def expected(self) -> int:
        return self.threads * self.increments

    @property
    def lost(self) -> int:
        """Increments overwritten by a thread holding a stale copy."""
        return self.expected - self.total

    @property
    def lost_updates(self) -> bool:
        return self.lost > 0

    def __repr__(self) -> str:
        how = "with threading.Lock" if self.use_lock else "without a lock"
        return (f"{self.threads} threads x {self.increments} increments {how}: total {self.total} "
                f"(expected {self.expected}, {self.lost} lost)")


def thread_race(threads: int = 4, increments: int = 500, use_lock: bool = False) -> ThreadRaceResult:
    """Increment one shared int from ``threads`` real threads, ``increments`` times each.

    Each increment reads the value and writes back the value plus one. Whether the
    interpreter switches threads between that read and that write is a matter of timing,
    so this demo forces the worst case: without a lock, a ``threading.Barrier`` between
    the read and the write makes every thread read before any thread writes, so each
    round of ``threads`` increments adds one. With ``use_lock=True`` the read and the
    write happen under a ``threading.Lock``; a ``time.sleep(0)`` between them offers the
    other threads a switch, and they wait at the lock. After
    each increment the threads wait for one another, so rounds do not overlap. Both
    totals are the same every run.
    """
    whole_number("threads", threads)
    whole_number("increments", increments)
    lock = threading.Lock() if use_lock else contextlib.nullcontext()
    everyone_read = threading.Barrier(threads, timeout=10)
    round_done = threading.Barrier(threads, timeout=10)
    total = 0

    def work() -> None:
        nonlocal total
        try:
            for _ in range(increments):
                with lock:
                    current = total  # read
                    if use_lock:
                        time.sleep(0)  # a chance to switch here too: the others wait at the lock
                    else:
                        everyone_read.wait()  # the switch at the worst moment, forced
                    total = current + 1  # write
                round_done.wait()
        except threading.BrokenBarrierError:
            pass  # another thread failed; the check below reports it

    pool = [threading.Thread(target=work, name=f"incrementer {i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    if any(thread.is_alive() for thread in pool) or round_done.broken or everyone_read.broken:
        everyone_read.abort()
        round_done.abort()
        raise RuntimeError(f"the threads did not all finish (total so far {total}); try fewer increments")
    return ThreadRaceResult(threads, increments, bool(use_lock), total)
