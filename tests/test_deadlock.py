import pytest

from asyncio_patterns import Deadlock
from asyncio_patterns.demos.lock.deadlock import HOLD_BOTH, WAIT_SECOND, deadlock_demo


def test_opposite_orders_deadlock_and_the_timeout_detects_it():
    result = deadlock_demo(locks=2, ordered=False, timeout=0.5)
    assert result.deadlocked
    assert result.outcomes == {
        "transfer a→b": "timed out after 0.5 s waiting for lock b while holding lock a",
        "transfer b→a": "timed out after 0.5 s waiting for lock a while holding lock b",
    }
    assert [m.time for m in result.trace.marks] == [0.51, 0.51]
    assert result.trace.total(WAIT_SECOND) == pytest.approx(1.0)


def test_the_deadlock_demo_gives_the_same_result_every_run():
    runs = {(repr(r), tuple(r.trace.spans)) for r in (deadlock_demo() for _ in range(20))}
    assert len(runs) == 1


def test_a_global_lock_order_prevents_it():
    result = deadlock_demo(locks=2, ordered=True)
    assert not result.deadlocked
    assert result.outcomes == {"transfer a→b": "finished at t=0.02 s", "transfer b→a": "finished at t=0.04 s"}
    assert result.trace.total(HOLD_BOTH) == pytest.approx(0.02)


def test_a_cycle_of_three_deadlocks_and_is_fixed_the_same_way():
    assert deadlock_demo(locks=3).deadlocked
    assert not deadlock_demo(locks=3, ordered=True).deadlocked


def test_without_a_timeout_the_virtual_clock_reports_the_deadlock():
    with pytest.raises(Deadlock, match=r"transfer a→b, transfer b→a"):
        deadlock_demo(timeout=None)


@pytest.mark.parametrize("kwargs, message", [
    (dict(locks=1), "locks must be a whole number >= 2, got 1"),
    (dict(locks=27), "locks must be <= 26, got 27"),
    (dict(timeout=-1), "timeout must be a number of seconds >= 0, got -1"),
])
def test_bad_knobs_get_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        deadlock_demo(**kwargs)


def test_the_result_shows_where_each_task_waited_when_the_cycle_closed():
    result = deadlock_demo(locks=3)
    stuck = result.stuck
    assert stuck.time == pytest.approx(0.01)  # when the last transfer began to wait, before any timeout
    waiting = {task.name: task for task in stuck.tasks if task.name.startswith("transfer")}
    assert sorted(waiting) == ["transfer a→b", "transfer b→c", "transfer c→a"]
    for task in waiting.values():
        assert task.waits_in == "Lock.acquire"
        assert task.where().code == "await table[second].acquire()"
    assert deadlock_demo(locks=2, ordered=True).stuck is None  # b→a waits for lock a holding nothing
    assert repr(result).splitlines()[0] == "transfer a→b: timed out after 0.5 s waiting for lock b while holding lock a"
