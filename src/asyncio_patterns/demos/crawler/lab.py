"""The capstone's scenario: one lab server, the runs that switch each pattern off, and their table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...lab.server import LabServer
from .config import CrawlConfig
from .crawler import crawl
from .kit import Kit
from .record import CrawlRecord
from .reference import make_handler

__all__ = ["SCENARIO", "Row", "crawl_lab", "early_503s", "late_503s", "row", "straggler_cut", "trial_bound", "what_held"]

# 10 ms + a long tail (mean 30 ms; seed 3103 draws one 0.41 s straggler for the second answer),
# 40 requests per 0.25 s window (160/s), down from 0.3 s to 0.6 s, 10 ms to set up a connection.
SCENARIO = dict(latency=0.01, jitter=0.03, rate_limit=40, rate_limit_window=0.25, outages=[(0.3, 0.6)],
                connect_cost=0.01, seed=3103)


async def crawl_lab(config: CrawlConfig = CrawlConfig(), urls: int = 60,
                    handler: Callable[[Kit], Callable[[str], Awaitable[Any]]] = make_handler) -> CrawlRecord:
    """Start a lab server with :data:`SCENARIO`, crawl ``urls`` item pages with ``handler``,
    close the server (so its counters in ``record.server`` are final)."""
    async with LabServer(**SCENARIO) as server:
        return await crawl(server, [f"/items/{i}" for i in range(urls)], config, handler)


def trial_bound(config: CrawlConfig, outage: tuple[float, float]) -> int:
    """The most 503s requests sent after the breaker opened can get: its trials. It opens
    at the outage's start at the earliest, and lets one trial through ``reset_timeout``
    after it opened or after a trial failed, so trials fit in the rest of the outage:
    0.3 s down and a 0.1 s reset timeout give trials at 0.4 s and 0.5 s at the earliest."""
    start, end = outage
    return max(round((end - start) / config.reset_timeout + 0.4999) - 1, 0)  # ceil, without 0.3/0.1 = 2.999...


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
    thrown_away: str
    rate_limited: str
    late_503s: str
    connections: str
    slowest: str

    HEADERS = ("run", "done", "failed", "handed back", "lost", "answers thrown away", "429s", "late 503s",
               "connections", "slowest")

    def cells(self) -> tuple[str, ...]:
        return (self.label, self.done, self.failed, self.handed_back, self.lost, self.thrown_away,
                self.rate_limited, self.late_503s, self.connections, self.slowest)


def early_503s(record: CrawlRecord) -> int:
    """503s to requests sent before the breaker first opened (all of them if it never did)."""
    opened = record.opened_at()
    return sum(r.outcome == "503" and (opened is None or r.start <= opened) for r in record.requests)


def late_503s(record: CrawlRecord) -> int:
    """503s to requests sent after the breaker first opened; if it never opened (there was
    none, or it did not count what failed), after the failures in a row that would have
    opened it."""
    moment = record.opened_at()
    if moment is None:
        moment = record.after_in_a_row(record.config.failure_threshold)
    return 0 if moment is None else sum(r.outcome == "503" and r.start > moment for r in record.requests)


def what_held(record: CrawlRecord, outage: tuple[float, float]) -> list[str]:
    """The invariants of one crawl through ``outage``, each as a line that machine load
    cannot change while it holds (a bound, not a count), and that shows the count if not."""
    config, stats = record.config, record.server
    most = max(record.max_in_flight(), stats.max_in_flight)
    opened = record.opened_at()
    failures = ("503", "timeout", "error")
    before = sum(r.outcome in failures and r.start <= opened for r in record.requests) if opened is not None else 0
    late, bound = late_503s(record), trial_bound(config, outage)
    inside = opened is not None and outage[0] <= opened < outage[1]
    end = record.states[-1][1] if record.states else "closed"
    return [
        f"requests in flight at once, crawler and server: {f'<= {config.workers}' if most <= config.workers else most}",
        f"429s: {stats.rate_limited}",
        f"the breaker opened in the outage: {'yes' if inside else 'no'}; at the end it was {end}",
        f"failures (503s, timeouts) before it opened: "
        f"{f'>= {config.failure_threshold}' if before >= config.failure_threshold else before}",
        f"requests sent while it was open: {sum(r.breaker == 'open' for r in record.requests)}",
        f"503s to requests sent after it opened: {f'<= {bound}' if late <= bound else late}",
    ]


def row(label: str, record: CrawlRecord, *, bound: int, cut: float) -> Row:
    """``record`` as a :class:`Row`: counts as "0" or "> 0" (``done`` as all or fewer), the
    late 503s against the breaker's ``bound``, connections as reused or one per request,
    and the slowest request against ``cut`` seconds."""
    n, stats = len(record.urls), record.server
    some = lambda count: "0" if count == 0 else "> 0"  # noqa: E731
    late = late_503s(record)
    return Row(
        label,
        done=str(n) if len(record.done) == n else f"< {n}",
        failed=some(len(record.failed)),
        handed_back=some(len(record.handed_back)),
        lost=some(record.lost),
        thrown_away=some(record.thrown_away),
        rate_limited=some(stats.rate_limited),
        late_503s=f"<= {bound}" if late <= bound else f"> {bound}",
        connections="reused" if 2 * stats.connections_opened < stats.requests else "1 per request",
        slowest=f"< {cut:.2f} s" if record.slowest() < cut else f"> {cut:.2f} s",
    )
