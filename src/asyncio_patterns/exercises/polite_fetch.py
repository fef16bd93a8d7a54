"""Check lesson 02's exercise: fetch many URLs with at most K in flight and R per second.

The learner writes::

    async def fetch_all(urls, max_in_flight, per_second):
        ...  # GET every URL with aiohttp, never more than max_in_flight at once
        return documents  # response.json() of each URL, in the order of urls

``check_polite_fetch(fetch_all)`` starts a :class:`~asyncio_patterns.LabServer` on
127.0.0.1, hands ``fetch_all`` its URLs, and then reads what the server saw: how many
requests, the most in flight at once, the most that arrived within any one second, and
how many connections were opened. It runs in real time (requests are real) and returns a
:class:`~asyncio_patterns.exercises.Verdict`.

The verdict depends on what the code did, not on how fast the machine is. The server
answers the first requests at once, so code that does not pace its starts sends them as
fast as the machine can, far over the rate however loaded it is; and the last ``slow``
requests only after ``latency`` seconds each, so code that paces its starts but does not
cap them lets them pile up in flight. How long the run took is not judged.

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
# request paced just inside a one-second window can land just inside the next one. One extra
# arrival per second is allowed for that; a limiter that lets a burst through overshoots by far more.
SLACK = 1
FAST = 0.001  # seconds the server takes over each of the first requests: "at once"

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
    stats: LabStats
    arrivals: list[float]  # when each request arrived, on the server's clock
    frozen_at: str = ""  # the learner's line its frozen loop was running


class _SlowsDown(LabServer):
    """A lab server that answers its first requests in ``FAST`` s and, from request
    ``fast + 1`` on, in ``slow_latency`` s; it notes when each request arrived."""

    def __init__(self, *, fast: int, slow_latency: float) -> None:
        super().__init__(latency=FAST)
        self.fast, self.slow_latency, self.arrivals = fast, slow_latency, []

    def reset_stats(self) -> None:
        super().reset_stats()
        self.arrivals = []

    def on_arrival(self, elapsed: float) -> None:
        self.arrivals.append(elapsed)
        self.latency = FAST if self.stats.requests <= self.fast else self.slow_latency


def _busiest_second(arrivals: list[float]) -> tuple[int, float]:
    """The most arrivals within any one second, and when that second began."""
    times, most, began, first = sorted(arrivals), 0, 0.0, 0
    for last, end in enumerate(times):
        while end - times[first] >= 1.0:
            first += 1
        if last - first + 1 > most:
            most, began = last - first + 1, times[first]
    return most, began


async def _serve(server: LabServer) -> None:
    """Keep the server's loop running until it is cancelled, then close the server."""
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


async def _call(function: Callable[[], Any]) -> Any:
    return function()


def _run(fetch_all: Callable, n: int, max_in_flight: int, per_second: float, timeout: float,
         slow: int, latency: float) -> _Run:
    server = _SlowsDown(fast=n - slow, slow_latency=latency)
    lab, learner = LoopThread(_serve(server), name="lab server"), None
    try:
        lab.submit(server.start()).result()
        urls = [server.url(f"/items/{i}") for i in range(n)]
        lab.submit(_call(server.reset_stats)).result()  # arrivals_per_second counts seconds from here
        tried = Attempt()
        learner = LoopThread(attempt(tried, fetch_all, urls, max_in_flight, per_second, timeout=timeout),
                             name="check_polite_fetch: fetch_all")
        status, frozen_at = _watch(learner, timeout)
        stats, arrivals = lab.submit(_call(lambda: (LabStats(**server.stats.as_dict()), list(server.arrivals)))).result()
    finally:
        lab.cancel()
        lab.join()
        if learner is not None and not learner.join(0):
            learner.cancel()  # with the server stopped, a blocking client fails fast and its thread ends
            learner.join(GRACE)  # one stuck for good (time.sleep(1e9)) is a daemon thread, left behind
    return _Run(tried, status, stats, arrivals, frozen_at)


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
    """Whether the instruction at offset ``at`` of ``code`` is a call (one that has not returned).

    ``at`` can fall on a call's inline cache rather than on the call itself (3.11 reports a
    Python function's caller there), so the instruction is the last one that begins at or before it.
    """
    running = None
    for instruction in dis.get_instructions(code):
        if instruction.offset > at:
            break
        running = instruction
    return running is not None and running.opname.startswith("CALL")


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
    busiest, _ = _busiest_second(run.arrivals)
    if busiest > per_second + SLACK:
        return Verdict(False, f"{busiest} requests arrived within one second, where at most {per_second:g} "
                              f"are allowed in any second: pace the start of every "
                              f"request with one shared limiter that begins empty, such as TokenBucket({per_second:g}).")
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
    if stats.max_in_flight < 2:
        return Verdict(False, f"the server never saw two requests in flight at once ({max_in_flight} are allowed): "
                              "they were made one at a time. Start each as a task (gather, a TaskGroup or workers)")
    return Verdict(True, f"all {n} URLs fetched once each and in order; the server never saw more than "
                         f"{max_in_flight} in flight, nor more than {per_second:g} arrive in any second.")


def check_polite_fetch(
    fetch_all: Callable,
    *,
    urls: int = 200,
    max_in_flight: int = 8,
    per_second: float = 150,
    slow: int = 40,
    latency: float = 0.2,
    timeout: float | None = None,
) -> Verdict:
    """Run ``fetch_all(urls, max_in_flight, per_second)`` against a fresh lab server and judge it.

    ``urls`` is how many URLs it gets. The server answers each of the first ``urls - slow``
    requests in a millisecond, and each of the last ``slow`` after ``latency`` seconds: code
    without a rate limit sends the quick ones far faster than ``per_second`` on any machine,
    and code without a cap on requests in flight lets the slow ones pile up past
    ``max_in_flight`` (with the defaults a rate limiter alone has about 30 in flight).
    ``timeout`` defaults to one and a half times what the requests take made one at a time,
    and at least 10 s. A ``fetch_all`` that freezes its event loop for over ``FROZEN`` s (a
    blocking call) is stopped waiting for at that point, and the verdict says so. A correct
    answer takes about ``(urls - slow) / per_second + slow * latency / max_in_flight``
    seconds of real time (2 s with the defaults).
    """
    whole_number("urls", urls)
    whole_number("max_in_flight", max_in_flight)
    number("per_second", per_second, positive=True)
    whole_number("slow", slow)  # at least one: else a missing cap goes unseen
    seconds("latency", latency, positive=True)
    if urls - slow <= per_second + SLACK:
        raise ValueError(f"urls - slow must be more than per_second + {SLACK} ({per_second + SLACK:g}), got "
                         f"{urls - slow}: the quick requests show a missing rate limit only if there are more "
                         "of them than one second allows")
    if timeout is None:
        timeout = max(10.0, 1.5 * (urls * FAST + slow * latency + urls / per_second))
    seconds("timeout", timeout, positive=True)
    if not callable(fetch_all):
        return not_a_function(fetch_all, "check_polite_fetch(fetch_all)")
    run = _run(fetch_all, urls, max_in_flight, per_second, timeout, slow, latency)
    return _judge(run, urls, max_in_flight, per_second, timeout)
