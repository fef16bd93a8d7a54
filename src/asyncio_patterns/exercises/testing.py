"""Check for lesson 13's exercise, graded the other way round: the learner writes the test.

The learner writes ``async def test_locked(locked)``: a test of a ``locked(lock, *, timeout)``
helper (lesson 04's, ``asyncio_patterns.patterns.locked``) that it receives as its argument.
The checker runs that test, in virtual time, against the correct helper, where it must
pass, and against broken ones, each of which it must fail (raise, or never finish). The
verdict names the first broken helper the test lets through, and how to catch it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from ..patterns import locked as correct
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Attempt, Status, attempt, describe_error, run_guarded

__all__ = ["BROKEN", "check_locked_test"]


@asynccontextmanager
async def never_released_on_error(lock: asyncio.Lock, *, timeout: float | None) -> AsyncIterator[None]:
    async with asyncio.timeout(timeout):
        await lock.acquire()
    yield
    lock.release()  # skipped when the block raises: no finally


@asynccontextmanager
async def limit_covers_the_block(lock: asyncio.Lock, *, timeout: float | None) -> AsyncIterator[None]:
    async with asyncio.timeout(timeout):  # around the block too: a slow block times out
        async with lock:
            yield


@asynccontextmanager
async def keeps_waiting_after_a_timeout(lock: asyncio.Lock, *, timeout: float | None) -> AsyncIterator[None]:
    acquiring = asyncio.ensure_future(lock.acquire())  # the acquire in a task of its own
    done, _ = await asyncio.wait({acquiring}, timeout=timeout)
    if not done:
        raise TimeoutError  # but the acquire goes on, takes the lock when it is freed, and never gives it back
    try:
        yield
    finally:
        lock.release()


@asynccontextmanager
async def ignores_the_timeout(lock: asyncio.Lock, *, timeout: float | None) -> AsyncIterator[None]:
    async with lock:  # waits for ever, whatever the timeout
        yield


BROKEN: dict[str, tuple[Callable, str]] = {  # name: (helper, how a test catches it)
    "never_released_on_error": (never_released_on_error, (
        "does not release the lock when the block raises. Raise an error inside `async with "
        "locked(lock, timeout=...)`, catch it outside, and assert `not lock.locked()`.")),
    "limit_covers_the_block": (limit_covers_the_block, (
        "applies the time limit to the block too. Hold the lock inside the block for longer than "
        "`timeout` (`await asyncio.sleep(...)`) and let the test fail if that raises TimeoutError.")),
    "keeps_waiting_after_a_timeout": (keeps_waiting_after_a_timeout, (
        "raises TimeoutError but goes on waiting, and takes the lock when it is freed, for nobody. "
        "After a timed-out `locked(...)`, let the holder finish, then assert `not lock.locked()`.")),
    "ignores_the_timeout": (ignores_the_timeout, (
        "ignores `timeout` and waits for ever. Have another task hold the lock and expect "
        "`TimeoutError` from `locked(lock, timeout=0.1)` (with `pytest.raises`, or try/except).")),
}


async def _run(test, helper) -> Attempt:
    report = Attempt()
    try:
        await attempt(report, test, helper, name="test_locked()")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # pytest.raises and pytest.fail raise outside Exception
        report.error = error
    return report


def _verdict_on_correct(outcome) -> str | None:
    if outcome.status is not Status.OK:
        return ("against the correct `locked`, your test " + outcome.unfinished(
            deadlock="Does a task hold the lock and never release it? Let every holder finish.",
            timeout="Give every wait in it a time limit.") + " A test must pass when the code is right.")
    report: Attempt = outcome.value
    if report.not_awaitable:
        return f"test_locked returned a {report.not_awaitable}: write it as `async def test_locked(locked):`"
    if report.error is not None:
        return (f"your test fails against the correct `locked`: {describe_error(report.error)}. "
                "A test must pass when the code is right: check what the helper promises, nothing more.")
    if report.left_running:
        return report.left_running
    return None


def _caught(outcome) -> bool:
    """The test failed against a broken helper: it raised, or never finished."""
    return outcome.status is not Status.OK or outcome.value.error is not None


def check_locked_test(test, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``test(locked)`` against the correct helper (must pass) and each of :data:`BROKEN` (must fail)."""
    if not callable(test) or inspect.iscoroutine(test):
        return not_a_function(test, "check_locked_test(test_locked)")
    if not inspect.iscoroutinefunction(test):
        return Verdict(False, "test_locked must be an `async def` function taking the helper: "
                              "`async def test_locked(locked):`")
    problem = _verdict_on_correct(run_guarded(_run(test, correct), real_limit=real_limit))
    if problem:
        return Verdict(False, problem)
    missed = [name for name, (helper, _) in BROKEN.items()
              if not _caught(run_guarded(_run(test, helper), real_limit=real_limit))]
    if missed:
        first = missed[0]
        also = f" ({len(missed) - 1} more broken one(s) pass it too)" if len(missed) > 1 else ""
        return Verdict(False, f"your test passes against a `locked` that {BROKEN[first][1]}{also}")
    return Verdict(True, f"your test passes against the correct `locked` and fails against all "
                         f"{len(BROKEN)} broken ones: {', '.join(BROKEN)}.")
