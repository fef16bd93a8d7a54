"""A resilient crawler over the lab server, built from the course's patterns.

    async with LabServer(**SCENARIO) as server:
        record = await crawl(server, paths, CrawlConfig())
    print(record)        # every URL done, failed after its retries, or handed back

``crawl`` runs the URLs through a ``WorkerPool``: a feeder submits one URL for each free
worker (the intake), and each worker awaits ``handle(url)``, the handler that
``make_handler(kit)`` built (:mod:`.reference`'s by default, or the learner's) from the
:class:`~.kit.Kit`: the token bucket, the breaker, retry, the timeout and the session, each
switched on or off by the :class:`CrawlConfig` and recorded for the dashboard. A stop
(``stop_at``, or the ``deadline``) ends the crawl as ``config.stop`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from ...lab.server import LabServer
from ...patterns.shutdown import WorkerPool
from .config import CrawlConfig
from .kit import Kit, RecordingSession, Stop, make_kit
from .record import CrawlRecord
from .reference import make_handler

__all__ = ["crawl", "run_crawl"]


async def crawl(server: LabServer, paths: Sequence[str], config: CrawlConfig = CrawlConfig(),
                handler: Callable[[Kit], Callable[[str], Awaitable[Any]]] = make_handler) -> CrawlRecord:
    """Fetch every path from ``server`` with ``handler(kit)``'s handle, as ``config`` says.

    The server's counters are reset first, so its clock (outages, rate-limit windows) and
    the record's times both start at the crawl's start; ``record.server`` is the server's
    counters object, final once the server has closed. Every path ends in exactly one of
    ``done``, ``failed`` or ``handed_back``, unless ``config.stop`` is ``"abandon"`` and a
    stop came: then the paths queued or in flight are in none of them (``record.lost``).
    """
    loop = asyncio.get_running_loop()
    server.reset_stats()
    began = loop.time()
    record = CrawlRecord(config, [server.url(p) for p in paths], outages=list(server.outages),
                         rate_limit=server.rate_limit, rate_limit_window=server.rate_limit_window)
    now = lambda: loop.time() - began  # noqa: E731
    async with _sessions(config) as open_session:
        await run_crawl(handler, record, config, lambda stop: RecordingSession(open_session, record, now, stop), now)
    record.wall = now()
    record.server = server.stats
    return record


async def run_crawl(handler: Callable[[Kit], Callable[[str], Awaitable[Any]]], record: CrawlRecord,
                    config: CrawlConfig, session_for: Callable[[Stop], Any], now: Callable[[], float]) -> None:
    """Crawl ``record.urls`` with ``handler``, sending requests on ``session_for(stop)``;
    fill in ``record``. The real crawl and the exercise's check both run this."""
    loop = asyncio.get_running_loop()
    stop = Stop(now)
    timers = [loop.call_later(config.deadline, stop.request)]
    if config.stop_at is not None:
        timers.append(loop.call_later(config.stop_at, stop.request))
    handle = handler(make_kit(config, record, session_for(stop), now, stop))
    try:
        if config.stop == "abandon":
            await _run_and_abandon(handle, record, config, stop, now)
        else:
            await _run_pool(handle, record, config, stop, now)
    finally:
        for timer in timers:
            timer.cancel()
        record.stopped_at = stop.at


async def _run_pool(handle: Callable[[str], Awaitable[Any]], record: CrawlRecord, config: CrawlConfig,
                    stop: Stop, now: Callable[[], float]) -> None:
    """A feeder submits a URL whenever a worker is free, until none is left or a stop
    comes; with ``"drain"``, the requests in flight then have up to ``grace`` seconds to
    end (no new one starts); the pool cancels the rest and hands their URLs back, with
    the URLs never submitted."""
    pending = deque(record.urls)
    free = asyncio.Semaphore(config.workers)

    async def job(url: str) -> None:
        try:
            await handle(url)
            record.finished.append((now(), "done"))
        except BaseException as error:
            record.finished.append((now(), "cancelled" if isinstance(error, asyncio.CancelledError) else "failed"))
            raise
        finally:
            free.release()

    async with WorkerPool(job, workers=config.workers, name="crawler") as pool:
        while pending and await _first(free.acquire(), stop.requested):
            pool.submit(pending.popleft())
        await pool.drain(math.inf, hurry=stop.requested)  # every URL submitted has ended, or a stop came
        if stop.requested.is_set() and config.stop == "drain":
            await pool.drain(config.grace, hurry=stop.idle)  # until no request is in flight
        stop.cutting = True
        report = await pool.cancel()
    record.done = list(report.completed)
    record.failed = list(report.failed)
    record.handed_back = [*report.handed_back, *pending]


async def _first(acquire: Awaitable[Any], stopped: asyncio.Event) -> bool:
    """Await ``acquire`` unless ``stopped`` is set first: True if it was acquired."""
    if stopped.is_set():
        acquire.close()
        return False
    got, stop = asyncio.ensure_future(acquire), asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait([got, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not got.done():
            got.cancel()
        await asyncio.wait([got, stop])
    if stopped.is_set():
        return False  # a slot acquired at the same moment stays taken: the intake is closed
    return True


async def _run_and_abandon(handle: Callable[[str], Awaitable[Any]], record: CrawlRecord, config: CrawlConfig,
                           stop: Stop, now: Callable[[], float]) -> None:
    """The common way: plain worker tasks on a queue, cancelled at the stop. Only what a
    worker finished is recorded; the queue and the URLs in flight are dropped."""
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
                record.finished.append((now(), "failed"))
            else:
                record.done.append(url)
                record.finished.append((now(), "done"))

    workers = [asyncio.create_task(worker()) for _ in range(config.workers)]
    finished = asyncio.ensure_future(asyncio.gather(*workers))
    stopped = asyncio.ensure_future(stop.requested.wait())
    await asyncio.wait([finished, stopped], return_when=asyncio.FIRST_COMPLETED)
    stop.cutting = True
    for task in [*workers, stopped]:
        task.cancel()
    await asyncio.gather(finished, stopped, return_exceptions=True)


@contextlib.asynccontextmanager
async def _sessions(config: CrawlConfig) -> AsyncIterator[Callable[[], contextlib.AbstractAsyncContextManager]]:
    """``open_session()`` for each request: the one shared session, or a new one each time."""
    if not config.reuse_connections:
        yield aiohttp.ClientSession
        return
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=config.workers)) as shared:
        yield lambda: contextlib.nullcontext(shared)
