"""Lesson 13's checker, judged by the tests it rejects: each plausible incomplete test gets
"Not yet" naming the broken helper it lets through; the complete tests pass."""

import asyncio

import pytest

from asyncio_patterns.exercises.testing import BROKEN, check_locked_test


async def holder(lock, hold, entered):
    async with lock:
        entered.set()
        await asyncio.sleep(hold)


async def reference(locked):
    """The lesson's reference answer."""
    lock = asyncio.Lock()
    with pytest.raises(ValueError):
        async with locked(lock, timeout=1.0):
            raise ValueError("the block failed")
    assert not lock.locked(), "the lock was not released after the block raised"

    async with locked(lock, timeout=0.1):
        await asyncio.sleep(0.5)  # the limit covers the wait for the lock, not the block

    entered = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(holder(lock, 1.0, entered))
        await entered.wait()
        with pytest.raises(TimeoutError):
            async with locked(lock, timeout=0.1):
                pass
    assert not lock.locked(), "the lock is held after every holder finished"


async def reference_with_try(locked):
    """The same test written without pytest: plain try/except and assert."""
    lock = asyncio.Lock()
    try:
        async with locked(lock, timeout=1.0):
            raise KeyError("x")
    except KeyError:
        pass
    assert not lock.locked()
    async with locked(lock, timeout=0.01):
        await asyncio.sleep(0.02)
    task = asyncio.create_task(holder(lock, 1.0, asyncio.Event()))
    await asyncio.sleep(0)
    timed_out = False
    try:
        async with locked(lock, timeout=0.5):
            pass
    except TimeoutError:
        timed_out = True
    assert timed_out
    await task
    await asyncio.sleep(0)
    assert not lock.locked()


@pytest.mark.parametrize("test", [reference, reference_with_try])
def test_complete_tests_pass(test):
    verdict = check_locked_test(test)
    assert verdict.passed, verdict.message
    assert "fails against all 4 broken ones" in verdict.message


async def happy_path_only(locked):
    lock = asyncio.Lock()
    async with locked(lock, timeout=1.0):
        assert lock.locked()
    assert not lock.locked()


async def no_slow_block(locked):
    lock = asyncio.Lock()
    with pytest.raises(ValueError):
        async with locked(lock, timeout=1.0):
            raise ValueError
    assert not lock.locked()
    entered = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(holder(lock, 1.0, entered))
        await entered.wait()
        with pytest.raises(TimeoutError):
            async with locked(lock, timeout=0.1):
                pass
        assert lock.locked()


async def no_check_after_the_timeout(locked):
    lock = asyncio.Lock()
    with pytest.raises(ValueError):
        async with locked(lock, timeout=1.0):
            raise ValueError
    assert not lock.locked()
    async with locked(lock, timeout=0.1):
        await asyncio.sleep(0.5)
    entered = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(holder(lock, 1.0, entered))
        await entered.wait()
        with pytest.raises(TimeoutError):
            async with locked(lock, timeout=0.1):
                pass


@pytest.mark.parametrize("test, missed, hint", [
    (happy_path_only, "never_released_on_error", "Raise an error inside"),
    (no_slow_block, "limit_covers_the_block", "longer than `timeout`"),
    (no_check_after_the_timeout, "keeps_waiting_after_a_timeout", "assert `not lock.locked()`"),
])
def test_an_incomplete_test_is_told_which_bug_it_misses(test, missed, hint):
    verdict = check_locked_test(test)
    assert not verdict.passed
    assert verdict.message.startswith("your test passes against a `locked` that " + BROKEN[missed][1][:30])
    assert hint in verdict.message


async def expects_a_timeout_on_a_free_lock(locked):
    with pytest.raises(TimeoutError):
        async with locked(asyncio.Lock(), timeout=0.1):
            pass


async def waits_for_a_release_that_never_comes(locked):
    lock = asyncio.Lock()
    await lock.acquire()
    async with locked(lock, timeout=None):
        pass


async def leaves_the_holder_running(locked):
    lock = asyncio.Lock()
    asyncio.create_task(holder(lock, 5.0, asyncio.Event()))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        async with locked(lock, timeout=0.1):
            pass


def test_a_test_that_fails_on_the_correct_helper_is_told_so():
    verdict = check_locked_test(expects_a_timeout_on_a_free_lock)
    assert not verdict.passed
    assert verdict.message.startswith("your test fails against the correct `locked`: Failed: DID NOT RAISE")
    verdict = check_locked_test(waits_for_a_release_that_never_comes)
    assert not verdict.passed and "every task was waiting" in verdict.message
    assert "A test must pass when the code is right" in verdict.message


def test_a_test_that_leaves_a_task_running_is_told_so():
    verdict = check_locked_test(leaves_the_holder_running)
    assert not verdict.passed and "test_locked() ended with 1 task(s) still running (holder)" in verdict.message


def test_not_a_test_function():
    def plain(locked):
        pass
    assert "must be an `async def` function" in check_locked_test(plain).message
    coro = reference(None)
    assert "not a coroutine made by calling it" in check_locked_test(coro).message
    assert "not a int" in check_locked_test(3).message


def test_every_broken_helper_is_caught_by_the_reference():
    from asyncio_patterns.exercises import testing
    from asyncio_patterns.exercises._harness import run_guarded
    for name, (helper, _) in BROKEN.items():
        assert testing._caught(run_guarded(testing._run(reference, helper))), name
    assert not testing._caught(run_guarded(testing._run(happy_path_only, BROKEN["ignores_the_timeout"][0])))
