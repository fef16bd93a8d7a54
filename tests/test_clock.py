import asyncio
import time

import pytest

from asyncio_patterns import Deadlock, VirtualClockError, run_real, run_virtual


async def sleeper(delays):
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(asyncio.sleep(d) for d in delays))
    return loop.time()


def test_virtual_time_is_instant_and_exact():
    began = time.perf_counter()
    assert run_virtual(sleeper([0.1, 0.2, 3600.0])) == 3600.0
    assert time.perf_counter() - began < 1.0


def test_virtual_time_starts_at_zero_and_lands_on_timers_exactly():
    async def main():
        loop = asyncio.get_running_loop()
        seen = [loop.time()]
        for _ in range(3):
            await asyncio.sleep(0.1)
            seen.append(loop.time())
        return seen

    assert run_virtual(main()) == [0.0, 0.1, 0.2, 0.30000000000000004]


def test_same_coroutine_runs_in_real_time():
    began = time.perf_counter()
    run_real(sleeper([0.05, 0.05]))
    assert 0.04 < time.perf_counter() - began < 2.0


def test_timeouts_fire_in_virtual_time():
    async def main():
        try:
            async with asyncio.timeout(5):
                await asyncio.sleep(60)
        except TimeoutError:
            return asyncio.get_running_loop().time()

    assert run_virtual(main()) == 5.0


def test_runs_inside_a_running_loop():
    async def notebook_cell():
        return run_virtual(sleeper([2.0])), run_real(sleeper([0.0]))

    virtual, real = asyncio.run(notebook_cell())
    assert virtual == 2.0 and real >= 0


def test_results_and_exceptions_come_back():
    async def fails():
        await asyncio.sleep(1)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        run_virtual(fails())


def test_deadlock_is_reported_not_hung():
    async def main():
        first, second = asyncio.Lock(), asyncio.Lock()

        async def take(a, b):
            async with a:
                await asyncio.sleep(1)
                async with b:
                    pass

        await asyncio.gather(take(first, second), take(second, first))

    began = time.perf_counter()
    with pytest.raises(Deadlock, match=r"deadlock at t=1s: 3 task\(s\) waiting.*take"):
        run_virtual(main())
    assert time.perf_counter() - began < 2.0


def test_sockets_are_refused_in_virtual_time():
    async def main():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        server.close()

    with pytest.raises(VirtualClockError, match="real I/O"):
        run_virtual(main())


def test_threads_run_in_real_time_inside_virtual_time():
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(time.sleep, 0.05)
        return loop.time()

    assert 0.04 < run_virtual(main()) < 1.0


def test_needs_a_coroutine_object():
    with pytest.raises(TypeError, match=r"run_virtual\(main\(\)\) not run_virtual\(main\)"):
        run_virtual(sleeper)
    with pytest.raises(ValueError, match="thread_grace"):
        run_virtual(sleeper([]), thread_grace=-1)


def test_a_wait_too_small_to_add_still_moves_the_clock():
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(1.0)
        await asyncio.sleep(1e-17)  # 1.0 + 1e-17 == 1.0 in floating point
        return loop.time()

    assert run_virtual(main()) > 1.0


def test_rate_limiters_that_wait_on_float_sums_finish():
    # Both limiters can compute a wait that rounds to zero; before the clock moved on
    # by at least one representable instant, these runs spun for ever.
    from aiolimiter import AsyncLimiter

    from asyncio_patterns import TokenBucket

    async def through(limiter, n):
        for _ in range(n):
            async with limiter:
                pass
        return asyncio.get_running_loop().time()

    assert run_virtual(through(TokenBucket(20, full=False), 200)) == pytest.approx(10.0)
    assert run_virtual(through(AsyncLimiter(20, 1), 100)) == pytest.approx(4.0)  # 20 at once, then 20/s
