"""patterns.shutdown: the pool's drain-then-cancel, timed exactly in virtual time, and the signals."""

import asyncio
import math
import os
import signal

import pytest

from asyncio_patterns import PoolStopping, ShutdownSignals, StopReport, WorkerPool, run_virtual
from asyncio_patterns.lab.faults import Probe, Scenario, explore, replay


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


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler for the test (the suite may run with SIGINT ignored, as a
    background job does), and whatever was there before put back afterwards."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_after_the_block_ctrl_c_is_the_runners_again(default_sigint):
    seen = []

    async def main():
        runners = signal.getsignal(signal.SIGINT)
        with ShutdownSignals():
            assert signal.getsignal(signal.SIGINT) is not runners
        seen.append(signal.getsignal(signal.SIGINT) == runners)
        try:
            signal.raise_signal(signal.SIGINT)  # the Runner's handler cancels this task
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            seen.append("main cancelled")
            raise

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    assert seen == [True, "main cancelled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_add_signal_handler_ctrl_c_falls_back_and_sigterm_is_uncatchable(monkeypatch, default_sigint):
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


# -- a cancel of the task that is stopping the pool, or an error from a job, at every moment ------


def rollback_scenario(stopping, *, again=True, name="stopping"):
    """Six jobs of 1 s on two workers, each cancelled job rolling back for 0.3 s; ``stopping(pool)``
    is the target, awaited at 0.5 s; then, with ``again``, a second ``stop()``, else a long wait.
    The handler is the dependency. The state: what the target returned, the times it suspended,
    the report, what each job did, and the fault placed."""
    async def run(probe):
        did = {}

        async def handle(job):
            did[job] = "started"
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                await asyncio.sleep(0.3)  # the clean-up: a rollback
                did[job] = "rolled back"
                raise
            did[job] = "completed"

        pool = WorkerPool(probe.dependency(handle, name="handle"), workers=2)
        async with pool:
            for job in range(6):
                pool.submit(job)
            await asyncio.sleep(0.5)
            outcome = await probe.target(stopping(pool))
            suspended = probe.suspensions
            if again:
                await pool.stop(deadline=0)
            else:
                await asyncio.sleep(10)
            report = pool.report
        return outcome, suspended, report, did, probe.injected

    def check(state):
        outcome, suspended, report, did, injected = state
        broken = jobs_lost(report, did)
        if injected is not None and injected.kind == "cancel":
            if not isinstance(outcome, asyncio.CancelledError):
                broken.append(f"cancelled, yet it returned {outcome!r}")
            if suspended != injected.index + 1:
                broken.append(f"awaited {suspended - injected.index - 1} more time(s) after the cancel")
            if report.drained:
                broken.append("a cancelled stop reported the pool drained")
        return broken

    return Scenario(f"{name}, then {'stop() again' if again else 'only wait'}", run, check)


STOPPINGS = {
    "stop(2.0)": lambda pool: pool.stop(deadline=2.0),
    "stop(0.2)": lambda pool: pool.stop(deadline=0.2),
    "stop(0.2, hurry)": lambda pool: pool.stop(deadline=0.2, hurry=asyncio.Event()),
    "cancel()": lambda pool: pool.cancel(),
}


def jobs_lost(report, did):
    """The broken promises of ``report``, given what each job did."""
    broken = []
    places = report.completed + [job for job, _ in report.failed] + report.handed_back
    if sorted(places) != list(range(6)):
        broken.append(f"not each accepted job in exactly one list: {report}")
    if report.lost != 0 or report.accepted != 6:
        broken.append(f"{report.lost} lost, {report.accepted} accepted of 6")
    if not all(did.get(job) == "completed" for job in report.completed):
        broken.append(f"reported completed, yet not: {report.completed}, {did}")
    if not all(did.get(job) in (None, "rolled back") for job in report.handed_back):
        broken.append(f"handed back, yet not rolled back: {report.handed_back}, {did}")
    if report.cancelled != sum(state == "rolled back" for state in did.values()):
        broken.append(f"{report.cancelled} reported cancelled, {did}")
    if report.handed_back[:report.cancelled] != [j for j in report.handed_back if did.get(j)]:
        broken.append(f"the cancelled jobs are not first among those handed back: {report.handed_back}")
    return broken


# the awaits of stop() (of cancel()) that yield, and the calls of the handler
MOMENTS = {"stop(2.0)": (3, 6), "stop(0.2)": (3, 2), "stop(0.2, hurry)": (3, 2), "cancel()": (1, 2)}


@pytest.mark.parametrize("name", STOPPINGS)
@pytest.mark.parametrize("again", [True, False], ids=["then stop() again", "then only wait"])
def test_a_cancel_at_every_await_of_stop_or_an_error_from_every_job_loses_no_job(name, again):
    report = explore(rollback_scenario(STOPPINGS[name], again=again, name=name), seeds=SEEDS)
    assert report.moments == len(SEEDS) * sum(MOMENTS[name]), str(report)
    assert report.ok, str(report)


SEEDS = [None, 0, 1]  # asyncio's own order, and two shuffles of the workers' ties


def test_the_cancel_of_stop_does_not_cut_the_clean_up_short():
    # stop(0.2) at 0.5 s cancels jobs 0 and 1 at 0.7 s; they roll back until 1.0 s. A timeout
    # around stop() fires at 0.85 s, in the middle of the rollbacks, which still complete.
    def timed_out_stop(pool):
        async def stop():
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.35):
                    await pool.stop(deadline=0.2)
            assert pool.running == [0, 1]  # still rolling back
        return stop()

    scenario = rollback_scenario(timed_out_stop, again=False)
    assert replay(scenario) is None  # every promise kept, no task left running
    _, _, report, did, _ = run_virtual(scenario.run(Probe(None, None)))
    assert did == {0: "rolled back", 1: "rolled back"}
    assert sorted(report.handed_back[:2]) == [0, 1] and report.handed_back[2:] == [2, 3, 4, 5]
    assert report.cancelled == 2


def test_a_second_stop_after_an_interrupted_one_waits_for_the_clean_up_and_returns_the_report():
    async def main():
        async def handle(job):
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                await asyncio.sleep(0.3)
                raise

        async with WorkerPool(handle, workers=2) as pool:
            for job in range(6):
                pool.submit(job)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):  # bounds the whole stop: it lands in the rollback
                    await pool.stop(deadline=0)
            assert pool.running == [0, 1] and pool.report.handed_back == [2, 3, 4, 5]
            report = await pool.stop(deadline=0)
            assert await pool.stop(deadline=5) is report  # a stopped pool: the same report
            return report, asyncio.get_running_loop().time()

    report, now = run_virtual(main())
    assert now == pytest.approx(0.3) and report.handed_back == [0, 1, 2, 3, 4, 5] and report.lost == 0


def test_stop_takes_the_deadline_plus_the_clean_up_and_a_timeout_around_it_bounds_the_total():
    async def stubborn(job):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(5)  # a long clean-up

    async def main(bound):
        loop = asyncio.get_running_loop()
        async with WorkerPool(stubborn, workers=1) as pool:
            pool.submit("a")
            pool.submit("b")
            try:
                async with asyncio.timeout(bound):
                    await pool.stop(deadline=0.5)
            except TimeoutError:
                pass
            returned = loop.time()
            left = pool.running
        return returned, left, pool.report, loop.time()

    returned, left, report, _ = run_virtual(main(None))
    assert returned == 5.5 and left == [] and report.completed == ["a"] and report.handed_back == ["b"]
    returned, left, report, end = run_virtual(main(1.0))
    assert returned == 1.0 and left == ["a"]  # still cleaning up; "b" already handed back
    assert end == 5.5 and report.completed == ["a"] and report.handed_back == ["b"] and report.lost == 0


@pytest.mark.parametrize("deadline", [math.inf, 1.0, 0])
def test_stopping_a_pool_never_started_hands_back_its_jobs_at_once(deadline):
    async def main():
        pool = WorkerPool(asyncio.sleep, workers=2)
        pool.submit(1)
        pool.submit(2)
        async with asyncio.timeout(60):
            report = await pool.stop(deadline=deadline)
        return report, asyncio.get_running_loop().time()

    report, now = run_virtual(main())
    assert now == 0 and report.handed_back == [1, 2] and report.cancelled == 0 and not report.drained
