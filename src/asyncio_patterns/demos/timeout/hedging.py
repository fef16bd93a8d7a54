"""Hedged requests: send a second copy of a request slower than a trigger, keep the first answer.

With the trigger at ``d`` seconds, a request is late past ``t`` only if the first copy is
(P(L > t)) and the second, sent at ``d``, is too (P(L > t - d)): the two are independent, so

    P(hedged > t) = P(L > t) * P(L > t - d)      (the second factor is 1 while t - d < latency)

and the extra load is the share of requests that reach the trigger, P(L > d): 5% at the
95th percentile. ``hedge_run`` measures it against the real lab server; ``hedge_sweep``
moves the trigger in virtual time, with the same distribution or one with a stalled minority
(:class:`StalledTail`), where a second copy escapes the stall and the gain is largest.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.measure import Measurement, measure
from ...lab.validate import nonempty_list, whole_number
from ...patterns.timeouts import hedged
from .latency import ExpTail, StalledTail

Tail = ExpTail | StalledTail

__all__ = ["HedgeRun", "hedge_plot", "hedge_run", "hedge_sweep", "hedge_sweep_plot", "hedged_quantile", "hedged_survival"]


def hedged_survival(tail: Tail, after: float, t: float) -> float:
    """P(a request hedged at ``after`` seconds takes longer than ``t``)."""
    return tail.survival(t) * (tail.survival(t - after) if t >= after else 1.0)


def hedged_quantile(tail: Tail, after: float, q: float) -> float:
    """The ``q`` quantile (0 < q < 1) of the hedged latency, by bisection on its survival."""
    low, high = 0.0, tail.quantile(q)  # hedging never makes a request slower
    for _ in range(60):
        middle = (low + high) / 2
        if hedged_survival(tail, after, middle) > 1 - q:
            low = middle
        else:
            high = middle
    return high


@dataclass(frozen=True)
class HedgeRun(Measurement):
    """A :class:`Measurement` of requests hedged at ``after`` seconds (None: not hedged),
    and the ``sent`` copies they took in all."""

    after: float | None = None
    sent: int = 0

    @property
    def extra_load(self) -> float:
        """Copies sent beyond one per request, as a share of the requests."""
        return self.sent / self.jobs - 1


async def _run(request, n: int, after: float | None, concurrency: int) -> Measurement:
    async def job(i: int) -> None:
        if after is None:
            await request(i)
        else:
            await hedged(lambda: request(i), after=after)

    result = await measure(job, jobs=n, concurrency=concurrency)
    if result.errors:
        raise RuntimeError(f"{result.errors} of {n} requests failed")
    return result


async def hedge_run(server, *, n: int = 400, after: float | None, concurrency: int = 20,
                    timeout: float = 2.0) -> HedgeRun:
    """``n`` real requests to ``server``, hedged at ``after`` seconds (or not, with None); the
    copies sent are the server's own count of requests. Each copy has a ClientTimeout."""
    whole_number("n", n)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async def get(i: int) -> None:
            async with session.get(server.url(f"/items/{i}")) as response:
                response.raise_for_status()
                await response.read()

        server.reset_stats()
        result = await _run(get, n, after, concurrency)
    return HedgeRun(**vars(result), after=after, sent=server.stats.requests)


def hedge_sweep(triggers: Sequence[float | None], tail: Tail, *, n: int = 4000, concurrency: int = 50,
                seed: int = 0) -> list[HedgeRun]:
    """In virtual time: ``n`` requests with latencies drawn from ``tail``, hedged at each trigger
    (seconds; None for no hedge). Each copy draws its own latency, in the order copies start."""
    triggers = nonempty_list("triggers", triggers, "seconds or None, e.g. [None, 0.1]")
    whole_number("n", n)

    async def main() -> list[HedgeRun]:
        runs = []
        for after in triggers:
            rng, sent = random.Random(seed), 0

            async def request(i: int) -> None:
                nonlocal sent
                sent += 1
                await asyncio.sleep(tail.draw(rng))

            result = await _run(request, n, after, concurrency)
            runs.append(HedgeRun(**vars(result), after=after, sent=sent))
        return runs

    return run_virtual(main())


def hedge_plot(plain: HedgeRun, hedge: HedgeRun, tail: Tail, *, title: str, ax: Axes | None = None) -> Axes:
    """P(latency > t) on a log scale, without and with the hedge, each beside its theory (dashed)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    top = max(max(plain.latencies), max(hedge.latencies))
    grid = [top * k / 300 for k in range(301)]
    for run, color, label in ((plain, "tab:blue", "no hedge"), (hedge, "tab:green", f"hedged at {hedge.after * 1000:.0f} ms")):
        data = sorted(run.latencies)
        n = len(data)
        ax.step([t * 1000 for t in data], [1 - (i + 1) / n for i in range(n)], where="post", color=color,
                label=f"{label}, measured: p99 {run.p99 * 1000:.0f} ms")
        theory = [tail.survival(t) if run.after is None else hedged_survival(tail, run.after, t) for t in grid]
        ax.plot([t * 1000 for t in grid], theory, "--", color=color, alpha=0.8, label=f"{label}, theory")
    ax.axhline(0.01, color="gray", linestyle=":", label="1% (the p99 line)")
    ax.axvline(hedge.after * 1000, color="tab:red", linestyle=":", label="hedge trigger (p95)")
    ax.set_yscale("log")
    ax.set_ylim(1 / len(plain.latencies), 1.05)
    ax.set_xlim(0, top * 1000)
    ax.set_xlabel("latency t (ms)")
    ax.set_ylabel("share of requests slower than t")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper right", fontsize=9)
    ax.set_title(title)
    return ax


def hedge_sweep_plot(quantiles: Sequence[float], runs: Sequence[HedgeRun], plain: HedgeRun, tail: ExpTail, *,
                     title: str) -> tuple[Axes, Axes]:
    """p99 (left) and extra load (right) against the trigger's percentile, theory dashed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    xs = [q * 100 for q in quantiles]
    fine = [0.5 + 0.495 * k / 100 for k in range(101)]
    left.plot(xs, [r.p99 * 1000 for r in runs], "o-", label="hedged, virtual time")
    left.plot([q * 100 for q in fine], [hedged_quantile(tail, tail.quantile(q), 0.99) * 1000 for q in fine], "k--",
              label="theory")
    left.axhline(plain.p99 * 1000, color="tab:blue", linestyle=":", label=f"no hedge: {plain.p99 * 1000:.0f} ms")
    left.set_ylabel("p99 latency (ms)")
    right.plot(xs, [r.extra_load * 100 for r in runs], "o-", label="hedged, virtual time")
    right.plot([q * 100 for q in fine], [(1 - q) * 100 for q in fine], "k--", label="theory: 100 - percentile")
    right.set_ylabel("extra requests (% of requests)")
    for ax in (left, right):
        ax.set_xlabel("hedge trigger (percentile of latency)")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return left, right
