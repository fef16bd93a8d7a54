"""The thundering herd, in virtual time: many clients update one row with optimistic concurrency.

The model is the one behind the AWS Architecture Blog's "Exponential Backoff And Jitter".
Each client wants to write the row once. A write is a read (which learns the row's version)
followed by a conditional write ("set it, if the version is still the one I read"); each
message crosses a network that takes ``abs(normalvariate(0.01, 0.002))`` seconds. If another
client's write landed in between, the version has moved on: the write fails with
:class:`Conflict`, and the client retries, through :func:`~asyncio_patterns.retry`, with
one of the backoff strategies in :data:`STRATEGIES`.

Every failed write is a collision: two clients that read the same version. Without backoff,
all the losers of one round come straight back and collide again, so round ``k`` carries
``N - k + 1`` writes and all ``N`` clients need about ``N (N + 1) / 2`` writes in all.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.arrivals import rate_over_time
from ...lab.clock import run_virtual
from ...lab.validate import nonempty_list, whole_number
from ...patterns.retry import retry

__all__ = ["STRATEGIES", "Conflict", "HerdRun", "HerdSummary", "herd", "herd_calls_plot", "herd_load_plot",
           "herd_savings", "herd_summary", "herd_table", "no_backoff_calls"]

# name -> the backoff settings given to retry(); base 5 ms and cap 2 s, as in the blog's simulation
STRATEGIES: dict[str, dict] = {
    "no backoff": dict(base=0.0, cap=0.0, jitter="none"),
    "exponential": dict(base=0.005, cap=2.0, jitter="none"),
    "full jitter": dict(base=0.005, cap=2.0, jitter="full"),
    "equal jitter": dict(base=0.005, cap=2.0, jitter="equal"),
    "decorrelated jitter": dict(base=0.005, cap=2.0, jitter="decorrelated"),
}
NETWORK = (0.01, 0.002)  # mean and standard deviation of one network crossing, in seconds


class Conflict(Exception):
    """The row's version changed between this client's read and its write."""


@dataclass(frozen=True)
class HerdRun:
    """One run: when each write reached the row (``writes``) and when the last client was done."""

    strategy: str
    clients: int
    seed: int
    writes: tuple[float, ...]
    finished: float

    @property
    def calls(self) -> int:
        return len(self.writes)

    @property
    def collisions(self) -> int:
        """Failed writes: each client's last write succeeds, every other one collided."""
        return self.calls - self.clients

    def __repr__(self) -> str:
        return (f"{self.strategy}, {self.clients} clients: {self.calls} writes ({self.collisions} collided), "
                f"all done at {self.finished:.3f} s")


async def _herd(strategy: str, clients: int, seed: int) -> HerdRun:
    loop = asyncio.get_running_loop()
    network = random.Random(seed)
    version = 0
    writes: list[float] = []

    async def cross() -> None:
        await asyncio.sleep(abs(network.normalvariate(*NETWORK)))

    async def update_row() -> None:
        nonlocal version
        await cross()  # the read reaches the row
        seen = version
        await cross()  # its answer comes back
        await cross()  # the conditional write reaches the row
        writes.append(loop.time())
        ok = version == seen
        if ok:
            version += 1
        await cross()  # the write's answer comes back
        if not ok:
            raise Conflict(f"read version {seen}, the row is at {version}")

    async def client(backoff: random.Random) -> None:
        write = retry(on=Conflict, attempts=10_000, rng=backoff, **STRATEGIES[strategy])(update_row)
        await write()

    async with asyncio.TaskGroup() as group:
        for i in range(clients):
            group.create_task(client(random.Random(network.getrandbits(64))), name=f"client {i}")
    return HerdRun(strategy, clients, seed, tuple(writes), loop.time())


def herd(strategy: str, *, clients: int = 50, seed: int = 0) -> HerdRun:
    """Run ``clients`` clients, all starting at once, until each has written the row once."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}, got {strategy!r}")
    whole_number("clients", clients)
    return run_virtual(_herd(strategy, clients, seed))


def no_backoff_calls(clients: float) -> float:
    """Writes needed if exactly one client succeeds per round: N + (N - 1) + ... + 1."""
    return clients * (clients + 1) / 2


@dataclass(frozen=True)
class HerdSummary:
    """Many seeded runs of one strategy at one number of clients: means and spreads."""

    strategy: str
    clients: int
    runs: tuple[HerdRun, ...]

    @property
    def calls(self) -> float:
        return statistics.fmean(r.calls for r in self.runs)

    @property
    def calls_sd(self) -> float:
        return _sd([r.calls for r in self.runs])

    @property
    def finished(self) -> float:
        return statistics.fmean(r.finished for r in self.runs)

    @property
    def finished_sd(self) -> float:
        return _sd([r.finished for r in self.runs])


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def herd_summary(strategies: Sequence[str], clients: Sequence[int], *, seeds: int = 20) -> dict[tuple[str, int], HerdSummary]:
    """``seeds`` runs (seeds 0, 1, ...) of every strategy at every number of clients."""
    strategies = nonempty_list("strategies", strategies, "names from STRATEGIES, e.g. ['full jitter']")
    clients = nonempty_list("clients", clients, "whole numbers, e.g. [10, 25, 50]")
    whole_number("seeds", seeds)
    return {(s, n): HerdSummary(s, n, tuple(herd(s, clients=n, seed=k) for k in range(seeds)))
            for s in strategies for n in clients}


def herd_table(summaries: dict[tuple[str, int], HerdSummary], clients: int) -> str:
    """A text table, one row per strategy at ``clients`` clients: mean ± standard deviation."""
    rows = [f"{'strategy':<20} {'writes':>14} {'collisions':>11} {'time to finish (s)':>19}"]
    for (strategy, n), s in summaries.items():
        if n == clients:
            rows.append(f"{strategy:<20} {s.calls:7.0f} ± {s.calls_sd:<4.0f} {s.calls - n:>11.0f} "
                        f"{s.finished:10.3f} ± {s.finished_sd:.3f}")
    rows.append(f"({len(next(iter(summaries.values())).runs)} seeded runs each, {clients} clients)")
    return "\n".join(rows)


def herd_savings(summaries: dict[tuple[str, int], HerdSummary], *, baseline: str = "no backoff") -> str:
    """A text table: the share of ``baseline``'s writes each other strategy saved, at each number
    of clients (from the means), then which strategy needed the fewest writes at each."""
    strategies = list(dict.fromkeys(s for s, _ in summaries))
    if baseline not in strategies:
        raise ValueError(f"baseline must be one of the summarised strategies {strategies}, got {baseline!r}")
    ns = sorted({n for _, n in summaries})
    width = max(len(s) for s in [*strategies, "writes saved against " + baseline]) + 2
    rows = [f"{'writes saved against ' + baseline:<{width}}" + "".join(f"{f'{n} clients':>12}" for n in ns)]
    for strategy in strategies:
        if strategy != baseline:
            saved = [round(1 - summaries[strategy, n].calls / summaries[baseline, n].calls, 2) or 0.0 for n in ns]
            rows.append(f"{strategy:<{width}}" + "".join(f"{share:>12.0%}" for share in saved))
    fewest = [min(strategies, key=lambda s: summaries[s, n].calls) for n in ns]
    rows.append("fewest writes: " + "; ".join(f"{n} clients, {s} ({summaries[s, n].calls:.0f})"
                                                for n, s in zip(ns, fewest)))
    return "\n".join(rows)


def herd_load_plot(runs: Sequence[HerdRun], *, title: str, width: float = 0.05, axes: Sequence[Axes] | None = None) -> list[Axes]:
    """Writes per second reaching the row over time, one panel per run, on one time axis."""
    runs = nonempty_list("runs", runs, "HerdRun results of herd(...)")
    if axes is None:
        fig, axes = plt.subplots(len(runs), 1, figsize=(9, 1.25 * len(runs) + 0.8), sharex=True, sharey=True)
        fig.suptitle(title)
    end = max(r.finished for r in runs)
    for ax, run in zip(axes, runs):
        edges, rates = rate_over_time(run.writes, width=width, start=0.0, end=end)
        ax.fill_between(edges + [edges[-1] + width], rates + rates[-1:], step="post", alpha=0.6)
        ax.axvline(run.finished, color="black", linestyle=":", linewidth=1)
        ax.text(0.99, 0.85, f"{run.strategy}: {run.calls} writes, done at {run.finished:.2f} s",
                transform=ax.transAxes, ha="right", va="top", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    axes[len(axes) // 2].set_ylabel(f"writes per second ({width * 1000:g} ms windows)")
    axes[0].set_xlim(0, end)
    return list(axes)


def herd_calls_plot(summaries: dict[tuple[str, int], HerdSummary], *, title: str) -> tuple[Axes, Axes]:
    """Mean writes (left) and time to finish (right, log scale) against clients, ± one standard deviation;
    N (N + 1) / 2 and N dashed on the left: no backoff's round-by-round count, and the floor."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    strategies = list(dict.fromkeys(s for s, _ in summaries))
    ns = sorted({n for _, n in summaries})
    for strategy in strategies:
        rows = [summaries[strategy, n] for n in ns]
        left.errorbar(ns, [r.calls for r in rows], yerr=[r.calls_sd for r in rows], marker="o", capsize=3, label=strategy)
        right.errorbar(ns, [r.finished for r in rows], yerr=[r.finished_sd for r in rows], marker="o", capsize=3, label=strategy)
    dense = range(ns[0], ns[-1] + 1)
    left.plot(dense, [no_backoff_calls(n) for n in dense], "k--", label="N(N+1)/2: one winner per round")
    left.plot(dense, dense, "k:", label="N: every first write succeeds")
    left.set_ylabel("writes to the row (mean ± sd)")
    left.set_ylim(bottom=0)
    right.set_ylabel("time until every client is done (s, log scale)")
    right.set_yscale("log")  # exponential without jitter takes ten times longer than the rest
    for ax in (left, right):
        ax.set_xlabel("clients (N)")
        ax.grid(alpha=0.3, which="both")
    left.legend(frameon=False, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return left, right
