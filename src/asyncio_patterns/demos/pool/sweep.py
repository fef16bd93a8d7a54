"""Pool size against throughput and acquire wait: closed-loop clients in virtual time,
with Little's law beside them, and plots of the lesson's measurements."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from statistics import fmean

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.measure import Measurement
from ...lab.plots import sweep_plot
from ...lab.trace import Trace
from ...patterns.pool import Pool
from .fake import FakeService
from .http import CostRun, QueueRun

__all__ = ["cost_plot", "little_throughput", "little_wait", "pool_sweep", "queue_plot", "sweep_with_real_point"]


def little_throughput(size: int, clients: int, service_time: float) -> float:
    """Little's law: min(size, clients) connections busy all the time, each serving 1 / service_time."""
    return min(size, clients) / service_time


def little_wait(size: int, clients: int, service_time: float) -> float:
    """The mean wait to acquire: each client's cycle is clients / busy requests long, of which
    service_time is its own (Little's law, which says nothing of the median)."""
    return service_time * (clients / min(size, clients) - 1)


async def closed_loop(size: int, *, clients: int, requests: int, service_time: float,
                      connect_cost: float, trace: Trace | None = None) -> Measurement:
    """``clients`` tasks each make ``requests`` requests of ``service_time`` s, one after another,
    through a ``Pool(max_size=size)`` of fake connections. Latencies are the acquire waits.

    With ``trace``, each client ("client 1", ...) gets a lane: "waiting" for a connection,
    "connecting" when it opens one, and each use named after its connection ("conn 2")."""
    service = FakeService(connect_cost=connect_cost, trace=trace)
    loop = asyncio.get_running_loop()
    waits: list[float] = []
    async with Pool(service.connect, service.close, max_size=size) as pool:
        async def client() -> None:
            for _ in range(requests):
                asked = loop.time()
                async with pool.acquire() as conn:
                    waits.append(loop.time() - asked)
                    if trace is None:
                        await conn.query(service_time)
                        continue
                    got = loop.time() - (connect_cost if conn.uses == 0 else 0.0)  # a new one: its connect is drawn
                    if got > asked:
                        trace.add(asyncio.current_task().get_name(), "waiting", asked, got)
                    with trace.span(repr(conn)):
                        await conn.query(service_time)

        began = loop.time()
        async with asyncio.TaskGroup() as group:
            for i in range(clients):
                group.create_task(client(), name=f"client {i + 1}")
        elapsed = loop.time() - began
    return Measurement(clients * requests, size, elapsed, tuple(waits))


def pool_sweep(sizes: Sequence[int], *, clients: int = 16, requests: int = 50, service_time: float = 0.02,
               connect_cost: float = 0.05) -> list[Measurement]:
    """:func:`closed_loop` in virtual time at each pool size."""
    return [run_virtual(closed_loop(size, clients=clients, requests=requests, service_time=service_time,
                                    connect_cost=connect_cost)) for size in sizes]


def sweep_with_real_point(sizes: Sequence[int], results: Sequence[Measurement], real: Measurement, *,
                          clients: int, service_time: float, title: str) -> tuple[Axes, Axes]:
    """The sweep with Little's law dashed, and the real run drawn as a star on both sides. The
    right side adds the mean wait, which is what the law predicts (p50 and p95 are drawn too)."""
    left, right = sweep_plot(list(sizes), list(results), xlabel="pool size (max_size)", title=title, logx=True,
                             theory=lambda k: little_throughput(int(k), clients, service_time),
                             theory_label="Little's law: min(size, clients) / service time",
                             latency_theory=lambda k: little_wait(int(k), clients, service_time),
                             latency_theory_label="Little's law, the mean: service time x (clients / size - 1)")
    right.plot(list(sizes), [fmean(r.latencies) * 1000 for r in results], "D-", color="tab:purple", label="mean")
    left.plot([real.concurrency], [real.throughput], "*", markersize=14, color="tab:red", label="real server")
    right.plot([real.concurrency], [fmean(real.latencies) * 1000], "*", markersize=14, color="tab:red",
               label="real server, mean")
    left.set_ylabel("throughput (requests/s)")
    right.set_ylabel("wait to acquire (ms)")
    for ax in (left, right):
        ax.legend(frameon=False, fontsize="small")
    return left, right


def cost_plot(runs: Sequence[CostRun], theory: Sequence[float], *, title: str) -> Axes:
    """Measured requests per second of each mode as bars, theory as a dashed mark on each."""
    _, ax = plt.subplots(figsize=(8, 3.2))
    xs = range(len(runs))
    ax.bar(xs, [run.requests_per_second for run in runs], color=["tab:red", "tab:orange", "tab:green"][:len(runs)],
           label="measured")
    for x, value in zip(xs, theory):
        ax.plot([x - 0.4, x + 0.4], [value, value], "k--", linewidth=1.5, label="theory" if x == 0 else None)
    ax.set_xticks(list(xs), [f"{run.mode}\n{run.stats.connections_opened} connections" for run in runs])
    ax.set_ylabel("requests per second")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def queue_plot(runs: dict[str, QueueRun], *, latency: float, title: str) -> Axes:
    """Each request's time, sorted, for each run; theory dashed: with ``limit`` connections,
    request ``i`` (from 1) answers after ceil(i / limit) latencies."""
    _, ax = plt.subplots(figsize=(8, 3.2))
    for n, (label, run) in enumerate(runs.items()):
        ranks = range(1, len(run.took) + 1)
        ax.step(ranks, sorted(run.took), where="post", label=f"{label}: measured")
        ax.step(ranks, [math.ceil(i / run.limit) * latency for i in ranks], "--", where="post", color="black",
                linewidth=1, alpha=0.8 if n == 0 else 0.45, label=f"{label}: theory, ceil(i / {run.limit}) x latency")
    ax.set_xlabel("request i, fastest first")
    ax.set_ylabel("seconds from start to answer")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small")
    return ax
