"""When does each kind of breaker trip? The same calls through both, in virtual time.

A *pattern* says which calls fail: ``pattern(i)`` is True if call ``i`` fails, with a
``ConnectionError`` (so a breaker made with ``failures=ConnectionError`` counts it). :func:`trip_run`
makes ``calls`` calls, one every ``spacing`` seconds, through a breaker, and records
each call's outcome and when the breaker changed state. :func:`first_trip` predicts from
the pattern alone at which call a breaker of each kind opens, and :func:`trips_plot`
draws the runs with those predictions dashed. :func:`trip_probability` gives the exact
chance that random failures at a rate ``p`` make ``k`` in a row within ``n`` calls, and
:func:`trip_share` measures it over seeded runs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ...lab.clock import run_virtual
from ...patterns.breaker import CircuitBreaker, CircuitOpen, FailureRateBreaker
from .outage import OUTCOME_COLORS, STATE_COLORS

__all__ = ["PATTERNS", "TripRun", "burst", "first_trip", "random_failures", "steady", "trip_probability",
           "trip_run", "trip_share", "trips_plot"]


def steady(i: int) -> bool:
    """3 calls in every 10 fail, evenly spread: never two in a row."""
    return (3 * i) % 10 < 3


def burst(i: int) -> bool:
    """5 failures in a row (calls 50 to 54) among successes."""
    return 50 <= i < 55


def random_failures(p: float, seed: int) -> Callable[[int], bool]:
    """Each call fails with probability ``p``, independently (seeded)."""
    rng = random.Random(seed)
    draws: dict[int, bool] = {}
    return lambda i: draws.setdefault(i, rng.random() < p)


PATTERNS = {"steady 30%: 3 in every 10 fail, never two in a row": steady,
            "a burst: 5 in a row, after 50 successes": burst}


class Down(ConnectionError):
    """The service's failure: a ``ConnectionError``, so ``failures=ConnectionError`` counts it."""


@dataclass
class TripRun:
    breaker: CircuitBreaker
    calls: list[tuple[float, str]] = field(default_factory=list)  # (time, "ok" | "503" | "rejected")
    states: list[tuple[float, str]] = field(default_factory=list)  # (time, new state)

    @property
    def tripped_at(self) -> int | None:
        """The number of the call (1, 2, ...) after which the breaker first opened, or None."""
        if not self.states:
            return None
        first = self.states[0][0]
        return sum(t <= first for t, _ in self.calls)


async def _calls(run: TripRun, pattern: Callable[[int], bool], calls: int, spacing: float) -> TripRun:
    loop = asyncio.get_running_loop()
    run.breaker.on_change = lambda old, new: run.states.append((loop.time(), new))

    async def service(i: int) -> None:
        await asyncio.sleep(spacing / 2)
        if pattern(i):
            raise Down(f"call {i} failed")

    for i in range(calls):
        start = loop.time()
        try:
            await run.breaker.call(service, i)
            outcome = "ok"
        except Down:
            outcome = "503"
        except CircuitOpen:
            outcome = "rejected"
        run.calls.append((start, outcome))
        await asyncio.sleep(start + spacing - loop.time())
    return run


def trip_run(breaker: CircuitBreaker, pattern: Callable[[int], bool], *, calls: int = 100,
             spacing: float = 0.01) -> TripRun:
    """``calls`` calls through ``breaker``, one every ``spacing`` s, failing where ``pattern`` says."""
    return run_virtual(_calls(TripRun(breaker), pattern, calls, spacing))


async def _tripped(make: Callable[[], CircuitBreaker], p: float, seeds: range, calls: int) -> int:
    async def service(fails: bool) -> None:
        if fails:
            raise Down("failed")

    tripped = 0
    for seed in seeds:
        breaker, fails = make(), random_failures(p, seed)
        for i in range(calls):
            try:
                await breaker.call(service, fails(i))
            except Down:
                pass
            if breaker.state != "closed":
                tripped += 1
                break
    return tripped


def trip_share(make: Callable[[], CircuitBreaker], p: float, *, runs: int = 1000, calls: int = 100) -> float:
    """The share of ``runs`` seeded runs (seeds 0, 1, ...) of ``calls`` calls, each failing
    with probability ``p``, in which a breaker made by ``make()`` opened. Back to back, in
    one virtual-time run: only the order of outcomes matters here, not their timing."""
    return run_virtual(_tripped(make, p, range(runs), calls)) / runs


def first_trip(pattern: Callable[[int], bool], calls: int, *, in_a_row: int | None = None,
               rate: float | None = None, window: int = 0, min_calls: int = 0) -> int | None:
    """From the pattern alone: the call (1, 2, ...) at which a breaker opens, if it is never
    rejected before; ``in_a_row`` for a count-based one, ``rate``/``window``/``min_calls``
    for a rate-based one."""
    outcomes = [pattern(i) for i in range(calls)]
    for n in range(1, calls + 1):
        if in_a_row is not None and n >= in_a_row and all(outcomes[n - in_a_row:n]):
            return n
        if rate is not None and n >= min_calls:
            last = outcomes[max(0, n - window):n]
            if sum(last) / len(last) >= rate:
                return n
    return None


def trip_probability(p: float, in_a_row: int, calls: int) -> float:
    """The exact probability that ``calls`` independent calls, each failing with probability
    ``p``, contain ``in_a_row`` failures in a row (a Markov chain on the current run length)."""
    runs = [1.0] + [0.0] * (in_a_row - 1)  # runs[k]: probability the current run of failures is k, not yet tripped
    tripped = 0.0
    for _ in range(calls):
        tripped += runs[-1] * p
        runs = [sum(runs) * (1 - p)] + [r * p for r in runs[:-1]]
    return tripped


def trips_plot(runs: dict[str, dict[str, TripRun]], predicted: dict[str, dict[str, int | None]], *,
               title: str) -> list[Axes]:
    """One panel per pattern; in each, one lane per breaker: its state as a band, each
    call as a dot coloured by outcome, the predicted trip as a dashed line."""
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 0.9 + 1.3 * len(runs)), sharex=True, squeeze=False)
    for ax, (label, by_breaker) in zip(axes[:, 0], runs.items()):
        for row, (name, run) in enumerate(by_breaker.items()):
            end = run.calls[-1][0] + (run.calls[-1][0] - run.calls[0][0]) / max(1, len(run.calls) - 1)
            changes = [(0.0, "closed")] + run.states + [(end, "")]
            for (t0, state), (t1, _) in zip(changes, changes[1:]):
                ax.broken_barh([(t0, t1 - t0)], (row - 0.4, 0.8), facecolors=STATE_COLORS[state])
            for outcome, color in OUTCOME_COLORS.items():
                times = [t for t, o in run.calls if o == outcome]
                if times:
                    ax.scatter(times, [row] * len(times), s=10, color=color, marker="|" if outcome == "rejected" else "o")
            n = predicted[label][name]
            if n is not None:
                spacing = run.calls[1][0] - run.calls[0][0]
                ax.plot([n * spacing - spacing / 2] * 2, [row - 0.45, row + 0.45], "k--", linewidth=1.2)
        ax.set_yticks(range(len(by_breaker)), list(by_breaker))
        ax.set_ylim(len(by_breaker) - 0.5, -0.5)
        ax.set_title(label, loc="left", fontsize=10)
    handles = [Patch(color=OUTCOME_COLORS["ok"], label="call ok"), Patch(color=OUTCOME_COLORS["503"], label="call failed"),
               Patch(color=OUTCOME_COLORS["rejected"], label="call rejected")]
    handles += [Patch(color=c, label=f"breaker {s}") for s, c in STATE_COLORS.items()]
    handles.append(plt.Line2D([], [], color="black", linestyle="--", label="predicted trip"))
    axes[0, 0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes[-1, 0].set_xlabel("virtual time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    return list(axes[:, 0])
