"""retry(): what it retries, how long it waits (exactly, in virtual time), when it stops."""

import asyncio
import dataclasses
import math
import pickle
import random

import pytest

from asyncio_patterns import backoff_delays, retry, run_virtual
from asyncio_patterns.lab.faults import InjectedError, Probe, Scenario, explore
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


def gives_up_with(retried, error_type=Busy):
    """Run ``retried()`` in virtual time, expecting ``error_type``: (loop time it raised, the error)."""
    async def main():
        with pytest.raises(error_type) as caught:
            await retried()
        return asyncio.get_running_loop().time(), caught.value

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


def test_the_report_says_what_each_attempt_did():
    service, _ = flaky(10, work=0.01)
    _, error = gives_up_with(retry(on=Busy, attempts=3, base=0.1, jitter="none")(service))
    assert error.retry_attempts[-1].end == pytest.approx(0.01 + 0.1 + 0.01 + 0.2 + 0.01)  # ends with the last call
    assert str(error.retry_attempts[0]) == "attempt 1 at 0.000 s: Busy: busy, then waited 0.100 s"
    assert str(error.retry_attempts[-1]) == "attempt 3 at 0.320 s: Busy: busy"


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
    (dict(max_retry_after=-1), "max_retry_after must be a number of seconds >= 0"),
    (dict(max_retry_after=math.inf), "max_retry_after must be a number of seconds >= 0"),
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


def test_deadline_gives_up_at_once_rather_than_wait_past_it():
    service, calls = flaky(10, work=0.1)
    ended, error = gives_up_with(retry(on=Busy, attempts=10, base=0.5, jitter="none", deadline=2.0)(service))
    # calls at 0, 0.6, 1.7; the next wait (2 s) would end at 3.8 > 2: give up at 1.8, at once
    assert calls == pytest.approx([0.0, 0.6, 1.7])
    assert ended == pytest.approx(1.8)
    assert error.__notes__[-1].endswith("the next wait is 2.000 s, past the 2 s deadline")


def test_a_retry_after_past_the_deadline_gives_up_at_once():
    service, calls = flaky(5, error=Busy(retry_after=30.0))
    ended, error = gives_up_with(retry(on=Busy, attempts=5, deadline=10.0, retry_after=lambda e: e.retry_after)(service))
    assert ended == 0.0 and len(calls) == 1
    assert error.__notes__[-1].endswith("the server asked to wait 30.000 s, past the 10 s deadline")


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


# -- giving up: the real error, with the attempts attached

def test_giving_up_raises_the_last_error_itself_with_the_attempts_and_a_note():
    service, calls = flaky(10, error=Busy, work=0.01)
    ended, error = gives_up_with(retry(on=Busy, attempts=3, base=0.1, jitter="none")(service))
    assert type(error) is Busy and len(calls) == 3
    assert [a.number for a in error.retry_attempts] == [1, 2, 3]
    assert [a.wait for a in error.retry_attempts] == pytest.approx([0.1, 0.2, 0.0])
    assert error.retry_attempts[-1].error is error and error.retry_attempts[0].error is not error
    assert error.__notes__ == ["retry gave up after 3 attempts in 0.330 s: all 3 attempts failed"]
    assert ended == pytest.approx(0.33)  # no wait after the last attempt


def test_one_attempt_raises_its_error_with_a_note():
    service, calls = flaky(1)
    _, error = gives_up_with(retry(on=Busy, attempts=1)(service))
    assert len(calls) == 1 and error.__notes__ == ["retry gave up after 1 attempt in 0.000 s: its one attempt failed"]


def test_a_call_cut_by_the_deadline_raises_its_timeout_error():
    service, calls = flaky(1, work=1.0)
    ended, error = gives_up_with(retry(on=Busy, attempts=5, base=0.5, jitter="none", deadline=2.0)(service), TimeoutError)
    assert calls == pytest.approx([0.0, 1.5]) and ended == pytest.approx(2.0)
    assert error.__notes__ == ["retry gave up after 2 attempts in 2.000 s: the 2 s deadline passed during attempt 2"]
    assert isinstance(error.retry_attempts[0].error, Busy) and error.retry_attempts[1].error is error


def test_the_caller_except_clause_still_matches():
    service, _ = flaky(10)
    retried = retry(on=Busy, attempts=2, base=0.1)(service)

    async def main():
        try:
            await retried()
        except Busy as error:
            return len(error.retry_attempts)

    assert run_virtual(main()) == 2


def test_the_given_up_error_survives_pickling():
    service, _ = flaky(10)
    _, error = gives_up_with(retry(on=Busy, attempts=2, base=0.1, jitter="none")(service))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is Busy and copy.__notes__ == error.__notes__
    assert [(a.number, a.wait, type(a.error)) for a in copy.retry_attempts] == [(1, 0.1, Busy), (2, 0.0, Busy)]


def test_an_error_that_refuses_attributes_is_still_raised_as_it_is():
    @dataclasses.dataclass(frozen=True)
    class Frozen(Exception):
        code: int = 503

    service, calls = flaky(10, error=Frozen)
    _, error = gives_up_with(retry(on=Frozen, attempts=2, base=0.1)(service), Frozen)
    assert len(calls) == 2 and not hasattr(error, "retry_attempts")


# -- Retry-After: an upper bound, and a hook that fails

@pytest.mark.parametrize("asked", [86400.0, math.inf])
def test_a_retry_after_longer_than_max_retry_after_gives_up_at_once(asked):
    service, calls = flaky(5, error=Busy(retry_after=asked))
    ended, error = gives_up_with(retry(on=Busy, attempts=5, retry_after=lambda e: e.retry_after)(service))
    assert ended == 0.0 and len(calls) == 1
    assert error.__notes__[0].endswith(f"the server asked to wait {asked:g} s, more than max_retry_after (60 s)")


def test_max_retry_after_is_a_setting():
    service, calls = flaky(1, error=Busy(retry_after=120.0))
    run(retry(on=Busy, attempts=2, retry_after=lambda e: e.retry_after, max_retry_after=300)(service))
    assert calls == pytest.approx([0.0, 120.0])


def test_a_retry_after_in_the_past_means_now():
    service, calls = flaky(1, error=Busy(retry_after=-5.0))
    run(retry(on=Busy, attempts=2, base=0.25, jitter="none", retry_after=lambda e: e.retry_after)(service))
    assert calls == pytest.approx([0.0, 0.25])


def test_a_retry_after_hook_that_raises_does_not_replace_the_real_error():
    service, calls = flaky(5)
    ended, error = gives_up_with(retry(on=Busy, attempts=5, retry_after=lambda e: e.headers["Retry-After"])(service))
    assert ended == 0.0 and len(calls) == 1
    assert error.__notes__ == ["retry gave up after 1 attempt in 0.000 s: retry_after(error) raised "
                               "AttributeError: 'Busy' object has no attribute 'headers'"]


@pytest.mark.parametrize("returned", [math.nan, "120"])
def test_a_retry_after_hook_that_returns_no_number_gives_up(returned):
    service, calls = flaky(5)
    _, error = gives_up_with(retry(on=Busy, attempts=5, retry_after=lambda e: returned)(service))
    assert len(calls) == 1
    assert error.__notes__[0].endswith(f"retry_after(error) returned {returned!r}, not a number of seconds or None")


def test_an_on_retry_hook_that_raises_does_not_replace_the_real_error():
    service, calls = flaky(5)
    _, error = gives_up_with(retry(on=Busy, attempts=5, on_retry=lambda a: 1 / 0)(service))
    assert len(calls) == 1
    assert error.__notes__[0].endswith("on_retry(attempt) raised ZeroDivisionError: division by zero")


# -- where the random waits come from

def test_by_default_the_waits_come_from_the_random_module():
    def waits():
        service, calls = flaky(3)
        random.seed(42)
        run(retry(on=Busy, attempts=4, base=0.1)(service))
        return [b - a for a, b in zip(calls, calls[1:])]

    assert waits() == waits()
    assert take(backoff_delays(base=0.1, cap=1.0), 3) != take(backoff_delays(base=0.1, cap=1.0), 3)


# -- a cancel at every await, an error from every call: never retried, ends it at once; -------------
# -- nothing sleeps after the last attempt

SCENARIOS = {  # name -> (failures, work, retry settings): each gives up or succeeds after several awaits
    "gives up": (10, 0.01, dict(attempts=4, base=0.1, jitter="none")),
    "succeeds at call 3": (2, 0.01, dict(attempts=4, base=0.1, jitter="none")),
    "deadline cuts a call": (10, 0.3, dict(attempts=9, base=0.1, jitter="none", deadline=1.0)),
    "Retry-After": (2, 0.01, dict(attempts=4, base=0.1, retry_after=lambda e: 0.5, rng=random.Random(3))),
}


def retried_scenario(name):
    """The service behind retry() is the dependency, the retried call the target. A cancel (at
    any await) and an error retry() was not told to retry (from any call) end it at once, with
    that exception, and no call is made after it; giving up, it sleeps no more."""
    failures, work, settings = SCENARIOS[name]

    async def run(probe):
        loop = asyncio.get_running_loop()
        service, calls = flaky(failures, error=Busy, work=work)
        retried = retry(on=(Busy,), **settings)(probe.dependency(service, name="service"))
        try:
            outcome = await probe.target(retried())
        except (Busy, TimeoutError) as error:  # gave up: the real error
            outcome = error
        return outcome, loop.time(), calls, probe.injected

    def check(state):
        outcome, ended, calls, injected = state
        broken = []
        if injected is not None:
            expected = asyncio.CancelledError if injected.kind == "cancel" else InjectedError
            if not isinstance(outcome, expected):
                broken.append(f"a {injected.kind} ended with {outcome!r}, not {expected.__name__}")
            if ended != injected.time:
                broken.append(f"ended {ended - injected.time:g} s after the {injected.kind}, not at once")
            if any(call > injected.time for call in calls):
                broken.append(f"a call was made after the {injected.kind}")
        attempts = getattr(outcome, "retry_attempts", None)
        if attempts and ended != attempts[-1].end:
            broken.append(f"gave up {ended - attempts[-1].end:g} s after the last attempt ended")
        if len(calls) > settings["attempts"]:
            broken.append(f"{len(calls)} calls, attempts={settings['attempts']}")
        return broken

    return Scenario(f"retry ({name})", run, check)


# the retried call's awaits (a call, or a wait between calls) and the calls of the service
MOMENTS = {"gives up": (7, 4), "succeeds at call 3": (5, 3), "deadline cuts a call": (5, 3), "Retry-After": (5, 3)}


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_cancel_at_every_await_or_an_error_from_every_call_ends_it_at_once(name):
    report = explore(retried_scenario(name))
    assert report.moments == sum(MOMENTS[name]), str(report)
    assert report.ok, str(report)


def test_nothing_sleeps_after_the_last_attempt():
    probe = Probe(None, None)  # no fault: the plain run, its awaits counted
    outcome, ended, calls, _ = run_virtual(retried_scenario("gives up").run(probe))
    assert isinstance(outcome, Busy) and len(calls) == 4
    assert (probe.suspensions, probe.calls) == (4 + 3, 4)  # one await per call, one per wait between calls: none after the last
    assert ended == pytest.approx(calls[-1] + 0.01)
