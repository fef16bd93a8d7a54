"""A few clients retrying through a short outage, traced: without jitter they come back
together, with jitter they spread out.

Each client calls a service that takes 10 ms and fails while the outage lasts, through
:func:`~asyncio_patterns.retry`; every call is a span ("call failed" or "call ok"), every
wait a grey span. Virtual time, so the timeline is exact and the same every run.
"""

from __future__ import annotations

import asyncio
import random

from ...lab.clock import run_virtual
from ...lab.trace import Trace
from ...lab.validate import seconds, whole_number
from ...patterns.retry import Attempt, retry

__all__ = ["COLORS", "Unavailable", "outage_trace"]

COLORS = {"call failed": "tab:red", "call ok": "tab:green", "waiting": "#c7c7c7"}


class Unavailable(Exception):
    """The service is in its outage (a 503)."""


async def _clients(trace: Trace, clients: int, outage: float, jitter: str, base: float, seed: int) -> None:
    loop = asyncio.get_running_loop()
    seeds = random.Random(seed)

    async def client(lane: str) -> None:
        async def call() -> str:
            start = loop.time()
            await asyncio.sleep(0.01)
            failed = start < outage
            trace.add(lane, "call failed" if failed else "call ok", start, loop.time())
            if failed:
                raise Unavailable("503 during the outage")
            return "ok"

        def waiting(attempt: Attempt) -> None:
            trace.add(lane, "waiting", loop.time(), loop.time() + attempt.wait)

        retried = retry(on=Unavailable, attempts=20, base=base, cap=1.0, jitter=jitter,
                        on_retry=waiting, rng=random.Random(seeds.getrandbits(64)))(call)
        await retried()

    async with asyncio.TaskGroup() as group:
        for i in range(clients):
            group.create_task(client(f"client {i}"))


def outage_trace(jitter: str, *, clients: int = 6, outage: float = 0.5, base: float = 0.05, seed: int = 0) -> Trace:
    """Trace ``clients`` clients that all start at 0, against an outage of ``outage`` seconds."""
    whole_number("clients", clients)
    seconds("outage", outage)
    seconds("base", base)
    trace = Trace(colors=COLORS)
    run_virtual(_clients(trace, clients, outage, jitter, base, seed))
    ordered = Trace(colors=COLORS)  # lanes top to bottom as client 0, 1, 2, ...
    for span in sorted(trace.spans, key=lambda s: (int(s.lane.split()[-1]), s.start)):
        ordered.add(span.lane, span.name, span.start, span.end)
    return ordered
