"""Run N jobs at a fixed concurrency and report throughput and latency percentiles.

``measure`` is a coroutine that uses the running loop's clock, so it measures real
time under ``await`` or ``run_real`` and virtual time under ``run_virtual``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .validate import whole_number

__all__ = ["Measurement", "measure", "percentile", "sweep"]


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, interpolating between ranks."""
    data = sorted(values)
    if not data:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    rank = (len(data) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


@dataclass(frozen=True)
class Measurement:
    """What one run of ``measure`` saw. Latencies are per job, in seconds."""

    jobs: int
    concurrency: int
    elapsed: float
    latencies: tuple[float, ...]
    errors: int = 0

    @property
    def throughput(self) -> float:
        """Completed jobs per second (failed jobs count as completed)."""
        return self.jobs / self.elapsed if self.elapsed > 0 else math.inf

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    def __str__(self) -> str:
        text = (
            f"{self.jobs} jobs at concurrency {self.concurrency}: "
            f"{self.throughput:.1f} jobs/s, p50 {self.p50 * 1000:.1f} ms, "
            f"p95 {self.p95 * 1000:.1f} ms"
        )
        return text + (f", {self.errors} errors" if self.errors else "")


async def measure(job: Callable[[int], Awaitable[object]], *, jobs: int = 100, concurrency: int = 10) -> Measurement:
    """Run ``job(0) .. job(jobs - 1)`` with at most ``concurrency`` running at once.

    A fixed set of ``concurrency`` worker tasks takes job numbers in order, so memory
    stays flat however many jobs there are. A job that raises counts as an error and
    the run goes on; its latency is still recorded.
    """
    whole_number("jobs", jobs)
    whole_number("concurrency", concurrency)
    loop = asyncio.get_running_loop()
    numbers = iter(range(jobs))
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for n in numbers:  # a shared iterator: each number goes to exactly one worker
            start = loop.time()
            try:
                await job(n)
            except Exception:
                errors += 1
            latencies.append(loop.time() - start)

    began = loop.time()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, jobs)):
            group.create_task(worker())
    return Measurement(jobs, concurrency, loop.time() - began, tuple(latencies), errors)


async def sweep(job: Callable[[int], Awaitable[object]], concurrencies: Iterable[int], *, jobs: int = 100) -> list[Measurement]:
    """``measure`` once per concurrency value, one after another."""
    return [await measure(job, jobs=jobs, concurrency=c) for c in concurrencies]
