"""The crawler's knobs: one frozen dataclass, each pattern switchable off on its own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...lab.validate import number, seconds, whole_number

__all__ = ["STOPS", "SWITCHES", "CrawlConfig"]


@dataclass(frozen=True)
class CrawlConfig:
    """How :func:`~asyncio_patterns.demos.crawler.crawl` fetches its URLs.

    Each pattern has its own switch, so ``config.without("rate")`` is the same crawl with
    that one pattern off:

    - ``workers``: the fixed pool of worker tasks, which is also the concurrency limit
      (each worker has one request in flight at most) and the connector's size;
    - ``rate`` (``None``: off): a ``TokenBucket`` of ``rate`` requests per second, bursts
      of ``burst``, taken before every request, retries included;
    - ``timeout`` (``None``: off): seconds each request may take;
    - ``attempts`` (``1``: no retry): calls per URL by the handler's ``kit.retry``, with
      capped, fully jittered backoff from ``base`` to ``cap`` seconds;
    - ``breaker`` (``False``: off): one ``CircuitBreaker`` shared by the workers, opened by
      ``failure_threshold`` failures in a row, half-open after ``reset_timeout``;
    - ``reuse_connections`` (``False``: a new session, so a new connection, per request);
    - ``stop_at`` (``None``: no stop comes): seconds into the crawl when a stop is
      requested (as a deploy's SIGTERM would); ``deadline``: when the crawl stops at the
      latest. What a stop does is ``stop``:

      - ``"drain"``: close the intake (no new URL starts, and no new request: the bucket
        gives no more tokens), let the requests in flight end for up to ``grace`` seconds
        (it moves on as soon as none is left; with ``grace`` above ``timeout``, each
        ends by itself), then cancel the workers and hand back every URL not finished;
      - ``"cancel"``: cancel the workers at once (lesson 08's second signal) and hand back
        every URL not finished; the answers of the requests in flight are thrown away;
      - ``"abandon"``: cancel plain worker tasks and keep only what they recorded, as a
        crawler with no stop of its own does: the URLs queued or in flight are lost.
    """

    workers: int = 16
    rate: float | None = 120.0
    burst: int = 4
    timeout: float | None = 0.1
    attempts: int = 6
    base: float = 0.02
    cap: float = 0.1
    breaker: bool = True
    failure_threshold: int = 5
    reset_timeout: float = 0.1
    reuse_connections: bool = True
    stop_at: float | None = None
    deadline: float = 3.0
    stop: str = "drain"
    grace: float = 0.5
    seed: int = 0  # for the backoff's jitter

    def __post_init__(self) -> None:
        whole_number("workers", self.workers)
        if self.rate is not None:
            number("rate", self.rate, positive=True)
        whole_number("burst", self.burst)
        if self.timeout is not None:
            seconds("timeout", self.timeout, positive=True)
        whole_number("attempts", self.attempts)
        seconds("base", self.base)
        if not (isinstance(self.cap, (int, float)) and not isinstance(self.cap, bool) and self.cap >= self.base):
            raise ValueError(f"cap must be a number of seconds >= base ({self.base!r}), got {self.cap!r}")
        whole_number("failure_threshold", self.failure_threshold)
        seconds("reset_timeout", self.reset_timeout, positive=True)
        seconds("deadline", self.deadline, positive=True)
        if self.stop_at is not None:
            seconds("stop_at", self.stop_at)
        if self.stop not in STOPS:
            raise ValueError(f"stop must be one of {', '.join(map(repr, STOPS))}, got {self.stop!r}")
        seconds("grace", self.grace)

    def without(self, pattern: str) -> CrawlConfig:
        """This config with one pattern off: one of :data:`SWITCHES`' keys."""
        if pattern not in SWITCHES:
            raise ValueError(f"pattern must be one of {', '.join(map(repr, SWITCHES))}, got {pattern!r}")
        return dataclasses.replace(self, **SWITCHES[pattern])


SWITCHES: dict[str, dict[str, object]] = {
    "rate": {"rate": None},
    "breaker": {"breaker": False},
    "retry": {"attempts": 1},
    "timeout": {"timeout": None},
    "reuse": {"reuse_connections": False},
}
STOPS = ("drain", "cancel", "abandon")
