import asyncio
import os
import signal
import threading
import time

import pytest

from asyncio_patterns import Deadlock, VirtualClockError, run_real, run_virtual
from asyncio_patterns.lab.clock import VirtualTimeLoop


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
    with pytest.raises(ValueError, match="real_limit must be a number of seconds > 0, got 0"):
        run_virtual(sleeper([]), real_limit=0)


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


def interrupt_soon(sent: list[float], after: float = 0.3) -> threading.Timer:
    """Send SIGINT to this process (the main thread gets KeyboardInterrupt) in ``after`` real s.

    Called from inside the coroutine, so the signal always lands while the runner waits.
    """
    def send() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(after, send)
    timer.start()
    return timer


BOUND = 20.0  # real seconds after which the coroutines below give up waiting for the Ctrl-C


async def sleeps_until_cancelled(cleaned_up: list[str], sent: list[float]) -> None:
    timer = interrupt_soon(sent)
    try:
        await asyncio.sleep(BOUND)
    finally:
        timer.cancel()
        cleaned_up.append("finally")


async def runs_for_ever_in_virtual_time(cleaned_up: list[str], sent: list[float]) -> None:
    timer, began = interrupt_soon(sent), time.monotonic()
    try:
        while time.monotonic() - began < BOUND:  # "for ever", but a test that fails must end
            await asyncio.sleep(1)
    finally:
        timer.cancel()
        cleaned_up.append("finally")


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="needs POSIX signals")
@pytest.mark.parametrize("run, main", [(run_real, sleeps_until_cancelled),
                                          (run_virtual, runs_for_ever_in_virtual_time)],
                         ids=["run_real", "run_virtual"])
def test_ctrl_c_cancels_the_coroutine_and_returns_at_once(run, main, ctrl_c_raises):
    cleaned_up, sent = [], []
    with pytest.raises(KeyboardInterrupt):
        run(main(cleaned_up, sent))
    returned = time.monotonic()
    assert cleaned_up == ["finally"]  # cancelled in its thread, not abandoned there
    assert returned - sent[0] < 1.0  # typically a few milliseconds
    assert not [t for t in threading.enumerate() if t.name == run.__name__]


def test_a_virtual_run_that_never_ends_is_cancelled_after_its_real_limit():
    # where no Ctrl-C can arrive (SIGINT ignored), nothing else would stop this spinning a core
    cleaned_up = []

    async def for_ever():
        try:
            while True:
                await asyncio.sleep(1)
        finally:
            cleaned_up.append("finally")

    began = time.monotonic()
    with pytest.raises(VirtualClockError, match=r"run_virtual\(\) ran for 0.5 real seconds, to \d+ s on its clock, "
                                                r"without finishing: it was cancelled; does a loop run for ever\? "
                                                r"Pass real_limit=\.\.\. for a longer run"):
        run_virtual(for_ever(), real_limit=0.5)
    assert time.monotonic() - began < 5
    assert cleaned_up == ["finally"]
    assert not [t for t in threading.enumerate() if t.name == "run_virtual"]


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs POSIX signals")
def test_any_exception_that_interrupts_the_wait_stops_the_run():
    # as a test runner's timeout does: a SIGALRM handler raises in the main thread
    class Timeout(Exception):
        pass

    def expire(signum, frame):
        raise Timeout

    cleaned_up = []

    async def spins():
        try:
            while True:
                await asyncio.sleep(1)
        finally:
            cleaned_up.append("finally")

    found = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(Timeout):
            run_virtual(spins(), real_limit=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, found)
    for thread in threading.enumerate():
        if thread.name == "run_virtual":
            thread.join(5)
    assert cleaned_up == ["finally"]
    assert not [t for t in threading.enumerate() if t.name == "run_virtual"]


def test_a_loop_thread_runs_waits_cancels_and_takes_submissions():
    from asyncio_patterns.lab.loopthread import LoopThread

    async def polls(seen):
        try:
            while True:
                await asyncio.sleep(0)  # keeps the loop busy; only a cancel ends it
        finally:
            seen.append("cancelled")

    async def double(x):
        return 2 * x

    seen = []
    run = LoopThread(polls(seen), name="polling")
    try:
        assert run.submit(double(21)).result(timeout=5) == 42  # runs beside main
        assert run.join(0.05) is False
        with pytest.raises(RuntimeError, match="polling is still running: join"):
            run.result()
    finally:  # whatever failed above, the polling loop must not outlive the test
        run.cancel()
    assert run.join(5) is True and seen == ["cancelled"]
    with pytest.raises(asyncio.CancelledError):
        run.result()
    run.cancel()  # the loop has closed: nothing to do, no error


def test_a_loop_thread_returns_or_raises_what_main_did():
    from asyncio_patterns.lab.loopthread import LoopThread

    ok = LoopThread(sleeper([0.0]), loop_factory=lambda: VirtualTimeLoop(0.1))
    assert ok.join() and ok.result() == 0.0

    async def fails():
        raise KeyError("boom")

    failed = LoopThread(fails())
    failed.join()
    with pytest.raises(KeyError, match="boom"):
        failed.result()
