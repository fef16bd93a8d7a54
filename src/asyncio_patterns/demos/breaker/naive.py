"""The circuit breaker found in many tutorials, and its three defects shown safely.

:class:`NaiveBreaker` has that version's shape: ``call()`` takes a coroutine object,
time is ``time.time()``, and the half-open state lets every call through. Each demo
returns plain values for a notebook to print:

- :func:`rejected_coroutines`: an open breaker drops the coroutine it was handed, and
  Python warns that it "was never awaited" (the warnings are caught and returned);
- :func:`clock_demo`: on the wall clock, the breaker misses the reset timeout in virtual
  time, and stays open for as long as the system clock was set back;
- :func:`half_open_stampede`: against a lab server in an outage, how many of 20 callers
  waiting for the reset timeout reach the server at once.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from ...lab.clock import run_real, run_virtual
from ...lab.server import LabServer
from ...patterns.breaker import CircuitBreaker, CircuitOpen

__all__ = ["ClockDemo", "NaiveBreaker", "half_open_stampede", "clock_demo", "rejected_coroutines"]


class NaiveBreaker:
    """The tutorial version (do not copy): see the module docstring for what is wrong."""

    def __init__(self, max_failures: int = 5, reset_timeout: float = 60) -> None:
        self.max_failures = max_failures
        self.reset_timeout = reset_timeout
        self.failures = 0
        self.last_failure_time: float | None = None
        self.state = "closed"

    async def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self.state == "open":
            if time.time() - self.last_failure_time > self.reset_timeout:  # the wall clock
                self.state = "half-open"  # and every caller from now on gets through
            else:
                raise Exception("Circuit breaker is open")  # `coro` is dropped, never awaited
        try:
            result = await coro
        except Exception:  # every exception counts, a bug in the caller's code too
            self.failures += 1
            self.last_failure_time = time.time()
            if self.failures >= self.max_failures:
                self.state = "open"
            raise
        self.failures = 0
        self.state = "closed"
        return result


class Down(Exception):
    """The service's failure (a 503)."""


async def _down() -> None:
    raise Down("503 Service Unavailable")


async def fetch(key: str) -> str:
    """A stand-in for a request: what the breaker protects."""
    await asyncio.sleep(0.01)
    return f"document {key}"


async def _open_then_call(calls: int) -> list[str]:
    breaker = NaiveBreaker(max_failures=2, reset_timeout=60)
    for _ in range(2):
        try:
            await breaker.call(_down())
        except Down:
            pass
    said = []
    for i in range(calls):
        try:
            await breaker.call(fetch(f"key {i}"))
        except Exception as error:
            said.append(str(error))
    return said


def rejected_coroutines(calls: int = 3) -> tuple[list[str], list[str]]:
    """Open a NaiveBreaker, make ``calls`` calls through it; return (what each call raised,
    the warnings Python gave about coroutines never awaited)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        said = run_virtual(_open_then_call(calls))
        gc.collect()  # a dropped coroutine is collected at once in CPython; this makes it certain
    return said, [f"{w.category.__name__}: {w.message}" for w in caught if "never awaited" in str(w.message)]


@dataclass(frozen=True)
class ClockDemo:
    """What each breaker, opened with ``reset_timeout``, did when called ``2 * reset_timeout`` later."""

    naive_virtual: str  # NaiveBreaker in virtual time
    correct_virtual: str  # CircuitBreaker in virtual time
    naive_clock_set_back: str  # NaiveBreaker in real time, the wall clock set back meanwhile
    set_back: float


class _SetBack:
    """A stand-in for the ``time`` module whose ``time()`` is ``offset`` seconds behind."""

    def __init__(self, offset: float) -> None:
        self._offset = offset

    def time(self) -> float:
        return _wall_clock() - self._offset


_wall_clock = time.time


async def _outcome(call: Any) -> str:
    try:
        await call()
    except Down as error:
        return f"let a trial through ({error})"
    except Exception as error:
        return f"rejected the call ({error})"
    return "let a trial through"


async def _open_wait_call(breaker: Any, wait: float) -> str:
    naive = isinstance(breaker, NaiveBreaker)
    await _outcome(lambda: breaker.call(_down()) if naive else breaker.call(_down))
    await asyncio.sleep(wait)
    return await _outcome(lambda: breaker.call(fetch("a")) if naive else breaker.call(fetch, "a"))


async def _with_clock_set_back(reset_timeout: float, set_back: float) -> str:
    global time  # the module NaiveBreaker reads its clock from, swapped for this run only
    breaker = NaiveBreaker(max_failures=1, reset_timeout=reset_timeout)
    await _outcome(lambda: breaker.call(_down()))  # opens now, by the real clock
    saved, time = time, _SetBack(set_back)  # then the system clock is set back
    try:
        await asyncio.sleep(2 * reset_timeout)
        return await _outcome(lambda: breaker.call(fetch("a")))
    finally:
        time = saved


def clock_demo(reset_timeout: float = 1.0, set_back: float = 3600.0) -> ClockDemo:
    """Open each breaker, wait ``2 * reset_timeout``, call again: in virtual time; then the
    NaiveBreaker in real time (reset_timeout / 20, a fraction of a second), with the
    system clock set back ``set_back`` seconds while it is open."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its dropped coroutines: the first demo's subject
        naive = run_virtual(_open_wait_call(NaiveBreaker(max_failures=1, reset_timeout=reset_timeout),
                                            2 * reset_timeout))
        correct = run_virtual(_open_wait_call(CircuitBreaker(failures=Down, failure_threshold=1,
                                                             reset_timeout=reset_timeout),
                                              2 * reset_timeout))
        set_back_outcome = run_real(_with_clock_set_back(reset_timeout / 20, set_back))
        gc.collect()
    return ClockDemo(naive, correct, set_back_outcome, set_back)


async def _stampede(server: LabServer, breaker: Any, callers: int, reset_timeout: float) -> int:
    async with aiohttp.ClientSession() as session:
        async def get() -> None:
            async with asyncio.timeout(2), session.get(server.url("/items/1")) as response:
                if response.status >= 500:
                    raise Down(f"{response.status}")

        for _ in range(2):  # open it
            try:
                await (breaker.call(get()) if isinstance(breaker, NaiveBreaker) else breaker.call(get))
            except Down:
                pass
        await asyncio.sleep(reset_timeout * 1.5)
        before = server.stats.requests

        async def one() -> None:
            try:
                await (breaker.call(get()) if isinstance(breaker, NaiveBreaker) else breaker.call(get))
            except (Down, CircuitOpen):
                pass

        async with asyncio.TaskGroup() as group:
            for _ in range(callers):
                group.create_task(one())
        return server.stats.requests - before


async def half_open_stampede(naive: bool, *, callers: int = 20, reset_timeout: float = 0.05) -> int:
    """How many of ``callers`` concurrent calls, made just after the reset timeout, reach a
    lab server that is down (an outage for the whole run). Real time, a fraction of a second."""
    breaker: Any = (NaiveBreaker(max_failures=2, reset_timeout=reset_timeout) if naive
                    else CircuitBreaker(failure_threshold=2, reset_timeout=reset_timeout, failures=Down))
    async with LabServer(latency=0.01, outages=[(0.0, 3600.0)]) as server:
        return await _stampede(server, breaker, callers, reset_timeout)
