import asyncio
import sys

import pytest

from asyncio_patterns import run_virtual
from asyncio_patterns import locked
from asyncio_patterns.demos.lock.handover import AFTER_CANCEL, INNER, handover_race


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


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for has no inner task from 3.12 on")
def test_wait_for_swallows_a_cancel_at_the_hand_over_before_3_12():
    result = handover_race("wait_for")
    assert result.outcome == "got the lock, no CancelledError"
    assert result.ran_after_cancel and not result.lock_held_at_end
    assert result.trace.total(INNER) == pytest.approx(0.1)
    assert result.trace.total(AFTER_CANCEL) == pytest.approx(0.05)


def test_asyncio_timeout_gets_the_cancel_and_passes_the_lock_on():
    result = handover_race("timeout")
    assert result.outcome == "raised CancelledError, did not get the lock"
    assert not result.ran_after_cancel and not result.lock_held_at_end


def test_handover_is_the_same_every_run():
    assert len({repr(handover_race("wait_for")) for _ in range(20)}) == 1


def test_bad_method_gets_a_clear_message():
    with pytest.raises(ValueError, match="method must be 'wait_for' or 'timeout', got 'sleep'"):
        handover_race("sleep")
