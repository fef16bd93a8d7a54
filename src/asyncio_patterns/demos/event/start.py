"""The start signal, in virtual time: workers wait for ``start.set()``, or poll for it.

    start_demo(workers=5, setup=0.3, poll=0.0)

Lesson 03's launch: worker ``i`` prepares for ``0.05 * (i + 1)`` seconds, waits at the start
line, then works 0.2 s; the coordinator sets the event after ``setup`` seconds. With
``poll=0`` each worker awaits ``start.wait()`` and starts the instant the event is set. With
``poll > 0`` it checks ``start.is_set()`` every ``poll`` seconds instead, and starts at its
first check after the set: up to ``poll`` late, after checks that found the flag down.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.plots import timeline
from ...lab.trace import Trace
from ...lab.validate import seconds, whole_number
from ..theory import theory_line

__all__ = ["StartResult", "start_demo"]

SETUP = "set-up"
PREPARING = "preparing"
WAITING = "waiting for start"
POLLING = "polling start.is_set()"
WORKING = "working"
COLORS = {SETUP: "tab:purple", PREPARING: "tab:blue", WAITING: "#c7c7c7", POLLING: "tab:orange", WORKING: "tab:green"}


@dataclass(frozen=True)
class StartResult:
    """What ``start_demo`` saw: when ``start.set()`` was called, and for each worker (in
    order) when it arrived at the start line and when it started working; ``checks`` counts
    the times a poller found the flag still down."""

    workers: int
    setup: float
    poll: float
    set_at: float
    arrived: tuple[float, ...]
    started: tuple[float, ...]
    checks: int
    trace: Trace

    @property
    def late(self) -> tuple[float, ...]:
        """For each worker that arrived before the set: how long after it the worker started."""
        return tuple(s - self.set_at for a, s in zip(self.arrived, self.started) if not self._after_set(a))

    @property
    def passed_through(self) -> int:
        """Workers that arrived after the set and, the flag being up, did not wait at all."""
        return sum(self._after_set(a) for a in self.arrived)

    def _after_set(self, t: float) -> bool:
        # 0.05 * 6 is 0.30000000000000004: a worker due at the moment of the set arrived with it
        return round(t, 9) > round(self.set_at, 9)

    def __repr__(self) -> str:
        how = f"polling every {self.poll * 1000:g} ms" if self.poll else "start.wait()"
        worst = max(self.late, default=0.0)
        return (f"{self.workers} workers, {how}: started up to {worst * 1000:.0f} ms after start.set(), "
                f"{self.checks} checks found the flag down")

    def timeline(self, *, title: str | None = None, unit: str = "s", ax: Axes | None = None) -> Axes:
        """The coordinator and the workers on a timeline; with polling, the latest a waiting
        poller can start (``set() + poll``) dashed."""
        n = self.passed_through
        through = f"; {n} arrive{'s' if n == 1 else ''} after set() and pass{'es' if n == 1 else ''} straight through"
        through = through if n else ""
        if title is None and not self.poll:
            title = f"start.wait(): every waiting worker starts the instant start.set() is called{through}"
        elif title is None:
            worst = max(self.late, default=0.0) * 1000
            title = f"Polling every {self.poll * 1000:g} ms: up to {worst:.0f} ms late, {self.checks} checks in vain{through}"
        ax = timeline(self.trace, title=title, unit=unit, ax=ax)
        if self.poll:  # dotted: the dashed line is start.set()
            theory_line(ax, self.set_at + self.poll, "theory: set() + poll, the latest", unit=unit, linestyle=":")
        return ax


async def _launch(workers: int, setup: float, poll: float) -> StartResult:
    loop, trace, start = asyncio.get_running_loop(), Trace(colors=COLORS), asyncio.Event()
    arrived, started = [0.0] * workers, [0.0] * workers
    checks = 0

    async def worker(i: int) -> None:
        nonlocal checks
        with trace.span(PREPARING):
            await asyncio.sleep(0.05 * (i + 1))  # its own warm-up
        arrived[i] = loop.time()
        with trace.span(POLLING if poll else WAITING):
            if not poll:
                await start.wait()
            else:
                while not start.is_set():
                    checks += 1  # the flag is still down: look again later
                    await asyncio.sleep(poll)
        started[i] = loop.time()
        with trace.span(WORKING):
            await asyncio.sleep(0.2)

    async with asyncio.TaskGroup() as group:
        for i in range(workers):
            group.create_task(worker(i), name=f"worker {i}")
        with trace.span(SETUP, lane="coordinator"):
            await asyncio.sleep(setup)
        set_at = loop.time()
        trace.mark("start.set()", lane="coordinator")
        start.set()
    return StartResult(workers, setup, poll, set_at, tuple(arrived), tuple(started), checks, trace)


def start_demo(workers: int = 5, setup: float = 0.3, poll: float = 0.0) -> StartResult:
    """Run lesson 03's launch in virtual time: ``workers`` workers, ``setup`` seconds of set-up,
    and ``start.wait()`` (``poll=0``) or a check of ``start.is_set()`` every ``poll`` seconds."""
    whole_number("workers", workers)
    seconds("setup", setup)
    seconds("poll", poll)
    return run_virtual(_launch(workers, setup, poll))
