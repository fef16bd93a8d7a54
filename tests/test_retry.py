"""retry(): what it retries, how long it waits (exactly, in virtual time), when it stops."""

import asyncio
import random

import pytest

from asyncio_patterns import RetryError, backoff_delays, retry, run_virtual
from asyncio_patterns.patterns.retry import Attempt


class Busy(Exception):
    def __init__(self, retry_after=None):
        super().__init__("busy")
        self.retry_after = retry_after


def flaky(failures, *, error=Busy, work=0.0):
    """An async function that raises ``error()`` ``failures`` times, then returns "ok";
    ``calls`` records the loop time of each call."""
    calls = []

    async def service():
        """The service's own docstring."""
        calls.append(asyncio.get_running_loop().time())
        await asyncio.sleep(work)
        if len(calls) <= failures:
            raise error() if isinstance(error, type) else error
        return "ok"

    return service, calls


def run(function):
    async def main():
        return await function()
    return run_virtual(main())


def test_keeps_name_and_docstring():
    service, _ = flaky(0)
    retried = retry(on=Busy)(service)
    assert retried.__name__ == "service"
    assert retried.__doc__ == "The service's own docstring."
    assert retried.__wrapped__ is service


def test_exponential_waits_are_exact_without_jitter():
    service, calls = flaky(3)
    assert run(retry(on=Busy, attempts=4, base=0.1, jitter="none")(service)) == "ok"
    assert calls == pytest.approx([0.0, 0.1, 0.3, 0.7])  # waits 0.1, 0.2, 0.4


def test_the_cap_limits_each_wait():
    service, calls = flaky(5)
    run(retry(on=Busy, attempts=6, base=1.0, cap=3.0, jitter="none")(service))
    waits = [b - a for a, b in zip(calls, calls[1:])]
    assert waits == pytest.approx([1.0, 2.0, 3.0, 3.0, 3.0])


def test_no_wait_after_the_last_attempt_and_the_report():
    service, calls = flaky(10, work=0.01)
    with pytest.raises(RetryError) as caught:
        run(retry(on=Busy, attempts=3, base=0.1, jitter="none")(service))
    error = caught.value
    assert len(calls) == 3
    assert [a.number for a in error.attempts] == [1, 2, 3]
    assert [a.wait for a in error.attempts] == pytest.approx([0.1, 0.2, 0.0])
    assert error.attempts[-1].end == pytest.approx(0.01 + 0.1 + 0.01 + 0.2 + 0.01)  # ends with the last call
    assert isinstance(error.__cause__, Busy) and error.last_error is error.__cause__
    assert str(error) == "gave up after 3 attempts in 0.330 s (all 3 attempts failed); last error: Busy: busy"
    assert str(error.attempts[0]) == "attempt 1 at 0.000 s: Busy: busy, then waited 0.100 s"


def test_one_attempt_means_one_call_and_the_real_error_as_cause():
    service, calls = flaky(1)
    with pytest.raises(RetryError) as caught:
        run(retry(on=Busy, attempts=1)(service))
    assert len(calls) == 1 and isinstance(caught.value.__cause__, Busy)


def test_errors_not_named_pass_through_at_once():
    service, calls = flaky(1, error=KeyError("id"))
    with pytest.raises(KeyError):
        run(retry(on=Busy, attempts=5)(service))
    assert len(calls) == 1


def test_cancellation_is_never_retried_and_a_timeout_around_it_works():
    service, calls = flaky(0, work=10.0)
    retried = retry(on=(Busy, TimeoutError), attempts=5, base=0.1)(service)

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await retried()
        return loop.time()

    assert run_virtual(main()) == pytest.approx(1.0)
    assert len(calls) == 1


def test_wait_for_around_it_works():
    service, calls = flaky(0, work=10.0)
    retried = retry(on=Busy, attempts=5)(service)

    async def main():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(retried(), 0.5)
        return asyncio.get_running_loop().time()

    assert run_virtual(main()) == pytest.approx(0.5)
    assert len(calls) == 1


@pytest.mark.parametrize("on, message", [
    (Exception, "on=Exception would retry programming errors"),
    (asyncio.CancelledError, "on must not include CancelledError"),
    ((Busy, KeyboardInterrupt), "on must not include KeyboardInterrupt"),
    ((), "on must name the errors to retry"),
    ("Busy", "on must be exception classes"),
])
def test_refuses_what_must_never_be_retried(on, message):
    with pytest.raises(ValueError, match=message):
        retry(on=on)


@pytest.mark.parametrize("options, message", [
    (dict(attempts=0), "attempts must be a whole number >= 1"),
    (dict(attempts=2.5), "attempts must be a whole number >= 1"),
    (dict(base=-1), "base must be a number of seconds >= 0"),
    (dict(base=1, cap=0.5), "cap must be a number of seconds >= base"),
    (dict(jitter="some"), "jitter must be one of 'none', 'full', 'equal', 'decorrelated'"),
    (dict(deadline=0), "deadline must be a number of seconds > 0"),
])
def test_bad_settings_say_what_to_change(options, message):
    with pytest.raises(ValueError, match=message):
        retry(on=Busy, **options)


def test_decorates_only_async_functions():
    with pytest.raises(TypeError, match="retry decorates an async def function"):
        retry(on=Busy)(lambda: None)


def test_retry_after_sets_a_longer_wait_and_the_cap_does_not_shorten_it():
    service, calls = flaky(1, error=Busy(retry_after=5.0))
    run(retry(on=Busy, attempts=2, base=0.1, cap=1.0, retry_after=lambda e: e.retry_after)(service))
    assert calls == pytest.approx([0.0, 5.0])


def test_retry_after_shorter_than_the_backoff_keeps_the_backoff():
    service, calls = flaky(1, error=Busy(retry_after=0.01))
    run(retry(on=Busy, attempts=2, base=0.5, jitter="none", retry_after=lambda e: e.retry_after)(service))
    assert calls == pytest.approx([0.0, 0.5])


def test_retry_after_none_means_the_usual_backoff():
    service, calls = flaky(1, error=Busy(retry_after=None))
    run(retry(on=Busy, attempts=2, base=0.25, jitter="none", retry_after=lambda e: e.retry_after)(service))
    assert calls == pytest.approx([0.0, 0.25])


def gives_up(retried):
    """Run ``retried()`` in virtual time, expecting RetryError: (loop time it raised, the error)."""
    async def main():
        with pytest.raises(RetryError) as caught:
            await retried()
        return asyncio.get_running_loop().time(), caught.value

    return run_virtual(main())


def test_deadline_gives_up_at_once_rather_than_wait_past_it():
    service, calls = flaky(10, work=0.1)
    ended, error = gives_up(retry(on=Busy, attempts=10, base=0.5, jitter="none", deadline=2.0)(service))
    # calls at 0, 0.6, 1.7; the next wait (2 s) would end at 3.8 > 2: give up at 1.8, at once
    assert calls == pytest.approx([0.0, 0.6, 1.7])
    assert ended == pytest.approx(1.8)
    assert "the next wait is 2.000 s, past the 2 s deadline" in str(error)


def test_deadline_cuts_a_call_that_is_still_running():
    service, calls = flaky(1, work=1.0)
    ended, error = gives_up(retry(on=Busy, attempts=5, base=0.5, jitter="none", deadline=2.0)(service))
    assert calls == pytest.approx([0.0, 1.5]) and ended == pytest.approx(2.0)
    assert "the 2 s deadline passed during attempt 2" in str(error)
    assert isinstance(error.__cause__, TimeoutError)


def test_a_retry_after_past_the_deadline_gives_up_at_once():
    service, calls = flaky(5, error=Busy(retry_after=30.0))
    ended, error = gives_up(retry(on=Busy, attempts=5, deadline=10.0, retry_after=lambda e: e.retry_after)(service))
    assert ended == 0.0 and len(calls) == 1
    assert "the server asked to wait 30.000 s, past the 10 s deadline" in str(error)


def test_on_retry_sees_each_attempt_before_its_wait():
    seen = []
    service, _ = flaky(2)
    run(retry(on=Busy, attempts=3, base=0.1, jitter="none", on_retry=seen.append)(service))
    assert [(a.number, a.wait) for a in seen] == [(1, 0.1), (2, 0.2)]
    assert all(isinstance(a, Attempt) and isinstance(a.error, Busy) for a in seen)


def test_concurrent_calls_do_not_share_state():
    service, _ = flaky(0)
    retried = retry(on=Busy, attempts=3)(service)

    async def main():
        return await asyncio.gather(*(retried() for _ in range(5)))

    assert run_virtual(main()) == ["ok"] * 5


def take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_backoff_delays_without_jitter_double_up_to_the_cap():
    assert take(backoff_delays(base=0.1, cap=1.0, jitter="none"), 6) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert take(backoff_delays(base=0, cap=0, jitter="full"), 3) == [0, 0, 0]


@pytest.mark.parametrize("jitter, low, high, mean", [
    ("full", 0.0, 1.0, 0.5),
    ("equal", 0.5, 1.0, 0.75),
])
def test_jittered_waits_stay_in_their_range_with_the_expected_mean(jitter, low, high, mean):
    # the 5th wait: exponential 0.1 * 2**4 = 1.6, capped at 1.0
    fifth = [take(backoff_delays(base=0.1, cap=1.0, jitter=jitter, rng=random.Random(seed)), 5)[-1] for seed in range(2000)]
    assert low <= min(fifth) and max(fifth) <= high
    assert sum(fifth) / len(fifth) == pytest.approx(mean, abs=0.02)


def test_decorrelated_waits_grow_from_the_last_and_stay_capped():
    waits = take(backoff_delays(base=0.1, cap=2.0, jitter="decorrelated", rng=random.Random(1)), 50)
    previous = 0.1
    for wait in waits:
        assert 0.1 <= wait <= min(2.0, 3 * previous)
        previous = wait


def test_seeded_waits_are_reproducible():
    a = take(backoff_delays(base=0.1, cap=5, rng=random.Random(7)), 5)
    assert a == take(backoff_delays(base=0.1, cap=5, rng=random.Random(7)), 5)
