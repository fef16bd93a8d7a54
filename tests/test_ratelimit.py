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
