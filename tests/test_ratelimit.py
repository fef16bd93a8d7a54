import asyncio

import pytest

from asyncio_patterns import TokenBucket, run_virtual


def start_times(bucket, n):
    async def main():
        loop = asyncio.get_running_loop()
        times = []

        async def op():
            await bucket.acquire()
            times.append(loop.time())

        await asyncio.gather(*(op() for _ in range(n)))
        return times

    return run_virtual(main())


def test_full_bucket_lets_a_burst_through_then_paces():
    times = start_times(TokenBucket(10, burst=3), 6)
    assert [round(t, 6) for t in times] == [0, 0, 0, 0.1, 0.2, 0.3]


def test_empty_bucket_paces_from_the_start():
    times = start_times(TokenBucket(4, burst=2, full=False), 3)
    assert [round(t, 6) for t in times] == [0.25, 0.5, 0.75]


def test_try_acquire_never_waits():
    async def main():
        bucket = TokenBucket(1, burst=1)
        first, second = bucket.try_acquire(), bucket.try_acquire()
        wait = bucket.wait_time()
        await asyncio.sleep(1)
        return first, second, wait, bucket.try_acquire()

    assert run_virtual(main()) == (True, False, 1.0, True)


@pytest.mark.parametrize("kwargs, message", [
    ({"rate": 0}, "rate must be > 0"),
    ({"rate": 5, "burst": 0}, "burst must be a whole number >= 1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TokenBucket(**kwargs)


async def one_after_another(bucket, n):
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(n):
        await bucket.acquire()
        times.append(loop.time())
    return times


def test_reading_the_bucket_changes_nothing():
    def second_run(show):
        bucket = TokenBucket(10)
        run_virtual(one_after_another(bucket, 5))
        shown = [repr(bucket), bucket.tokens, repr(bucket)] if show else []
        return shown, run_virtual(one_after_another(bucket, 5)), bucket.tokens

    shown, times, left = second_run(show=True)
    assert shown == ["TokenBucket(rate=10/s, burst=1, tokens=0.00)", 0.0, "TokenBucket(rate=10/s, burst=1, tokens=0.00)"]
    assert (times, left) == second_run(show=False)[1:]
    assert [round(t, 6) for t in times] == [0.1, 0.2, 0.3, 0.4, 0.5] and left == 0.0


def test_reading_inside_a_run_changes_nothing():
    async def main(read):
        loop, bucket, times = asyncio.get_running_loop(), TokenBucket(4, burst=2), []
        for _ in range(6):
            if read:
                seen = (bucket.tokens, repr(bucket), bucket.tokens)
                assert seen[0] == seen[2]
            await bucket.acquire()
            times.append(loop.time())
            await asyncio.sleep(0.1)
        return times

    assert run_virtual(main(read=True)) == run_virtual(main(read=False))


def test_a_new_run_keeps_the_tokens_but_not_the_old_clock():
    bucket = TokenBucket(10, burst=2)

    async def late():
        await asyncio.sleep(1000)  # the first run's clock ends far from where the next one starts
        return await one_after_another(bucket, 1)

    assert run_virtual(late()) == [1000.0]
    assert bucket.tokens == 1.0  # at its last use: 2 tokens, one taken
    assert [round(t, 6) for t in run_virtual(one_after_another(bucket, 3))] == [0.0, 0.1, 0.2]
    assert bucket.tokens == 0.0


def test_waiters_in_a_new_run_queue_on_that_runs_loop():
    bucket = TokenBucket(10)
    assert [round(t, 6) for t in start_times(bucket, 3)] == [0.0, 0.1, 0.2]
    assert [round(t, 6) for t in start_times(bucket, 3)] == [0.1, 0.2, 0.3]  # nothing added between runs


def test_a_given_clock_is_the_only_clock():
    now = [100.0]
    bucket = TokenBucket(2, burst=2, clock=lambda: now[0])
    assert bucket.try_acquire() and bucket.try_acquire() and not bucket.try_acquire()  # outside any loop
    now[0] += 0.25
    assert bucket.tokens == 0.5 and bucket.tokens == 0.5 and bucket.wait_time() == 0.25
    assert run_virtual(one_after_another(bucket, 0)) == [] and bucket.tokens == 0.5  # a loop's clock is not read


def test_acquire_outside_a_loop_needs_a_clock():
    bucket = TokenBucket(5)
    assert bucket.tokens == 1.0 and repr(bucket) == "TokenBucket(rate=5/s, burst=1, tokens=1.00)"
    with pytest.raises(RuntimeError, match="no running event loop"):
        bucket.try_acquire()


def test_a_cancelled_acquire_takes_no_token():
    async def main():
        loop, bucket = asyncio.get_running_loop(), TokenBucket(10)
        await bucket.acquire()  # the bucket is empty now
        waiting = asyncio.create_task(bucket.acquire())
        await asyncio.sleep(0.05)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await bucket.acquire()
        return loop.time()

    assert run_virtual(main()) == pytest.approx(0.1)  # the next acquire still gets the token due at 0.1
