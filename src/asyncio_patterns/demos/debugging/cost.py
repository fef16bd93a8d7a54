"""What a task dump costs: the real time :func:`~asyncio_patterns.lab.stuck.snapshot` and its
text take for a loop with n pending tasks, each waiting two coroutines deep, as a service's
handlers do. The answer decides whether a dump on a signal is safe to leave in production:
while it runs, the loop runs nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.plots import plain_numbers
from ...lab.stuck import snapshot
from ...lab.validate import whole_number

__all__ = ["SnapshotCost", "snapshot_cost"]


@dataclass(frozen=True)
class SnapshotCost:
    """``seconds[i]``: the fastest of ``repeat`` snapshots (taken and printed) of ``tasks[i]`` tasks."""

    tasks: tuple[int, ...]
    seconds: tuple[float, ...]

    @property
    def per_task(self) -> float:
        """Seconds per task, from the largest count (the straight line the plot draws)."""
        return self.seconds[-1] / self.tasks[-1]

    def __repr__(self) -> str:
        return "\n".join(f"{n} tasks: {s * 1000:.1f} ms of real time" for n, s in zip(self.tasks, self.seconds))

    def plot(self, *, title: str, ax: Axes | None = None) -> Axes:
        """Time against tasks, log-log, with the straight line ``per_task x n`` dashed."""
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.8))
        ax.plot(self.tasks, [s * 1000 for s in self.seconds], "o-", label="measured")
        ax.plot(self.tasks, [self.per_task * n * 1000 for n in self.tasks], "k--",
                label="in proportion to the tasks")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain_numbers())
        ax.set_xlabel("pending tasks")
        ax.set_ylabel("snapshot and its text (ms)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        return ax


async def _waiter(event: asyncio.Event) -> None:
    await _wait(event)


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


async def _measure(n: int, repeat: int) -> float:
    event = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        for i in range(n):
            group.create_task(_waiter(event), name=f"handler-{i}")
        await asyncio.sleep(0)  # every task starts and waits
        best = float("inf")
        for _ in range(repeat):
            began = time.perf_counter()
            str(snapshot())
            best = min(best, time.perf_counter() - began)
        event.set()
    return best


def snapshot_cost(tasks: Sequence[int] = (10, 100, 1000, 10000), *, repeat: int = 3) -> SnapshotCost:
    """Measure a snapshot (taken and turned into text) of each number of ``tasks`` pending
    tasks, the fastest of ``repeat`` (the others were slowed by something else running)."""
    counts = tuple(whole_number("tasks", n, minimum=1) for n in tasks)
    if not counts:
        raise ValueError("tasks must name at least one number of tasks, got none")
    whole_number("repeat", repeat, minimum=1)
    return SnapshotCost(counts, tuple(run_virtual(_measure(n, repeat)) for n in counts))
