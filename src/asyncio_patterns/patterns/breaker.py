"""Circuit breakers: stop calling a dependency that keeps failing, and try it again later.

    breaker = CircuitBreaker(failures=(ConnectionError, TimeoutError), failure_threshold=5, reset_timeout=30)
    document = await breaker.call(fetch, session, url)   # fetch(session, url) is made only if let through

A breaker is *closed* while calls succeed: every call goes through. When the failures it
counts cross a threshold it *opens*: calls are rejected at once with :class:`CircuitOpen`,
without calling the function, for ``reset_timeout`` seconds. Then it is *half-open*: a few
trial calls go through, and the rest are rejected; if the trials succeed it closes, if one
fails it opens again for another ``reset_timeout``.

``failures`` has no default: only the caller knows which exceptions mean "the dependency
failed" (``aiohttp.ClientError``, ``TimeoutError``, an exception of your own for a 5xx),
and ``Exception`` is refused, as ``retry`` refuses it, because a ``KeyError`` in your own
parsing would then open the breaker for every caller.

:class:`CircuitBreaker` opens after ``failure_threshold`` failures in a row (as pybreaker,
aiobreaker and purgatory count). :class:`FailureRateBreaker` opens when the share of
failures among the last ``window`` calls reaches ``failure_rate``, once at least
``min_calls`` calls were made (as resilience4j and Hystrix count).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ._checks import seconds, whole_number

__all__ = ["BreakerStats", "CircuitBreaker", "CircuitOpen", "FailureRateBreaker"]

P = ParamSpec("P")
T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitOpen(Exception):
    """A call the breaker rejected without making it.

    ``retry_after`` is the number of seconds until the breaker lets a trial call through,
    or None when it is half-open and its trial calls are taken (when they end is not
    known). ``in_flight`` is then the number of those trials still running, if known.
    The exception pickles (``pickle.loads(pickle.dumps(error))``), as a task's result
    crossing a process boundary must."""

    def __init__(self, name: str, retry_after: float | None, in_flight: int | None = None) -> None:
        if retry_after is not None:
            message = f"circuit {name!r} is open: call rejected, retry in {retry_after:.3g} s"
        elif in_flight is None:
            message = f"circuit {name!r} is half-open: call rejected, its trial calls are taken"
        else:
            message = (f"circuit {name!r} is half-open: call rejected, "
                       f"{in_flight} trial call{'' if in_flight == 1 else 's'} still in flight")
        super().__init__(message)
        self.name = name
        self.retry_after = retry_after
        self.in_flight = in_flight

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickles as type(self)(*self.args): here args is the message alone.
        return type(self), (self.name, self.retry_after, self.in_flight), self.__dict__


@dataclass
class BreakerStats:
    """Counters since the breaker was made."""

    calls: int = 0  # every call of ``call()``, let through or not
    succeeded: int = 0
    failed: int = 0  # raised one of the ``failures`` types (counted against the dependency)
    ignored: int = 0  # raised another exception (passed on, counted neither way) or was cancelled
    rejected: int = 0  # refused with CircuitOpen: the function was not called
    opened: int = 0  # times the breaker opened


def _exception_types(failures: object) -> tuple[type[Exception], ...]:
    types = (failures,) if isinstance(failures, type) else failures
    example = "e.g. failures=(ConnectionError, TimeoutError)"
    if (not isinstance(types, tuple) or not types
            or not all(isinstance(t, type) and issubclass(t, Exception) for t in types)):
        raise ValueError(f"failures must be an Exception subclass or a tuple of them, {example}, got {failures!r}")
    if Exception in types:
        raise ValueError(f"failures=Exception would count a bug in your own code (a KeyError, a TypeError) as the "
                         f"dependency failing and open the breaker for every caller: name its errors, {example}")
    return types


class CircuitBreaker:
    """Open after ``failure_threshold`` failures in a row; after ``reset_timeout`` seconds
    let ``half_open_calls`` trial calls through; close when they all succeed.

    ``await breaker.call(function, *args, **kwargs)`` awaits ``function(*args, **kwargs)``
    if the breaker lets the call through, and raises :class:`CircuitOpen` without calling
    ``function`` if not, so a rejected call creates no coroutine. ``@breaker`` on an
    ``async def`` does the same for every call of it.

    Only exceptions of the ``failures`` types count as failures: name the dependency's
    errors, such as ``aiohttp.ClientError`` and ``TimeoutError``, so that a bug in your own
    code does not open the breaker (there is no default, and ``Exception`` is refused).
    Other exceptions, and ``CancelledError``, pass through and count neither way. A success
    while closed resets the count of failures in a row. Put a call's time limit *inside*
    ``function`` (``async with asyncio.timeout(...)`` in it): a timeout around
    ``breaker.call`` cancels the call, and a cancelled call counts neither way, so a
    dependency that hangs would never open the breaker.

    Time is the running event loop's ``loop.time()``: monotonic, and virtual under
    ``run_virtual``, so tests of the timing are exact. An open breaker becomes half-open
    lazily, at the first call at least ``reset_timeout`` seconds after it opened
    (``state`` reports ``"open"`` until then). In the half-open state it lets
    ``half_open_calls`` trial calls through and rejects the rest: one counted failure
    among them opens it again at once, and when all of them have succeeded it closes. A
    trial that raises another exception, or is cancelled, decides nothing and gives its
    place to the next caller. ``call`` has one await, ``function``'s own; wherever an error
    or a cancel lands in it, the call is counted once in ``stats`` (``calls`` is always
    ``succeeded + failed + ignored + rejected`` once the calls have ended) and its trial
    place, if it had one, is given back.

    A call decides nothing if the breaker changed state while it ran: a slow call that
    started while closed and fails after the breaker opened does not restart the open
    period, and one that succeeds late does not close it. ``on_change(old, new)``, if
    given, is called at every change of state, after the change; an exception it raises
    goes to the event loop's exception handler (``loop.call_exception_handler``, which
    logs it), never to the caller, so it cannot replace the dependency's error or result.
    A breaker belongs to one event loop and, like the rest of asyncio, is not thread-safe.
    """

    def __init__(self, *, failures: type[Exception] | tuple[type[Exception], ...], failure_threshold: int = 5,
                 reset_timeout: float = 30.0, half_open_calls: int = 1, name: str = "breaker",
                 on_change: Callable[[str, str], None] | None = None) -> None:
        self.failure_threshold = whole_number("failure_threshold", failure_threshold)
        self.reset_timeout = seconds("reset_timeout", reset_timeout, positive=True)
        self.half_open_calls = whole_number("half_open_calls", half_open_calls)
        self.failures = _exception_types(failures)
        self.name = name
        self.on_change = on_change
        self.stats = BreakerStats()
        self.consecutive_failures = 0
        self._state = CLOSED
        self._opened_at = 0.0
        self._generation = 0  # bumped at every change of state: a call's outcome counts only in its own
        self._trials = 0  # half-open trial calls let through and not given back: succeeded or in flight
        self._trial_successes = 0

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return self._state

    async def call(self, function: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``function(*args, **kwargs)`` if the breaker lets the call through; else
        raise :class:`CircuitOpen` without calling ``function``."""
        self.stats.calls += 1
        self._admit()  # raises CircuitOpen; only after this is the coroutine made
        generation, trial = self._generation, self._state == HALF_OPEN
        try:
            result = await function(*args, **kwargs)
        except self.failures:
            self.stats.failed += 1
            if generation == self._generation:
                self._failure()
            raise
        except BaseException:  # not ours to count: someone else's error, or a cancellation
            self.stats.ignored += 1
            if trial and generation == self._generation:
                self._trials -= 1  # it decided nothing: its trial slot goes to the next caller
            raise
        self.stats.succeeded += 1
        if generation == self._generation:
            self._success()
        return result

    def __call__(self, function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """Use the breaker as a decorator: every call of ``function`` goes through it."""
        @functools.wraps(function)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(function, *args, **kwargs)
        return guarded

    # -- the state machine ------------------------------------------------------------

    def _admit(self) -> None:
        if self._state == OPEN:
            waited = asyncio.get_running_loop().time() - self._opened_at
            if waited < self.reset_timeout:
                self._reject(self.reset_timeout - waited)
            self._change(HALF_OPEN)
        if self._state == HALF_OPEN:
            if self._trials >= self.half_open_calls:
                self._reject(None, self._trials - self._trial_successes)
            self._trials += 1

    def _reject(self, retry_after: float | None, in_flight: int | None = None) -> None:
        self.stats.rejected += 1
        raise CircuitOpen(self.name, retry_after, in_flight)

    def _success(self) -> None:
        if self._state == HALF_OPEN:
            self._trial_successes += 1
            if self._trial_successes >= self.half_open_calls:
                self._change(CLOSED)
        elif self._record(failed=False):  # a rate can reach its threshold on a success: at min_calls
            self._open()

    def _failure(self) -> None:
        if self._state == HALF_OPEN or self._record(failed=True):
            self._open()

    def _open(self) -> None:
        self.stats.opened += 1
        self._opened_at = asyncio.get_running_loop().time()
        self._change(OPEN)

    def _change(self, state: str) -> None:
        old, self._state = self._state, state
        self._generation += 1
        self._trials = self._trial_successes = 0
        if state == CLOSED:
            self._reset_counts()
        if self.on_change is not None:
            try:
                self.on_change(old, state)
            except Exception as error:  # the hook's bug: report it, and leave the call's outcome alone
                asyncio.get_running_loop().call_exception_handler({
                    "message": f"on_change({old!r}, {state!r}) of circuit {self.name!r} raised", "exception": error})

    # -- the closed state's policy: the hooks a subclass overrides -------------------------

    def _record(self, *, failed: bool) -> bool:
        """Count one call made while closed; return True if the breaker must open."""
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        return self.consecutive_failures >= self.failure_threshold

    def _reset_counts(self) -> None:
        """Forget the closed state's counts (the breaker has just closed)."""
        self.consecutive_failures = 0

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} {self._state}: {self.stats.succeeded} ok, "
                f"{self.stats.failed} failed, {self.stats.rejected} rejected, opened {self.stats.opened}x>")


class FailureRateBreaker(CircuitBreaker):
    """Open when at least ``failure_rate`` of the last ``window`` calls failed, once at
    least ``min_calls`` calls were counted since the breaker last closed (before
    ``window`` calls, the rate is over the calls made so far).

    Everything else is as in :class:`CircuitBreaker`: which exceptions count (``failures``,
    required), the reset
    timeout, the half-open trials (one counted failure reopens it, ``half_open_calls``
    successes close it, and closing empties the window). The window counts calls, as
    resilience4j's default ``COUNT_BASED`` window does; a rate at exactly ``failure_rate``
    opens the breaker. ``failures_in_window`` and ``calls_in_window`` show the window.
    """

    def __init__(self, *, failures: type[Exception] | tuple[type[Exception], ...], failure_rate: float = 0.5,
                 window: int = 20, min_calls: int = 10, reset_timeout: float = 30.0, half_open_calls: int = 1,
                 name: str = "breaker", on_change: Callable[[str, str], None] | None = None) -> None:
        if isinstance(failure_rate, bool) or not isinstance(failure_rate, (int, float)) or not 0 < failure_rate <= 1:
            raise ValueError(f"failure_rate must be a share > 0 and <= 1 (0.5 for half the calls), got {failure_rate!r}")
        self.failure_rate = float(failure_rate)
        self.window = whole_number("window", window)
        self.min_calls = whole_number("min_calls", min_calls)
        if self.min_calls > self.window:
            raise ValueError(f"min_calls must be at most window ({window}), got {min_calls!r}")
        self._outcomes: deque[bool] = deque(maxlen=self.window)  # True for a failure
        super().__init__(failure_threshold=1, reset_timeout=reset_timeout, half_open_calls=half_open_calls,
                         failures=failures, name=name, on_change=on_change)

    @property
    def calls_in_window(self) -> int:
        return len(self._outcomes)

    @property
    def failures_in_window(self) -> int:
        return sum(self._outcomes)

    def _record(self, *, failed: bool) -> bool:
        self._outcomes.append(failed)
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        calls = len(self._outcomes)
        return calls >= self.min_calls and sum(self._outcomes) / calls >= self.failure_rate

    def _reset_counts(self) -> None:
        super()._reset_counts()
        self._outcomes.clear()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} {self._state}: {self.failures_in_window} of the last "
                f"{self.calls_in_window} calls failed, {self.stats.rejected} rejected, opened {self.stats.opened}x>")
