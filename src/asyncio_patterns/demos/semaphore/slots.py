"""A concurrency limit, in virtual time: ``tasks`` requests through a ``Semaphore(limit)``.

    slots_demo(tasks=12, limit=4, latency=0.05)

Lesson 02's traced run, with the lab server replaced by a model of it: each request takes
``latency`` seconds. Every task waits for a slot (``acquire()``), makes its request and gives
the slot back (``release()`` in a ``finally``), so at most ``limit`` requests are in flight
and they go in waves: ``ceil(tasks / limit)`` of them, each ``latency`` long.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.plots import timeline
from ...lab.trace import Trace
from ...lab.validate import seconds, whole_number
from ..theory import theory_line

__all__ = ["SlotsResult", "slots_demo"]

WAITING = "waiting for a slot"
IN_FLIGHT = "request in flight"
COLORS = {WAITING: "lightgray", IN_FLIGHT: "tab:blue"}


@dataclass(frozen=True)
class SlotsResult:
    """What ``slots_demo`` saw: the most requests ``in_flight`` at once and when the last
    answer came (``elapsed``, seconds)."""

    tasks: int
    limit: int
    latency: float
    most_in_flight: int
    elapsed: float
    trace: Trace

    @property
    def waves(self) -> int:
        """Theory: the requests go ``limit`` at a time, so in ``ceil(tasks / limit)`` waves."""
        return math.ceil(self.tasks / self.limit)

    @property
    def predicted(self) -> float:
        """Theory: the run takes ``waves`` latencies."""
        return self.waves * self.latency

    def __repr__(self) -> str:
        return (f"{self.tasks} requests through Semaphore({self.limit}): at most {self.most_in_flight} in flight, "
                f"done in {self.elapsed * 1000:.0f} ms")

    def timeline(self, *, title: str | None = None, unit: str = "s", ax: Axes | None = None) -> Axes:
        """One lane per request, the wait for a slot in grey, with the predicted end dashed."""
        if title is None:
            waves = f"{self.waves} wave{'' if self.waves == 1 else 's'}"
            requests = f"{self.tasks} request{'' if self.tasks == 1 else 's'}"
            title = (f"At most {self.most_in_flight} of {requests} in flight: "
                     f"{waves} of {self.latency * 1000:.0f} ms, done at {self.elapsed * 1000:.0f} ms")
        ax = timeline(self.trace, title=title, unit=unit, ax=ax)
        return theory_line(ax, self.predicted, f"theory: ⌈{self.tasks} / {self.limit}⌉ × "
                           f"{self.latency * 1000:.0f} ms = {self.predicted * 1000:.0f} ms", unit=unit)


async def _run(tasks: int, limit: int, latency: float) -> SlotsResult:
    loop, trace, semaphore = asyncio.get_running_loop(), Trace(colors=COLORS), asyncio.Semaphore(limit)
    in_flight = most = 0

    async def request(lane: str) -> None:
        nonlocal in_flight, most
        with trace.span(WAITING, lane=lane):
            await semaphore.acquire()
        try:
            with trace.span(IN_FLIGHT, lane=lane):
                in_flight += 1
                most = max(most, in_flight)
                await asyncio.sleep(latency)  # the server's answer
                in_flight -= 1
        finally:
            semaphore.release()

    async with asyncio.TaskGroup() as group:
        for i in range(tasks):
            group.create_task(request(f"url {i}"))
    return SlotsResult(tasks, limit, latency, most, loop.time(), trace)


def slots_demo(tasks: int = 12, limit: int = 4, latency: float = 0.05) -> SlotsResult:
    """Run ``tasks`` requests of ``latency`` seconds each through ``Semaphore(limit)``, in virtual time."""
    whole_number("tasks", tasks)
    whole_number("limit", limit)
    seconds("latency", latency, positive=True)
    return run_virtual(_run(tasks, limit, latency))
