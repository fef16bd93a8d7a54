"""Lock contention: how a critical section caps throughput, and how finer locks lift the cap.

Each job works ``outside`` seconds without a lock, then ``critical`` seconds holding one
of ``locks`` locks (job ``n`` uses lock ``n % locks``, as if each account had its own
lock). With ``tasks`` jobs in flight, two limits apply: Little's law,
``tasks / (outside + critical)``, and the locks, each of which lets one job through every
``critical`` seconds. So

    throughput <= min(tasks / (outside + critical), locks / critical)

Measured in virtual time, so a sweep is instant and the same every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.measure import Measurement, measure
from ...lab.validate import nonempty_list, seconds, whole_number

__all__ = ["ContentionSweep", "contention_plot", "contention_sweep", "contention_theory"]


def contention_theory(tasks: float, *, critical: float, outside: float, locks: int = 1) -> float:
    """The throughput bound in jobs per second: ``min(tasks / (outside + critical), locks / critical)``."""
    little = tasks / (outside + critical) if outside + critical > 0 else float("inf")
    return little if critical == 0 else min(little, locks / critical)


@dataclass(frozen=True)
class ContentionSweep:
    """One measurement per number of tasks, and the settings they were measured with."""

    tasks: tuple[int, ...]
    critical: float
    outside: float
    locks: int
    results: tuple[Measurement, ...]

    @property
    def throughputs(self) -> list[float]:
        return [r.throughput for r in self.results]

    def theory(self) -> list[float]:
        return [contention_theory(n, critical=self.critical, outside=self.outside, locks=self.locks)
                for n in self.tasks]

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}: {x:.0f}" for n, x in zip(self.tasks, self.throughputs))
        return (f"ContentionSweep(critical={self.critical:g} s, outside={self.outside:g} s, "
                f"locks={self.locks}; jobs/s by tasks: {rows})")


async def _sweep(tasks: Sequence[int], critical: float, outside: float, locks: int, jobs: int) -> list[Measurement]:
    results = []
    for n in tasks:
        table = [asyncio.Lock() for _ in range(locks)]

        async def job(number: int) -> None:
            await asyncio.sleep(outside)  # work that needs no lock
            async with table[number % locks]:
                await asyncio.sleep(critical)  # the critical section

        results.append(await measure(job, jobs=jobs, concurrency=n))
    return results


def contention_sweep(tasks: Sequence[int], *, critical: float, outside: float = 0.02,
                     locks: int = 1, jobs: int = 200) -> ContentionSweep:
    """Measure ``jobs`` locked jobs at each number of ``tasks`` in flight, in virtual time."""
    tasks = nonempty_list("tasks", tasks, "whole numbers, e.g. [1, 2, 4, 8]")
    for n in tasks:
        whole_number("tasks", n)
    seconds("critical", critical)
    seconds("outside", outside)
    whole_number("locks", locks)
    whole_number("jobs", jobs)
    results = run_virtual(_sweep(tasks, critical, outside, locks, jobs))
    return ContentionSweep(tuple(tasks), critical, outside, locks, tuple(results))


def contention_plot(sweeps: dict[str, ContentionSweep], *, title: str, ax: Axes | None = None) -> Axes:
    """Measured throughput against tasks (solid, one curve per label), each with its theory dashed."""
    if not sweeps:
        raise ValueError("sweeps is empty: pass {label: contention_sweep(...)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    for label, sweep in sweeps.items():
        line, = ax.plot(sweep.tasks, sweep.throughputs, "o-", label=f"{label}: measured")
        ax.plot(sweep.tasks, sweep.theory(), "--", color=line.get_color(), label=f"{label}: theory")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tasks (jobs in flight)")
    ax.set_ylabel("throughput (jobs/s)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title)
    return ax
