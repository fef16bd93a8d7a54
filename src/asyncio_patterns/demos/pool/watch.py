"""Borrowers on a timeline: each task waits for a connection, maybe opens one, uses it.

Every span of use is named after the connection ("conn 2"), so a connection used by two
tasks at once is one colour in two lanes at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from ...lab.clock import run_virtual
from ...lab.trace import Trace
from ...patterns.pool import Pool
from .fake import FakeService

__all__ = ["COLORS", "STAGGERED", "borrowers", "pool_trace"]

COLORS = {"waiting": "#c7c7c7", "connecting": "#ff7f0e", "conn 1": "#1f77b4", "conn 2": "#2ca02c", "conn 3": "#9467bd",
          "conn 4": "#8c564b"}
STAGGERED = [(0.0, 1.0), (0.2, 1.0), (0.5, 1.0), (1.3, 0.5)]  # (start, hold) for tasks A, B, C, D


def _acquire(pool: Any) -> AbstractAsyncContextManager:
    return pool.acquire() if hasattr(pool, "acquire") else pool  # the tutorial pool is used as `async with pool`


async def borrowers(pool: Any, service: FakeService, plan: Sequence[tuple[float, float]] = STAGGERED,
                    *, timeout: float = 10.0) -> Trace:
    """Task A, B, ... each start at ``plan[i][0]`` s, borrow a connection from ``pool`` and use
    it for ``plan[i][1]`` s. The whole run is cut off after ``timeout`` s. Returns the trace."""
    trace = service.trace if service.trace is not None else Trace(colors=COLORS)
    service.trace = trace
    loop = asyncio.get_running_loop()

    async def borrower(start: float, hold: float) -> None:
        await asyncio.sleep(start)
        asked = loop.time()
        async with _acquire(pool) as conn:
            mine = [s for s in trace.spans if s.lane == asyncio.current_task().get_name() and s.name == "connecting"]
            waited_until = mine[-1].start if mine and mine[-1].end == loop.time() else loop.time()
            if waited_until > asked:
                trace.add(asyncio.current_task().get_name(), "waiting", asked, waited_until)
            with trace.span(repr(conn)):
                await conn.query(hold)

    async with asyncio.timeout(timeout):
        async with asyncio.TaskGroup() as group:
            for i, (start, hold) in enumerate(plan):
                group.create_task(borrower(start, hold), name=f"task {'ABCDEFGHIJKLMNOP'[i]}")
    return trace


def pool_trace(make_pool: Callable[[FakeService], Any] | None = None, plan: Sequence[tuple[float, float]] = STAGGERED,
               *, connect_cost: float = 0.1) -> tuple[Trace, FakeService]:
    """Run :func:`borrowers` in virtual time on ``make_pool(service)`` (by default a
    ``Pool(max_size=2)`` closed at the end). Returns the trace and the service."""
    service = FakeService(connect_cost=connect_cost, trace=Trace(colors=COLORS))

    async def main() -> Trace:
        if make_pool is not None:
            return await borrowers(make_pool(service), service, plan)
        async with Pool(service.connect, service.close, max_size=2) as pool:
            return await borrowers(pool, service, plan)

    return run_virtual(main()), service
