"""The fault harness (lab.faults) and the clock's shuffled ties: it finds the moments that break
a promise, names them exactly, and replays them; it passes what keeps its promises."""

import asyncio
import contextvars
import inspect

import pytest

from asyncio_patterns.demos.testing import shapes
from asyncio_patterns.lab.clock import run_virtual
from asyncio_patterns.lab.faults import InjectedError, Scenario, explore, replay


def line_of(function, text):
    """The line number in ``function``'s file of the line of ``function`` containing ``text``."""
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_finds_the_one_moment_the_worker_pool_loses_jobs():
    report = explore(shapes.workers_scenario())
    assert report.moments == 3 and len(report.failures) == 1  # two handler calls and one await tried
    failure = report.failures[0]
    gather = line_of(shapes.Workers.stop, "await asyncio.gather")
    assert (failure.moment.kind, failure.moment.index, failure.moment.time) == ("cancel", 0, 0.5)
    assert failure.moment.where == f"shapes.py:{gather} in stop"
    assert failure.broken == ("3 of 5 accepted jobs lost",)
    assert str(failure) == f"cancel at await 0 (t=0.5 s, shapes.py:{gather} in stop): 3 of 5 accepted jobs lost"
    assert replay(shapes.workers_scenario(), "cancel", 0) == failure  # the same run again, exactly


def test_the_worker_pool_that_takes_the_queue_first_keeps_every_job():
    report = explore(shapes.workers_scenario(safe=True), seeds=[None, 0, 1, 2])
    assert report.ok and report.moments == 12


def test_finds_every_moment_the_pool_close_leaks_a_connection():
    report = explore(shapes.connections_scenario())
    close = line_of(shapes.Connections.close, "the bug")
    assert [(f.moment.kind, f.moment.index, f.broken) for f in report.failures] == [
        ("cancel", 0, ("connection(s) [0, 1] never closed",)),
        ("cancel", 1, ("connection(s) [0] never closed",)),
        ("raise", 0, ("connection(s) [0, 1] never closed",)),
        ("raise", 1, ("connection(s) [0] never closed",)),
    ]
    assert f"shapes.py:{close} in close" in report.failures[0].moment.where
    assert report.failures[3].moment.where == f"goodbye() called from shapes.py:{line_of(shapes.Connection.close, 'await')} in close"
    assert explore(shapes.connections_scenario(safe=True)).ok


def test_shuffled_ties_find_lesson_04s_lost_update_first_and_only_under_some_orders():
    seeds = [None, *range(10)]
    report = explore(shapes.race_scenario(), seeds=seeds)
    assert report.failures, "no order of the tied read and write lost an update"
    first = report.failures[0]
    assert first.moment is None and first.seed is not None and first.broken == ("1 update(s) lost",)
    assert len(report.failures) < len(seeds)  # asyncio's own order (None) keeps it: only a shuffle shows it
    assert replay(shapes.race_scenario(), seed=first.seed) == first
    assert explore(shapes.race_scenario(lock=True), seeds=seeds).ok


def test_lesson_04s_own_race_demo_is_the_first_thing_found_and_its_result_depends_on_the_order():
    from asyncio_patterns.demos.lock.race import _race

    def race(use_lock):
        async def run(probe):
            return await _race(2, use_lock, 0.01, 0.01)  # the second arrives as the first writes
        return Scenario("race_demo", run, lambda result: [f"{result.lost} update(s) lost"] if result.lost else [])

    seeds = [None, *range(10)]
    report = explore(race(False), seeds=seeds)
    assert report.failures[0] == replay(race(False), seed=None)
    assert report.failures[0].broken == ("1 update(s) lost",)
    lost = {failure.seed for failure in report.failures}
    assert None in lost and 0 < len(lost) < len(seeds)  # some orders of the tie keep every update
    assert explore(race(True), seeds=seeds).ok


# -- the promises every run is held to ------------------------------------------------------

def scenario(run, check=lambda state: (), **options):
    return Scenario("probe", run, check, **options)


def test_a_task_left_running_is_reported_by_name():
    async def run(probe):
        asyncio.create_task(asyncio.sleep(5), name="forgotten")
    assert replay(scenario(run)).broken == ("left running: forgotten",)


def test_an_exception_never_retrieved_is_reported():
    async def run(probe):
        async def fail():
            raise ValueError("boom")
        task = asyncio.ensure_future(fail())
        await asyncio.sleep(0)
        del task
    broken = replay(scenario(run)).broken
    assert len(broken) == 1 and broken[0].startswith("never retrieved: Task exception was never retrieved")


def test_a_scenario_that_raises_hangs_or_deadlocks_breaks_its_promise():
    async def raises(probe):
        await probe.dependency(asyncio.sleep)(1)
    assert replay(scenario(raises), "raise", 0).broken == ("the scenario raised InjectedError: injected: call 0 (sleep) fails",)

    async def hangs(probe):
        await asyncio.sleep(100)
    assert replay(scenario(hangs, limit=10)).broken == ("still running after 10 virtual seconds",)

    async def deadlocks(probe):
        await asyncio.Event().wait()
    assert replay(scenario(deadlocks)).broken == ("still running after 600 virtual seconds",)  # the limit is a timer


def test_the_target_gets_the_fault_and_the_scenario_goes_on():
    seen = []

    async def run(probe):
        async def two_waits():
            await asyncio.sleep(1)
            await probe.dependency(asyncio.sleep)(1)
            return "done"
        seen.append(await probe.target(two_waits()))
        return seen[-1]

    assert replay(scenario(run)) is None and seen == ["done"]
    assert replay(scenario(run), "cancel", 1) is None and isinstance(seen[-1], asyncio.CancelledError)
    assert replay(scenario(run), "raise", 0) is None and isinstance(seen[-1], InjectedError)
    failure = replay(scenario(run), "cancel", 5)
    assert failure.broken == ("no cancel moment 5: the run has fewer",)
    with pytest.raises(ValueError, match="kind must be one of 'cancel', 'raise'"):
        replay(scenario(run), "crash", 0)
    with pytest.raises(ValueError, match="kinds must be among"):
        explore(scenario(run), kinds=["cancel", "crash"])


def test_a_cancel_from_outside_the_harness_is_not_swallowed():
    async def run(probe):
        outer = asyncio.current_task()
        asyncio.get_running_loop().call_later(0.5, outer.cancel)
        await probe.target(asyncio.sleep(1))
    with pytest.raises(asyncio.CancelledError):
        run_virtual(run(_NoFault()))


def test_a_cancel_of_the_task_awaiting_a_target_is_not_swallowed_once_a_fault_was_placed():
    async def run(probe):
        await probe.target(asyncio.sleep(1))  # await 0: the fault lands here
        waiting = asyncio.create_task(probe.target(asyncio.sleep(5)))
        await asyncio.sleep(1)
        waiting.cancel()  # the scenario cancels the task that awaits the second target
        await asyncio.gather(waiting, return_exceptions=True)
        return waiting.cancelled()
    swallowed = scenario(run, lambda cancelled: [] if cancelled else ["the cancel of its caller was swallowed"])
    assert replay(swallowed, "cancel", 0) is None  # the fault went to the first target; the cancel to the second's caller


def test_a_target_cancelled_before_it_started_is_closed_not_left_unawaited():
    async def run(probe):
        await probe.target(asyncio.sleep(1))  # await 0: the fault lands here
        waiting = asyncio.create_task(probe.target(asyncio.sleep(5)))
        await asyncio.sleep(0)  # the task starts, and hands the target to a task of its own
        waiting.cancel()  # before that one's first step
        await asyncio.gather(waiting, return_exceptions=True)
    assert replay(scenario(run), "cancel", 0) is None  # no "coroutine 'sleep' was never awaited"


def test_cancel_twice_cancels_the_same_task_again_at_its_next_await():
    async def run(probe):
        cleaning, other = [], []

        async def stubborn():
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                cleaning.append("began")
                await asyncio.sleep(0.5)  # a clean-up, which a second cancel cuts short
                cleaning.append("ended")
                raise

        async def bystander():
            await asyncio.sleep(0.2)
            other.append("done")

        await asyncio.gather(probe.target(stubborn()), probe.target(bystander()))
        return cleaning, other

    def check(state):
        cleaning, other = state
        return ((["the clean-up was cut short"] if cleaning == ["began"] else [])
                + ([] if other else ["the bystander was cancelled"]))

    report = explore(scenario(run, check), kinds=["cancel", "cancel twice"])
    assert report.moments == 4  # stubborn's and the bystander's first await, each cancelled once and twice
    assert [(f.moment.kind, f.moment.index, f.broken) for f in report.failures] == [
        ("cancel", 1, ("the bystander was cancelled",)),
        ("cancel twice", 0, ("the clean-up was cut short",)),  # its next await is stubborn's own, at t=0
        ("cancel twice", 1, ("the bystander was cancelled",)),  # which never awaits again
    ]
    sleep = line_of(run, "await asyncio.sleep(1)")
    assert str(report.failures[1]) == (f"cancel at await 0 and at its next (t=0 s, test_faults.py:{sleep} in stubborn): "
                                       "the clean-up was cut short")
    assert explore(scenario(run, check)).moments == 2  # not tried unless asked for


class _NoFault:
    """A stand-in probe with no fault placed, for running a scenario outside the harness."""

    injected = None

    async def target(self, awaitable):
        from asyncio_patterns.lab.faults import Probe
        return await Probe(None, None).target(awaitable)


# -- the clock's shuffled ties -------------------------------------------------------------

async def wake_order(n=6):
    order = []

    async def sleeper(i):
        await asyncio.sleep(1)
        order.append(i)
    await asyncio.gather(*(sleeper(i) for i in range(n)))
    return order


def test_a_seed_shuffles_callbacks_ready_at_the_same_instant_and_replays():
    unseeded = run_virtual(wake_order())
    orders = {seed: run_virtual(wake_order(), seed=seed) for seed in range(8)}
    assert all(sorted(order) == list(range(6)) for order in orders.values())
    assert len({tuple(order) for order in orders.values()}) > 4  # different seeds, different orders
    assert all(run_virtual(wake_order(), seed=seed) == order for seed, order in orders.items())
    assert run_virtual(wake_order()) == unseeded  # no seed: asyncio's own order, every time


def test_shuffled_callbacks_keep_their_context_and_their_cancel():
    variable = contextvars.ContextVar("variable", default="unset")

    async def main():
        loop = asyncio.get_running_loop()
        ran = []
        variable.set("mine")
        loop.call_soon(lambda: ran.append(variable.get()))
        loop.call_soon(lambda: ran.append("cancelled")).cancel()
        other = contextvars.Context()
        loop.call_soon(lambda: ran.append(variable.get()), context=other)
        await asyncio.sleep(0.1)
        return sorted(ran)

    assert run_virtual(main(), seed=3) == ["mine", "unset"]


def test_a_bad_seed_is_refused_in_one_line():
    coro = asyncio.sleep(0)
    with pytest.raises(ValueError, match=r"seed must be an int \(or None for asyncio's own order\), got 'x'"):
        run_virtual(coro, seed="x")
