"""What a timeout does to the work it abandons, drawn on timelines (virtual time).

``batch_demo`` runs a batch in which each request has its own deadline: the answered
ones end when they answer, the others are cut off at the deadline, and the batch ends
with them. ``swallow_demo`` runs a job of several steps under one deadline; with
``swallow=True`` each step catches ``CancelledError`` and carries on, as a common
"keep going whatever happens" loop does, and the deadline no longer ends the job.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from ...lab.clock import run_virtual
from ...lab.plots import timeline
from ...lab.trace import Trace
from ...lab.validate import seconds, whole_number
from ...patterns.timeouts import TimedOut, gather_with_timeouts

__all__ = ["BatchResult", "SwallowResult", "batch_demo", "swallow_demo"]

ANSWERED = "request, answered"
CUT_OFF = "request, cut off at its deadline"
STEP = "step of the job"
AFTER = "step run after the deadline"
COLORS = {ANSWERED: "#2ca02c", CUT_OFF: "#d62728", STEP: "#1f77b4", AFTER: "#ff7f0e"}


@dataclass(frozen=True)
class BatchResult:
    """Each request's result or ``TimedOut``, when the batch ended, and its trace."""

    results: list
    latencies: list[float]
    timeout: float
    elapsed: float
    trace: Trace

    def __repr__(self) -> str:
        late = sum(isinstance(r, TimedOut) for r in self.results)
        return (f"{len(self.results)} requests with a {self.timeout:g} s deadline each: {len(self.results) - late} "
                f"answered, {late} TimedOut; the slowest would have taken {max(self.latencies):.2f} s, "
                f"the batch took {self.elapsed:.2f} s")

    def timeline(self, **kwargs):
        kwargs.setdefault("title", f"Each request has its own {self.timeout:g} s deadline: the batch ends on time")
        return timeline(self.trace, **kwargs)


def batch_demo(n: int = 8, timeout: float = 1.0, *, latency: float = 0.2, jitter: float = 0.6, seed: int = 8) -> BatchResult:
    """``n`` requests whose latencies are ``latency`` plus an exponential extra of mean ``jitter``
    (seeded), run with ``gather_with_timeouts(..., timeout)`` in virtual time."""
    whole_number("n", n)
    seconds("timeout", timeout, positive=True)
    rng = random.Random(seed)
    latencies = [latency + rng.expovariate(1 / jitter) for _ in range(n)]
    trace = Trace(colors=COLORS)

    async def request(i: int) -> str:
        start = asyncio.get_running_loop().time()
        name = CUT_OFF
        try:
            await asyncio.sleep(latencies[i])
            name = ANSWERED
            return f"item {i}"
        finally:
            trace.add(f"request {i}", name, start, asyncio.get_running_loop().time())

    async def main() -> BatchResult:
        loop = asyncio.get_running_loop()
        began = loop.time()
        results = await gather_with_timeouts([request(i) for i in range(n)], timeout)
        trace.mark("batch returns", lane="request 0")
        return BatchResult(results, latencies, timeout, loop.time() - began, trace)

    return run_virtual(main())


@dataclass(frozen=True)
class SwallowResult:
    """How a job of ``steps`` steps ended under a deadline, and its trace."""

    swallow: bool
    deadline: float
    outcome: str
    ended: float
    trace: Trace

    def __repr__(self) -> str:
        return f"{'swallows CancelledError' if self.swallow else 're-raises CancelledError'}: {self.outcome}"

    def timeline(self, **kwargs):
        kwargs.setdefault("title", "")
        return timeline(self.trace, **kwargs)


def swallow_demo(swallow: bool, *, steps: int = 4, step: float = 1.0, deadline: float = 1.5) -> SwallowResult:
    """A job of ``steps`` steps of ``step`` seconds under ``asyncio.timeout(deadline)``.

    With ``swallow=True`` each step ends in ``except asyncio.CancelledError: continue``.
    Without it, the cancellation ends the job at the deadline with ``TimeoutError``.
    The swallowing job still ends, after its last step: a loop that never ends would
    never let the timeout fire at all."""
    whole_number("steps", steps)
    trace = Trace(colors=COLORS)

    async def job() -> None:
        loop = asyncio.get_running_loop()
        for i in range(steps):
            start = loop.time()
            try:
                await asyncio.sleep(step)
            except asyncio.CancelledError:
                if not swallow:
                    raise
                continue  # "keep going whatever happens": the cancellation is lost here
            finally:
                trace.add("job", AFTER if start >= deadline else STEP, start, loop.time())

    async def main() -> SwallowResult:
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + deadline, lambda: trace.mark("deadline", lane="job"))
        try:
            async with asyncio.timeout(deadline):
                await job()
            outcome = "no error at all"
        except TimeoutError:
            outcome = "TimeoutError"
        ended = loop.time()
        late = ended - deadline
        outcome += f" at t={ended:g} s" + (f", {late:g} s after the deadline" if late > 1e-9 else ", on time")
        return SwallowResult(swallow, deadline, outcome, ended, trace)

    return run_virtual(main())
