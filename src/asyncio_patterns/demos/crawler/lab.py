"""The capstone's scenario: one lab server, the runs that switch each pattern off, and their table."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...lab.server import LabServer
from .config import CrawlConfig
from .crawler import crawl
from .record import CrawlRecord

__all__ = ["SCENARIO", "Row", "breaker_bound", "crawl_lab", "row", "straggler_cut"]

# 10 ms + a long tail (mean 30 ms; seed 3103 draws one 0.41 s straggler for the second answer),
# 40 requests per 0.25 s window (160/s), down from 0.3 s to 0.6 s, 10 ms to set up a connection.
SCENARIO = dict(latency=0.01, jitter=0.03, rate_limit=40, rate_limit_window=0.25, outages=[(0.3, 0.6)],
                connect_cost=0.01, seed=3103)


async def crawl_lab(config: CrawlConfig = CrawlConfig(), urls: int = 60) -> CrawlRecord:
    """Start a lab server with :data:`SCENARIO`, crawl ``urls`` item pages, stop the server."""
    async with LabServer(**SCENARIO) as server:
        return await crawl(server, [f"/items/{i}" for i in range(urls)], config)


def breaker_bound(config: CrawlConfig, outage: tuple[float, float]) -> int:
    """The most 503s an outage can cost with the breaker on: the failures that open it,
    the calls it had admitted that were still in flight (one per other worker), and one
    trial per reset timeout."""
    start, end = outage
    return config.failure_threshold + (config.workers - 1) + math.ceil((end - start) / config.reset_timeout)


def straggler_cut(config: CrawlConfig, straggler: float) -> float:
    """Halfway between the request timeout and the straggler's delay: a request slower than
    this was not cut by a timeout."""
    return ((config.timeout or 0.0) + straggler) / 2


@dataclass(frozen=True)
class Row:
    """One line of the comparison table, in terms that machine load cannot change."""

    label: str
    done: str
    failed: str
    handed_back: str
    lost: str
    rate_limited: str
    outage_503s: str
    connections: str
    slowest: str

    HEADERS = ("switched off", "done", "failed", "handed back", "lost", "429s", "503s", "connections", "slowest")

    def cells(self) -> tuple[str, ...]:
        return (self.label, self.done, self.failed, self.handed_back, self.lost, self.rate_limited,
                self.outage_503s, self.connections, self.slowest)


def row(label: str, record: CrawlRecord, *, bound: int, cut: float) -> Row:
    """``record`` as a :class:`Row`: counts as "0" or "> 0" (``done`` as all or fewer), 503s
    against the breaker's ``bound``, connections as reused or one per request, and the
    slowest request against ``cut`` seconds."""
    n, stats = len(record.urls), record.server
    some = lambda count: "0" if count == 0 else "> 0"  # noqa: E731
    return Row(
        label,
        done=str(n) if len(record.done) == n else f"< {n}",
        failed=some(len(record.failed)),
        handed_back=some(len(record.handed_back)),
        lost=some(record.lost),
        rate_limited=some(stats.rate_limited),
        outage_503s=f"<= {bound}" if record.count("503") <= bound else f"> {bound}",
        connections="reused" if 2 * stats.connections_opened < stats.requests else "1 per request",
        slowest=f"< {cut:.2f} s" if record.slowest() < cut else f"> {cut:.2f} s",
    )
