"""A small, real HTTP server for the lessons, on 127.0.0.1 and a free port.

    async with LabServer(latency=0.05, capacity=8) as server:
        async with session.get(server.url("/items/1")) as response: ...
        print(server.stats)

Routes: ``GET /items/{id}`` answers a small JSON document about item ``id`` after the
configured latency (or an injected failure); ``GET /stats`` the counters as JSON;
``POST /reset`` zeroes them; ``GET /`` a short description.

Behaviour, each off by default (0 means off):

- ``latency`` seconds per request, plus a random extra with mean ``jitter`` drawn from an
  exponential distribution (a long tail), seeded by ``seed``;
- ``capacity``: at most this many requests are served at once; the rest wait their turn;
- ``failure_rate``: this share of requests fail with 500 after their latency;
- ``outages``: ``(start, end)`` windows in seconds since the server started, during which
  every request fails at once with 503;
- ``rate_limit``: at most this many requests in each window of ``rate_limit_window`` seconds
  (fixed windows counted from the start, as many APIs count per second or per minute);
  beyond it the answer is 429 with a ``Retry-After`` header: whole seconds until the
  window ends, at least 1;
- ``connect_cost``: seconds the first request on each new connection waits before it is
  read, a stand-in for a TLS or authentication handshake; the total is ``stats.setup_seconds``.

From a shell, for instructors: ``asyncio-labserver --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import math
import random
import sys
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from aiohttp import web

from .cli import Parser, number_type
from .validate import number

__all__ = ["LabServer", "LabStats", "main"]


@dataclass
class LabStats:
    """Counters since the server started (or since the last reset)."""

    requests: int = 0  # every request received, whatever its answer
    ok: int = 0
    failed: int = 0  # 500 (failure_rate) and 503 (outages)
    rate_limited: int = 0  # 429
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests being handled at one moment
    connections_opened: int = 0
    setup_seconds: float = 0.0  # time new connections spent in set-up (connect_cost each)
    arrivals_per_second: list[int] = field(default_factory=list)  # index = whole second since start

    def as_dict(self) -> dict:
        return asdict(self)


class LabServer:
    """An aiohttp server with tunable latency, capacity, failures and rate limit."""

    def __init__(
        self,
        *,
        latency: float = 0.05,
        jitter: float = 0.0,
        capacity: int = 0,
        failure_rate: float = 0.0,
        outages: Sequence[tuple[float, float]] = (),
        rate_limit: int = 0,
        rate_limit_window: float = 1.0,
        connect_cost: float = 0.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.latency = number("latency", latency)
        self.jitter = number("jitter", jitter)
        self.capacity = int(number("capacity", capacity))
        self.failure_rate = number("failure_rate", failure_rate, high=1.0)
        self.outages = [(number("outage start", a), number("outage end", b, low=a)) for a, b in outages]
        self.rate_limit = int(number("rate_limit", rate_limit))
        self.rate_limit_window = number("rate_limit_window", rate_limit_window, low=1e-3)
        self.connect_cost = number("connect_cost", connect_cost)
        self.port = int(number("port", port, high=65535))
        self.host = host
        self.seed = seed
        self.stats = LabStats()
        self._runner: web.AppRunner | None = None
        self._started = 0.0

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> LabServer:
        """Start serving; returns self. Prefer ``async with LabServer(...)``."""
        if self._runner is not None:
            raise RuntimeError("this LabServer is already running")
        self._random = random.Random(self.seed)
        self._slots = asyncio.Semaphore(self.capacity) if self.capacity else None
        self._window = (-1, 0)  # (index of the current rate-limit window, requests counted in it)
        self._transports: weakref.WeakSet = weakref.WeakSet()
        app = web.Application()
        app.add_routes([
            web.get("/", self._index),
            web.get("/items/{id}", self._item),
            web.get("/stats", self._stats),
            web.post("/reset", self._reset),
        ])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await self.close()
            raise
        self.port = self._runner.addresses[0][1]
        self._started = asyncio.get_running_loop().time()
        return self

    async def close(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> LabServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- what learners read ----------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The full URL of ``path`` on this server, e.g. ``server.url("/items/3")``."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def reset_stats(self) -> None:
        """Zero every counter (requests still in flight stay counted as in flight)."""
        self.stats = LabStats(in_flight=self.stats.in_flight)
        self._transports = weakref.WeakSet()
        self._window = (-1, 0)
        if self._runner is not None:
            self._started = asyncio.get_running_loop().time()

    def __repr__(self) -> str:
        state = self.base_url if self._runner else "not running"
        return f"<LabServer {state} latency={self.latency:g}s capacity={self.capacity or 'off'}>"

    # -- request handling ------------------------------------------------------

    async def _set_up(self, request: web.Request) -> None:
        """Count a new connection, and make its first request wait ``connect_cost``."""
        transport = request.transport
        if transport is None or transport in self._transports:
            return
        self._transports.add(transport)
        self.stats.connections_opened += 1
        if self.connect_cost:
            await asyncio.sleep(self.connect_cost)
            self.stats.setup_seconds += self.connect_cost

    def _arrive(self, request: web.Request) -> float:
        stats = self.stats
        stats.requests += 1
        elapsed = asyncio.get_running_loop().time() - self._started
        second = int(elapsed)
        arrivals = stats.arrivals_per_second
        arrivals.extend([0] * (second + 1 - len(arrivals)))
        arrivals[second] += 1
        self.on_arrival(elapsed)
        return elapsed

    def on_arrival(self, elapsed: float) -> None:
        """Called as each request to ``/items`` arrives, ``elapsed`` seconds after the server
        started, once it is counted in ``stats`` and before it is answered. Does nothing here:
        a subclass overrides it to note arrivals or to change ``latency`` for what follows."""

    def _over_rate_limit(self, elapsed: float) -> int | None:
        """Whole seconds to wait (RFC 9110's Retry-After) if this request is over the limit."""
        if not self.rate_limit:
            return None
        index = int(elapsed // self.rate_limit_window)
        count = self._window[1] + 1 if self._window[0] == index else 1
        self._window = (index, count)
        if count <= self.rate_limit:
            return None
        return max(1, math.ceil((index + 1) * self.rate_limit_window - elapsed))

    def _in_outage(self, elapsed: float) -> bool:
        return any(start <= elapsed < end for start, end in self.outages)

    async def _item(self, request: web.Request) -> web.Response:
        await self._set_up(request)
        elapsed = self._arrive(request)
        retry_after = self._over_rate_limit(elapsed)
        if retry_after is not None:
            self.stats.rate_limited += 1
            return web.json_response({"error": "rate limited"}, status=429, headers={"Retry-After": str(retry_after)})
        if self._in_outage(elapsed):
            self.stats.failed += 1
            return web.json_response({"error": "service unavailable (outage)"}, status=503)
        stats = self.stats
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            if self._slots is None:
                return await self._serve(request)
            async with self._slots:
                return await self._serve(request)
        finally:
            self.stats.in_flight -= 1  # a reset carries in_flight over to the new counters

    async def _serve(self, request: web.Request) -> web.Response:
        delay = self.latency + (self._random.expovariate(1 / self.jitter) if self.jitter else 0.0)
        fail = self.failure_rate > 0 and self._random.random() < self.failure_rate
        await asyncio.sleep(delay)
        if fail:
            self.stats.failed += 1
            return web.json_response({"error": "injected failure"}, status=500)
        self.stats.ok += 1
        item_id = request.match_info["id"]
        return web.json_response({"id": item_id, "name": f"item {item_id}", "latency": round(delay, 6)})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_dict())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response({"reset": True})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text=f"{self!r}\nGET /items/{{id}}  GET /stats  POST /reset\n")


# -- command line ----------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="asyncio-labserver",
        description=("Serve the course's lab HTTP server until Ctrl-C. 0 turns --jitter, --capacity, "
                     "--failure-rate, --rate-limit and --connect-cost off."),
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    add("--port", type=number_type(0, 65535, int), default=8080, help="port, 0 for any free one (default: %(default)s)")
    add("--latency", type=number_type(0), default=0.05, help="seconds per request (default: %(default)s)")
    add("--jitter", type=number_type(0), default=0.0, help="mean extra seconds, exponentially distributed")
    add("--capacity", type=number_type(0, kind=int), default=0, help="requests served at once; the rest wait")
    add("--failure-rate", type=number_type(0, 1), default=0.0, help="share of requests answered 500, 0..1")
    add("--rate-limit", type=number_type(0, kind=int), default=0, help="requests per window before 429 answers")
    add("--rate-limit-window", type=number_type(1e-3), default=1.0,
        help="seconds per rate-limit window, at least 0.001 (default: %(default)s); --rate-limit 0 turns the limit off")
    add("--connect-cost", type=number_type(0), default=0.0,
        help="seconds each new connection's first request waits (a handshake stand-in)")
    add("--seed", type=int, default=0, help="seed for jitter and failures (default: %(default)s)")
    return parser


async def _serve_forever(server: LabServer) -> None:
    async with server:
        print(f"lab server on {server.base_url}  (GET /items/1, GET /stats; Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    server = LabServer(
        host=args.host, port=args.port, latency=args.latency, jitter=args.jitter, capacity=args.capacity,
        failure_rate=args.failure_rate, rate_limit=args.rate_limit,
        rate_limit_window=args.rate_limit_window, connect_cost=args.connect_cost, seed=args.seed,
    )
    try:
        asyncio.run(_serve_forever(server))
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        reason = "the port is already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        print(f"{_parser().prog}: error: cannot listen on {args.host}:{args.port}: {reason} "
              "(choose another --port or --host)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
