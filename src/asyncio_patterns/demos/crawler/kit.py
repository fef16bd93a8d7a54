"""What a crawler's handler is built from: the patterns, set up as a :class:`CrawlConfig` says.

A handler maker is ``make_handler(kit)``, returning ``async def handle(url)`` that fetches
one URL, or raises if the URL failed. The decisions are the handler's (which answers are
errors, which are retried, in what order the token, the breaker and the timeout go, what
to do with a ``Retry-After``); the :class:`Kit` only hands it the parts, each already
switched on or off by the config and recorded for the crawl's dashboard:

- ``kit.session.get(url)``: ``async with`` it for a response (``status``, ``headers``,
  ``await read()``, ``raise_for_status()``); one pooled ``aiohttp`` session, or a new one
  per request with ``reuse_connections=False``;
- ``await kit.bucket.acquire()``: a token of the ``TokenBucket`` (at once if ``rate`` is
  None). Once the crawl is stopping it gives no more tokens: it waits until the stop
  cancels the handler, so no new request starts;
- ``kit.breaker(failures=(...))``: a ``CircuitBreaker`` counting those errors, its state
  changes and rejections recorded (with ``breaker=False``, one whose ``call`` always goes
  through); call it once, in ``make_handler``, so that every worker shares it;
- ``kit.retry(on=(...), retry_after=...)``: ``patterns.retry`` with the config's
  attempts and backoff (``attempts=1``: no retry);
- ``kit.timeout``: seconds each request may take, or None;
- ``kit.config``: the whole :class:`CrawlConfig`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ...patterns.breaker import CircuitBreaker, CircuitOpen
from ...patterns.ratelimit import TokenBucket
from ...patterns.retry import retry
from .config import CrawlConfig
from .record import CrawlRecord, Request

__all__ = ["Kit", "RecordingSession", "Stop", "make_kit"]


class Stop:
    """The crawl's stop request: ``request()`` sets it (a timer, the deadline, a signal).

    ``requested`` is the event the crawl waits on; ``at`` when it came; ``idle`` is set
    once it came and no request is in flight (see :class:`RecordingSession`); ``cutting`` is set
    when the workers are about to be cancelled, so a request cut from then on is recorded
    as cut by the stop, not as a timeout.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self.requested = asyncio.Event()
        self.idle = asyncio.Event()  # the stop was requested and no request is in flight
        self.at: float | None = None
        self.cutting = False
        self.in_flight = 0
        self._now = now

    def request(self) -> None:
        if not self.requested.is_set():
            self.at = self._now()
            self.requested.set()
            self._check_idle()

    def sending(self, step: int) -> None:
        """A request begins (+1) or ends (-1)."""
        self.in_flight += step
        self._check_idle()

    def _check_idle(self) -> None:
        if self.requested.is_set() and self.in_flight == 0:
            self.idle.set()

    async def gate(self) -> None:
        """Return at once, or, once the stop was requested, wait until cancelled."""
        if self.requested.is_set():
            await asyncio.get_running_loop().create_future()  # the stop's cancel ends it


class _Bucket:
    def __init__(self, rate: float | None, burst: int, stop: Stop) -> None:
        self._bucket = TokenBucket(rate, burst=burst) if rate is not None else None
        self._stop = stop

    async def acquire(self) -> None:
        await self._stop.gate()
        if self._bucket is not None:
            await self._bucket.acquire()
        await self._stop.gate()  # a stop that came while it waited for the token


class _NoBreaker:
    """``breaker=False``: every call goes through."""

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await function(*args, **kwargs)


class RecordingSession:
    """``get(url)`` as an ``aiohttp`` session's, recording each request in ``record``.

    ``open_session()`` gives the session to send it on (an async context manager): the
    shared one, a new one per request, or a stand-in in a test. A request that got no
    answer is recorded as a ``"timeout"`` if it was cancelled before the stop's cut,
    ``"cut"`` after it, ``"error"`` for a connection error.
    """

    def __init__(self, open_session: Callable[[], contextlib.AbstractAsyncContextManager], record: CrawlRecord,
                 now: Callable[[], float], stop: Stop) -> None:
        self._open, self._record, self._now, self._stop = open_session, record, now, stop

    @contextlib.asynccontextmanager
    async def get(self, url: str, **kwargs: Any) -> AsyncIterator[Any]:
        states = self._record.states
        request = Request(self._now(), url=url, breaker=states[-1][1] if states else "closed")
        self._record.requests.append(request)
        self._stop.sending(+1)
        try:
            async with self._open() as session, session.get(url, **kwargs) as response:
                request.outcome = "ok" if response.status < 300 else str(response.status)
                yield response
        except asyncio.CancelledError:
            if request.outcome == "cancelled":
                request.outcome = "cut" if self._stop.cutting else "timeout"
            raise
        except Exception:
            if request.outcome == "cancelled":
                request.outcome = "error"
            raise
        finally:
            request.end = self._now()
            self._stop.sending(-1)


@dataclass
class Kit:
    """The parts a handler is built from (see the module's docstring)."""

    session: Any
    bucket: Any
    timeout: float | None
    config: CrawlConfig
    _record: CrawlRecord
    _now: Callable[[], float]
    _rng: random.Random

    def breaker(self, *, failures: type[Exception] | tuple[type[Exception], ...]) -> Any:
        """A breaker counting ``failures`` (call it once: each call makes a new one); with
        ``breaker=False`` a pass-through."""
        config, record = self.config, self._record
        breaker = CircuitBreaker(failures=failures, failure_threshold=config.failure_threshold,
                                 reset_timeout=config.reset_timeout, name="lab server",
                                 on_change=lambda old, new: record.states.append((self._now(), new)))
        if not config.breaker:
            return _NoBreaker()
        return _Watched(breaker, record, self._now)

    def retry(self, *, on: type[Exception] | tuple[type[Exception], ...],
              retry_after: Callable[[Exception], float | None] | None = None) -> Callable:
        """``patterns.retry`` with the config's ``attempts``, ``base`` and ``cap``."""
        config, record = self.config, self._record
        return retry(on=on, attempts=config.attempts, base=config.base, cap=config.cap, retry_after=retry_after,
                     on_retry=lambda made: record.retries.append(self._now()), rng=self._rng)


class _Watched:
    """The breaker, with each rejection recorded for the dashboard."""

    def __init__(self, breaker: CircuitBreaker, record: CrawlRecord, now: Callable[[], float]) -> None:
        self._breaker, self._record, self._now = breaker, record, now

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._breaker.call(function, *args, **kwargs)
        except CircuitOpen:
            self._record.rejected.append(self._now())
            raise


def make_kit(config: CrawlConfig, record: CrawlRecord, session: Any, now: Callable[[], float], stop: Stop) -> Kit:
    """The :class:`Kit` for one crawl."""
    return Kit(session=session, bucket=_Bucket(config.rate, config.burst, stop), timeout=config.timeout,
               config=config, _record=record, _now=now, _rng=random.Random(config.seed))
