"""The timeout patterns: a result or a marker per task, a batch that ends on time, a hedged request.

Timing is checked in virtual time, where every sleep and deadline is exact.
"""

import asyncio

import pytest

from asyncio_patterns import TimedOut, gather_with_timeouts, hedged, result_or_timeout, run_virtual


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
    """Answers copy n after delays[n] seconds; records when each copy started and how it ended."""

    def __init__(self, *delays, fail=()):
        self.delays, self.fail = list(delays), set(fail)
        self.started, self.ended = [], {}

    async def __call__(self):
        n = len(self.started)
        self.started.append(asyncio.get_running_loop().time())
        try:
            await asyncio.sleep(self.delays[n])
            if n in self.fail:
                raise ConnectionError(f"copy {n} failed")
            self.ended[n] = "answered"
            return f"copy {n}"
        except asyncio.CancelledError:
            self.ended[n] = "cancelled"
            raise


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


def test_the_first_copy_to_finish_wins_even_with_an_error():
    service = Service(1.0, 0.05, fail={1})
    with pytest.raises(ConnectionError, match="copy 1 failed"):
        run_virtual(hedged(service, after=0.1))
    assert service.ended == {0: "cancelled"}


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
