"""Check for lesson 11's exercise: a circuit breaker that keeps its promises.

The learner writes ``class Breaker`` with ``Breaker(failure_threshold=..., reset_timeout=...)``
and ``await breaker.call(function, *args)``, which awaits ``function(*args)`` or raises
:class:`~asyncio_patterns.CircuitOpen` without calling it. Only ``ConnectionError`` counts
as a failure. ``check_breaker(Breaker)`` drives a fresh ``Breaker(failure_threshold=3,
reset_timeout=1.0)`` through scripted scenarios in virtual time, against a service that
records every call, and names the first promise broken:

- it opens after 3 failures *in a row* (a success resets the count), not before;
- open, it raises ``CircuitOpen`` without calling the function (no coroutine is made);
- it lets a trial through after ``reset_timeout`` on the loop's clock, not before;
- half-open, it lets exactly one of several concurrent calls through; the trial's
  success closes it, with the old failures forgotten; a failed trial reopens it for a
  full ``reset_timeout``;
- errors reach the caller unchanged, and an error other than ``ConnectionError`` (a bug
  in the caller's code) never opens it;
- it works for a second outage as for the first (the first trial's place is free again);
- a trial that ends another way (a bug's ``KeyError``, a cancel) decides nothing and gives
  its place to the next caller, so the breaker cannot stay half-open with no trial running;
- a call that started before the breaker opened changes nothing when it ends: a late
  failure does not restart the open period, a late success does not close it.

Each scenario runs under the shared harness, so a hang is a verdict, never a hung kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..patterns.breaker import CircuitOpen
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Status, describe_error, run_guarded

__all__ = ["ServiceDown", "check_breaker"]

THRESHOLD = 3
RESET = 1.0
WORK = 0.01  # seconds each service call takes
CALL_LIMIT = 30.0  # virtual seconds one call of breaker.call may take
VIRTUAL_LIMIT = 120.0


class ServiceDown(ConnectionError):
    """The service's failure: what the breaker must count."""


class _Bug(KeyError):
    """A bug in the caller's code: what the breaker must not count."""


class _Broken(Exception):
    """A promise broken; the message is the hint."""


@dataclass
class _Service:
    """Makes the coroutines the breaker is asked to run, and records what became of them."""

    made: int = 0  # coroutines made (function called)
    ran: int = 0  # coroutines that started running
    coroutines: list[Coroutine[Any, Any, Any]] = field(default_factory=list)

    def function(self, outcome: str, work: float = WORK) -> Coroutine[Any, Any, str]:
        self.made += 1
        coroutine = self._run(outcome, work)
        self.coroutines.append(coroutine)
        return coroutine

    async def _run(self, outcome: str, work: float) -> str:
        self.ran += 1
        await asyncio.sleep(work)
        if outcome == "fail":
            raise ServiceDown("503 Service Unavailable")
        if outcome == "bug":
            raise _Bug("a bug in the caller's code")
        return "ok"

    def close_unstarted(self) -> int:
        """Close the coroutines made but never run (no warning); return how many."""
        dropped = [c for c in self.coroutines if inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
        for coroutine in dropped:
            coroutine.close()
        return len(dropped)


async def _call(breaker: Any, service: _Service, outcome: str, work: float = WORK) -> tuple[str, object]:
    """("through", result), ("rejected", error), ("raised", error) or ("hung", None)."""
    deadline = asyncio.timeout(CALL_LIMIT)
    try:
        async with deadline:
            result = await breaker.call(service.function, outcome, work)
    except CircuitOpen as error:
        return "rejected", error
    except TimeoutError as error:
        return ("hung", None) if deadline.expired() else ("raised", error)
    except Exception as error:
        return "raised", error
    return "through", result


def _expect_through(got: tuple[str, object], outcome: str, what: str) -> None:
    kind, value = got
    if kind == "hung":
        raise _Broken(f"{what}: breaker.call() was still waiting after {CALL_LIMIT:g} s; it must await the "
                      "function (or reject the call) at once")
    if kind == "rejected":
        raise _Broken(f"{what}: it was rejected with CircuitOpen, but should have gone through")
    if outcome == "fail" and not isinstance(value, ServiceDown):
        shown = f"raised {describe_error(value)}" if isinstance(value, BaseException) else f"returned {value!r}"
        raise _Broken(f"{what}: the service raised ServiceDown and breaker.call() {shown}: "
                      "let the service's error reach the caller unchanged (`raise` after counting it)")
    if outcome == "bug" and not isinstance(value, _Bug):
        raise _Broken(f"{what}: the service raised KeyError (a bug in the caller's code), and the caller got "
                      f"{describe_error(value) if isinstance(value, BaseException) else repr(value)}: let it through unchanged")
    if outcome == "ok" and (kind != "through" or value != "ok"):
        raise _Broken(f"{what}: the service answered 'ok' and breaker.call() gave "
                      f"{describe_error(value) if isinstance(value, BaseException) else repr(value)}: return what the function returns")


def _expect_rejected(got: tuple[str, object], service: _Service, made_before: int, what: str) -> None:
    kind, value = got
    if kind == "rejected":
        if service.made > made_before:
            raise _Broken("it rejected a call with CircuitOpen, but only after calling the function: the coroutine "
                          "it made was never awaited (Python warns about it). Decide first, and call "
                          "function(*args) only for a call you let through")
        return
    if kind == "raised" and isinstance(value, Exception) and not isinstance(value, (ServiceDown, _Bug)):
        raise _Broken(f"{what}: it raised {describe_error(value)}: raise CircuitOpen(name, retry_after) "
                      "(from asyncio_patterns), so callers can tell a rejected call from a failed one")
    raise _Broken(what)


_services: contextvars.ContextVar[list[_Service]] = contextvars.ContextVar("services")


async def _fresh(Breaker: type) -> tuple[Any, _Service]:
    service = _Service()
    _services.get().append(service)
    return Breaker(failure_threshold=THRESHOLD, reset_timeout=RESET), service


async def _open(breaker: Any, service: _Service) -> None:
    for n in range(THRESHOLD):
        _expect_through(await _call(breaker, service, "fail"), "fail", f"failure {n + 1} of {THRESHOLD}")


async def _counts_in_a_row(Breaker: type) -> None:
    breaker, service = await _fresh(Breaker)
    for n, outcome in enumerate(["fail", "fail", "ok", "fail", "fail"], 1):
        got = await _call(breaker, service, outcome)
        if got[0] == "rejected":
            why = ("after failure, failure, success, failure: a success resets the count, so it is 1 failure in a "
                   "row, not 3: count failures in a row" if n == 5 else
                   f"after only {min(n - 1, 2)} failure(s), with failure_threshold=3: open at the 3rd failure in a row")
            raise _Broken(f"call {n} was rejected {why}")
        _expect_through(got, outcome, f"call {n} ({outcome})")
    _expect_through(await _call(breaker, service, "fail"), "fail", "call 6, the 3rd failure in a row")
    made = service.made
    _expect_rejected(await _call(breaker, service, "ok"), service, made,
                     "after 3 failures in a row (failure_threshold=3) the next call went through: open the "
                     "breaker when the count of failures in a row reaches failure_threshold")


async def _rejects_without_calling(Breaker: type) -> None:
    breaker, service = await _fresh(Breaker)
    await _open(breaker, service)
    for n in range(3):
        made = service.made
        _expect_rejected(await _call(breaker, service, "ok"), service, made,
                         f"open, call {n + 1} went through to the service: an open breaker rejects every call "
                         f"for reset_timeout ({RESET:g} s)")


async def _reset_timeout(Breaker: type) -> None:
    loop = asyncio.get_running_loop()
    breaker, service = await _fresh(Breaker)
    await _open(breaker, service)
    opened = loop.time()
    await asyncio.sleep(RESET - 0.001)
    made = service.made
    _expect_rejected(await _call(breaker, service, "ok"), service, made,
                     f"it let a call through {RESET - 0.001:g} s after opening, before reset_timeout ({RESET:g} s)")
    await asyncio.sleep(opened + RESET + 1e-6 - loop.time())
    got = await _call(breaker, service, "ok")
    if got[0] == "rejected":
        await asyncio.sleep(10 * RESET)
        later = await _call(breaker, service, "ok")
        if later[0] == "rejected":
            raise _Broken(f"it still rejected calls {11 * RESET:g} s after opening, with reset_timeout={RESET:g}: "
                          "it never went half-open in virtual time. Measure time with the event loop's clock, "
                          "asyncio.get_running_loop().time(), not time.time() or time.monotonic()")
        raise _Broken(f"it rejected a call made just after reset_timeout ({RESET:g} s): after reset_timeout, "
                      "let a trial call through")
    _expect_through(got, "ok", "the trial call after reset_timeout")


async def _half_open(Breaker: type) -> None:
    breaker, service = await _fresh(Breaker)
    await _open(breaker, service)
    await asyncio.sleep(RESET + 0.01)
    ran = service.ran
    results = await asyncio.gather(*(_call(breaker, service, "ok", 0.1) for _ in range(5)))
    through = service.ran - ran
    if through > 1:
        raise _Broken(f"when it went half-open, {through} of 5 concurrent calls reached the service, which may "
                      "still be down: let one trial call through and reject the others while it is in flight")
    if through == 0:
        raise _Broken("when it went half-open, none of 5 concurrent calls reached the service: let one trial through")
    for got in results:
        if got[0] != "rejected":
            _expect_through(got, "ok", "the trial call")
    for n in range(THRESHOLD):
        got = await _call(breaker, service, "fail" if n < THRESHOLD - 1 else "ok")
        if got[0] == "rejected":
            raise _Broken(f"after the trial succeeded and it closed, {n} new failure(s) opened it: forget the old "
                          "failures when it closes")
        _expect_through(got, "fail" if n < THRESHOLD - 1 else "ok", f"call {n + 1} after it closed")


async def _failed_trial(Breaker: type) -> None:
    loop = asyncio.get_running_loop()
    breaker, service = await _fresh(Breaker)
    await _open(breaker, service)
    await asyncio.sleep(RESET + 0.01)
    _expect_through(await _call(breaker, service, "fail"), "fail", "the trial call")
    reopened = loop.time()
    made = service.made
    _expect_rejected(await _call(breaker, service, "ok"), service, made,
                     "the trial call failed, and the next call went through: a failed trial opens the breaker again")
    await asyncio.sleep(RESET - 0.01 - WORK)
    made = service.made
    _expect_rejected(await _call(breaker, service, "ok"), service, made,
                     f"after a failed trial it let a call through {RESET - 0.01:g} s later: a failed trial opens it "
                     f"again for a full reset_timeout ({RESET:g} s), counted from the failure")
    await asyncio.sleep(reopened + RESET + 1e-6 - loop.time())
    _expect_through(await _call(breaker, service, "ok"), "ok", "the next trial, reset_timeout after the failed one")


async def _only_connection_errors(Breaker: type) -> None:
    breaker, service = await _fresh(Breaker)
    for n in range(2 * THRESHOLD):
        got = await _call(breaker, service, "bug")
        if got[0] == "rejected":
            raise _Broken(f"{n} KeyErrors (a bug in the caller's code, not the service failing) opened the breaker: "
                          "count only ConnectionError (`except ConnectionError:`), and let other errors through "
                          "without counting them")
        _expect_through(got, "bug", f"call {n + 1}")


async def _reopen_after(breaker: Any, service: _Service) -> float:
    """Open it (closed now), wait out the reset timeout; return when it opened."""
    await _open(breaker, service)
    opened = asyncio.get_running_loop().time()
    await asyncio.sleep(RESET + 0.01)
    return opened


async def _second_outage(Breaker: type) -> None:
    breaker, service = await _fresh(Breaker)
    await _reopen_after(breaker, service)
    _expect_through(await _call(breaker, service, "ok"), "ok", "the first outage's trial")
    await _reopen_after(breaker, service)
    got = await _call(breaker, service, "ok")
    if got[0] == "rejected":
        raise _Broken("after the first outage's trial succeeded and closed the breaker, a second outage came, and "
                      f"its trial, {RESET + 0.01:g} s after it opened, was rejected: the first trial's place was "
                      "never given back, so the breaker works for one outage only. Free the trial's place however "
                      "the trial ends: in a `finally`, not only after a failed trial")
    _expect_through(got, "ok", "the second outage's trial")


async def _trial_ends_another_way(Breaker: type) -> None:
    breaker, service = await _fresh(Breaker)
    await _reopen_after(breaker, service)
    _expect_through(await _call(breaker, service, "bug"), "bug", "the trial call, which raised KeyError")
    await _next_is_a_trial(breaker, service, "a trial call raised KeyError (a bug in the caller's code: it says "
                           "nothing about the service)", "A trial that ends any other way than success or "
                           "ConnectionError must give its place to the next caller: free the trial's place in a "
                           "`finally`", "the call after a trial that raised KeyError (the next trial)")
    await _reopen_after(breaker, service)
    trial = asyncio.create_task(_call(breaker, service, "ok", 10 * RESET))
    await asyncio.sleep(RESET / 10)
    trial.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await trial
    await _next_is_a_trial(breaker, service, "a trial call was cancelled (its caller gave up)", "A cancelled trial "
                           "must give its place to the next caller: free the trial's place in a `finally` "
                           "(CancelledError is not an Exception, so `except Exception` does not see it)",
                           "the call after a cancelled trial (the next trial)")


async def _next_is_a_trial(breaker: Any, service: Any, what_happened: str, remedy: str, call: str) -> None:
    """After a trial that ended without a verdict, the next call must be let through as the next trial."""
    made = service.made
    got = await _call(breaker, service, "ok")
    if got[0] == "rejected" and service.made == made:
        raise _Broken(f"{what_happened} and the next call was rejected: the breaker stays half-open for ever, "
                      f"with no trial running. {remedy}")
    _expect_through(got, "ok", call)


async def _calls_from_before(Breaker: type) -> None:
    loop = asyncio.get_running_loop()
    breaker, service = await _fresh(Breaker)
    slow_fail = asyncio.create_task(_call(breaker, service, "fail", RESET / 2))
    slow_ok = asyncio.create_task(_call(breaker, service, "ok", RESET * 0.6))
    await asyncio.sleep(0)  # both are in flight, started while closed
    await _open(breaker, service)
    opened = loop.time()
    _expect_through(await slow_fail, "fail", "a slow call made while closed, which failed after it opened")
    _expect_through(await slow_ok, "ok", "a slow call made while closed, which succeeded after it opened")
    made = service.made
    got = await _call(breaker, service, "ok")
    if got[0] != "rejected":
        _expect_through(got, "ok", "the call after the late success")
        raise _Broken(f"a call that started while the breaker was closed succeeded {RESET * 0.6 - 3 * WORK:.2f} s "
                      "after it opened, and the next call went through: the late success closed it, though it "
                      "says nothing about the service now. Count a call's outcome only if the state has not "
                      "changed since the call started (note a counter of changes when it starts)")
    _expect_rejected(got, service, made, "")
    await asyncio.sleep(opened + RESET + 1e-6 - loop.time())
    got = await _call(breaker, service, "ok")
    if got[0] == "rejected":
        raise _Broken(f"a call that started while the breaker was closed failed {RESET / 2 - 3 * WORK:.2f} s after it "
                      f"opened, and restarted the open period: the trial reset_timeout ({RESET:g} s) after the "
                      "opening was rejected. That failure is old news. Count a call's outcome only if the state "
                      "has not changed since the call started (note a counter of changes when it starts)")
    _expect_through(got, "ok", "the trial, reset_timeout after it opened")


SCENARIOS: list[tuple[Callable[[type], Coroutine[Any, Any, None]], str]] = [
    (_counts_in_a_row, "3 failures in a row"),
    (_rejects_without_calling, "open"),
    (_reset_timeout, "the reset timeout"),
    (_half_open, "half-open"),
    (_failed_trial, "a failed trial"),
    (_only_connection_errors, "other errors"),
    (_second_outage, "a second outage"),
    (_trial_ends_another_way, "a trial that ends another way"),
    (_calls_from_before, "calls made before it opened"),
]


async def _scenario(run: Callable[[type], Coroutine[Any, Any, None]], Breaker: type) -> str | None:
    services = []
    _services.set(services)
    try:
        await run(Breaker)
    except _Broken as broken:
        return str(broken)
    finally:
        for service in services:
            service.close_unstarted()  # a breaker that made a coroutine and dropped it: no warning here
    return None


def check_breaker(Breaker: object, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``Breaker`` through every scenario; the first broken promise is the verdict."""
    if not isinstance(Breaker, type):
        return not_a_function(Breaker, "check_breaker(Breaker)") if not callable(Breaker) else \
            Verdict(False, "pass your class itself, check_breaker(Breaker), with an `async def call(self, function, *args)`")
    if not inspect.iscoroutinefunction(getattr(Breaker, "call", None)):
        return Verdict(False, "Breaker needs a method `async def call(self, function, *args)`")
    for run, name in SCENARIOS:
        outcome = run_guarded(_scenario(run, Breaker), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if outcome.status is Status.ERROR:
            error = outcome.value
            if isinstance(error, TypeError) and "argument" in str(error):
                return Verdict(False, f"Breaker(failure_threshold=3, reset_timeout=1.0) or breaker.call(function, *args) "
                                      f"failed: {describe_error(error)}")
            return Verdict(False, f"in the scenario '{name}', your Breaker raised {describe_error(error)}")
        if not outcome.finished:
            return Verdict(False, f"in the scenario '{name}': " + outcome.unfinished(
                deadlock="Is a call waiting for something nothing will ever set?",
                timeout="Does breaker.call() wait instead of rejecting at once?"))
        if outcome.value:
            return Verdict(False, f"{outcome.value} (scenario: {name})")
    return Verdict(True, "opens after 3 failures in a row and not before; rejects with CircuitOpen without calling "
                         "the function; lets one trial through exactly after reset_timeout on the loop's clock, "
                         "and only one of several at once; closes on its success, reopens on its failure, and a "
                         "trial that raised a bug's KeyError or was cancelled gives its place back, outage after "
                         "outage; a call from before it opened changes nothing; errors reach the caller unchanged, "
                         "and a bug's KeyError never opens it.")
