"""Where to set a timeout: a long-tailed latency, measured against the lab server and replicated
in virtual time, beside the closed forms of the shifted exponential distribution.

The lab server answers after ``latency + Exp(jitter)`` seconds (an exponential extra with
mean ``jitter``). For that distribution, with ``l = latency`` and ``j = jitter``:

- P(latency <= t) = 1 - exp(-(t - l) / j) for t >= l (0 before);
- the q-th quantile is l + j ln(1 / (1 - q)): the 95th is l + j ln 20;
- with a timeout T, the share of requests that succeed is P(latency <= T), and the mean
  time a request takes is E[min(latency, T)] = l + j (1 - exp(-(T - l) / j)) for T >= l.

    sample = await real_latencies(server, n=600)     # real requests, real seconds
    sweep = timeout_sweep(timeouts, latency=0.01, jitter=0.03)   # virtual time, exact
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.measure import measure
from ...lab.validate import nonempty_list, seconds, whole_number
from ...patterns.timeouts import TimedOut, result_or_timeout

__all__ = [
    "ExpTail", "StalledTail", "TimeoutPoint", "cdf_plot", "real_latencies", "real_timeout_points", "timeout_plot",
    "timeout_sweep",
]


@dataclass(frozen=True)
class ExpTail:
    """The shifted exponential: ``latency`` seconds plus an exponential extra of mean ``jitter``."""

    latency: float
    jitter: float

    def cdf(self, t: float) -> float:
        """P(latency <= t)."""
        return 0.0 if t < self.latency else 1 - math.exp(-(t - self.latency) / self.jitter)

    def survival(self, t: float) -> float:
        """P(latency > t)."""
        return 1 - self.cdf(t)

    def quantile(self, q: float) -> float:
        """The latency that a share ``q`` (0 <= q < 1) of requests stay within."""
        return self.latency + self.jitter * math.log(1 / (1 - q))

    def mean_time(self, timeout: float) -> float:
        """E[min(latency, timeout)]: the mean time a request takes when cut off at ``timeout``."""
        if timeout < self.latency:
            return timeout
        return self.latency + self.jitter * (1 - math.exp(-(timeout - self.latency) / self.jitter))

    def draw(self, rng: random.Random) -> float:
        """One latency, drawn as the lab server draws it."""
        return self.latency + rng.expovariate(1 / self.jitter)

    def mean_error(self, n: int) -> float:
        """The sampling error (standard deviation) of the mean of ``n`` latencies: jitter / sqrt(n)."""
        return self.jitter / math.sqrt(n)

    def quantile_error(self, q: float, n: int) -> float:
        """The sampling error of the ``q`` quantile of ``n`` latencies, for large ``n``:
        sqrt(q (1 - q) / n) divided by the density there, (1 - q) / jitter."""
        return self.jitter * math.sqrt(q / ((1 - q) * n))


@dataclass(frozen=True)
class StalledTail:
    """``base`` for most requests, but a share ``stalled`` of them take ``stall`` seconds: a
    garbage-collection pause, a slow replica, a lost packet. Each request stalls or not on
    its own, so a second copy of a stalled request usually escapes the stall."""

    base: ExpTail
    stalled: float
    stall: float

    def cdf(self, t: float) -> float:
        """P(latency <= t)."""
        return (1 - self.stalled) * self.base.cdf(t) + (self.stalled if t >= self.stall else 0.0)

    def survival(self, t: float) -> float:
        """P(latency > t)."""
        return 1 - self.cdf(t)

    def quantile(self, q: float) -> float:
        """The latency that a share ``q`` (0 <= q < 1) of requests stay within."""
        below = (1 - self.stalled) * self.base.cdf(self.stall)  # answered before the stall ends
        if q < below:
            return self.base.quantile(q / (1 - self.stalled))
        if q <= below + self.stalled:
            return self.stall
        return self.base.quantile((q - self.stalled) / (1 - self.stalled))

    def mean_time(self, timeout: float) -> float:
        """E[min(latency, timeout)]."""
        return (1 - self.stalled) * self.base.mean_time(timeout) + self.stalled * min(self.stall, timeout)

    def draw(self, rng: random.Random) -> float:
        """One latency: ``stall`` with probability ``stalled``, else one of ``base``."""
        return self.stall if rng.random() < self.stalled else self.base.draw(rng)


async def real_latencies(server, *, n: int = 600, concurrency: int = 20, timeout: float = 2.0) -> list[float]:
    """Real seconds each of ``n`` GETs to ``server`` took, ``concurrency`` at a time, in order
    of completion. Every request has an ``aiohttp.ClientTimeout(total=timeout)``; a request
    that fails raises (the lab server without failures never does)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async def get(i: int) -> None:
            async with session.get(server.url(f"/items/{i}")) as response:
                response.raise_for_status()
                await response.read()

        result = await measure(get, jobs=n, concurrency=concurrency)
    if result.errors:
        raise RuntimeError(f"{result.errors} of {n} requests failed; the lab server should answer every one")
    return list(result.latencies)


@dataclass(frozen=True)
class TimeoutPoint:
    """What ``n`` requests did with one timeout value."""

    timeout: float
    n: int
    succeeded: int
    mean_time: float  # seconds per request, a timed-out request counting its timeout

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.n


async def _timeout_point(request, timeout: float, n: int, concurrency: int) -> TimeoutPoint:
    succeeded = 0

    async def job(i: int) -> None:
        nonlocal succeeded
        if not isinstance(await result_or_timeout(request(i), timeout), TimedOut):
            succeeded += 1

    result = await measure(job, jobs=n, concurrency=concurrency)
    return TimeoutPoint(timeout, n, succeeded, sum(result.latencies) / n)


def timeout_sweep(timeouts: Sequence[float], *, latency: float, jitter: float, n: int = 2000,
                  concurrency: int = 50, seed: int = 0) -> list[TimeoutPoint]:
    """In virtual time: ``n`` requests whose latency is drawn like the lab server's, for each
    timeout in ``timeouts``. The same seed gives every timeout the same requests."""
    timeouts = [seconds("timeout", t, positive=True) for t in nonempty_list("timeouts", timeouts, "seconds, e.g. [0.05, 0.1]")]
    whole_number("n", n)
    tail = ExpTail(seconds("latency", latency), seconds("jitter", jitter, positive=True))

    async def main() -> list[TimeoutPoint]:
        points = []
        for timeout in timeouts:
            rng = random.Random(seed)
            delays = [tail.draw(rng) for _ in range(n)]
            points.append(await _timeout_point(lambda i: asyncio.sleep(delays[i]), timeout, n, concurrency))
        return points

    return run_virtual(main())


async def real_timeout_points(server, timeouts: Sequence[float], *, n: int = 300, concurrency: int = 20) -> list[TimeoutPoint]:
    """The same against the real lab server: ``n`` requests per timeout, each request cut off
    by ``result_or_timeout`` (one ``aiohttp.ClientTimeout`` above it, as a backstop)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=max(timeouts) + 1)) as session:
        async def get(i: int) -> None:
            async with session.get(server.url(f"/items/{i}")) as response:
                await response.read()

        return [await _timeout_point(get, t, n, concurrency) for t in timeouts]


def cdf_plot(sample: Sequence[float], tail: ExpTail, *, timeouts: dict[str, float], title: str,
             ax: Axes | None = None) -> Axes:
    """The measured latency distribution as a CDF (ms), the theory dashed, and a vertical
    line at each of ``timeouts`` (label -> seconds) with the share of requests it lets through."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    data = sorted(sample)
    n = len(data)
    ax.step([t * 1000 for t in data], [(i + 1) / n for i in range(n)], where="post", label=f"measured ({n} requests)")
    top = max(data[-1], tail.quantile(0.999))
    grid = [top * k / 400 for k in range(401)]
    ax.plot([t * 1000 for t in grid], [tail.cdf(t) for t in grid], "k--",
            label=f"theory: 1 - exp(-(t - {tail.latency * 1000:g} ms) / {tail.jitter * 1000:g} ms)")
    for (label, t), style in zip(timeouts.items(), (":", "-.", "--")):
        share = sum(x <= t for x in data) / n
        ax.axvline(t * 1000, color="tab:red", linestyle=style, label=f"{label} = {t * 1000:.0f} ms: {share:.0%} in time")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of requests answered within")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, top * 1000)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="lower right")
    ax.set_title(title)
    return ax


def timeout_plot(points: Sequence[TimeoutPoint], tail: ExpTail, *, title: str,
                 real: Sequence[TimeoutPoint] = (), span: float | None = None,
                 axes: tuple[Axes, Axes] | None = None) -> tuple[Axes, Axes]:
    """Success rate (left) and mean time per request (right) against the timeout, in ms;
    the closed forms dashed (up to ``span`` seconds, default the largest timeout), and
    ``real`` measurements as separate markers (the success rates with bars of one sampling
    error, sqrt(p (1 - p) / n)). Given ``axes``, draws on them and leaves
    the figure's title and layout to the caller."""
    if axes is None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    else:
        fig, (left, right) = None, axes
    ms = [p.timeout * 1000 for p in points]
    top = max(ms) / 1000 if span is None else seconds("span", span, positive=True)
    grid = [top * k / 200 for k in range(201)]
    left.plot(ms, [p.success_rate for p in points], "o-", label="virtual time (same distribution)")
    left.plot([t * 1000 for t in grid], [tail.cdf(t) for t in grid], "k--", label="theory: P(latency <= T)")
    right.plot(ms, [p.mean_time * 1000 for p in points], "o-", label="virtual time (same distribution)")
    right.plot([t * 1000 for t in grid], [tail.mean_time(t) * 1000 for t in grid], "k--", label="theory: E[min(latency, T)]")
    right.plot([t * 1000 for t in grid], [(tail.latency + tail.jitter) * 1000] * len(grid), ":", color="gray",
               label="mean latency, no timeout")
    if real:
        left.errorbar([p.timeout * 1000 for p in real], [p.success_rate for p in real],
                      yerr=[math.sqrt(p.success_rate * (1 - p.success_rate) / p.n) for p in real], fmt="s",
                      color="tab:red", markersize=5, capsize=5, label="real lab server (± one sampling error)")
        right.plot([p.timeout * 1000 for p in real], [p.mean_time * 1000 for p in real], "s", color="tab:red",
                   markersize=8, label="real lab server")
    left.set_ylabel("share of requests that succeed")
    right.set_ylabel("mean time per request (ms)")
    for ax in (left, right):
        ax.set_xlabel("timeout T (ms)")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, loc="lower right")
    if fig is not None:
        fig.suptitle(title)
        fig.tight_layout()
    return left, right

