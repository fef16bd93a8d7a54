"""The timeout patterns: a result or a marker per task, a batch that ends on time, a hedged request.

Timing is checked in virtual time, where every sleep and deadline is exact.
"""

import asyncio

import pytest

from asyncio_patterns import TimedOut, gather_with_timeouts, hedged, result_or_timeout, run_virtual
from asyncio_patterns.lab.clock import task_label
from asyncio_patterns.lab.faults import InjectedError, Scenario, explore


async def answer(value, after):
    await asyncio.sleep(after)
    return value


def timed(coro):
    """Run ``coro`` in virtual time; (its result, the virtual seconds it took)."""
    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await coro
        return result, loop.time() - start
    return run_virtual(main())


# -- result_or_timeout ----------------------------------------------------------


def test_result_in_time_is_returned_when_it_arrives():
    assert timed(result_or_timeout(answer("ok", 0.3), 1.0)) == ("ok", 0.3)


def test_too_slow_gives_the_marker_exactly_at_the_deadline():
    result, took = timed(result_or_timeout(answer("ok", 5), 0.25))
    assert result == TimedOut(0.25) and took == 0.25
    assert not result and result is not None and result != "ok"


def test_a_none_result_is_not_a_timeout():
    assert timed(result_or_timeout(answer(None, 0.1), 1)) == (None, 0.1)


def test_the_abandoned_work_is_cancelled_and_its_finally_runs_before_the_return():
    events = []

    async def work():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append("finally")

    async def main():
        result = await result_or_timeout(work(), 1)
        events.append("returned")
        return result

    assert run_virtual(main()) == TimedOut(1.0)
    assert events == ["cancelled", "finally", "returned"]


def test_the_works_own_timeout_error_is_not_mistaken_for_the_deadline():
    async def inner_deadline():
        async with asyncio.timeout(0.1):
            await asyncio.sleep(1)

    with pytest.raises(TimeoutError):
        run_virtual(result_or_timeout(inner_deadline(), 5))


def test_other_errors_propagate():
    async def broken():
        await asyncio.sleep(0.1)
        raise KeyError("x")

    with pytest.raises(KeyError):
        run_virtual(result_or_timeout(broken(), 5))


def test_cancelling_the_caller_is_not_turned_into_the_marker():
    async def main():
        task = asyncio.create_task(result_or_timeout(answer("ok", 10), 5))
        await asyncio.sleep(1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled", asyncio.get_running_loop().time()

    assert run_virtual(main()) == ("cancelled", 1.0)


def test_a_zero_timeout_still_returns_what_is_ready():
    async def ready():
        return "now"

    assert run_virtual(result_or_timeout(ready(), 0)) == "now"
    assert run_virtual(result_or_timeout(answer("late", 0.1), 0)) == TimedOut(0.0)


def test_a_bad_timeout_is_refused_and_the_coroutine_closed():
    for bad in (-1, "1", None, True):
        coro = answer("x", 1)
        with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
            run_virtual(result_or_timeout(coro, bad))
        assert coro.cr_frame is None  # closed: no "never awaited" warning


# -- gather_with_timeouts -------------------------------------------------------


def test_a_batch_gives_each_result_or_marker_in_order_and_ends_on_time():
    delays = [0.2, 3.0, 0.5, 9.0, 0.9]
    results, took = timed(gather_with_timeouts([answer(i, d) for i, d in enumerate(delays)], 1.0))
    assert results == [0, TimedOut(1.0), 2, TimedOut(1.0), 4]
    assert took == 1.0


def test_a_batch_that_all_answers_ends_with_its_slowest():
    results, took = timed(gather_with_timeouts([answer(i, 0.1 * (i + 1)) for i in range(3)], 1))
    assert results == [0, 1, 2] and took == pytest.approx(0.3)


def test_an_error_in_a_batch_cancels_the_rest():
    cancelled = []

    async def slow():
        try:
            await asyncio.sleep(5)
        finally:
            cancelled.append(asyncio.get_running_loop().time())

    async def broken():
        await asyncio.sleep(0.5)
        raise KeyError("x")

    with pytest.raises(ExceptionGroup) as caught:
        run_virtual(gather_with_timeouts([slow(), broken()], 2))
    assert caught.group_contains(KeyError) and cancelled == [0.5]


def test_an_empty_batch_is_an_empty_list():
    assert run_virtual(gather_with_timeouts([], 1)) == []


def test_a_batch_with_a_bad_timeout_closes_its_coroutines():
    coros = [answer(i, 1) for i in range(3)]
    with pytest.raises(ValueError, match="timeout must be"):
        run_virtual(gather_with_timeouts(coros, -0.5))
    assert all(c.cr_frame is None for c in coros)


# -- hedged ----------------------------------------------------------------------


class Service:
    """Answers copy n after delays[n] seconds (or fails, for n in ``fail``); records when each copy
    started and how it ended. A cancelled copy takes ``rollback`` seconds to clean up."""

    def __init__(self, *delays, fail=(), rollback=0.0):
        self.delays, self.fail, self.rollback = list(delays), set(fail), rollback
        self.started, self.ended = [], {}

    async def __call__(self):
        n = len(self.started)
        self.started.append(asyncio.get_running_loop().time())
        try:
            await asyncio.sleep(self.delays[n])
        except asyncio.CancelledError:
            try:
                if self.rollback:
                    await asyncio.sleep(self.rollback)
            finally:
                self.ended[n] = "cancelled"
            raise
        if n in self.fail:
            self.ended[n] = "failed"
            raise ConnectionError(f"copy {n} failed")
        self.ended[n] = "answered"
        return f"copy {n}"

    def running(self):
        return [n for n in range(len(self.started)) if n not in self.ended]


def test_a_fast_request_is_sent_once():
    service = Service(0.05)
    assert timed(hedged(service, after=0.1)) == ("copy 0", 0.05)
    assert service.started == [0.0]


def test_a_slow_request_gets_a_second_copy_at_after_and_the_faster_wins():
    service = Service(1.0, 0.05)
    result, took = timed(hedged(service, after=0.1))
    assert result == "copy 1" and took == pytest.approx(0.15)
    assert service.started == [0.0, 0.1]
    assert service.ended == {0: "cancelled", 1: "answered"}  # the loser stopped before hedged returned


def test_the_first_copy_can_still_win_after_the_hedge_is_sent():
    service = Service(0.12, 0.5)
    result, took = timed(hedged(service, after=0.1))
    assert (result, took) == ("copy 0", 0.12)
    assert service.ended == {0: "answered", 1: "cancelled"}


def test_at_a_tie_the_first_copy_wins():
    service = Service(0.1, 0.0)  # the first answers in the instant the second is sent
    assert timed(hedged(service, after=0.1)) == ("copy 0", 0.1)
    assert service.ended[0] == "answered"


def test_a_fast_failure_of_the_second_copy_does_not_cancel_a_good_first_copy():
    service = Service(0.3, 0.05, fail={1})
    assert timed(hedged(service, after=0.1)) == ("copy 0", 0.3)
    assert service.ended == {0: "answered", 1: "failed"}


def test_a_failure_of_the_first_copy_after_the_trigger_waits_for_the_second():
    service = Service(0.2, 0.3, fail={0})
    assert timed(hedged(service, after=0.1)) == ("copy 1", pytest.approx(0.4))
    assert service.ended == {0: "failed", 1: "answered"}


def test_when_every_copy_fails_the_first_failure_is_raised_with_a_note_on_the_other():
    service = Service(0.5, 0.1, fail={0, 1})  # copy 1 fails at 0.2 s, copy 0 at 0.5 s

    async def main():
        try:
            await hedged(service, after=0.1)
        except ConnectionError as error:
            return str(error), error.__notes__, asyncio.get_running_loop().time()

    message, notes, when = run_virtual(main())
    assert (message, when) == ("copy 1 failed", 0.5)
    assert notes == ["hedged: the other copy failed too: ConnectionError('copy 0 failed')"]


def test_a_first_copy_that_fails_before_the_trigger_is_not_hedged():
    service = Service(0.05, 0.05, fail={0})
    with pytest.raises(ConnectionError, match="copy 0 failed"):
        run_virtual(hedged(service, after=0.1))
    assert len(service.started) == 1  # a failure is not slowness: no second copy


def test_cancelling_the_caller_cancels_both_copies():
    service = Service(5, 5)

    async def main():
        task = asyncio.create_task(hedged(service, after=0.1))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return dict(service.ended)

    assert run_virtual(main()) == {0: "cancelled", 1: "cancelled"}


def test_a_timeout_around_a_hedge_becomes_timeout_error_after_the_copies_stopped():
    service = Service(5, 5, rollback=0.2)

    async def main():
        try:
            async with asyncio.timeout(1):
                await hedged(service, after=0.1)
        except TimeoutError:
            return service.running(), asyncio.get_running_loop().time()

    assert run_virtual(main()) == ([], 1.2)


def test_hedging_with_a_bad_after_is_refused():
    with pytest.raises(ValueError, match="after must be a number of seconds >= 0, got -1"):
        run_virtual(hedged(Service(1), after=-1))


def test_hedging_sends_about_five_percent_more_at_a_p95_trigger():
    # latency 10 ms + exponential with mean 30 ms: the 95th percentile is 10 + 30 ln 20 ms
    import math
    import random

    rng = random.Random(1)
    calls = 0

    async def request():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01 + rng.expovariate(1 / 0.03))

    async def main():
        after = 0.01 + 0.03 * math.log(20)
        for _ in range(4000):
            await hedged(request, after=after)

    run_virtual(main())
    assert calls / 4000 - 1 == pytest.approx(0.05, abs=0.01)


# -- a cancel at every await, a second cancel at the next, an error from every request -------------
# The caller is the target: the harness cancels it at each await it suspends at (and, with
# "cancel twice", once more at the next: a second Ctrl-C, or an outer timeout firing while the
# caller stops), or makes each request fail. Whatever the moment, a cancelled caller ends with
# CancelledError and nothing it started is still running at the instant it ends.


def ends_with_nothing_running(awaitable, others):
    """Await ``awaitable``; as it ends, however it ends, note the tasks still running in ``others``."""
    async def run():
        try:
            return await awaitable
        finally:
            others.append([t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()])
    return run()


def cancel_check(check):
    """``check`` of a scenario whose state starts with (outcome, fault, running when it ended):
    a cancelled caller ends with CancelledError, leaving nothing running."""
    def checked(state):
        outcome, injected, running, *rest = state
        broken = []
        if injected is not None and injected.kind.startswith("cancel") and not isinstance(outcome, asyncio.CancelledError):
            broken.append(f"cancelled, yet it ended with {outcome!r}")
        if running:
            broken.append(f"{running} still running when it ended")
        return broken + check(outcome, injected, *rest)
    return checked


KINDS = ["cancel", "cancel twice", "raise"]

HEDGE_SCENARIOS = {
    "the first copy answers before the trigger": lambda: Service(0.05, rollback=0.01),
    "the second copy wins": lambda: Service(1.0, 0.05, rollback=0.01),
    "the second copy fails fast, the first answers": lambda: Service(0.3, 0.05, fail={1}, rollback=0.01),
    "both copies fail": lambda: Service(0.5, 0.1, fail={0, 1}, rollback=0.01),
}


def hedge_scenario(name):
    async def run(probe):
        service, others = HEDGE_SCENARIOS[name](), []
        scenario = asyncio.current_task()
        try:
            outcome = await probe.target(ends_with_nothing_running(
                hedged(probe.dependency(service.__call__, name="request"), after=0.1), others))
        except ConnectionError as error:
            outcome = error
        running = [task_label(t) for t in others[0] if t is not scenario] + [f"copy {n}" for n in service.running()]
        return outcome, probe.injected, running

    def check(outcome, injected):
        if injected is None and not isinstance(outcome, (str, ConnectionError)):
            return [f"ended with {outcome!r}"]
        return []

    return Scenario(f"hedged: {name}", run, cancel_check(check))


# the caller's awaits that yield, and the requests
HEDGE_MOMENTS = {"the first copy answers before the trigger": (1, 1), "the second copy wins": (3, 2),
                 "the second copy fails fast, the first answers": (3, 2), "both copies fail": (3, 2)}
SEEDS = [None, 0, 1]  # asyncio's own order, and two shuffles of what is ready at the same instant


@pytest.mark.parametrize("scenario", HEDGE_SCENARIOS)
def test_a_cancel_at_any_await_of_a_hedge_leaves_no_copy_running(scenario):
    report = explore(hedge_scenario(scenario), kinds=KINDS, seeds=SEEDS)
    cancels, calls = HEDGE_MOMENTS[scenario]
    assert report.moments == len(SEEDS) * (2 * cancels + calls), str(report)
    assert report.ok, str(report)


async def request(i, delay):
    try:
        await asyncio.sleep(delay)
        return i
    except asyncio.CancelledError:
        await asyncio.sleep(0.01)  # cleaning up
        raise


def batch_scenario():
    async def run(probe):
        others = []
        send = probe.dependency(request, name="request")
        made = [send(i, d) for i, d in enumerate([0.2, 3.0, 0.5, 0.9])]
        try:
            outcome = await probe.target(ends_with_nothing_running(gather_with_timeouts(made, 1.0), others))
        except ExceptionGroup as group:
            outcome = group
        scenario = asyncio.current_task()
        running = [task_label(t) for t in others[0] if t is not scenario]
        return outcome, probe.injected, running, made

    def check(outcome, injected, made):
        broken = [] if all(c.cr_frame is None for c in made) else ["a request never ran nor was closed"]
        if injected is None and outcome != [0, TimedOut(1.0), 2, 3]:
            broken.append(f"ended with {outcome!r}")
        if injected is not None and injected.kind == "raise" and not (
                isinstance(outcome, ExceptionGroup) and outcome.subgroup(InjectedError)):
            broken.append(f"the failed request's error was not raised: {outcome!r}")
        return broken

    return Scenario("gather_with_timeouts", run, cancel_check(check))


def test_a_cancel_at_any_await_of_a_batch_leaves_no_request_running_or_unawaited():
    report = explore(batch_scenario(), kinds=KINDS, seeds=SEEDS)
    assert report.moments == len(SEEDS) * (2 * 1 + 4), str(report)  # the caller awaits once; four requests
    assert report.ok, str(report)
