"""Check lesson 02's exercise: fetch many URLs with at most K in flight and R per second.

The learner writes::

    async def fetch_all(urls, max_in_flight, per_second):
        ...  # GET every URL with aiohttp, never more than max_in_flight at once
        return documents  # response.json() of each URL, in the order of urls

``check_polite_fetch(fetch_all)`` starts a :class:`~asyncio_patterns.LabServer` on
127.0.0.1, hands ``fetch_all`` its URLs, and then reads the server's own counters: how
many requests it saw, the most in flight at once (``max_in_flight``), how many arrived
in each whole second (``arrivals_per_second``) and how many connections were opened.
It runs in real time (requests are real) and returns a
:class:`~asyncio_patterns.exercises.Verdict`. The server has its own event loop in its own
thread, so it still answers while the learner's loop is frozen by a blocking call, and
the learner's code runs on a fresh loop in another thread, under ``timeout`` and a
real-time limit, so the check never hangs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..lab.validate import seconds, whole_number
from ..lab.server import LabServer, LabStats
from . import Verdict, not_a_function
from ._harness import Attempt, attempt

__all__ = ["check_polite_fetch"]

# Arrivals are timed by the server, a few milliseconds after the client sent them, so a
# request paced just before a second's boundary can land just after it. One extra arrival
# per second is allowed for that; a limiter that lets a burst through overshoots by far more.
SLACK = 1

# The learner's loop runs a heartbeat every BEAT seconds. One that misses it for FROZEN
# seconds is frozen: a blocking call (urllib, requests, time.sleep) or a loop that never
# awaits holds it. A client that awaits its requests never comes close.
BEAT = 0.05
FROZEN = 1.0
# Real seconds allowed past the timeout (or after a freeze) for the learner's code to unwind.
GRACE = 1.0


@dataclass
class _Run(Attempt):
    frozen: bool = False
    elapsed: float = 0.0
    finished: bool = False  # fetch_all() has returned or raised; the loop is being closed
    stats: LabStats = field(default_factory=LabStats)


class _Pulse:
    """When the learner's loop last ran the heartbeat, and the longest it went without."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.longest = 0.0

    def beat(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    async def run(self) -> None:
        while True:
            await asyncio.sleep(BEAT)
            self.beat()


class _ServerThread:
    """A LabServer serving from its own event loop in a daemon thread, from ``with`` to its end.

    Its counters belong to that loop: reset and read them with :meth:`call`.
    """

    def __init__(self, **options: Any) -> None:
        self.server = LabServer(**options)
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="lab server", daemon=True)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # start() failed: re-raised by __enter__
            self._failed = error
            self._ready.set()

    async def _main(self) -> None:
        async with self.server:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def call(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run ``coroutine`` on the server's loop; the future is usable from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def __enter__(self) -> _ServerThread:
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            self._thread.join()
            raise self._failed
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


async def _reset(server: LabServer) -> None:
    server.reset_stats()


async def _snapshot(server: LabServer) -> LabStats:
    return LabStats(**server.stats.as_dict())


async def _learner(fetch_all: Callable, urls: list[str], max_in_flight: int, per_second: float,
                   timeout: float, lab: _ServerThread, run: _Run, pulse: _Pulse) -> None:
    await asyncio.wrap_future(lab.call(_reset(lab.server)))  # the seconds in arrivals_per_second count from here
    heartbeat = asyncio.create_task(pulse.run(), name="check heartbeat")
    pulse.beat()
    began = time.perf_counter()
    try:
        await attempt(run, fetch_all, urls, max_in_flight, per_second, timeout=timeout)
    finally:
        run.elapsed = time.perf_counter() - began
        pulse.beat()  # a freeze that lasted until fetch_all() returned counts too
        heartbeat.cancel()
        run.finished = True


def _wait(thread: threading.Thread, run: _Run, pulse: _Pulse, timeout: float) -> str:
    """How the learner's thread ended: "done", "frozen" (no heartbeat for FROZEN s) or
    "overtime" (its loop turns but fetch_all() outlived timeout + GRACE)."""
    limit = time.monotonic() + timeout + GRACE
    while thread.is_alive():
        thread.join(BEAT)
        if run.finished:
            thread.join(GRACE)  # closing the loop; whatever it still does, the result is in
            return "done"
        now = time.monotonic()
        if now - pulse.last > FROZEN:
            return "frozen"
        if now > limit:
            return "overtime"
    return "done"


def _run(fetch_all: Callable, n: int, max_in_flight: int, per_second: float, timeout: float, **server_options: Any) -> _Run:
    run = _Run()
    with _ServerThread(**server_options) as lab:
        urls = [lab.server.url(f"/items/{i}") for i in range(n)]

        def target() -> None:
            try:
                asyncio.run(_learner(fetch_all, urls, max_in_flight, per_second, timeout, lab, run, pulse))
            except BaseException as error:  # raised while closing the learner's loop
                if run.error is None:
                    run.error = error

        thread = threading.Thread(target=target, name="check_polite_fetch: fetch_all", daemon=True)
        pulse = _Pulse()  # the learner's loop is watched from the moment its thread starts
        thread.start()
        ending = _wait(thread, run, pulse, timeout)
        stats = lab.call(_snapshot(lab.server)).result()
    if ending != "done":
        # Stopped server: a blocking client now fails fast and its thread ends. One stuck
        # for good (time.sleep(1e9)) is a daemon thread and is left behind.
        thread.join(GRACE)
        run = _Run(frozen=ending == "frozen", timed_out=ending == "overtime")
    run.frozen = run.frozen or pulse.longest > FROZEN
    run.stats = stats
    return run


def _ids(result: Any) -> list | None:
    """The "id" of each returned document, or None if the result is not a list of them."""
    if result is None or isinstance(result, (str, bytes, dict)):
        return None
    try:
        documents = list(result)
    except TypeError:
        return None
    if not all(isinstance(d, dict) and "id" in d for d in documents):
        return None
    return [d["id"] for d in documents]


def _judge(run: _Run, n: int, max_in_flight: int, per_second: float, timeout: float) -> Verdict:
    stats = run.stats
    seen = f"(the server received {stats.requests} requests)"
    if run.not_awaitable:
        return Verdict(False, f"fetch_all() returned a {run.not_awaitable}, not a coroutine: define it with "
                              "`async def fetch_all(urls, max_in_flight, per_second):`")
    if run.frozen:
        return Verdict(False, f"a blocking call froze the event loop for over {FROZEN:g} s {seen}: urllib, "
                              "requests and time.sleep stop every task until they return (so does a loop that "
                              "never awaits); make each request with `await session.get(url)` "
                              "on one shared aiohttp.ClientSession, and wait with `await asyncio.sleep`")
    if run.timed_out:
        return Verdict(False, f"fetch_all() did not finish within {timeout:g} s {seen}: is something waiting "
                              "forever, or are the requests made one at a time?")
    if run.error is not None:
        return Verdict(False, f"fetch_all() raised {type(run.error).__name__}: {run.error} {seen}")
    if stats.max_in_flight > max_in_flight:
        return Verdict(False, f"the server saw {stats.max_in_flight} requests in flight at once, but at most "
                              f"{max_in_flight} are allowed: hold an asyncio.Semaphore({max_in_flight}) around "
                              "each request (or use that many workers)")
    busiest = max(stats.arrivals_per_second, default=0)
    if busiest > per_second + SLACK:
        second = stats.arrivals_per_second.index(busiest)
        r = f"{per_second:g}"
        hint = (f"a semaphore limits how many requests are in flight, not how many start per second: pace "
                f"them with TokenBucket({r}). If you did use a rate limiter, check its burst: one that starts "
                f"full (aiolimiter's AsyncLimiter({r}, 1), or TokenBucket({r}, burst={r})) lets {r} through "
                f"at once and {r} more in the same second; TokenBucket({r}) and AsyncLimiter(1, 1 / {r}) do not")
        return Verdict(False, f"the server saw {busiest} requests arrive in second {second}, but at most "
                              f"{per_second:g} per second are allowed: {hint}")
    ids = _ids(run.result)
    if ids is None:
        return Verdict(False, f"fetch_all() returned {type(run.result).__name__ if run.result is not None else None}"
                              f": return a list with the JSON document of each URL (await response.json()), "
                              f"in the order of urls {seen}")
    if stats.requests != n or len(ids) != n:
        return Verdict(False, f"{n} URLs, but the server received {stats.requests} requests and fetch_all() "
                              f"returned {len(ids)} documents: fetch each URL exactly once")
    if ids != [str(i) for i in range(n)]:
        return Verdict(False, "the documents are not in the order of urls: asyncio.gather keeps order, "
                              "and workers can write each result at its URL's index")
    if stats.connections_opened > 2 * max_in_flight:
        return Verdict(False, f"the server saw {stats.connections_opened} connections for {n} requests: a new "
                              "ClientSession per request opens a new connection each time; create one session "
                              "and share it")
    expected = (n - 1) / per_second
    if run.elapsed > 2 * expected + 1:
        return Verdict(False, f"every limit held, but it took {run.elapsed:.1f} s where the limits allow about "
                              f"{expected:.1f} s: keep up to {max_in_flight} requests in flight while pacing them")
    return Verdict(True, f"all {n} URLs fetched once each and in order; the server never saw more than "
                         f"{max_in_flight} in flight, nor more than {per_second:g} arrive in any second.")


def check_polite_fetch(
    fetch_all: Callable,
    *,
    urls: int = 200,
    max_in_flight: int = 8,
    per_second: float = 150,
    latency: float = 0.01,
    jitter: float = 0.03,
    timeout: float | None = None,
) -> Verdict:
    """Run ``fetch_all(urls, max_in_flight, per_second)`` against a fresh lab server and judge it.

    ``urls`` is how many URLs it gets. The server answers each after ``latency`` seconds
    plus a long-tailed extra with mean ``jitter`` (seeded, so the same every run): with
    the defaults a semaphore alone sends about 190 requests a second, and a rate limiter
    alone lets slow requests pile up past 8 in flight, so each limit is needed.
    ``timeout`` defaults to four times the time the limits need, and at least 10 s.
    A ``fetch_all`` that freezes its event loop for over ``FROZEN`` s (a blocking call)
    is stopped waiting for at that point, and the verdict says so.
    The run takes about ``urls / per_second`` seconds of real time when it is right.
    """
    whole_number("urls", urls)
    whole_number("max_in_flight", max_in_flight)
    if not per_second > 0:
        raise ValueError(f"per_second must be > 0, got {per_second!r}")
    if urls <= per_second:
        raise ValueError(f"urls must be more than per_second ({per_second:g}), got {urls}: the server counts "
                         "arrivals per whole second, so a shorter run cannot show the rate")
    if timeout is None:
        timeout = max(10.0, 4 * urls / per_second)
    seconds("timeout", timeout, positive=True)
    if not callable(fetch_all):
        return not_a_function(fetch_all, "check_polite_fetch(fetch_all)")
    run = _run(fetch_all, urls, max_in_flight, per_second, timeout, latency=latency, jitter=jitter, seed=0)
    return _judge(run, urls, max_in_flight, per_second, timeout)
