"""What one crawl did: where every URL ended, every request, and the breaker's states."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...lab.server import LabStats
from .config import CrawlConfig

__all__ = ["CrawlRecord", "Request"]


@dataclass
class Request:
    """One request sent to the server. Times are seconds since the crawl started."""

    start: float
    end: float | None = None
    outcome: str = "cancelled"  # "ok", "404", "429", "503", ...; "timeout", "error", or "cut" at the stop
    url: str = ""
    breaker: str = "closed"  # the breaker's state when it was sent

    @property
    def answered(self) -> bool:
        """The crawler read the server's answer (a status)."""
        return self.outcome.isdigit() or self.outcome == "ok"


@dataclass
class CrawlRecord:
    """One crawl, as :func:`~asyncio_patterns.demos.crawler.crawl` returns it.

    ``done``, ``failed`` (with the error that ended each) and ``handed_back`` partition
    ``urls`` unless a stop abandoned the workers; ``lost`` counts the URLs in none of them.
    ``server`` is the lab server's own counters at the end of the crawl.
    """

    config: CrawlConfig
    urls: list[str]
    outages: list[tuple[float, float]] = field(default_factory=list)
    rate_limit: int = 0
    rate_limit_window: float = 1.0
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, Exception]] = field(default_factory=list)
    handed_back: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)  # when the breaker refused a call
    retries: list[float] = field(default_factory=list)  # when a retry's wait began
    states: list[tuple[float, str]] = field(default_factory=list)  # (time, new state), "closed" at 0
    finished: list[tuple[float, str]] = field(default_factory=list)  # (time, "done"/"failed"/"cancelled") per URL
    wall: float = 0.0
    server: LabStats | None = None
    stopped_at: float | None = None  # when the stop came (None: it ran to the end)

    @property
    def lost(self) -> int:
        return len(self.urls) - len(self.done) - len(self.failed) - len(self.handed_back)

    @property
    def thrown_away(self) -> int:
        """Requests the server received whose answer the crawler never read, other than
        its own timeouts: answers the stop threw away. Read from the server's count, so it
        is final once the server has closed (its handlers run to the end)."""
        ended = sum(r.answered or r.outcome in ("timeout", "error") for r in self.requests)
        return max(self.server.requests - ended, 0)  # a request cut before it arrived is not the server's

    def opened_at(self) -> float | None:
        """When the breaker first opened (None: it never did)."""
        return next((t for t, state in self.states if state == "open"), None)

    def after_in_a_row(self, threshold: int) -> float | None:
        """When ``threshold`` failures in a row (5xx, timeout, connection error; an answer
        resets the count, a 429 does not count) had first come back, or None."""
        run = 0
        for request in sorted((r for r in self.requests if r.end is not None), key=lambda r: r.end):
            if request.outcome.startswith("5") or request.outcome in ("timeout", "error"):
                run += 1
                if run == threshold:
                    return request.end
            elif request.answered and request.outcome != "429":
                run = 0
        return None

    def count(self, outcome: str) -> int:
        """How many requests ended with ``outcome`` ("ok", "429", "503", "timeout", ...)."""
        return sum(r.outcome == outcome for r in self.requests)

    def max_in_flight(self) -> int:
        """The most requests this crawler had in flight at one moment."""
        edges = sorted([(r.start, 1) for r in self.requests] + [(r.end, -1) for r in self.requests if r.end is not None],
                       key=lambda edge: (edge[0], edge[1]))
        most = level = 0
        for _, step in edges:
            level += step
            most = max(most, level)
        return most

    def slowest(self) -> float:
        """The longest any request took, in seconds."""
        return max((r.end - r.start for r in self.requests if r.end is not None), default=0.0)

    def __str__(self) -> str:
        return (f"{len(self.urls)} URLs: {len(self.done)} done, {len(self.failed)} failed after retries, "
                f"{len(self.handed_back)} handed back, {self.lost} lost")
