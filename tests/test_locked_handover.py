import asyncio
import sys

import pytest

from asyncio_patterns import run_virtual
from asyncio_patterns import locked
from asyncio_patterns.demos.lock.handover import AFTER_CANCEL, INNER, METHODS, handover_race, in_own_task


def test_locked_holds_the_lock_for_the_block_and_releases_it():
    async def main():
        lock = asyncio.Lock()
        async with locked(lock, timeout=0.1):
            inside = lock.locked()
        return inside, lock.locked()

    assert run_virtual(main()) == (True, False)


def test_locked_times_out_without_taking_the_lock():
    async def main():
        lock = asyncio.Lock()
        await lock.acquire()
        ran = False
        with pytest.raises(TimeoutError):
            async with locked(lock, timeout=0.1):
                ran = True
        return ran, asyncio.get_running_loop().time(), lock.locked()

    assert run_virtual(main()) == (False, 0.1, True)


def test_locked_timeout_does_not_cover_the_block():
    async def main():
        lock = asyncio.Lock()
        async with locked(lock, timeout=0.1):
            await asyncio.sleep(1)  # longer than the timeout: fine, it only covers the acquire
        return asyncio.get_running_loop().time(), lock.locked()

    assert run_virtual(main()) == (1.0, False)


def test_an_acquire_in_its_own_task_swallows_a_cancel_at_the_hand_over():
    # The mechanism of wait_for up to Python 3.11, reproduced explicitly: the same on every version.
    result = handover_race("own task")
    assert result.outcome == "got the lock, no CancelledError"
    assert result.ran_after_cancel and not result.lock_held_at_end
    assert result.trace.total(INNER) == pytest.approx(0.1)
    assert result.trace.total(AFTER_CANCEL) == pytest.approx(0.05)
    assert "acquire()'s own task" in result.trace.lanes()
    assert repr(result) == ("acquire() in a task of its own: got the lock, no CancelledError; ran its critical "
                            "section after being cancelled: True; lock still held at the end: False")


def test_wait_for_on_this_python():
    result = handover_race("wait_for")
    assert repr(result).startswith(f"asyncio.wait_for on Python {sys.version_info[0]}.{sys.version_info[1]}: ")
    if sys.version_info >= (3, 12):  # built on asyncio.timeout: no inner task, no window
        assert result.outcome == "raised CancelledError, did not get the lock"
        assert not result.ran_after_cancel
    else:  # an inner task, as in "own task"
        assert result.outcome == "got the lock, no CancelledError"
        assert result.ran_after_cancel
    assert not result.lock_held_at_end


def test_in_own_task_returns_the_result_and_cancels_an_unfinished_inner_task():
    async def main():
        assert await in_own_task(asyncio.sleep(0.1, result="done")) == "done"
        started = []

        async def slow():
            started.append(asyncio.current_task())
            await asyncio.sleep(10)

        outer = asyncio.create_task(in_own_task(slow()))
        await asyncio.sleep(1)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        return started[0].cancelled(), asyncio.get_running_loop().time()

    assert run_virtual(main()) == (True, 1.1)


def test_asyncio_timeout_gets_the_cancel_and_passes_the_lock_on():
    result = handover_race("timeout")
    assert result.outcome == "raised CancelledError, did not get the lock"
    assert not result.ran_after_cancel and not result.lock_held_at_end


def test_handover_is_the_same_every_run():
    for method in METHODS:
        assert len({repr(handover_race(method)) for _ in range(10)}) == 1


def test_bad_method_gets_a_clear_message():
    with pytest.raises(ValueError, match="method must be one of 'own task', 'wait_for', 'timeout', got 'sleep'"):
        handover_race("sleep")
