"""The breaker checker passes correct answers and names what each wrong one got wrong."""

import asyncio
import time

import pytest

from asyncio_patterns import CircuitBreaker, CircuitOpen
from asyncio_patterns.exercises.breaker import check_breaker


def answer(*, clock="loop", trials=1, in_a_row=True, threshold_offset=0, counted=ConnectionError,
           make_first=False, reopen=True, forget=True, swallow=False, reject_with=CircuitOpen):
    """A Breaker that keeps every rule except the ones switched off."""
    class Breaker:
        def __init__(self, failure_threshold, reset_timeout):
            self.threshold = failure_threshold + threshold_offset
            self.reset_timeout = reset_timeout
            self.failures = 0
            self.state = "closed"
            self.opened_at = 0.0
            self.in_flight = 0

        def now(self):
            return asyncio.get_running_loop().time() if clock == "loop" else time.monotonic()

        async def call(self, function, *args):
            coroutine = function(*args) if make_first else None
            if self.state == "open":
                if self.now() - self.opened_at < self.reset_timeout:
                    raise reject_with("breaker", self.reset_timeout)
                self.state, self.in_flight = "half-open", 0
            if self.state == "half-open":
                if self.in_flight >= trials:
                    raise reject_with("breaker", None)
                self.in_flight += 1
            try:
                result = await (coroutine or function(*args))
            except counted:
                self.failures += 1
                if self.state == "half-open" and not reopen:
                    self.state = "open"  # but the open period is not restarted
                elif self.state == "half-open" or self.failures >= self.threshold:
                    self.state, self.opened_at = "open", self.now()
                if swallow:
                    return None
                raise
            if self.state == "half-open":
                self.state = "closed"
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
