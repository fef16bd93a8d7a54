"""The blocked event loop, in virtual time: one blocking call freezes every other task.

    blocking_demo(workers=3, seconds=0.1, blocking=True)

Lesson 00's day: ``workers`` tasks each wait ``seconds`` while a heartbeat tries to beat
every 50 ms. Awaiting (``await asyncio.sleep``), the workers wait at once and the heartbeat
keeps time. Blocking (``time.sleep``), each worker holds the loop's one thread in turn, and
no other task runs until the last of them returns: the heartbeat's first gap is
``workers * seconds`` long. On the virtual clock a blocking call is :func:`hold_the_loop`,
which moves the clock on without letting any other task run, so the run is instant and
gives the same picture every time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from matplotlib.axes import Axes

from ...lab.clock import VirtualClockError, VirtualTimeLoop, run_virtual
from ...lab.plots import timeline
from ...lab.trace import Trace
from ...lab.validate import seconds as check_seconds
from ...lab.validate import whole_number
from ..theory import theory_line

__all__ = ["BEAT_EVERY", "BlockingResult", "blocking_demo", "hold_the_loop"]

BEAT_EVERY = 0.05  # the heartbeat's period, seconds
BLOCKED = "time.sleep (loop blocked)"
AWAITED = "await asyncio.sleep"
HEARTBEAT = "heartbeat: sleep 50 ms"
BEAT = "beat"
COLORS = {BLOCKED: "tab:red", AWAITED: "tab:blue", HEARTBEAT: "#dddddd", BEAT: "black"}


def hold_the_loop(seconds: float) -> None:
    """What ``time.sleep(seconds)`` does to a virtual-time loop: the clock moves on by
    ``seconds`` and, as with a real blocking call, no other task runs meanwhile."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, VirtualTimeLoop):
        raise VirtualClockError("hold_the_loop() moves a virtual clock; run the coroutine with run_virtual()")
    loop.advance(seconds)


@dataclass(frozen=True)
class BlockingResult:
    """What ``blocking_demo`` saw: the heartbeat's ``longest_gap`` (seconds) and the trace."""

    workers: int
    seconds: float
    blocking: bool
    longest_gap: float
    trace: Trace

    @property
    def predicted_gap(self) -> float:
        """The heartbeat's longest gap in theory: the workers' blocking calls one after
        another (``workers * seconds``) when blocking, or its own 50 ms, whichever is longer."""
        return max(BEAT_EVERY, self.workers * self.seconds) if self.blocking else BEAT_EVERY

    def __repr__(self) -> str:
        how = "time.sleep" if self.blocking else "await asyncio.sleep"
        return (f"{self.workers} workers, {how}({self.seconds:g}): "
                f"the heartbeat's longest gap was {self.longest_gap * 1000:.0f} ms")

    def timeline(self, *, title: str | None = None, unit: str = "s", ax: Axes | None = None) -> Axes:
        """The heartbeat and the workers on a timeline, with the predicted longest gap dashed."""
        if title is None:
            gap = f"{self.longest_gap * 1000:.0f} ms"
            title = (f"time.sleep holds the loop: the heartbeat's longest gap is {gap}, not 50 ms"
                     if self.blocking and round(self.longest_gap, 9) > BEAT_EVERY else
                     f"{'time.sleep' if self.blocking else 'await asyncio.sleep'}: "
                     f"the heartbeat keeps time, its longest gap is {gap}")
        ax = timeline(self.trace, title=title, unit=unit, ax=ax)
        return theory_line(ax, self.predicted_gap, f"theory: first beat at {self.predicted_gap * 1000:.0f} ms",
                           unit=unit)


async def _worker(trace: Trace, seconds: float, blocking: bool) -> None:
    with trace.span(BLOCKED if blocking else AWAITED):
        if blocking:
            hold_the_loop(seconds)  # time.sleep(seconds), on the virtual clock
        else:
            await asyncio.sleep(seconds)


async def _heartbeat(trace: Trace, beats: int) -> None:
    loop = asyncio.get_running_loop()
    for _ in range(beats):
        with trace.span(HEARTBEAT):
            await asyncio.sleep(BEAT_EVERY)
        trace.add("heartbeat", BEAT, loop.time() - 0.004, loop.time())  # an instant, drawn as a 4 ms tick


async def _day(workers: int, seconds: float, blocking: bool, beats: int) -> BlockingResult:
    trace = Trace(colors=COLORS)
    async with asyncio.TaskGroup() as group:
        group.create_task(_heartbeat(trace, beats), name="heartbeat")
        for i in range(workers):
            group.create_task(_worker(trace, seconds, blocking), name=f"worker {i}")
    longest = max(s.duration for s in trace.spans if s.name == HEARTBEAT)
    return BlockingResult(workers, seconds, blocking, longest, trace)


def blocking_demo(workers: int = 3, seconds: float = 0.1, blocking: bool = True, beats: int = 6) -> BlockingResult:
    """Run lesson 00's day in virtual time: ``workers`` tasks each sleep ``seconds``, blocking
    (``time.sleep``) or awaiting (``await asyncio.sleep``), beside a heartbeat of ``beats`` beats."""
    whole_number("workers", workers)
    check_seconds("seconds", seconds)
    whole_number("beats", beats)
    return run_virtual(_day(workers, seconds, blocking, beats))
