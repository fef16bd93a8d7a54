"""Retrying an async call: capped exponential backoff with jitter, a deadline, and a report.

    @retry(on=(ConnectionError, ServerBusy), attempts=5, base=0.1, cap=2.0, deadline=10.0)
    async def get_item(session, url): ...

``retry`` calls the function; if it raises one of the errors named in ``on``, it waits and
calls it again, up to ``attempts`` calls in all. Anything else it raises (a ``TypeError``
from a bug, a ``404``, ``CancelledError``) goes straight to the caller, unretried. When it
gives up, it raises the last error itself, so that the caller's ``except ServerBusy:``
still matches, with the report attached: ``error.retry_attempts`` holds every
:class:`Attempt` it made, and a note (``error.add_note``) that a traceback prints says why
it stopped.

The waits come from :func:`backoff_delays`. Times are read from the event loop's clock
(``loop.time()``), as ``asyncio.sleep`` and ``asyncio.timeout`` read them, so a test can run
a retried call in virtual time and check each wait exactly.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import math
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from ._checks import whole_number

__all__ = ["JITTERS", "Attempt", "backoff_delays", "retry"]

P = ParamSpec("P")
T = TypeVar("T")

JITTERS = ("none", "full", "equal", "decorrelated")


def backoff_delays(*, base: float, cap: float, jitter: str = "full",
                   rng: random.Random | None = None) -> Iterator[float]:
    """An endless iterator of the waits, in seconds, before retry 1, 2, 3, ...

    The exponential wait before retry ``n`` is ``e = min(cap, base * 2 ** (n - 1))``, and
    ``jitter`` decides how much of it is random (the four variants of the AWS Architecture
    Blog's "Exponential Backoff And Jitter"):

    - ``"none"``: exactly ``e``;
    - ``"full"``: uniform between 0 and ``e`` (on average ``e / 2``);
    - ``"equal"``: ``e / 2`` plus uniform between 0 and ``e / 2`` (on average ``3 e / 4``);
    - ``"decorrelated"``: ``min(cap, uniform(base, 3 * previous))``, where ``previous`` is
      the wait before (``base`` at first): it grows from the last wait, not from ``n``.

    ``base=0`` gives no backoff at all: every wait is 0. The random part is drawn from
    ``rng`` (a ``random.Random`` of its own: seeded, it makes the waits reproducible), by
    default from the ``random`` module's shared generator, which ``random.seed()`` resets.
    """
    _check_delays(base, cap, jitter)
    draw: Any = rng if rng is not None else random  # the module's functions share its generator
    previous = base
    for n in itertools.count():
        exponential = min(cap, base * 2.0 ** min(n, 1023))  # 2.0 ** 1024 would overflow
        if jitter == "none":
            yield exponential
        elif jitter == "full":
            yield draw.uniform(0, exponential)
        elif jitter == "equal":
            yield exponential / 2 + draw.uniform(0, exponential / 2)
        else:
            previous = min(cap, draw.uniform(base, 3 * previous))
            yield previous


@dataclass(frozen=True)
class Attempt:
    """One call made by :func:`retry`. Times are seconds since the first call began."""

    number: int  # 1 for the first call
    start: float
    end: float
    error: BaseException | None = None  # None if this call returned
    wait: float = 0.0  # seconds waited after it, before the next call (0 for the last)

    def __str__(self) -> str:
        outcome = "ok" if self.error is None else _describe(self.error)
        then = f", then waited {self.wait:.3f} s" if self.wait else ""
        return f"attempt {self.number} at {self.start:.3f} s: {outcome}{then}"


def retry(
    *,
    on: type[Exception] | tuple[type[Exception], ...],
    attempts: int = 3,
    base: float = 0.1,
    cap: float = 10.0,
    jitter: str = "full",
    deadline: float | None = None,
    retry_after: Callable[[Exception], float | None] | None = None,
    max_retry_after: float = 60.0,
    on_retry: Callable[[Attempt], object] | None = None,
    rng: random.Random | None = None,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate an ``async def`` function so that the errors in ``on`` are retried.

    - **What is retried:** only errors that are instances of ``on`` (a class or a tuple of
      classes, each a subclass of ``Exception``). ``on=Exception`` is refused: it would retry
      the ``TypeError`` of a bug. Every other error passes through at once, as it is.
    - **Cancellation:** a cancel is never retried. Wherever it lands (during a call or
      during a wait), ``CancelledError`` goes to the caller at once, and nothing is called
      after it; so a timeout or a ``TaskGroup`` around the retried call works.
    - **How often:** at most ``attempts`` calls in all (``attempts=1``: one call, no retry).
    - **How long between calls:** the next of :func:`backoff_delays` (``base``, ``cap``,
      ``jitter``, ``rng``; without ``rng``, the ``random`` module's generator). If
      ``retry_after(error)`` returns a number of seconds (a server's ``Retry-After``), the
      wait is at least that; ``cap`` limits only the backoff, never what the server asked
      for. A negative number means "now". A server that asks for more than
      ``max_retry_after`` seconds (an hour, a day, ``inf``) is not waited for: it gives up
      at once, rather than park the caller.
    - **Never after the last call:** when no call is left, it raises at once, without waiting.
    - **Deadline:** with ``deadline`` seconds, the whole retried call ends by then: a call
      still running at the deadline is cancelled (its ``TimeoutError`` is raised), and a
      wait that would end past the deadline is not started (it gives up at once).
    - **Giving up** raises the last error itself: the caller's ``except`` clauses match it
      as if there had been no retry. ``error.retry_attempts`` is the tuple of every
      :class:`Attempt`, and ``error.__notes__`` ends with one line saying why it stopped.
      (An error that refuses new attributes, such as a frozen dataclass, is raised without
      them.) If the same error object is raised again by a later retry, it gets a note more.
    - **Hooks:** ``on_retry(attempt)`` is called before each wait, for logging. If
      ``retry_after`` or ``on_retry`` raises (or ``retry_after`` returns something that is
      not a number of seconds), it gives up at once and raises the call's error, with a note
      naming the hook's error: a bug in a hook must neither hide what failed nor let the
      calls go on at a wait nobody chose.

    The decorated function keeps its name, docstring and signature (``functools.wraps``).
    """
    errors = _check_errors(on)
    whole_number("attempts", attempts, hint=" (the total number of calls)")
    _check_delays(base, cap, jitter)
    if deadline is not None and not (_is_number(deadline) and deadline > 0):
        raise ValueError(f"deadline must be a number of seconds > 0, or None for no deadline, got {deadline!r}")
    if not (_is_number(max_retry_after) and max_retry_after >= 0):
        raise ValueError(f"max_retry_after must be a number of seconds >= 0 (the longest Retry-After worth "
                         f"waiting for), got {max_retry_after!r}")

    def decorate(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        if not inspect.iscoroutinefunction(function):
            raise TypeError(f"retry decorates an async def function, got {function!r}: "
                            "a plain function's result cannot be awaited again")

        @functools.wraps(function)
        async def retried(*args: P.args, **kwargs: P.kwargs) -> T:
            loop = asyncio.get_running_loop()
            began = loop.time()
            give_up_at = None if deadline is None else began + deadline
            waits = backoff_delays(base=base, cap=cap, jitter=jitter, rng=rng)
            made: list[Attempt] = []
            for number in range(1, attempts + 1):
                start = loop.time() - began
                scope = asyncio.timeout_at(give_up_at)
                try:
                    async with scope:
                        return await function(*args, **kwargs)
                except Exception as error:
                    end = loop.time() - began
                    wait, why = 0.0, None  # why: the reason to give up, if there is one
                    if scope.expired():
                        why = f"the {deadline:g} s deadline passed during attempt {number}"
                    elif not isinstance(error, errors):
                        raise  # not a failure we were asked to retry: the caller must see it as it is
                    elif number == attempts:
                        why = f"all {attempts} attempts failed" if attempts > 1 else "its one attempt failed"
                    else:
                        wait, why = _next_wait(error, next(waits), retry_after, max_retry_after,
                                               loop.time(), give_up_at, deadline)
                    if why is None and on_retry is not None:
                        why = _logged(on_retry, Attempt(number, start, end, error, wait))
                    made.append(Attempt(number, start, end, error, wait if why is None else 0.0))
                    if why is not None:
                        _report(error, made, why)
                        raise  # the last error itself, the report attached
                await asyncio.sleep(wait)
            raise AssertionError("unreachable: the last attempt returns or raises")

        return retried

    return decorate


def _next_wait(error: Exception, backoff: float, retry_after: Callable[[Exception], float | None] | None,
               max_retry_after: float, now: float, give_up_at: float | None,
               deadline: float | None) -> tuple[float, str | None]:
    """The wait before the next call, and None; or why not to make one."""
    wait, asked = backoff, None
    if retry_after is not None:
        try:
            asked = retry_after(error)
        except Exception as hook_error:
            return 0.0, f"retry_after(error) raised {_describe(hook_error)}"
        if asked is not None:
            if isinstance(asked, bool) or not isinstance(asked, (int, float)) or math.isnan(asked):
                return 0.0, f"retry_after(error) returned {asked!r}, not a number of seconds or None"
            asked = max(0.0, float(asked))
            if asked > max_retry_after:
                return 0.0, f"the server asked to wait {asked:g} s, more than max_retry_after ({max_retry_after:g} s)"
            wait = max(wait, asked)
    if give_up_at is not None and now + wait >= give_up_at:
        what = "the server asked to wait" if asked is not None and wait == asked else "the next wait is"
        return wait, f"{what} {wait:.3f} s, past the {deadline:g} s deadline"
    return wait, None


def _logged(on_retry: Callable[[Attempt], object], attempt: Attempt) -> str | None:
    """Call ``on_retry(attempt)``; None, or why to give up if it raised."""
    try:
        on_retry(attempt)
    except Exception as hook_error:
        return f"on_retry(attempt) raised {_describe(hook_error)}"
    return None


def _report(error: BaseException, made: list[Attempt], why: str) -> None:
    """Attach the attempts, and a note saying why it gave up, to the error it is about to raise."""
    plural = "s" if len(made) != 1 else ""
    try:
        error.retry_attempts = tuple(made)  # type: ignore[attr-defined]
        error.add_note(f"retry gave up after {len(made)} attempt{plural} in {made[-1].end:.3f} s: {why}")
    except AttributeError:  # it refuses new attributes (a frozen dataclass): raise it as it is
        pass


def _check_errors(on: Any) -> tuple[type[Exception], ...]:
    errors = on if isinstance(on, tuple) else (on,)
    example = "e.g. on=(ConnectionError, TimeoutError)"
    if not errors:
        raise ValueError(f"on must name the errors to retry, {example}, got ()")
    for error in errors:
        if not (isinstance(error, type) and issubclass(error, BaseException)):
            raise ValueError(f"on must be exception classes, {example}, got {error!r}")
        if not issubclass(error, Exception):
            raise ValueError(f"on must not include {error.__name__}: it is not a failure to retry "
                             "but a request to stop (cancellation, Ctrl-C, exit)")
        if error is Exception:
            raise ValueError(f"on=Exception would retry programming errors (TypeError, KeyError, ...): "
                             f"name the transient errors, {example}")
    return errors


def _check_delays(base: float, cap: float, jitter: str) -> None:
    if not (_is_number(base) and base >= 0):
        raise ValueError(f"base must be a number of seconds >= 0, got {base!r}")
    if not (_is_number(cap) and cap >= base):
        raise ValueError(f"cap must be a number of seconds >= base ({base!r}), got {cap!r}")
    if jitter not in JITTERS:
        raise ValueError(f"jitter must be one of {', '.join(map(repr, JITTERS))}, got {jitter!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "none"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
