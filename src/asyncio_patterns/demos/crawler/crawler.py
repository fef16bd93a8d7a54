"""A resilient crawler over the lab server, built from the course's patterns.

    async with LabServer(**SCENARIO) as server:
        record = await crawl(server, paths, CrawlConfig())
    print(record)        # every URL done, failed after its retries, or handed back

One request goes through the layers from the outside in: a worker of the ``WorkerPool``
takes a URL; ``retry`` calls the attempt again on a 5xx, a 429 (waiting at least its
``Retry-After``), a timeout or a connection error;
the ``TokenBucket`` paces each attempt; the ``CircuitBreaker`` lets it through or rejects it
at once (after the token, so that a call it admits is sent at once, not held while the
breaker's verdict goes stale); ``asyncio.timeout`` bounds it;
the shared ``aiohttp`` session's connector (``limit=workers``) lends it a kept-alive
connection. A rejection by the breaker is not a failure of the URL: the worker waits until
the breaker will let a trial through and starts the URL's retries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aiohttp

from ...lab.server import LabServer
from ...patterns.breaker import CircuitBreaker, CircuitOpen
from ...patterns.ratelimit import TokenBucket
from ...patterns.retry import retry
from ...patterns.shutdown import WorkerPool
from .config import CrawlConfig
from .record import CrawlRecord, Request

__all__ = ["BREAKER_FAILURES", "RETRIED", "RateLimited", "ServerError", "check_status", "crawl"]


class ServerError(Exception):
    """A 5xx answer: the server failed (500) or is down (503)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class RateLimited(Exception):
    """A 429 answer; ``retry_after`` is its ``Retry-After`` header, in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"HTTP 429, Retry-After: {retry_after:g}")
        self.retry_after = retry_after


RETRIED = (ServerError, RateLimited, aiohttp.ClientError, TimeoutError)
BREAKER_FAILURES = (ServerError, aiohttp.ClientError, TimeoutError)  # a 429 says "slower", not "down"


async def crawl(server: LabServer, paths: Sequence[str], config: CrawlConfig = CrawlConfig()) -> CrawlRecord:
    """Fetch every path from ``server`` as ``config`` says; return the run's record.

    The server's counters are reset first, so its clock (outages, rate-limit windows) and
    the record's times both start at the crawl's start. Every path ends in exactly one of
    ``done``, ``failed`` or ``handed_back``, unless ``graceful_stop`` is off: then the
    paths in flight or queued at the stop are in none of them (``record.lost``).
    """
    loop = asyncio.get_running_loop()
    server.reset_stats()
    began = loop.time()
    record = CrawlRecord(config, [server.url(p) for p in paths], outages=list(server.outages),
                         rate_limit=server.rate_limit, rate_limit_window=server.rate_limit_window)
    now = lambda: loop.time() - began  # noqa: E731
    bucket = TokenBucket(config.rate, burst=config.burst) if config.rate is not None else None
    breaker = CircuitBreaker(failure_threshold=config.failure_threshold, reset_timeout=config.reset_timeout,
                             failures=BREAKER_FAILURES, name="lab server",
                             on_change=lambda old, new: record.states.append((now(), new))) if config.breaker else None

    async with _sessions(config) as session_for:
        async def attempt(url: str) -> None:
            request = Request(now())
            record.requests.append(request)
            try:
                async with asyncio.timeout(config.timeout), session_for() as session, session.get(url) as response:
                    await response.read()
                request.outcome = check_status(response)
            except TimeoutError:
                request.outcome = "timeout"
                raise
            except aiohttp.ClientError:
                request.outcome = "error"
                raise
            except (ServerError, RateLimited) as error:
                request.outcome = "429" if isinstance(error, RateLimited) else str(error.status)
                raise
            finally:
                request.end = now()

        async def guarded(url: str) -> None:
            if bucket is not None:
                await bucket.acquire()  # before the breaker: a call it admits is sent at once
            if breaker is None:
                return await attempt(url)
            try:
                return await breaker.call(attempt, url)
            except CircuitOpen:
                record.rejected.append(now())
                raise

        fetch = retry(on=RETRIED, attempts=config.attempts, base=config.base, cap=config.cap,
                      retry_after=lambda error: getattr(error, "retry_after", None),
                      on_retry=lambda made: record.retries.append(now()), rng=random.Random(config.seed))(guarded)

        async def handle(url: str) -> None:
            while True:
                try:
                    await fetch(url)
                except CircuitOpen as refused:  # not the URL's failure: wait for the breaker, then start again
                    await asyncio.sleep(refused.retry_after if refused.retry_after is not None
                                        else config.timeout or config.reset_timeout)
                    continue
                except BaseException as error:
                    record.finished.append((now(), "cancelled" if isinstance(error, asyncio.CancelledError) else "failed"))
                    raise
                record.finished.append((now(), "done"))
                return

        stop = asyncio.Event()
        timer = loop.call_later(config.stop_at, stop.set) if config.stop_at is not None else None
        try:
            if config.graceful_stop:
                await _run_pool(handle, record, config, stop)
            else:
                await _run_and_cancel(handle, record, config, stop)
        finally:
            if timer is not None:
                timer.cancel()
    record.wall = now()
    record.server = server.stats
    return record


def check_status(response: aiohttp.ClientResponse) -> str:
    """"ok" for a 2xx; raises RateLimited for a 429, ServerError for a 5xx, and aiohttp's
    ClientResponseError for another 4xx (a 404 is not worth retrying)."""
    if response.status == 429:
        raise RateLimited(float(response.headers.get("Retry-After", "1")))
    if response.status >= 500:
        raise ServerError(response.status)
    response.raise_for_status()
    return "ok"


@contextlib.asynccontextmanager
async def _sessions(config: CrawlConfig) -> AsyncIterator[Callable[[], contextlib.AbstractAsyncContextManager]]:
    """``session_for()`` for each request: the one shared session, or a new one each time."""
    if not config.reuse_connections:
        yield aiohttp.ClientSession
        return
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=config.workers)) as shared:
        yield lambda: contextlib.nullcontext(shared)


async def _run_pool(handle: Callable[[str], Awaitable[None]], record: CrawlRecord, config: CrawlConfig,
                    stop: asyncio.Event) -> None:
    """The graceful way: a ``WorkerPool`` drains until the deadline or the stop, then cancels
    and hands back every URL not finished."""
    async with WorkerPool(handle, workers=config.workers, name="crawler") as pool:
        for url in record.urls:
            pool.submit(url)
        report = await pool.stop(deadline=config.deadline, hurry=stop)
    record.done = list(report.completed)
    record.failed = list(report.failed)
    record.handed_back = list(report.handed_back)


async def _run_and_cancel(handle: Callable[[str], Awaitable[None]], record: CrawlRecord, config: CrawlConfig,
                          stop: asyncio.Event) -> None:
    """The common way: plain worker tasks on a queue, cancelled at the deadline or the stop.
    Only what a worker finished is recorded; the queue and the requests in flight are dropped."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in record.urls:
        queue.put_nowait(url)

    async def worker() -> None:
        while not queue.empty():
            url = queue.get_nowait()
            try:
                await handle(url)
            except Exception as error:
                record.failed.append((url, error))
            else:
                record.done.append(url)

    workers = [asyncio.create_task(worker()) for _ in range(config.workers)]
    finished = asyncio.ensure_future(asyncio.gather(*workers))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([finished, stopped], timeout=config.deadline, return_when=asyncio.FIRST_COMPLETED)
    for task in [*workers, stopped]:
        task.cancel()
    await asyncio.gather(finished, stopped, return_exceptions=True)
