"""CircuitBreaker and FailureRateBreaker: the states, what counts, and the timing, in virtual time."""

from __future__ import annotations

import asyncio
import copy
import gc
import pickle
import warnings

import pytest

from asyncio_patterns import CircuitBreaker, CircuitOpen, FailureRateBreaker, run_virtual
from asyncio_patterns.lab.faults import InjectedError, Probe, Scenario, explore


class Down(Exception):
    """The dependency's failure."""


async def ok(value="ok", delay=0.0):
    await asyncio.sleep(delay)
    return value


async def down(delay=0.0):
    await asyncio.sleep(delay)
    raise Down("503")


async def fail(breaker, times):
    for _ in range(times):
        with pytest.raises(Down):
            await breaker.call(down)


def test_opens_after_threshold_failures_in_a_row_and_rejects_without_calling():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=3, reset_timeout=10)
        await fail(breaker, 2)
        assert breaker.state == "closed" and breaker.consecutive_failures == 2
        await fail(breaker, 1)
        assert breaker.state == "open"
        made = []
        def factory():
            made.append(1)
            return ok()
        with pytest.raises(CircuitOpen) as rejected:
            await breaker.call(factory)
        assert made == [] and rejected.value.retry_after == 10
        return breaker.stats

    stats = run_virtual(main())
    assert (stats.calls, stats.failed, stats.rejected, stats.opened, stats.succeeded) == (4, 3, 1, 1, 0)


def test_a_success_resets_the_count_of_failures_in_a_row():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=3)
        for _ in range(5):
            await fail(breaker, 2)
            assert await breaker.call(ok) == "ok"
        return breaker.state, breaker.consecutive_failures

    assert run_virtual(main()) == ("closed", 0)


def test_half_open_exactly_after_reset_timeout_on_the_loop_clock():
    async def main():
        loop = asyncio.get_running_loop()
        changes = []
        breaker = CircuitBreaker(failures=Down, failure_threshold=1, reset_timeout=2.5,
                                 on_change=lambda old, new: changes.append((loop.time(), old, new)))
        await asyncio.sleep(1.0)
        await fail(breaker, 1)  # opens at t=1.0
        await asyncio.sleep(2.5 - 1e-9)
        with pytest.raises(CircuitOpen) as early:
            await breaker.call(ok)
        assert early.value.retry_after == pytest.approx(1e-9, abs=1e-12)
        await asyncio.sleep(1e-9)
        assert await breaker.call(ok) == "ok"  # the trial, at t=3.5 exactly
        return changes

    assert run_virtual(main()) == [(1.0, "closed", "open"), (3.5, "open", "half-open"), (3.5, "half-open", "closed")]


def test_a_failed_trial_reopens_for_a_full_reset_timeout():
    async def main():
        loop = asyncio.get_running_loop()
        breaker = CircuitBreaker(failures=Down, failure_threshold=1, reset_timeout=1.0)
        await fail(breaker, 1)
        await asyncio.sleep(1.0)
        await fail(breaker, 1)  # the trial fails at t=1.0
        assert breaker.state == "open"
        await asyncio.sleep(0.5)
        with pytest.raises(CircuitOpen) as rejected:
            await breaker.call(ok)
        assert rejected.value.retry_after == 0.5
        await asyncio.sleep(0.5)
        await breaker.call(ok)
        return breaker.state, breaker.stats.opened, loop.time()

    assert run_virtual(main()) == ("closed", 2, 2.0)


def test_half_open_lets_only_the_trial_calls_through_concurrently():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=1, reset_timeout=1.0, half_open_calls=2)
        await fail(breaker, 1)
        await asyncio.sleep(1.0)
        calls = []
        async def service():
            calls.append(1)
            await asyncio.sleep(0.1)
            return "ok"
        results = await asyncio.gather(*(breaker.call(service) for _ in range(10)), return_exceptions=True)
        rejected = [r for r in results if isinstance(r, CircuitOpen)]
        assert all(r.retry_after is None for r in rejected)
        return len(calls), len(rejected), breaker.state

    assert run_virtual(main()) == (2, 8, "closed")


def test_half_open_closes_only_when_every_trial_succeeded():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=1, reset_timeout=1.0, half_open_calls=3)
        await fail(breaker, 1)
        await asyncio.sleep(1.0)
        for _ in range(2):
            await breaker.call(ok)
        assert breaker.state == "half-open"
        with pytest.raises(CircuitOpen):  # all three trials were handed out: the third is still to come
            await asyncio.gather(breaker.call(ok, "a", 0.1), breaker.call(ok, "b", 0.1))
        await asyncio.sleep(0.2)
        return breaker.state

    assert run_virtual(main()) == "closed"


def test_the_failures_must_be_named():
    with pytest.raises(TypeError, match="failures"):
        CircuitBreaker(failure_threshold=3)  # no default: a KeyError must not open it
    with pytest.raises(TypeError, match="failures"):
        FailureRateBreaker(failure_rate=0.5)


def test_a_rejection_while_half_open_says_how_many_trials_are_still_in_flight():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=1, reset_timeout=1.0, half_open_calls=3)
        await fail(breaker, 1)
        await asyncio.sleep(1.0)
        trials = [asyncio.create_task(breaker.call(ok, "trial", delay)) for delay in (0.1, 0.2, 0.3)]
        said = []
        for _ in range(3):
            await asyncio.sleep(0.05 if not said else 0.1)  # at 0.05, 0.15, 0.25 s: 0, 1, 2 trials have succeeded
            with pytest.raises(CircuitOpen) as rejected:
                await breaker.call(ok)
            said.append((rejected.value.in_flight, str(rejected.value)))
        await asyncio.gather(*trials)
        return said, breaker.state

    said, state = run_virtual(main())
    assert said == [(3, "circuit 'breaker' is half-open: call rejected, 3 trial calls still in flight"),
                    (2, "circuit 'breaker' is half-open: call rejected, 2 trial calls still in flight"),
                    (1, "circuit 'breaker' is half-open: call rejected, 1 trial call still in flight")]
    assert state == "closed"


def test_circuit_open_survives_pickling():
    for error in [CircuitOpen("db", 2.5), CircuitOpen("db", None, 2), CircuitOpen("db", None)]:
        error.add_note("seen by worker 3")
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is CircuitOpen and str(copy) == str(error)
        assert (copy.name, copy.retry_after, copy.in_flight, copy.__notes__) == (
            error.name, error.retry_after, error.in_flight, error.__notes__)


@pytest.mark.parametrize("change", ["open", "half-open", "closed"])
def test_an_on_change_that_raises_goes_to_the_loop_and_leaves_the_call_alone(change):
    async def main():
        loop = asyncio.get_running_loop()
        reported = []
        loop.set_exception_handler(lambda loop, context: reported.append(context))

        def on_change(old, new):
            if new == change:
                raise RuntimeError(f"logging failed on {new}")

        breaker = CircuitBreaker(failures=Down, failure_threshold=1, reset_timeout=1.0, on_change=on_change)
        with pytest.raises(Down):  # the dependency's error, not the hook's
            await breaker.call(down)
        await asyncio.sleep(1.0)
        result = await breaker.call(ok, "trial")  # open -> half-open -> closed, the result intact
        stats = breaker.stats
        return result, breaker.state, reported, (stats.calls, stats.failed, stats.succeeded, stats.ignored)

    result, state, reported, counts = run_virtual(main())
    assert (result, state, counts) == ("trial", "closed", (2, 1, 1, 0))
    assert [str(context["exception"]) for context in reported] == [f"logging failed on {change}"]
    assert "on_change" in reported[0]["message"]


def test_only_the_named_failures_count():
    async def main():
        breaker = CircuitBreaker(failure_threshold=2, failures=Down)
        async def bug():
            raise KeyError("a bug in the caller")
        for _ in range(5):
            with pytest.raises(KeyError):
                await breaker.call(bug)
        return breaker.state, breaker.stats.ignored, breaker.stats.failed

    assert run_virtual(main()) == ("closed", 5, 0)


def test_a_cancelled_or_ignored_trial_gives_its_place_to_the_next_caller():
    async def main():
        breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, failures=Down)
        await fail(breaker, 1)
        await asyncio.sleep(1.0)
        trial = asyncio.create_task(breaker.call(ok, "slow", 10))
        await asyncio.sleep(0.1)
        with pytest.raises(CircuitOpen):
            await breaker.call(ok)
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        assert breaker.state == "half-open"
        return await breaker.call(ok), breaker.state, breaker.stats.ignored

    assert run_virtual(main()) == ("ok", "closed", 1)


def test_a_late_outcome_from_before_the_trip_changes_nothing():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=2, reset_timeout=1.0)
        slow_ok = asyncio.create_task(breaker.call(ok, "late", 0.5))
        slow_fail = asyncio.create_task(breaker.call(down, 0.9))
        await fail(breaker, 2)  # opens at t=0
        assert await slow_ok == "late"  # a success at 0.5 does not close it
        assert breaker.state == "open"
        with pytest.raises(Down):
            await slow_fail  # a failure at 0.9 does not restart the open period
        await asyncio.sleep(0.1)
        return await breaker.call(ok), breaker.stats.opened

    assert run_virtual(main()) == ("ok", 1)


def test_decorator_keeps_the_name_and_goes_through_the_breaker():
    breaker = CircuitBreaker(failures=Down, failure_threshold=1)

    @breaker
    async def fetch(x):
        """Fetch x."""
        raise Down(x)

    async def main():
        with pytest.raises(Down):
            await fetch(1)
        with pytest.raises(CircuitOpen):
            await fetch(2)

    run_virtual(main())
    assert fetch.__name__ == "fetch" and fetch.__doc__ == "Fetch x." and breaker.stats.rejected == 1


def test_a_rejected_call_leaves_no_coroutine_behind():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=1)
        await fail(breaker, 1)
        for _ in range(3):
            with pytest.raises(CircuitOpen):
                await breaker.call(ok, "never made")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_virtual(main())
        gc.collect()


def test_rate_breaker_trips_on_a_steady_rate_that_a_count_breaker_ignores():
    async def main(breaker):
        for i in range(100):
            failing = (3 * i) % 10 < 3  # 3 calls in every 10, never two in a row
            try:
                await breaker.call(down if failing else ok)
            except (Down, CircuitOpen):
                pass
            if breaker.state != "closed":
                return i + 1
        return None

    assert run_virtual(main(CircuitBreaker(failures=Down, failure_threshold=5))) is None
    assert run_virtual(main(FailureRateBreaker(failures=Down, failure_rate=0.25, window=20, min_calls=10))) == 10


def test_rate_breaker_waits_for_min_calls_and_uses_a_sliding_window():
    async def main():
        breaker = FailureRateBreaker(failures=Down, failure_rate=0.5, window=4, min_calls=3)
        await fail(breaker, 1)
        await breaker.call(ok)
        assert breaker.state == "closed"  # 1 of 2: too few calls to judge
        for _ in range(4):
            await breaker.call(ok)
        assert (breaker.failures_in_window, breaker.calls_in_window) == (0, 4)  # the old failure slid out
        await fail(breaker, 1)
        assert breaker.state == "closed"  # 1 of 4
        await fail(breaker, 1)
        return breaker.state  # 2 of 4: exactly the rate opens it

    assert run_virtual(main()) == "open"


def test_rate_breaker_forgets_the_window_when_it_closes():
    async def main():
        breaker = FailureRateBreaker(failures=Down, failure_rate=0.5, window=10, min_calls=2, reset_timeout=1.0)
        await fail(breaker, 2)
        await asyncio.sleep(1.0)
        await breaker.call(ok)
        return breaker.state, breaker.calls_in_window

    assert run_virtual(main()) == ("closed", 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"failure_threshold": 0}, "failure_threshold must be a whole number >= 1, got 0"),
    ({"reset_timeout": 0}, "reset_timeout must be a number of seconds > 0, got 0"),
    ({"half_open_calls": 1.5}, "half_open_calls must be a whole number >= 1, got 1.5"),
    ({"failures": KeyboardInterrupt}, "failures must be an Exception subclass or a tuple of them"),
    ({"failures": ()}, "failures must be an Exception subclass or a tuple of them"),
    ({"failures": Exception}, "failures=Exception would count a bug in your own code"),
    ({"failures": (ConnectionError, Exception)}, "failures=Exception would count a bug in your own code"),
])
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        CircuitBreaker(**{"failures": Down, **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    ({"failure_rate": 0}, "failure_rate must be a share > 0 and <= 1"),
    ({"failure_rate": 50}, "failure_rate must be a share > 0 and <= 1"),
    ({"window": 5, "min_calls": 10}, r"min_calls must be at most window \(5\), got 10"),
])
def test_rate_breaker_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FailureRateBreaker(**{"failures": Down, **kwargs})


def test_repr_shows_state_and_counters():
    async def main():
        breaker = CircuitBreaker(failures=Down, failure_threshold=1, name="lab")
        await fail(breaker, 1)
        return repr(breaker)

    assert run_virtual(main()) == "<CircuitBreaker 'lab' open: 0 ok, 1 failed, 0 rejected, opened 1x>"


# -- a cancel or an error at every await ---------------------------------------------------------


# (start, outcome, work) per caller: two outages, a slow call that fails after the breaker
# opened, two trials at once with a third caller rejected, a failed trial and a good one.
PLANS = {
    "a": [(0.0, "ok", 0.1), (0.2, "down", 0.1), (0.4, "down", 0.1), (1.6, "ok", 0.2), (3.0, "ok", 0.1),
          (4.6, "ok", 0.1), (5.0, "ok", 0.05)],
    "b": [(0.1, "down", 1.0), (1.55, "ok", 0.2), (3.4, "down", 0.1), (4.6, "ok", 0.1)],
    "c": [(1.65, "ok", 0.1), (1.77, "ok", 0.1), (2.0, "down", 0.1), (2.2, "down", 0.1), (3.45, "ok", 0.1)],
}


def plans_scenario(*, counted):
    """Run the plans through one breaker, each call of it a target, each of the dependency's two
    waits (connect, read the answer) a call that may fail: with ``counted``, the injected error
    is one of the breaker's failures, else an error of the caller's own code, which is not
    counted. The state: the breaker, what each call's caller saw, the rejections' ``in_flight``
    with the trials in fact running then, the calls of the dependency still running, and
    whether the breaker recovers."""
    async def run(probe):
        loop = asyncio.get_running_loop()
        breaker = CircuitBreaker(failures=(Down, InjectedError) if counted else Down,
                                 failure_threshold=2, reset_timeout=1.0, half_open_calls=2)
        seen, in_flight, running = [], [], set()
        wait = probe.dependency(asyncio.sleep, name="wait")

        async def service(outcome, work):
            token = object()
            running.add(token)
            try:
                await wait(work / 2)  # connect
                await wait(work / 2)  # read the answer
            finally:
                running.discard(token)
            if outcome == "down":
                raise Down("503")
            return outcome

        async def call(outcome, work):
            try:
                return await breaker.call(service, outcome, work)
            except CircuitOpen as rejected:
                if rejected.retry_after is None:  # half-open: the trials it counts, those running, now
                    in_flight.append((rejected.in_flight, len(running)))
                raise

        async def caller(plan):
            for start, outcome, work in plan:
                await asyncio.sleep(max(0.0, start - loop.time()))
                try:
                    result = await probe.target(call(outcome, work))
                except Down:
                    seen.append("failed")
                except CircuitOpen:
                    seen.append("rejected")
                else:
                    if isinstance(result, InjectedError):
                        seen.append("failed" if counted else "ignored")
                    else:  # this call was cancelled (and the caller goes on), or it succeeded
                        seen.append("ignored" if isinstance(result, asyncio.CancelledError) else "succeeded")

        await asyncio.gather(*(caller(plan) for plan in PLANS.values()))
        stats = copy.copy(breaker.stats)  # before recovers() adds its calls
        return stats, seen, in_flight, set(running), await recovers(breaker)

    def check(state):
        stats, seen, in_flight, running, recovered = state
        broken = []
        said = {key: seen.count(key) for key in ("succeeded", "failed", "ignored", "rejected")}
        counts = {"succeeded": stats.succeeded, "failed": stats.failed, "ignored": stats.ignored, "rejected": stats.rejected}
        if said != counts:
            broken.append(f"the counts {counts} are not what the callers saw, {said}")
        if not stats.calls == sum(said.values()) == len(seen):
            broken.append(f"{stats.calls} calls counted, {len(seen)} made")
        if not all(1 <= said <= running for said, running in in_flight):
            broken.append(f"a rejection named more trials in flight than were running: {in_flight}")
        if running:
            broken.append(f"{len(running)} call(s) of the dependency still running")
        if recovered != (["ok", "ok"], "closed"):
            broken.append(f"the trial places were not freed: {recovered}")
        return broken

    return Scenario(f"CircuitBreaker ({'counted' if counted else 'uncounted'} errors)", run, check)


async def recovers(breaker: CircuitBreaker) -> tuple[list[str], str]:
    """With nothing in flight and the dependency healthy: wait out a reset timeout, then
    make ``half_open_calls`` calls at once. None may be rejected, and the breaker closes."""
    await asyncio.sleep(breaker.reset_timeout)

    async def healthy():
        await asyncio.sleep(0.01)
        return "ok"

    results = await asyncio.gather(*(breaker.call(healthy) for _ in range(breaker.half_open_calls)),
                                   return_exceptions=True)
    return [r if isinstance(r, str) else repr(r) for r in results], breaker.state


def test_the_scenario_without_faults():
    probe = Probe(None, None)  # no fault: the plain run, its moments counted
    stats, seen, in_flight, _, recovered = run_virtual(plans_scenario(counted=True).run(probe))
    assert (stats.opened, stats.rejected, seen.count("rejected")) == (3, 3, 3)
    assert in_flight == [(2, 2), (1, 1)]  # the two trials at 1.65 s, one of them at 1.77 s
    assert (stats.calls, stats.succeeded, stats.failed, stats.ignored) == (16, 7, 6, 0)
    assert probe.suspensions == probe.calls == 2 * (stats.calls - stats.rejected) == 26
    assert recovered == (["ok", "ok"], "closed")


FAULTS = {"a cancel": (True, "cancel"), "a counted failure": (True, "raise"), "a bug's error": (False, "raise")}
SEEDS = [None, 0, 1]  # asyncio's own order, and two shuffles of the callers that start at the same instant


@pytest.mark.parametrize("counted, kind", FAULTS.values(), ids=FAULTS.keys())
def test_a_fault_at_every_await_keeps_the_counts_and_frees_the_trial_places(counted, kind):
    report = explore(plans_scenario(counted=counted), kinds=[kind], seeds=SEEDS)
    assert report.moments == 26 * len(SEEDS), str(report)
    assert report.ok, str(report)
