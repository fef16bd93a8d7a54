"""Event and Barrier demos for lesson 03, all in virtual time (instant, the same every run).

- ``pulse_demo``: ``set(); clear()`` used as a "new data" pulse loses signals that arrive
  while the consumer is busy; letting the consumer clear the event loses none.
- ``barrier_demo``: parties that arrive at different times leave a ``Barrier`` together,
  round after round; a party that fails before arriving strands the rest unless someone
  calls ``abort()``.
- ``polling_latency``: how late a worker that polls a flag every ``interval`` seconds
  notices it, against ``Event.wait()`` which notices at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import LogLocator, NullFormatter

from ...lab.clock import run_virtual
from ...lab.plots import plain_numbers
from ...lab.validate import nonempty_list, seconds, whole_number
from ...lab.trace import Trace

__all__ = ["BarrierResult", "PulseResult", "barrier_demo", "polling_latency", "polling_plot", "pulse_demo"]

WAITING = "waiting for the event"
PROCESSING = "processing"
PRODUCING = "producing an update"
PREPARING = "preparing"
AT_BARRIER = "waiting at the barrier"
WORKING = "working"
COLORS = {WAITING: "#c7c7c7", PROCESSING: "#2ca02c", PRODUCING: "#9467bd",
          PREPARING: "#1f77b4", AT_BARRIER: "#c7c7c7", WORKING: "#2ca02c"}


@dataclass(frozen=True)
class PulseResult:
    """How many of the producer's signals the consumer acted on, and how its last wait ended."""

    consumer_clears: bool
    signals: int
    wakeups: int
    last_update_seen: int
    trace: Trace

    def __repr__(self) -> str:
        who = "the consumer clears" if self.consumer_clears else "the producer pulses set(); clear()"
        return (f"{who}: {self.signals} updates signalled, the consumer woke {self.wakeups} times "
                f"and last saw update {self.last_update_seen} of {self.signals}")


async def _pulses(signals: int, interval: float, work: float, consumer_clears: bool, patience: float) -> PulseResult:
    trace = Trace(colors=COLORS)
    event = asyncio.Event()
    latest = 0  # the shared state the event announces: the newest update's number
    seen = wakeups = 0

    async def producer() -> None:
        nonlocal latest
        for n in range(1, signals + 1):
            with trace.span(PRODUCING):
                await asyncio.sleep(interval)
            latest = n
            event.set()
            if not consumer_clears:
                event.clear()  # a "pulse": wakes whoever waits right now, and no one else
            trace.mark("set(); clear()" if not consumer_clears else "set()", lane="producer")

    async def consumer() -> None:
        nonlocal seen, wakeups
        while True:
            try:
                with trace.span(WAITING):
                    async with asyncio.timeout(patience):
                        await event.wait()
            except TimeoutError:
                trace.mark(f"gave up after {patience:g} s")
                return
            if consumer_clears:
                event.clear()  # before reading the state, so a set() during the work is kept
            wakeups += 1
            seen = latest
            with trace.span(PROCESSING):
                await asyncio.sleep(work)

    async with asyncio.TaskGroup() as group:
        group.create_task(consumer(), name="consumer")
        group.create_task(producer(), name="producer")
    return PulseResult(consumer_clears, signals, wakeups, seen, trace)


def pulse_demo(signals: int = 4, interval: float = 0.1, work: float = 0.15,
               consumer_clears: bool = False, patience: float = 0.5) -> PulseResult:
    """A producer signals ``signals`` updates, one every ``interval`` s; a consumer works
    ``work`` s per wake-up and gives up after waiting ``patience`` s.

    With ``consumer_clears=False`` the producer pulses ``set(); clear()``: a signal sent while
    the consumer is busy wakes no one. With ``True`` the producer only sets and the consumer
    clears when it wakes, so no signal is lost (several may be handled in one wake-up).
    """
    whole_number("signals", signals)
    for name, value in (("interval", interval), ("work", work), ("patience", patience)):
        seconds(name, value)
    return run_virtual(_pulses(signals, interval, work, bool(consumer_clears), patience))


@dataclass(frozen=True)
class BarrierResult:
    """What each party ended with, and the trace of the run."""

    outcomes: dict[str, str]
    trace: Trace

    def __repr__(self) -> str:
        return "\n".join(f"{name}: {text}" for name, text in self.outcomes.items())


async def _barrier(parties: int, rounds: int, fail: bool, abort: bool) -> BarrierResult:
    asyncio.current_task().set_name("coordinator")  # it starts the parties and waits for them all
    trace = Trace(colors=COLORS)
    barrier = asyncio.Barrier(parties)
    outcomes: dict[str, str] = {}

    async def party(i: int) -> None:
        me = asyncio.current_task().get_name()
        try:
            for r in range(rounds):
                with trace.span(PREPARING):
                    await asyncio.sleep(0.1 * (1 + (i + r) % parties))  # each round, someone else is slowest
                if fail and i == parties - 1:
                    raise RuntimeError("crashed while preparing")
                with trace.span(AT_BARRIER):
                    arrived = await barrier.wait()  # 0, 1, ...: the order of arrival
                if arrived == parties - 1:
                    trace.mark("the last party arrives: all leave")
                with trace.span(WORKING):
                    await asyncio.sleep(0.05)
            outcomes[me] = f"finished {rounds} rounds"
        except asyncio.BrokenBarrierError:  # (a RuntimeError too, so it is caught first)
            outcomes[me] = "BrokenBarrierError: a party gave up, so the round was called off"
        except RuntimeError as error:
            outcomes[me] = f"{error}"
            if abort:
                await barrier.abort()  # tell the others no one else is coming

    async with asyncio.TaskGroup() as group:
        for i in range(parties):
            group.create_task(party(i), name=f"party {i}")
    return BarrierResult(dict(sorted(outcomes.items())), trace)


def barrier_demo(parties: int = 3, rounds: int = 2, *, fail: bool = False, abort: bool = True) -> BarrierResult:
    """``parties`` tasks prepare for different times, then meet at a ``Barrier``, ``rounds`` times.

    With ``fail=True`` the last party crashes before it arrives. It then calls
    ``barrier.abort()`` if ``abort`` is true, and the others get ``BrokenBarrierError``;
    without it they wait for ever (and so does the coordinator, the task that started them
    and waits in its ``TaskGroup`` for them all), and the virtual clock raises ``Deadlock``.
    """
    whole_number("parties", parties)
    whole_number("rounds", rounds)
    return run_virtual(_barrier(parties, rounds, bool(fail), bool(abort)))


async def _latency(interval: float, trials: int, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    delays: list[float] = []
    checks = 0
    for _ in range(trials):
        flag = False
        event = asyncio.Event()
        set_at = rng.uniform(0.0, 1.0)

        def go() -> None:
            nonlocal flag
            flag = True
            event.set()

        began = loop.time()
        handle = loop.call_at(began + set_at, go)
        if interval == 0:
            await event.wait()
        else:
            while not flag:
                checks += 1
                await asyncio.sleep(interval)
        delays.append(loop.time() - began - set_at)
        handle.cancel()
    return sum(delays) / len(delays), checks / trials


def polling_latency(intervals: Sequence[float], *, trials: int = 200, seed: int = 0) -> list[tuple[float, float]]:
    """For each polling ``interval`` (0 means ``await event.wait()`` instead), the mean delay
    between the flag being set (at a random moment in the first second) and the worker
    noticing, and the mean number of checks per wait. In virtual time."""
    intervals = nonempty_list("intervals", intervals, "seconds, e.g. [0.01, 0.1]")
    whole_number("trials", trials)
    for interval in intervals:
        seconds("interval", interval)

    async def all_intervals() -> list[tuple[float, float]]:
        return [await _latency(i, trials, seed) for i in intervals]

    return run_virtual(all_intervals())


def polling_plot(intervals: Sequence[float], results: Sequence[tuple[float, float]], *,
                 title: str) -> tuple[Axes, Axes]:
    """Mean delay (left) and checks per wait (right) against the polling interval, theory dashed.

    Theory, for a flag set at a uniformly random moment in the first second: a poll every
    ``p`` seconds notices it ``p / 2`` late on average, after about ``0.5 / p + 0.5`` checks.
    ``intervals`` may include 0, meaning ``await event.wait()``: no delay and no checks.
    """
    intervals = nonempty_list("intervals", intervals, "seconds, e.g. [0.01, 0.1]")
    if len(intervals) != len(results):
        raise ValueError(f"need one result per interval, got {len(results)} for {len(intervals)}")
    polled = [(p, r) for p, r in zip(intervals, results) if p > 0]
    ps = [p for p, _ in polled]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.plot([p * 1000 for p in ps], [r[0] * 1000 for _, r in polled], "o-", label="polling: measured")
    left.plot([p * 1000 for p in ps], [p / 2 * 1000 for p in ps], "k--", label="theory: p / 2")
    right.plot([p * 1000 for p in ps], [r[1] for _, r in polled], "o-", label="polling: measured")
    right.plot([p * 1000 for p in ps], [0.5 / p + 0.5 for p in ps], "k--", label="theory: 0.5 s / p + 0.5")
    for p, r in zip(intervals, results):
        if p == 0:
            left.axhline(r[0] * 1000, color="tab:green", linewidth=2.5, label="event.wait(): measured")
    left.set_ylabel("mean delay before noticing (ms)")
    right.set_ylabel("checks per wait (event.wait(): none)")
    right.set_yscale("log")
    right.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    right.yaxis.set_major_formatter(plain_numbers())
    right.yaxis.set_minor_formatter(NullFormatter())
    for ax in (left, right):
        ax.set_xlabel("polling interval p (ms)")
        ax.set_xscale("log")
        ax.set_xticks([p * 1000 for p in ps], [f"{p * 1000:g}" for p in ps])  # the intervals measured
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    top = max([r[0] * 1000 for _, r in polled] + [p / 2 * 1000 for p in ps], default=1.0)
    left.set_ylim(-0.04 * top, 1.08 * top)  # a little below 0, so a line at 0 clears the axis
    left.legend(frameon=False, fontsize=8, loc="upper left")
    right.legend(frameon=False, fontsize=8, loc="upper right")  # the line falls: upper right is free
    fig.suptitle(title)
    fig.tight_layout()
    return left, right
