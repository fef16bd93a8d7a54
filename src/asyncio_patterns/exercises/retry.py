"""Check for lesson 06's exercise: a retry with capped, jittered backoff that behaves.

The learner writes ``async def call_with_retries(call, *, attempts, base, cap, deadline)``.
``check_retries(call_with_retries)`` runs it in virtual time against scripted services,
each a coroutine function that takes 10 ms per call and records when it was called:

- one that fails twice with :class:`TransientError` and then answers (run several times,
  so that waits that never vary, or that exceed their bound, are seen);
- one that always fails (exactly ``attempts`` calls, each wait within ``min(cap, base * 2 **
  (n - 1))`` and the waits using that range as it grows, the last error itself raised with no
  wait after the last call);
- one that raises a bug (``KeyError``): it must not be retried;
- one that asks for ``retry_after`` seconds, and one that asks for more than the deadline;
- one that always fails against a deadline, one that hangs past it, and one that fails until
  1.5 s and then hangs (a deadline per call, instead of one for the whole retried call, lets
  that last call run past the deadline);
- one that hangs while an ``asyncio.timeout`` around ``call_with_retries`` fires: the
  cancellation must not be retried.

Every run is guarded by the shared harness, so a hang is a verdict, never a hung kernel. A
``time.sleep`` called on the check's loop returns at once and is reported: it would block the
loop (and in virtual time it waits nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..lab.clock import VirtualTimeLoop
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Attempt, attempt, describe_error, run_guarded

__all__ = ["TransientError", "check_retries"]

WORK = 0.01  # seconds each scripted call takes
HANG = 100.0  # seconds a call takes once the service hangs
EPSILON = 1e-9
JITTER_RUNS = 8  # runs of the recovering service, to see whether the waits vary


class TransientError(Exception):
    """A failure worth retrying; ``retry_after`` is the wait the server asked for, or None."""

    def __init__(self, message: str = "service unavailable", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Run(Attempt):
    """One scripted run: the learner's outcome, and every call the service saw."""

    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)  # when each call finished (or was cancelled)
    raised: list[BaseException] = field(default_factory=list)  # what each failed call raised
    over: float = 0.0  # loop time when call_with_retries returned or raised

    @property
    def waits(self) -> list[float]:
        return [start - end for end, start in zip(self.ends, self.starts[1:])]


def _service(run: _Run, failures: int, error: Callable[[], BaseException], work: float = WORK,
             hang_from: float | None = None) -> Callable:
    """A call takes ``work`` seconds, and the first ``failures`` calls raise ``error()``; a call
    that starts at ``hang_from`` seconds or later hangs for ``HANG`` seconds instead."""
    async def service() -> str:
        loop = asyncio.get_running_loop()
        run.starts.append(loop.time())
        hangs = hang_from is not None and loop.time() >= hang_from
        try:
            await asyncio.sleep(HANG if hangs else work)
        finally:
            run.ends.append(loop.time())
        if not hangs and len(run.starts) <= failures:
            raised = error()
            run.raised.append(raised)
            raise raised
        return "item"
    return service


async def _scripted(function: Callable, failures: int, error: Callable[[], BaseException], *, attempts: int,
                    base: float, cap: float, deadline: float, work: float = WORK, hang_from: float | None = None,
                    within: float = 1000.0) -> _Run:
    run = _Run()
    call = functools.partial(function, _service(run, failures, error, work, hang_from),
                             attempts=attempts, base=base, cap=cap, deadline=deadline)
    await attempt(run, call, timeout=within)
    run.over = asyncio.get_running_loop().time()
    return run


def _bound(n: int, base: float, cap: float) -> float:
    return min(cap, base * 2 ** (n - 1))


def _raised_last(run: _Run) -> bool:
    """It raised the last TransientError itself (not a new error, not one that wraps it)."""
    return bool(run.raised) and run.error is run.raised[-1]


def _not_the_last(run: _Run, what: str, when: str) -> Verdict | None:
    """A "Not yet" if ``when`` it raised anything but the last TransientError itself."""
    if run.error is None or _raised_last(run):
        return None
    return Verdict(False, f"{what}: {when}, it raised {describe_error(run.error)}, not the last TransientError. "
                          "Raise the last error itself (a bare `raise` in the except block), so that the "
                          "caller's `except TransientError` still matches and sees what failed")


@contextlib.contextmanager
def _time_sleep_recorded() -> Iterator[list[float]]:
    """While it lasts, ``time.sleep`` called on a virtual-time loop returns at once and its
    argument is recorded; called anywhere else, it sleeps as usual."""
    calls: list[float] = []
    real = time.sleep

    def sleep(seconds: float) -> None:
        try:
            on_the_check = isinstance(asyncio.get_running_loop(), VirtualTimeLoop)
        except RuntimeError:  # no loop running in this thread
            on_the_check = False
        if not on_the_check:
            return real(seconds)
        calls.append(seconds)

    time.sleep = sleep
    try:
        yield calls
    finally:
        time.sleep = real


@dataclass(frozen=True)
class _Scenario:
    """One scripted service, the settings it is called with, and how to judge what happened."""

    what: str
    failures: int  # calls that fail before one answers
    error: Callable[[], BaseException]  # what each failing call raises
    judge: Callable[[list[_Run], str], Verdict | None]
    settings: dict = field(default_factory=dict)  # attempts, base, cap, deadline, and work or within
    runs: int = 1  # > 1 to see whether the waits vary
    shared: bool = True  # apply the verdicts every run shares (not a coroutine, still retrying)


def check_retries(call_with_retries: Callable, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``call_with_retries`` against the scripted services and judge each run."""
    if not callable(call_with_retries):
        return not_a_function(call_with_retries, "check_retries(call_with_retries)")
    if not inspect.iscoroutinefunction(call_with_retries):
        return Verdict(False, "define it with `async def call_with_retries(call, *, attempts, base, cap, deadline):`")
    for scenario in _SCENARIOS:
        runs = []
        for _ in range(scenario.runs):
            run = _scripted_run(call_with_retries, real_limit, scenario)
            if isinstance(run, Verdict):
                return run
            runs.append(run)
        verdict = scenario.judge(runs, scenario.what)
        if verdict is not None:
            return verdict
    return Verdict(True, "retried only TransientError, with jittered waits within min(cap, base * 2 ** (n - 1)), "
                         "at least retry_after when asked, no wait after the last attempt, nothing past the "
                         "deadline, and a cancellation from outside was not retried.")


def _scripted_run(function: Callable, real_limit: float, scenario: _Scenario) -> _Run | Verdict:
    """Run one scripted service under the harness; a run that did not finish (or, for most
    scenarios, that was not a coroutine or still retrying at the check's limit) is a Verdict."""
    what = scenario.what
    with _time_sleep_recorded() as slept:
        outcome = run_guarded(_scripted(function, scenario.failures, scenario.error, **scenario.settings),
                              real_limit=real_limit)
    if slept:
        more = f" and {len(slept) - 1} more time(s)" if len(slept) > 1 else ""
        return Verdict(False, f"{what}: it called time.sleep({slept[0]:.3g}){more}. time.sleep blocks the event "
                              "loop: no other task runs until it returns (and in the check's virtual time it "
                              "waits nothing). Use `await asyncio.sleep(wait)`")
    if not outcome.finished:
        return Verdict(False, f"{what}: " + outcome.unfinished(
            timeout="Does the loop stop after `attempts` calls?",
            hung="Wait with `await asyncio.sleep(wait)`, never time.sleep()."))
    if not outcome.ok:  # the check itself raised: the learner's code broke something outside the call
        return Verdict(False, f"{what}: the run raised {describe_error(outcome.value)}")
    run = outcome.value
    if scenario.shared and run.not_awaitable:
        return Verdict(False, f"call_with_retries returned a {run.not_awaitable}, not a coroutine: "
                              "define it with `async def`")
    if scenario.shared and run.timed_out:
        return Verdict(False, f"{what}: still retrying after {run.over:g} s, after {len(run.starts)} calls: "
                              "stop after `attempts` calls")
    return run


def _recovers(runs: list[_Run], what: str) -> Verdict | None:
    first_waits = []
    for run in runs:
        if run.error is not None:
            return Verdict(False, f"{what}: it raised {describe_error(run.error)} after {len(run.starts)} "
                                  "call(s); the third call would have answered: retry TransientError")
        if run.result != "item" or len(run.starts) != 3:
            return Verdict(False, f"{what}: it returned {run.result!r} after {len(run.starts)} call(s); "
                                  "return what the first successful call returned ('item', on the third call)")
        for n, wait in enumerate(run.waits, 1):
            if not -EPSILON <= wait <= _bound(n, 0.1, 1.0) + EPSILON:
                return Verdict(False, f"{what}: it waited {wait:.3f} s before retry {n}, but the wait must be "
                                      f"between 0 and min(cap, base * 2 ** (n - 1)) = {_bound(n, 0.1, 1.0):g} s "
                                      "(the first retry waits at most base)")
        first_waits.append(round(run.waits[0], 9))
    if set(first_waits) == {0}:
        return Verdict(False, f"{what}: in {len(runs)} runs it called again at once, 0 s after each failure. "
                              "Wait before each retry with `await asyncio.sleep(wait)`")
    if len(set(first_waits)) == 1:
        return Verdict(False, f"{what}: in {len(runs)} runs the wait before the first retry was "
                              f"{first_waits[0]:g} s every time. Without jitter, clients that fail together "
                              "retry together: wait random.uniform(0, min(cap, base * 2 ** (n - 1)))")
    return None


def _gives_up(runs: list[_Run], what: str) -> Verdict | None:
    for run in runs:
        calls = len(run.starts)
        if calls != 6:
            return Verdict(False, f"{what}: it made {calls} call(s); attempts=6 means 6 calls in all "
                                  "(the first and 5 retries)")
        for n, wait in enumerate(run.waits, 1):
            if wait > _bound(n, 0.1, 0.3) + EPSILON:
                return Verdict(False, f"{what}: it waited {wait:.3f} s before retry {n}; with cap=0.3 no wait "
                                      "may be longer than 0.3 s: wait at most min(cap, base * 2 ** (n - 1))")
        if run.error is None:
            return Verdict(False, f"{what}: it returned {run.result!r} after all 6 calls failed; raise the last "
                                  "TransientError so the caller knows")
        wrapped = _not_the_last(run, what, "after all 6 calls failed")
        if wrapped is not None:
            return wrapped
        late = run.over - run.ends[-1]
        if late > EPSILON:
            return Verdict(False, f"{what}: after the last call failed it waited {late:.3f} s before raising. "
                                  "There is nothing to wait for after the last attempt: raise at once")
    return _backs_off(runs, what, base=0.1)


def _backs_off(runs: list[_Run], what: str, *, base: float) -> Verdict | None:
    """The waits use the range full jitter gives them: some wait is more than a tenth of base, and
    some wait before retry 2 or later (whose bound is at least 2 base) is more than base. With
    full jitter, 8 runs of 5 waits (bounds 0.1, 0.2, 0.3, 0.3, 0.3 s) fail the second by chance with
    a probability of (1/2 * (1/3) ** 3) ** 8, one in 7e13, and the first far less often."""
    waits = [wait for run in runs for wait in run.waits]
    later = [wait for run in runs for wait in run.waits[1:]]
    fix = "draw each wait from the whole range: random.uniform(0, min(cap, base * 2 ** (n - 1)))"
    if max(waits) <= base / 10:
        return Verdict(False, f"{what}: in {len(runs)} runs the longest wait was {max(waits):.6f} s, though "
                              f"the bounds are {base:g} s before the first retry and more after: that is no "
                              f"backoff, and the retries hit the failing service almost at once. Back off: {fix}")
    if max(later) <= base + EPSILON:
        return Verdict(False, f"{what}: in {len(runs)} runs no wait before retry 2 or later was longer than "
                              f"base ({base:g} s; the longest was {max(later):.3f} s): the waits do not grow. "
                              f"The bound doubles with each retry, up to cap: {fix}")
    return None


def _bug(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if len(run.starts) > 1:
        return Verdict(False, f"{what}: the KeyError was retried ({len(run.starts)} calls). A bug fails every "
                              "time: retry only TransientError (`except TransientError:`), never every Exception")
    if not isinstance(run.error, KeyError):
        got = describe_error(run.error) if run.error is not None else f"returned {run.result!r}"
        return Verdict(False, f"{what}: the caller got {got}; let errors you do not retry reach the caller as "
                              "they are")
    return None


def _retry_after(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if run.result != "item" or len(run.starts) != 2:
        got = describe_error(run.error) if run.error else repr(run.result)
        return Verdict(False, f"{what}: expected 'item' on the second call, got {got} after {len(run.starts)} call(s)")
    if run.waits[0] < 2.0 - EPSILON:
        return Verdict(False, f"{what}: it called again after {run.waits[0]:.3f} s. The server asked for 2 s "
                              "(error.retry_after): wait at least that long, or the retry is refused again")
    if run.waits[0] > 2.0 + 1.0 + EPSILON:
        return Verdict(False, f"{what}: it waited {run.waits[0]:.3f} s: at least retry_after, but no longer than "
                              "the larger of retry_after and the backoff")
    return None


def _retry_after_past_deadline(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if len(run.starts) > 1 or run.over > 10.0 + EPSILON:
        return Verdict(False, f"{what}: it made {len(run.starts)} calls and ended at {run.over:g} s. A wait that "
                              "ends past the deadline is not worth starting: raise the error at once")
    if run.error is None or run.over - run.ends[-1] > EPSILON:
        return Verdict(False, f"{what}: raise the TransientError at once (it ended at {run.over:g} s, "
                              f"{'raising' if run.error else 'returning ' + repr(run.result)})")
    return _not_the_last(run, what, "when the wait it was asked for would end past the deadline")


def _deadline(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if run.over > 5.0 + EPSILON:
        return Verdict(False, f"{what}: it was still going at {run.over:.3f} s, after {len(run.starts)} calls: stop "
                              "at the deadline (before each wait, check that it ends before the deadline)")
    if run.error is None:
        return Verdict(False, f"{what}: it returned {run.result!r}; when the deadline stops the retries, raise "
                              "the last error")
    late = run.over - run.ends[-1]
    if late > EPSILON:
        return Verdict(False, f"{what}: after its last call it waited {late:.3f} s and then gave up at "
                              f"{run.over:.3f} s. If the next wait would end past the deadline, raise at once")
    if len(run.raised) < len(run.starts) and isinstance(run.error, TimeoutError):
        return None  # a call was still running at the deadline, which cut it: its TimeoutError is the answer
    return _not_the_last(run, what, "when the deadline stopped the retries")


def _hung_call(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if run.over > 2.0 + EPSILON:
        return Verdict(False, f"{what}: it returned at {run.over:g} s. The deadline covers the calls too: "
                              "run each call under `asyncio.timeout_at(start + deadline)`")
    if run.error is None:
        return Verdict(False, f"{what}: it returned {run.result!r} at the deadline; raise an error "
                              "(TimeoutError) so the caller knows there is no answer")
    return None


def _one_deadline(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if run.over > 2.0 + EPSILON:
        last = run.starts[-1]
        return Verdict(False, f"{what}: it ended at {run.over:.3f} s, past the 2 s deadline: its last call began at "
                              f"{last:.3f} s and was allowed {run.over - last:.3f} s. The deadline is for the whole "
                              "retried call, not each call: compute `give_up_at = loop.time() + deadline` once, "
                              "before the first call, and run every call under `asyncio.timeout_at(give_up_at)`")
    if run.error is None:
        return Verdict(False, f"{what}: it returned {run.result!r} at the deadline; raise an error "
                              "(TimeoutError) so the caller knows there is no answer")
    return None


def _cancelled(runs: list[_Run], what: str) -> Verdict | None:
    run = runs[0]
    if len(run.starts) > 1 or not run.timed_out:
        how = "returned" if run.error is None and not run.timed_out else "ended"
        return Verdict(False, f"{what}: after the cancellation it called again ({len(run.starts)} calls) and "
                              f"{how} at {run.over:g} s instead of at 0.5 s. `except BaseException` and a bare "
                              "`except:` catch CancelledError: catch only TransientError, and let cancellation "
                              "through")
    return None


def _named(what: str, **settings: float) -> str:
    shown = ", ".join(f"{k}={v:g}" for k, v in settings.items() if k in ("attempts", "base", "cap", "deadline"))
    return f"{what} ({shown})"


def _scenario(what: str, failures: int, error: Callable[[], BaseException], judge: Callable, *,
              runs: int = 1, shared: bool = True, **settings: float) -> _Scenario:
    return _Scenario(_named(what, **settings), failures, error, judge, settings, runs, shared)


_SCENARIOS = (
    _scenario("a service that fails twice, then answers", 2, TransientError, _recovers, runs=JITTER_RUNS,
              attempts=5, base=0.1, cap=1.0, deadline=30.0),
    _scenario("a service that always fails", 1000, TransientError, _gives_up, runs=JITTER_RUNS,
              attempts=6, base=0.1, cap=0.3, deadline=100.0),
    _scenario("a service with a bug (it raises KeyError)", 1000, lambda: KeyError("id"), _bug,
              attempts=4, base=0.1, cap=1.0, deadline=30.0),
    _scenario("a service that answers 'retry after 2 s' once", 1, lambda: TransientError("429", retry_after=2.0),
              _retry_after, attempts=3, base=0.1, cap=1.0, deadline=30.0),
    _scenario("a service that asks to retry after 30 s", 1000, lambda: TransientError("429", retry_after=30.0),
              _retry_after_past_deadline, shared=False, attempts=3, base=0.1, cap=1.0, deadline=10.0),
    _scenario("a service that always fails", 1000, TransientError, _deadline,
              attempts=50, base=1.0, cap=4.0, deadline=5.0),
    _scenario("a service whose call hangs for 100 s", 0, TransientError, _hung_call,
              attempts=3, base=0.1, cap=1.0, deadline=2.0, work=HANG),
    # cap = base keeps every wait under 0.1 s, so some call always starts between 1.5 and 2 s
    _scenario("a service that fails until 1.5 s, then hangs", 1000, TransientError, _one_deadline,
              attempts=1000, base=0.1, cap=0.1, deadline=2.0, hang_from=1.5),
    _scenario("a call cancelled by an `asyncio.timeout(0.5)` around call_with_retries", 0, TransientError,
              _cancelled, shared=False, attempts=5, base=0.1, cap=1.0, deadline=30.0, work=10.0, within=0.5),
)
