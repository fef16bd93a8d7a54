"""Three ways to run a batch with at most N calls at once, on the same long-tailed latencies.

- **chunked gather** (the common tutorial's): split the items into chunks of N and
  ``gather`` each chunk; the next chunk starts when the slowest item of this one is done.
- **semaphore**: a task per item, each waiting for one of N slots: a sliding window.
- **worker pool**: N workers taking items from one queue.

Each item is its own latency in seconds (the call sleeps that long), so a run in virtual
time takes exactly what the schedule says. ``strategy_trace`` records each item's wait and
work for a timeline; ``spread_sweep`` measures the total time against the spread of the
latencies, for each strategy and for ``bounded_map``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.trace import Trace
from ...lab.validate import nonempty_list, number, seconds, whole_number
from ...patterns.batch import bounded_map

__all__ = ["COLORS", "STRATEGIES", "SpreadSweep", "chunked_gather", "chunked_theory", "draw_latencies",
           "harmonic", "semaphore_window", "spread_plot", "spread_sweep", "strategy_trace", "worker_pool"]

COLORS = {"waiting": "#c7c7c7", "working": "tab:blue"}


async def chunked_gather(func: Callable, items: Sequence, concurrency: int) -> list:
    """The tutorial's shape: ``gather`` N at a time; each chunk waits for its slowest item."""
    results = []
    for start in range(0, len(items), concurrency):
        results += await asyncio.gather(*(func(item) for item in items[start:start + concurrency]))
    return results


async def semaphore_window(func: Callable, items: Sequence, concurrency: int) -> list:
    """A task per item in a TaskGroup, each holding one of N semaphore slots while it works."""
    limit = asyncio.Semaphore(concurrency)

    async def one(item):
        async with limit:
            return await func(item)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    return [task.result() for task in tasks]


async def worker_pool(func: Callable, items: Sequence, concurrency: int) -> list:
    """N workers, each taking the next (index, item) from one queue until it is empty."""
    queue: asyncio.Queue = asyncio.Queue()
    for pair in enumerate(items):
        queue.put_nowait(pair)
    results = [None] * len(items)

    async def worker():
        while not queue.empty():
            index, item = queue.get_nowait()
            results[index] = await func(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return results


async def _bounded(func: Callable, items: Sequence, concurrency: int, *, ordered: bool) -> list:
    return [done.result() async for done in bounded_map(func, items, concurrency=concurrency, ordered=ordered)]


async def _completion_order(func, items, concurrency):
    return await _bounded(func, items, concurrency, ordered=False)


async def _input_order(func, items, concurrency):
    return await _bounded(func, items, concurrency, ordered=True)


STRATEGIES: dict[str, Callable[[Callable, Sequence, int], Awaitable[list]]] = {
    "chunked gather": chunked_gather,
    "semaphore": semaphore_window,
    "worker pool": worker_pool,
    "bounded_map, completion order": _completion_order,
    "bounded_map, input order": _input_order,
}


def _strategy(name: str):
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name]


def draw_latencies(n: int, *, mean: float = 0.1, spread: float = 1.0, seed: int = 0) -> list[float]:
    """``n`` latencies with the given mean: a fixed part ``mean * (1 - spread)`` plus an
    exponential part of mean ``mean * spread``. ``spread`` (0 to 1) is then the coefficient of
    variation (standard deviation / mean): 0 is every item alike, 1 is purely exponential,
    a long tail."""
    whole_number("n", n)
    seconds("mean", mean, positive=True)
    number("spread", spread, high=1.0)
    rng = random.Random(seed)
    fixed, tail = mean * (1 - spread), mean * spread
    return [fixed + (rng.expovariate(1 / tail) if tail else 0.0) for _ in range(n)]


async def _sleep_for(latency: float) -> float:
    await asyncio.sleep(latency)
    return latency


async def _total(name: str, latencies: Sequence[float], concurrency: int) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    results = await _strategy(name)(_sleep_for, latencies, concurrency)
    if sorted(results) != sorted(latencies):  # completion order is another order, but the same results
        raise AssertionError(f"{name} lost results")
    return loop.time() - began


async def _timed(name: str, latencies: Sequence[float], concurrency: int) -> tuple[float, dict[int, tuple]]:
    loop = asyncio.get_running_loop()
    began, runs = loop.time(), {}

    async def call(pair: tuple[int, float]) -> tuple[int, float]:
        index, latency = pair
        start = loop.time()
        await asyncio.sleep(latency)
        runs[index] = (start, loop.time())
        return pair

    await _strategy(name)(call, list(enumerate(latencies)), concurrency)
    return began, runs


def strategy_trace(name: str, latencies: Sequence[float], concurrency: int) -> Trace:
    """Run ``latencies`` through strategy ``name`` in virtual time; one lane per item, grey
    while it waits for its turn, blue while it works."""
    whole_number("concurrency", concurrency)
    latencies = nonempty_list("latencies", latencies, "seconds, e.g. [0.05, 0.2]")
    began, runs = run_virtual(_timed(name, latencies, concurrency))
    trace = Trace(colors=COLORS)
    for index in range(len(latencies)):  # lanes in item order
        start, end = runs[index]
        if start > began:
            trace.add(f"item {index}", "waiting", began, start)
        trace.add(f"item {index}", "working", start, end)
    return trace


def harmonic(n: int) -> float:
    """H_n = 1 + 1/2 + ... + 1/n: the expected maximum of n exponential draws of mean 1."""
    return sum(1 / k for k in range(1, n + 1))


def chunked_theory(n: int, concurrency: int, *, mean: float, spread: float) -> float:
    """The expected total time of chunked gather: the sum over chunks of the expected
    slowest item, ``mean * (1 - spread) + mean * spread * H_size`` for a chunk of ``size``."""
    sizes = [min(concurrency, n - start) for start in range(0, n, concurrency)]
    return sum(mean * (1 - spread) + mean * spread * harmonic(size) for size in sizes)


@dataclass(frozen=True)
class SpreadSweep:
    """Mean total times over the seeds, per strategy, at each spread."""

    spreads: list[float]
    items: int
    concurrency: int
    mean: float
    seeds: int
    totals: dict[str, list[float]]  # strategy -> mean total time (s) at each spread
    ideal: list[float]  # mean of total work / concurrency
    bound: list[float]  # mean of total work / concurrency + (1 - 1/concurrency) * longest item
    within_bound: dict[str, bool]  # strategy -> every run ended within its own seed's bound


async def _sweep(spreads, items, concurrency, mean, seeds):
    totals = {name: [] for name in STRATEGIES}
    ideal, bound = [], []
    within = dict.fromkeys(STRATEGIES, True)
    for spread in spreads:
        runs = {name: [] for name in STRATEGIES}
        ideals, bounds = [], []
        for seed in range(seeds):
            latencies = draw_latencies(items, mean=mean, spread=spread, seed=seed)
            work = sum(latencies) / concurrency
            greedy = work + (1 - 1 / concurrency) * max(latencies)
            ideals.append(work)
            bounds.append(greedy)
            for name in STRATEGIES:
                total = await _total(name, latencies, concurrency)
                runs[name].append(total)
                within[name] &= total <= greedy + 1e-9
        for name in STRATEGIES:
            totals[name].append(statistics.fmean(runs[name]))
        ideal.append(statistics.fmean(ideals))
        bound.append(statistics.fmean(bounds))
    return totals, ideal, bound, within


def spread_sweep(spreads: Sequence[float], *, items: int = 200, concurrency: int = 10, mean: float = 0.1,
                 seeds: int = 10) -> SpreadSweep:
    """Run every strategy on ``seeds`` seeded draws of ``items`` latencies at each spread,
    in virtual time, and keep the mean total time."""
    spreads = nonempty_list("spreads", spreads, "numbers from 0 to 1, e.g. [0, 0.5, 1]")
    for spread in spreads:
        number("spread", spread, high=1.0)
    whole_number("items", items)
    whole_number("concurrency", concurrency)
    whole_number("seeds", seeds)
    totals, ideal, bound, within = run_virtual(_sweep(spreads, items, concurrency, mean, seeds))
    return SpreadSweep(spreads, items, concurrency, mean, seeds, totals, ideal, bound, within)


_STYLE = {
    "chunked gather": dict(marker="o", color="tab:red"),
    "semaphore": dict(marker="s", color="tab:blue", markersize=9, markerfacecolor="none"),
    "worker pool": dict(marker="^", color="tab:green", markerfacecolor="none"),
    "bounded_map, completion order": dict(marker="x", color="black"),
    "bounded_map, input order": dict(marker="D", color="tab:purple"),
}


def spread_plot(sweep: SpreadSweep, *, title: str, ax: Axes | None = None) -> Axes:
    """Total time against the spread for each strategy, with the chunked theory
    (sum of expected chunk maxima, dashed red) and the ideal (total work / N, dashed black)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.6))
    xs = sweep.spreads
    for name, totals in sweep.totals.items():
        ax.plot(xs, totals, linestyle="-", label=name, **_STYLE[name])
    theory = [chunked_theory(sweep.items, sweep.concurrency, mean=sweep.mean, spread=s) for s in xs]
    ax.plot(xs, theory, "--", color="tab:red", label=f"chunked theory: chunks × mean × (1 − s + s·H_{sweep.concurrency})")
    ax.plot(xs, sweep.ideal, "k--", label="ideal: total work / concurrency")
    ax.plot(xs, sweep.bound, "k:", label="ideal + (1 − 1/N) × longest item")
    ax.set_xlabel("spread s of the latencies (standard deviation / mean)")
    ax.set_ylabel("total time (s)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper left", fontsize=9)
    ax.set_title(title)
    return ax

