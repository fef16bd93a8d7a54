"""patterns.shutdown: the pool's drain-then-cancel, timed exactly in virtual time, and the signals."""

import asyncio
import os
import signal

import pytest

from asyncio_patterns import PoolStopping, ShutdownSignals, StopReport, WorkerPool, run_virtual


def timed_jobs(works):
    """A handler that sleeps works[job] seconds, and a log of (time, event, job)."""
    log = []

    async def handle(job):
        loop = asyncio.get_running_loop()
        log.append((round(loop.time(), 6), "start", job))
        await asyncio.sleep(works[job])
        log.append((round(loop.time(), 6), "end", job))

    return handle, log


def stopped(works, *, workers, stop_at, deadline):
    """Submit every job of ``works`` at 0 s, stop the pool at ``stop_at``: (report, end time, log)."""
    async def main():
        handle, log = timed_jobs(works)
        async with WorkerPool(handle, workers=workers) as pool:
            for job in works:
                pool.submit(job)
            await asyncio.sleep(stop_at)
            report = await pool.stop(deadline=deadline)
        return report, asyncio.get_running_loop().time(), log

    return run_virtual(main())


def test_stop_drains_until_the_deadline_then_cancels_and_hands_back():
    report, now, log = stopped({j: 1.0 for j in range(7)}, workers=2, stop_at=0.5, deadline=1.0)
    # jobs 0 and 1 end at 1 s; 2 and 3 start then and are cancelled at the deadline, 0.5 + 1.0 s
    assert now == 1.5
    assert log == [(0, "start", 0), (0, "start", 1), (1, "end", 0), (1, "start", 2), (1, "end", 1), (1, "start", 3)]
    assert report.completed == [0, 1]
    assert report.handed_back == [2, 3, 4, 5, 6] and report.cancelled == 2 and not report.drained
    assert report.lost == 0 and report.accepted == 7
    assert str(report) == "7 accepted: 2 completed, 5 handed back (2 cancelled while running, 3 never started), 0 lost"


def test_stop_returns_as_soon_as_the_work_is_done():
    report, now, _ = stopped({j: 0.3 for j in range(4)}, workers=2, stop_at=0, deadline=10.0)
    assert now == pytest.approx(0.6) and report.drained and report.completed == [0, 1, 2, 3]
    assert report.handed_back == [] and report.cancelled == 0


def test_hurry_cuts_the_drain_short():
    async def main():
        handle, _ = timed_jobs({0: 5.0})
        hurry = asyncio.Event()
        async with WorkerPool(handle, workers=1) as pool:
            pool.submit(0)
            asyncio.get_running_loop().call_later(0.25, hurry.set)
            report = await pool.stop(deadline=60.0, hurry=hurry)
        return report, asyncio.get_running_loop().time(), len(asyncio.all_tasks())

    report, now, tasks = run_virtual(main())
    assert now == 0.25 and report.handed_back == [0] and report.cancelled == 1 and tasks == 1


def test_no_job_is_accepted_once_stopping():
    async def main():
        handle, _ = timed_jobs({0: 1.0, 1: 1.0})
        async with WorkerPool(handle, workers=1) as pool:
            pool.submit(0)
            stopping = asyncio.create_task(pool.stop(deadline=2.0))
            await asyncio.sleep(0)
            assert not pool.accepting
            with pytest.raises(PoolStopping, match="accepts no new jobs"):
                pool.submit(1)
            return await stopping

    assert run_virtual(main()).completed == [0]


def test_failures_are_recorded_and_the_worker_goes_on():
    async def handle(job):
        await asyncio.sleep(0.1)
        if job == "bad":
            raise KeyError(job)

    async def main():
        async with WorkerPool(handle, workers=1) as pool:
            for job in ("a", "bad", "b"):
                pool.submit(job)
            return await pool.stop(deadline=5.0)

    report = run_virtual(main())
    assert report.completed == ["a", "b"] and [j for j, _ in report.failed] == ["bad"] and report.lost == 0


def test_a_handler_that_swallows_the_cancel_still_lets_the_pool_stop():
    async def stubborn(job):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.5)  # finishes its job after all

    async def main():
        async with WorkerPool(stubborn, workers=1) as pool:
            pool.submit("a")
            pool.submit("b")
            report = await pool.stop(deadline=1.0)
        return report, asyncio.get_running_loop().time()

    report, now = run_virtual(main())
    assert now == 1.5 and report.completed == ["a"] and report.handed_back == ["b"]


def test_leaving_the_block_without_stop_cancels_and_hands_back():
    async def main():
        handle, _ = timed_jobs({0: 1.0, 1: 1.0})
        pool = WorkerPool(handle, workers=1)
        async with pool:
            pool.submit(0)
            pool.submit(1)
            await asyncio.sleep(0.1)
        return pool.report, len(asyncio.all_tasks())

    report, tasks = run_virtual(main())
    assert report.handed_back == [0, 1] and report.cancelled == 1 and tasks == 1


def test_bad_arguments_say_what_to_change():
    with pytest.raises(ValueError, match="workers must be a whole number >= 1, got 0"):
        WorkerPool(lambda job: None, workers=0)

    async def main():
        async with WorkerPool(asyncio.sleep, workers=1) as pool:
            with pytest.raises(ValueError, match="deadline must be a number of seconds >= 0, got -1"):
                await pool.stop(deadline=-1)
    run_virtual(main())
    assert StopReport(accepted=3, completed=[1]).lost == 2


def test_receive_counts_the_first_and_the_second_signal():
    seen = []
    signals = ShutdownSignals(on_signal=lambda signum, count: seen.append((signum.name, count)))
    signals.receive(signal.SIGTERM)
    assert signals.requested.is_set() and not signals.forced.is_set()
    signals.receive(signal.SIGINT)
    assert signals.forced.is_set() and signals.received == ["SIGTERM", "SIGINT"]
    assert seen == [("SIGTERM", 1), ("SIGINT", 2)]


def test_a_real_signal_sets_the_event_and_the_handler_is_removed_afterwards():
    async def main():
        with ShutdownSignals([signal.SIGUSR1]) as signals:
            os.kill(os.getpid(), signal.SIGUSR1)
            async with asyncio.timeout(5):
                await signals.requested.wait()
        return signals.received

    assert asyncio.run(main()) == ["SIGUSR1"]
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_without_add_signal_handler_ctrl_c_falls_back_and_sigterm_is_uncatchable(monkeypatch):
    def not_here(self, *args):
        raise NotImplementedError

    monkeypatch.setattr(asyncio.SelectorEventLoop, "add_signal_handler", not_here)
    before = signal.getsignal(signal.SIGINT)

    async def main():
        with ShutdownSignals() as signals:
            assert signals.uncatchable == ["SIGTERM"]
            signal.raise_signal(signal.SIGINT)
            async with asyncio.timeout(5):
                await signals.requested.wait()
        return signals.received

    assert asyncio.run(main()) == ["SIGINT"]
    assert signal.getsignal(signal.SIGINT) is before
