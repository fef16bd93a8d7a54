"""The breaker checker passes correct answers and names what each wrong one got wrong."""

import asyncio
import time

import pytest

from asyncio_patterns import CircuitBreaker, CircuitOpen
from asyncio_patterns.exercises.breaker import check_breaker


def answer(*, clock="loop", trials=1, in_a_row=True, threshold_offset=0, counted=ConnectionError,
           make_first=False, reopen=True, forget=True, swallow=False, reject_with=CircuitOpen,
           free="finally", late_outcomes_count=False, any_success_closes=False):
    """A Breaker that keeps every rule except the ones switched off. ``free`` says when a
    trial's place is given back: "finally" (however it ends), "on exception" (not when it is
    cancelled), "on outcome" (after a success or a counted failure only) or "on failure"
    (after a failed trial only)."""
    class Breaker:
        def __init__(self, failure_threshold, reset_timeout):
            self.threshold = failure_threshold + threshold_offset
            self.reset_timeout = reset_timeout
            self.failures = 0
            self.state = "closed"
            self.opened_at = 0.0
            self.in_flight = 0
            self.changes = 0

        def now(self):
            return asyncio.get_running_loop().time() if clock == "loop" else time.monotonic()

        def set_state(self, state):
            self.state, self.changes = state, self.changes + 1

        async def call(self, function, *args):
            coroutine = function(*args) if make_first else None
            if self.state == "open":
                if self.now() - self.opened_at < self.reset_timeout:
                    raise reject_with("breaker", self.reset_timeout)
                self.set_state("half-open")
            trial = self.state == "half-open"
            if trial:
                if self.in_flight >= trials:
                    raise reject_with("breaker", None)
                self.in_flight += 1
            started = self.changes
            try:
                result = await (coroutine or function(*args))
            except counted:
                if trial and free in ("on exception", "on outcome", "on failure"):
                    self.in_flight -= 1
                if late_outcomes_count or self.changes == started:
                    self.failures += 1
                    if trial and not reopen:
                        self.set_state("open")  # but the open period is not restarted
                    elif trial or self.failures >= self.threshold:
                        self.set_state("open")
                        self.opened_at = self.now()
                if swallow:
                    return None
                raise
            except Exception:
                if trial and free == "on exception":
                    self.in_flight -= 1
                raise
            finally:
                if trial and free == "finally":
                    self.in_flight -= 1
            if trial and free in ("on exception", "on outcome"):
                self.in_flight -= 1
            if any_success_closes and self.state != "closed":
                self.set_state("closed")  # the tutorial's `self.state = "closed"` after every success
                self.failures = 0
            elif late_outcomes_count or self.changes == started:
                if trial:
                    self.set_state("closed")
                    if forget:
                        self.failures = 0
                elif in_a_row:
                    self.failures = 0
            return result

    return Breaker


class WithThePackage(CircuitBreaker):
    def __init__(self, failure_threshold, reset_timeout):
        super().__init__(failure_threshold=failure_threshold, reset_timeout=reset_timeout, failures=ConnectionError)


@pytest.mark.parametrize("Breaker", [answer(), WithThePackage], ids=["reference", "package"])
def test_correct_answers_pass(Breaker):
    verdict = check_breaker(Breaker)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("wrong, hint", [
    (answer(clock="monotonic"), "asyncio.get_running_loop().time()"),
    (answer(trials=100), "5 concurrent calls reached the service"),
    (answer(in_a_row=False), "a success resets the count"),
    (answer(threshold_offset=1), "next call went through"),
    (answer(threshold_offset=-1), "after only 2 failure(s)"),
    (answer(counted=Exception), "count only ConnectionError"),
    (answer(make_first=True), "never awaited"),
    (answer(reopen=False), "a failed trial opens the breaker again"),
    (answer(forget=False), "forget the old failures"),
    (answer(swallow=True), "unchanged"),
    (answer(reject_with=lambda name, after: RuntimeError("open")), "raise CircuitOpen"),
    (answer(free="on outcome"), "free the trial's place in a `finally`"),
    (answer(free="on exception"), "CancelledError is not an Exception"),
    (answer(free="on failure"), "works for one outage only"),
    (answer(late_outcomes_count=True), "restarted the open period"),
    (answer(any_success_closes=True), "the late success closed it"),
])
def test_wrong_answers_get_a_hint(wrong, hint):
    verdict = check_breaker(wrong)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_a_hanging_call_is_a_verdict():
    class Hangs:
        def __init__(self, failure_threshold, reset_timeout):
            pass

        async def call(self, function, *args):
            await asyncio.Event().wait()

    verdict = check_breaker(Hangs)
    assert not verdict.passed and "still waiting" in verdict.message


def test_not_a_class():
    assert "pass your class itself" in check_breaker(lambda: None).message
    assert "async def call" in check_breaker(int).message


def test_the_tutorial_breaker_fails():
    from asyncio_patterns.demos.breaker import NaiveBreaker

    class Tutorial(NaiveBreaker):
        def __init__(self, failure_threshold, reset_timeout):
            super().__init__(max_failures=failure_threshold, reset_timeout=reset_timeout)

        async def call(self, function, *args):
            return await super().call(function(*args))

    verdict = check_breaker(Tutorial)
    assert not verdict.passed and "CircuitOpen" in verdict.message, verdict.message


def test_a_breaker_that_lets_late_failures_restart_the_open_period_fails():
    """A tidy answer with a `finally` and a trial flag, which counts a failure whenever it lands."""
    class Breaker:
        def __init__(self, failure_threshold, reset_timeout):
            self.failure_threshold, self.reset_timeout = failure_threshold, reset_timeout
            self.failures, self.opened_at, self.state, self.trial = 0, 0.0, "closed", False

        def open(self):
            self.state, self.opened_at = "open", asyncio.get_running_loop().time()

        async def call(self, function, *args):
            now = asyncio.get_running_loop().time()
            if self.state == "open" and now - self.opened_at >= self.reset_timeout:
                self.state = "half-open"
            if self.state == "open" or (self.state == "half-open" and self.trial):
                raise CircuitOpen("exercise", max(0.0, self.opened_at + self.reset_timeout - now))
            trial = self.trial = self.state == "half-open"
            try:
                result = await function(*args)
            except ConnectionError:
                self.failures += 1
                if trial or self.failures >= self.failure_threshold:
                    self.open()
                raise
            finally:
                if trial:
                    self.trial = False
            if trial:
                self.state = "closed"
            self.failures = 0
            return result

    verdict = check_breaker(Breaker)
    assert not verdict.passed and "restarted the open period" in verdict.message, verdict.message
    assert "(scenario: calls made before it opened)" in verdict.message
