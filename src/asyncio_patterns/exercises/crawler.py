"""Check for the capstone's exercise: the crawler's handler, with its decisions made right.

The learner writes ``make_handler(kit)``, returning ``async def handle(url)`` (see
:mod:`asyncio_patterns.demos.crawler.kit` for what the kit holds). ``check_crawler(make_handler)``
runs the real crawl driver (a ``WorkerPool`` fed one URL per free worker, the kit's bucket,
breaker and retry) in virtual time against a scripted server, which records every request
it receives: when it arrived, how it ended (an answer, or cut by the client) and with what
status. Each scenario is judged from those records and the crawl's own lists (done,
failed, handed back), never from how fast the machine is:

1. pages that all answer: every URL done, each with a 200 from the server, fetched once;
2. a missing page (404): it fails, after exactly one request; the others are done;
3. a 503, a 500 and a dropped connection, once each: retried, so every URL is done;
4. a 429 with ``Retry-After: 1``: its URL's next request comes at least 1 s later;
5. a request that hangs: it is cut by a timeout of ``kit.timeout`` and retried;
6. an outage of 503s from the start: nothing lost, nothing sent while the breaker is open,
   and the breaker keeps the load off;
7. an outage where every request hangs: the same, which needs the timeout inside the breaker.

Every run is guarded by the shared harness, so a hang is a verdict, never a hung kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ..demos.crawler.config import CrawlConfig
from ..demos.crawler.crawler import run_crawl
from ..demos.crawler.kit import RecordingSession
from ..demos.crawler.record import CrawlRecord
from ..patterns.breaker import CircuitOpen
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, describe_error, run_guarded

__all__ = ["CONFIG", "check_crawler"]

CONFIG = CrawlConfig(workers=4, rate=100.0, burst=4, timeout=0.1, attempts=6, base=0.02, cap=0.1,
                     failure_threshold=5, reset_timeout=0.5, deadline=100.0, seed=0)
LATENCY = 0.01  # seconds the scripted server takes to answer a page
HANG = 30.0  # seconds a hanging request is held before it is answered
OUTAGE = 1.45  # seconds the outages last, from the start
EPSILON = 1e-6
REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


@dataclass
class Served:
    """One request the scripted server received."""

    path: str
    arrived: float
    ended: float | None = None
    status: int | None = None  # None: cut by the client, or the connection was dropped
    cut: bool = False  # the client went away before the answer


@dataclass(frozen=True)
class Action:
    """What the server does with a request: answer ``status`` after ``delay`` seconds,
    or drop the connection (``status=None``)."""

    status: int | None = 200
    delay: float = LATENCY
    retry_after: int | None = None


class _Response:
    """The part of ``aiohttp.ClientResponse`` a handler uses."""

    def __init__(self, url: str, status: int, retry_after: int | None) -> None:
        self.url, self.status, self.reason = URL(url), status, REASONS.get(status, "")
        headers = CIMultiDict({"Content-Type": "application/json"})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self.headers = CIMultiDictProxy(headers)

    @property
    def ok(self) -> bool:
        return self.status < 400

    async def read(self) -> bytes:
        return b'{"id": 1}'

    async def text(self) -> str:
        return '{"id": 1}'

    async def json(self) -> Any:
        return {"id": 1}

    def raise_for_status(self) -> None:
        if self.status >= 400:
            info = aiohttp.RequestInfo(self.url, "GET", CIMultiDictProxy(CIMultiDict()), self.url)
            raise aiohttp.ClientResponseError(info, (), status=self.status, message=self.reason)


class ScriptedServer:
    """``get(url)`` like an aiohttp session's, answering as ``script(path, n, now)`` says
    (``n``: 1 for the first request to that path); records every request in ``served``."""

    def __init__(self, script: Callable[[str, int, float], Action]) -> None:
        self.script = script
        self.served: list[Served] = []

    def to(self, path: str) -> list[Served]:
        return [s for s in self.served if s.path == path]

    @contextlib.asynccontextmanager
    async def get(self, url: str, **kwargs: Any) -> AsyncIterator[_Response]:
        loop = asyncio.get_running_loop()
        served = Served(url, loop.time())
        self.served.append(served)
        action = self.script(url, len(self.to(url)), served.arrived)
        try:
            await asyncio.sleep(action.delay)
        except asyncio.CancelledError:
            served.cut, served.ended = True, loop.time()
            raise
        served.ended = loop.time()
        if action.status is None:
            raise aiohttp.ServerDisconnectedError()
        served.status = action.status
        yield _Response(url, action.status, action.retry_after)


async def _crawl(make_handler: Callable, paths: list[str], script: Callable[[str, int, float], Action]
                 ) -> tuple[CrawlRecord, ScriptedServer]:
    loop = asyncio.get_running_loop()
    began = loop.time()
    now = lambda: loop.time() - began  # noqa: E731
    server = ScriptedServer(script)
    record = CrawlRecord(CONFIG, list(paths))
    session = lambda stop: RecordingSession(lambda: contextlib.nullcontext(server), record, now, stop)  # noqa: E731
    await run_crawl(make_handler, record, CONFIG, session, now)
    return record, server


def _pages(n: int, *extra: str) -> list[str]:
    return [f"/items/{i}" for i in range(n)] + list(extra)


def _answers(path: str, n: int, now: float) -> Action:
    """A 200 for a page, a 404 for a path under /missing/."""
    return Action(404) if path.startswith("/missing/") else Action()


def _first(special: dict[str, Action]) -> Callable[[str, int, float], Action]:
    """The first request to each path in ``special`` gets its action; everything else a 200."""
    return lambda path, n, now: special[path] if n == 1 and path in special else Action()


def _down(action: Action) -> Callable[[str, int, float], Action]:
    """``action`` for every request that arrives in the first ``OUTAGE`` seconds."""
    return lambda path, n, now: action if now < OUTAGE else Action()


@dataclass(frozen=True)
class _Scenario:
    what: str
    paths: list[str]
    script: Callable[[str, int, float], Action]
    judge: Callable[[CrawlRecord, ScriptedServer, str], str | None]


def _failure(record: CrawlRecord, path: str) -> BaseException | None:
    return next((error for url, error in record.failed if url == path), None)


def _everything_done(record: CrawlRecord, server: ScriptedServer, what: str,
                     expect_failed: tuple[str, ...] = ()) -> str | None:
    """The checks every scenario shares: each URL in one list; done only with a 200."""
    if record.handed_back:
        return (f"{what}: {len(record.handed_back)} URL(s) were still being fetched {CONFIG.deadline:g} s in (virtual "
                f"time), e.g. {record.handed_back[0]}: does handle() return once a request has succeeded?")
    for url, error in record.failed:
        if url in expect_failed:
            continue
        requests = len(server.to(url))
        if isinstance(error, CircuitOpen) or isinstance(error.__cause__, CircuitOpen):
            return (f"{what}: {url} failed with {describe_error(error)}. A rejection by the breaker is not the URL's "
                    "failure (the request was never sent): in handle(), catch CircuitOpen, sleep its retry_after "
                    "(kit.config.reset_timeout when it is None) and fetch again; and do not retry CircuitOpen")
        if requests and isinstance(error, (TypeError, AttributeError, NameError, KeyError, ValueError)):
            none = ("CircuitOpen.retry_after is None while the breaker is half-open and its trial is in flight: "
                    "wait kit.config.reset_timeout then (`refused.retry_after or kit.config.reset_timeout`). "
                    if isinstance(error, TypeError) and "NoneType" in str(error) else "")
            return (f"{what}: {url} failed with {describe_error(error)}, an error in the handler's own code, not an "
                    f"answer from the server. {none}".rstrip())
        return (f"{what}: {url} failed after {requests} request(s) with {describe_error(error)}. "
                + _why_failed(server, url))
    for url in record.done:
        if url in expect_failed:
            continue
        if not any(s.status == 200 for s in server.to(url)):
            statuses = [s.status if s.status is not None else ("cut" if s.cut else "dropped") for s in server.to(url)]
            return (f"{what}: {url} was counted done, but the server never answered it with a 200 (its requests: "
                    f"{statuses or 'none'}). That URL is lost: nobody will fetch it again. Let an error reach the "
                    "pool (do not catch it and return), and after a CircuitOpen fetch again")
    return None


def _why_failed(server: ScriptedServer, url: str) -> str:
    if not server.to(url):
        return ("It sent no request: make_handler(kit) must return an `async def handle(url)` that sends it with "
                "`async with kit.session.get(url) as response:`")
    statuses = {s.status for s in server.to(url)}
    if statuses & {500, 503}:
        return ("A 5xx is worth retrying (the server may answer a moment later): raise your ServerError for it and "
                "name ServerError in kit.retry(on=...)")
    if None in statuses and any(not s.cut for s in server.to(url)):
        return "A dropped connection is worth retrying: name aiohttp.ClientConnectionError in kit.retry(on=...)"
    if any(s.cut for s in server.to(url)):
        return "A request cut by its timeout is worth retrying: name TimeoutError in kit.retry(on=...)"
    if 429 in statuses:
        return "A 429 asks you to come back later, not to give up: retry it, after its Retry-After"
    return "Every request it sent was answered 200: check_status() or handle() raised for a good answer"


def _pages_answer(record: CrawlRecord, server: ScriptedServer, what: str) -> str | None:
    said = _everything_done(record, server, what)
    if said:
        return said
    for url in record.urls:
        if len(server.to(url)) > 1:
            return (f"{what}: {url} was fetched {len(server.to(url))} times though its first answer was a 200: "
                    "return after a success (is check_status() raising for a 200?)")
    return None


def _missing(record: CrawlRecord, server: ScriptedServer, what: str) -> str | None:
    path = "/missing/1"
    sent = len(server.to(path))
    if sent > 1:
        return (f"{what}: {path} answered 404 and was requested {sent} times. A 404 means the request itself is wrong: "
                "sending it again gets the same answer. Do not retry it: response.raise_for_status() raises "
                "aiohttp.ClientResponseError, which is an aiohttp.ClientError, so name aiohttp.ClientConnectionError "
                "(not ClientError) in kit.retry(on=...)")
    if path in record.done:
        return (f"{what}: {path} answered 404 and was counted done: the crawl would report a page it never got, and "
                "the URL is lost. Raise for a 4xx (response.raise_for_status()), and let the error reach the pool: a "
                "handler that catches it and returns counts it done")
    if _failure(record, path) is None:
        return f"{what}: {path} answered 404 and is neither done nor failed"
    return _everything_done(record, server, what, expect_failed=(path,))


def _transient(record: CrawlRecord, server: ScriptedServer, what: str) -> str | None:
    return _everything_done(record, server, what)


def _retry_after(record: CrawlRecord, server: ScriptedServer, what: str) -> str | None:
    said = _everything_done(record, server, what)
    if said:
        return said
    first, *later = server.to("/items/1")
    if later and later[0].arrived - first.ended < 1.0 - EPSILON:
        return (f"{what}: the server answered 429 with Retry-After: 1, and the next request for /items/1 came "
                f"{later[0].arrived - first.ended:.3f} s later: it is refused again, and a real API may ban a client "
                "that ignores it. Raise an error that carries the header (RateLimited(retry_after)) and pass "
                "kit.retry(..., retry_after=lambda error: getattr(error, 'retry_after', None))")
    return None


def _hangs(record: CrawlRecord, server: ScriptedServer, what: str) -> str | None:
    first = server.to("/items/2")[0]
    held = (first.ended if first.ended is not None else math.inf) - first.arrived
    if held > CONFIG.timeout + EPSILON:
        return (f"{what}: the first request for /items/2 hung and was held {held:g} s, with kit.timeout = "
                f"{CONFIG.timeout:g} s: a worker (and a connection) waited all that time. Put each request inside "
                "`async with asyncio.timeout(kit.timeout):`")
    return _everything_done(record, server, what)


def _outage_bound() -> int:
    """Requests an outage from the start may receive: the failures that open the breaker,
    a request from each other worker sent before it opened, one trial per reset timeout."""
    trials = math.ceil(OUTAGE / CONFIG.reset_timeout - EPSILON) - 1
    return CONFIG.failure_threshold + (CONFIG.workers - 1) + trials


def _outage(hint: str) -> Callable[[CrawlRecord, ScriptedServer, str], str | None]:
    def judge(record: CrawlRecord, server: ScriptedServer, what: str) -> str | None:
        sent_open = [r for r in record.requests if r.breaker == "open"]
        if sent_open:
            return (f"{what}: {len(sent_open)} request(s) were sent while the breaker was open, the first at "
                    f"{sent_open[0].start:.3f} s: the breaker let the call through, then the call waited (for a token?) "
                    "while the breaker opened. Take the token before breaker.call(), so that a call it admits is "
                    "sent at once")
        inside = sum(s.arrived < OUTAGE for s in server.served)
        bound = _outage_bound()
        if inside > bound:
            return (f"{what}: the server received {inside} requests while it was down, more than {bound} (5 failures "
                    f"in a row to open the breaker, {CONFIG.workers - 1} more sent by the other workers before it "
                    f"opened, one trial per reset_timeout): {hint}")
        return _everything_done(record, server, what)
    return judge


_SCENARIOS = (
    _Scenario("twelve pages that all answer", _pages(12), _answers, _pages_answer),
    _Scenario("a missing page (/missing/1 answers 404)", _pages(6, "/missing/1"), _answers, _missing),
    _Scenario("a 503, a 500 and a dropped connection, once each", _pages(6),
              _first({"/items/1": Action(503, 0.0), "/items/2": Action(500), "/items/3": Action(None)}), _transient),
    _Scenario("a 429 with Retry-After: 1 (the first request for /items/1)", _pages(6),
              _first({"/items/1": Action(429, 0.0, retry_after=1)}), _retry_after),
    _Scenario(f"a request that hangs for {HANG:g} s (the first for /items/2)", _pages(6),
              _first({"/items/2": Action(200, HANG)}), _hangs),
    _Scenario(f"an outage: every request answered 503 for the first {OUTAGE:g} s", _pages(12),
              _down(Action(503, 0.0)),
              _outage("the breaker never opened. Name your ServerError (the 5xx) in kit.breaker(failures=...), "
                      "and send each request through breaker.call()")),
    _Scenario(f"a hanging outage: every request hangs for the first {OUTAGE:g} s", _pages(12),
              lambda path, n, now: Action(200, HANG) if now < OUTAGE else Action(),
              _outage("the breaker never opened. A timeout around breaker.call() cancels the call, and a cancelled "
                      "call counts neither way: put `async with asyncio.timeout(kit.timeout)` inside the function "
                      "the breaker calls, and name TimeoutError in kit.breaker(failures=...)")),
)


def check_crawler(make_handler: object, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Crawl each scripted server with ``make_handler(kit)``'s handle; the first broken
    promise is the verdict."""
    if not callable(make_handler):
        return not_a_function(make_handler, "check_crawler(make_handler)")
    if inspect.iscoroutinefunction(make_handler):
        return Verdict(False, "make_handler(kit) builds the handler: define it with `def`, and define "
                              "`async def handle(url)` inside it and return that")
    for scenario in _SCENARIOS:
        outcome = run_guarded(_crawl(make_handler, scenario.paths, scenario.script), real_limit=real_limit)
        if outcome.status.value == "error":
            return Verdict(False, f"{scenario.what}: the crawl raised {describe_error(outcome.value)}: make_handler(kit) "
                                  "must return an `async def handle(url)` function")
        if not outcome.finished:
            return Verdict(False, f"{scenario.what}: " + outcome.unfinished(
                deadlock="Is handle() waiting for something nothing will ever set?",
                hung="Wait with `await asyncio.sleep(...)`, never time.sleep()."))
        record, server = outcome.value
        said = scenario.judge(record, server, scenario.what)
        if said:
            return Verdict(False, said)
    return Verdict(True, "every page done with a 200 and fetched once; a 404 failed after one request; a 5xx, a dropped "
                         "connection and a timeout retried; a 429's Retry-After waited out; a hanging request cut at "
                         "kit.timeout; and through two outages (503s, then hangs) nothing lost while the breaker kept "
                         "the server's load to its trials.")
