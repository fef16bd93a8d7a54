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
:class:`~asyncio_patterns.exercises.Verdict`.

Two loops run, each in a :class:`~asyncio_patterns.lab.loopthread.LoopThread`: the
server's, so it still answers while the learner's loop is frozen by a blocking call,
and the learner's. While the learner's runs, the checker asks it every ``BEAT`` seconds
to run a callback; a loop that does not answer within ``FROZEN`` seconds is frozen, and
the verdict names the line it was stuck on.
"""

from __future__ import annotations

import ast
import asyncio
import dis
import linecache
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

from ..lab.loopthread import LoopThread
from ..lab.server import LabServer, LabStats
from ..lab.validate import number, seconds, whole_number
from . import Verdict, not_a_function
from ._harness import Attempt, Status, attempt, describe_error

__all__ = ["check_polite_fetch"]

# Arrivals are timed by the server, a few milliseconds after the client sent them, so a
# request paced just before a second's boundary can land just after it. One extra arrival
# per second is allowed for that; a limiter that lets a burst through overshoots by far more.
SLACK = 1

BEAT = 0.05  # how often the checker asks the learner's loop to answer
FROZEN = 1.0  # a loop that does not answer for this long is frozen (a client that awaits never is)
GRACE = 1.0  # real seconds allowed past the timeout, or after a freeze, for the learner's code to end

# Where code that is not the learner's lives: a frozen loop is named by the learner's line.
_LIBRARIES = tuple({sysconfig.get_path(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
                   | {str(Path(__file__).resolve().parents[1])})


@dataclass
class _Run:
    """What one call of fetch_all did, and what the server counted meanwhile."""

    tried: Attempt  # what fetch_all returned or raised, once it ended
    status: Status  # OK (it ended), HUNG (its loop froze) or TIMEOUT (it outlived the timeout)
    elapsed: float  # real seconds
    stats: LabStats
    frozen_at: str = ""  # the learner's line its frozen loop was running


async def _serve(server: LabServer) -> None:
    """Keep the server's loop running until it is cancelled, then close the server."""
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


async def _call(function: Callable[[], Any]) -> Any:
    return function()


def _run(fetch_all: Callable, n: int, max_in_flight: int, per_second: float, timeout: float,
         **server_options: Any) -> _Run:
    server = LabServer(**server_options)
    lab, learner = LoopThread(_serve(server), name="lab server"), None
    try:
        lab.submit(server.start()).result()
        urls = [server.url(f"/items/{i}") for i in range(n)]
        lab.submit(_call(server.reset_stats)).result()  # arrivals_per_second counts seconds from here
        tried, began = Attempt(), time.perf_counter()
        learner = LoopThread(attempt(tried, fetch_all, urls, max_in_flight, per_second, timeout=timeout),
                             name="check_polite_fetch: fetch_all")
        status, frozen_at = _watch(learner, timeout)
        elapsed = time.perf_counter() - began
        stats = lab.submit(_call(lambda: LabStats(**server.stats.as_dict()))).result()
    finally:
        lab.cancel()
        lab.join()
        if learner is not None and not learner.join(0):
            learner.cancel()  # with the server stopped, a blocking client fails fast and its thread ends
            learner.join(GRACE)  # one stuck for good (time.sleep(1e9)) is a daemon thread, left behind
    return _Run(tried, status, elapsed, stats, frozen_at)


def _watch(learner: LoopThread, timeout: float) -> tuple[Status, str]:
    """How the learner's run ended: OK (fetch_all returned or raised), HUNG (its loop did not
    answer for FROZEN s; with the line it was running) or TIMEOUT (its loop answers, but the
    run outlived ``timeout`` + GRACE)."""
    deadline = time.monotonic() + timeout + GRACE
    while not learner.join(BEAT):
        if not _answers(learner):
            return Status.HUNG, _line_running(learner.thread)
        if time.monotonic() > deadline:
            return Status.TIMEOUT, ""
    return Status.OK, ""


def _answers(learner: LoopThread) -> bool:
    """Whether the learner's loop runs a callback within FROZEN seconds (or has ended)."""
    answered = threading.Event()
    try:
        learner.loop.call_soon_threadsafe(answered.set)
    except RuntimeError:  # the loop has closed: the run is over
        return True
    return answered.wait(FROZEN) or learner.join(0)


def _line_running(thread: threading.Thread) -> str:
    """The source line of the learner's code that ``thread`` is running ("" if none is found).

    A frame waiting in a call (a blocking call: time.sleep, urlopen) is named by that call's
    line. A frame running its own code without end (a loop that never awaits) is named by the
    loop's first line: which line of its body a sample lands on is chance, and differs between
    Python versions (3.14 stops on the ``pass`` where 3.11 to 3.13 report the ``while``).
    """
    frame = sys._current_frames().get(thread.ident)
    while frame is not None and frame.f_code.co_filename.startswith((*_LIBRARIES, "<")):
        frame = frame.f_back
    if frame is None:
        return ""
    code, at = frame.f_code, frame.f_lasti  # read once: a running frame moves on meanwhile
    line = next((line for start, end, line in code.co_lines() if start <= at < end and line), code.co_firstlineno)
    if not _in_a_call(code, at):
        line = _loop_around(code.co_filename, line)
    return linecache.getline(code.co_filename, line).strip()


def _in_a_call(code: CodeType, at: int) -> bool:
    """Whether the instruction at offset ``at`` of ``code`` is a call (one that has not returned)."""
    return any(i.offset == at and i.opname.startswith("CALL") for i in dis.get_instructions(code))


def _loop_around(file: str, line: int) -> int:
    """The first line of the innermost loop of ``file`` around ``line`` (``line`` if none is)."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return line
    loops = [node.lineno for node in ast.walk(tree)
             if isinstance(node, (ast.While, ast.For, ast.AsyncFor)) and node.lineno <= line <= node.end_lineno]
    return max(loops, default=line)


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
    tried, stats = run.tried, run.stats
    seen = f"(the server received {stats.requests} requests)"
    if tried.not_awaitable:
        return Verdict(False, f"fetch_all() returned a {tried.not_awaitable}, not a coroutine: define it with "
                              "`async def fetch_all(urls, max_in_flight, per_second):`")
    if run.status is Status.HUNG:
        at = f" at `{run.frozen_at}`" if run.frozen_at else ""
        if stats.requests:
            return Verdict(False, f"the event loop froze for over {FROZEN:g} s{at} while the server received "
                                  f"{stats.requests} requests: a blocking HTTP call stops every task until it "
                                  "returns. Make each request with `await session.get(url)` on one shared "
                                  "aiohttp.ClientSession.")
        return Verdict(False, f"the event loop froze for over {FROZEN:g} s{at}, before any request reached the "
                              "server: a blocking call (time.sleep) or a loop that never awaits stops every "
                              "task. Wait with `await asyncio.sleep(...)`.")
    if run.status is Status.TIMEOUT or tried.timed_out:
        return Verdict(False, f"fetch_all() did not finish within {timeout:g} s, by when the server had "
                              f"received {stats.requests} of {n} requests: is something waiting for ever, or "
                              "are the requests made one at a time?")
    if tried.error is not None:
        return Verdict(False, f"fetch_all() raised {describe_error(tried.error)} {seen}")
    if stats.max_in_flight > max_in_flight:
        return Verdict(False, f"the server saw {stats.max_in_flight} requests in flight at once, but at most "
                              f"{max_in_flight} are allowed: hold an asyncio.Semaphore({max_in_flight}) around "
                              "each request (or use that many workers)")
    busiest = max(stats.arrivals_per_second, default=0)
    if busiest > per_second + SLACK:
        second = stats.arrivals_per_second.index(busiest)
        return Verdict(False, f"the server saw {busiest} requests arrive in second {second}, but at most "
                              f"{per_second:g} are allowed in any second: pace the start of every request "
                              f"with one shared limiter that begins empty, such as TokenBucket({per_second:g}).")
    ids = _ids(tried.result)
    if ids is None:
        return Verdict(False, f"fetch_all() returned {type(tried.result).__name__ if tried.result is not None else None}"
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
    number("per_second", per_second, positive=True)
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
