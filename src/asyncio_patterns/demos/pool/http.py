"""Real connections to the lab server: raw HTTP/1.1 keep-alive streams for our own Pool,
and aiohttp's own pool (its connector), measured by the server's counters."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp

from ...lab.measure import Measurement, measure
from ...lab.server import LabServer, LabStats
from ...patterns.pool import Pool

__all__ = ["COST_MODES", "CostRun", "HttpConnection", "QueueRun", "connection_costs", "connector_queue", "pooled_run"]

_LENGTH = re.compile(rb"(?im)^content-length: *(\d+)")


class HttpConnection:
    """One TCP connection speaking HTTP/1.1 with keep-alive: one request at a time.

    ``await HttpConnection.open(host, port)``, then ``await conn.get("/items/1")`` as often as
    you like, then ``await conn.close()``. ``is_open()`` is false once the server hung up."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def get(self, path: str) -> tuple[int, object]:
        """Send ``GET path`` and read the whole answer: (status, JSON body)."""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = _LENGTH.search(head)
        body = await self.reader.readexactly(int(length[1]) if length else 0)
        return int(head.split(None, 2)[1]), json.loads(body) if body else None

    def is_open(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass  # the server had already hung up: closed either way


COST_MODES = ("a session per request", "TCPConnector(force_close=True)", "one shared session")


@dataclass(frozen=True)
class CostRun:
    mode: str
    measurement: Measurement
    stats: LabStats

    @property
    def requests_per_second(self) -> float:
        return self.measurement.throughput


async def connection_costs(mode: str, *, requests: int = 40, concurrency: int = 4, latency: float = 0.01,
                           connect_cost: float = 0.05) -> CostRun:
    """``requests`` GETs, ``concurrency`` at a time, against a lab server whose new connections
    cost ``connect_cost`` s each, with a new connection per request or a reused one."""
    if mode not in COST_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, COST_MODES))}, got {mode!r}")
    async with LabServer(latency=latency, connect_cost=connect_cost) as server:
        async def fetch(session: aiohttp.ClientSession, i: int) -> None:
            async with session.get(server.url(f"/items/{i}")) as response:
                await response.read()

        if mode == "a session per request":
            async def job(i: int) -> None:
                async with aiohttp.ClientSession() as own:
                    await fetch(own, i)
            result = await measure(job, jobs=requests, concurrency=concurrency)
        else:
            connector = aiohttp.TCPConnector(force_close=mode.startswith("TCPConnector"))
            async with aiohttp.ClientSession(connector=connector) as session:
                result = await measure(lambda i: fetch(session, i), jobs=requests, concurrency=concurrency)
    return CostRun(mode, result, server.stats)


async def pooled_run(size: int, *, clients: int = 16, requests: int = 10, latency: float = 0.02,
                     connect_cost: float = 0.05) -> tuple[Measurement, LabStats]:
    """``clients`` tasks each make ``requests`` GETs through a ``Pool`` of at most ``size``
    :class:`HttpConnection` objects to a real lab server. The measurement's latencies are the
    acquire waits."""
    async with LabServer(latency=latency, connect_cost=connect_cost) as server:
        waits: list[float] = []
        loop = asyncio.get_running_loop()
        opened: Callable[[], Awaitable[HttpConnection]] = lambda: HttpConnection.open(server.host, server.port)
        async with Pool(opened, HttpConnection.close, max_size=size, timeout=10.0,
                        check=HttpConnection.is_open) as pool:
            async def client(c: int) -> None:
                for r in range(requests):
                    asked = loop.time()
                    async with pool.acquire() as conn:
                        waits.append(loop.time() - asked)
                        status, _ = await conn.get(f"/items/{c}-{r}")
                        if status != 200:
                            raise RuntimeError(f"the lab server answered {status}")

            began = loop.time()
            async with asyncio.timeout(30), asyncio.TaskGroup() as group:
                for c in range(clients):
                    group.create_task(client(c))
            elapsed = loop.time() - began
    return Measurement(clients * requests, size, elapsed, tuple(waits)), server.stats


@dataclass(frozen=True)
class QueueRun:
    """What :func:`connector_queue` saw: each request's seconds and round, in request order."""

    took: list[float]  # seconds from the request's start to its whole answer (real time: varies)
    rounds: list[int]  # 1 + ceil(answers the server had sent when it got a connection / limit): counts
    queued: int  # requests that waited in the connector's queue for a connection (aiohttp's trace)
    limit: int  # connections the connector allows to the one host
    stats: LabStats

    @property
    def per_round(self) -> dict[int, int]:
        """How many requests went in each round: {1: 100, 2: 50}."""
        return dict(sorted(Counter(self.rounds).items()))


async def connector_queue(n: int = 150, *, latency: float = 0.5, **connector_options: int) -> QueueRun:
    """``n`` GETs started at once through one session whose connector gets ``connector_options``
    (``limit=``, ``limit_per_host=``), against a lab server with ``latency``.

    A request's round is counted, not timed: when it gets its connection, the server has sent
    some number of answers, none for the first ``limit`` requests, 1 to ``limit`` for the
    next ``limit`` (each waited for one of the first round's connections), and so on."""
    async with LabServer(latency=latency) as server:
        connector = aiohttp.TCPConnector(**connector_options)
        limit = min([x for x in (connector.limit, connector.limit_per_host) if x] or [n])
        tracing = aiohttp.TraceConfig()

        async def queued(session: object, context: SimpleNamespace, params: object) -> None:
            context.trace_request_ctx["queued"] = True

        async def connected(session: object, context: SimpleNamespace, params: object) -> None:
            context.trace_request_ctx["answers before"] = server.stats.ok

        tracing.on_connection_queued_start.append(queued)
        tracing.on_connection_create_start.append(connected)
        tracing.on_connection_reuseconn.append(connected)
        loop = asyncio.get_running_loop()

        async with aiohttp.ClientSession(connector=connector, trace_configs=[tracing]) as session:
            async def get(i: int) -> tuple[float, dict]:
                seen = {"queued": False}
                began = loop.time()
                async with session.get(server.url(f"/items/{i}"), trace_request_ctx=seen) as response:
                    await response.read()
                return loop.time() - began, seen

            async with asyncio.timeout(30), asyncio.TaskGroup() as group:
                tasks = [group.create_task(get(i)) for i in range(n)]
    results = [task.result() for task in tasks]
    return QueueRun([took for took, _ in results],
                    [1 + math.ceil(seen["answers before"] / limit) for _, seen in results],
                    sum(seen["queued"] for _, seen in results), limit, server.stats)
