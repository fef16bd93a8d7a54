"""The fetch_all checker: the reference passes; each realistic wrong answer gets its own hint."""

import asyncio
import json
from pathlib import Path

from asyncio_patterns import TimedOut, gather_with_timeouts
from asyncio_patterns.exercises.timeouts import check_fetch_all


async def reference(fetch, keys, timeout):
    async def one(key):
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await fetch(key)
        except TimeoutError:
            if deadline.expired():
                return TimedOut(timeout)
            raise

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(key)) for key in keys]
    return [task.result() for task in tasks]


async def with_the_helper(fetch, keys, timeout):
    return await gather_with_timeouts([fetch(key) for key in keys], timeout)


async def one_deadline(fetch, keys, timeout):
    async with asyncio.timeout(timeout):
        return await asyncio.gather(*(fetch(key) for key in keys))


async def no_timeout(fetch, keys, timeout):
    return await asyncio.gather(*(fetch(key) for key in keys))


async def one_at_a_time(fetch, keys, timeout):
    results = []
    for key in keys:
        try:
            async with asyncio.timeout(timeout):
                results.append(await fetch(key))
        except TimeoutError:
            results.append(TimedOut(timeout))
    return results


async def none_for_timeouts(fetch, keys, timeout):
    async def one(key):
        try:
            return await asyncio.wait_for(fetch(key), timeout)
        except TimeoutError:
            return None
    return await asyncio.gather(*(one(key) for key in keys))


async def catches_every_timeout_error(fetch, keys, timeout):
    async def one(key):
        try:
            return await asyncio.wait_for(fetch(key), timeout)
        except TimeoutError:
            return TimedOut(timeout)
    return await asyncio.gather(*(one(key) for key in keys))


async def wait_without_cancel(fetch, keys, timeout):
    tasks = [asyncio.create_task(fetch(key)) for key in keys]
    await asyncio.wait(tasks, timeout=timeout)
    return [t.result() if t.done() else TimedOut(timeout) for t in tasks]


async def as_completed_order(fetch, keys, timeout):
    async def one(key):
        try:
            async with asyncio.timeout(timeout):
                return await fetch(key)
        except TimeoutError:
            return TimedOut(timeout)
    return [await f for f in asyncio.as_completed([one(key) for key in keys])]


async def errors_in_place(fetch, keys, timeout):
    async def one(key):
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await fetch(key)
        except TimeoutError as error:
            return TimedOut(timeout) if deadline.expired() else error
    return await asyncio.gather(*(one(key) for key in keys))


def verdict(answer, **options):
    result = check_fetch_all(answer, **options)
    return result.passed, result.message


def test_the_reference_and_the_helper_pass():
    for answer in (reference, with_the_helper):
        passed, message = verdict(answer)
        assert passed, message
        assert "ended on time" in message


def test_one_deadline_around_the_gather_loses_the_answers():
    passed, message = verdict(one_deadline)
    assert not passed and "one deadline around the whole batch" in message and "seed 0" in message


def test_no_timeout_at_all_is_stopped_and_explained():
    passed, message = verdict(no_timeout)
    assert not passed and "still running after 60 s of virtual time" in message
    assert "its own deadline" in message


def test_one_at_a_time_is_too_slow():
    passed, message = verdict(one_at_a_time)
    assert not passed and "start every fetch at once" in message


def test_none_as_the_marker_is_ambiguous():
    passed, message = verdict(none_for_timeouts)
    assert not passed and "None is also a real answer" in message


def test_a_fetchs_own_timeout_error_is_not_the_deadline():
    passed, message = verdict(catches_every_timeout_error)
    assert not passed and "deadline.expired()" in message and "seed 4" in message


def test_an_error_kept_in_its_entry_does_not_reach_the_caller():
    passed, message = verdict(errors_in_place)
    assert not passed and "must reach the caller" in message and "`raise` every other error" in message


def test_the_exercise_text_requires_what_the_checker_requires():
    cells = json.loads((Path(__file__).parent.parent / "notebooks" / "07_timeouts.ipynb").read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    exercise = text[text.index("## Exercise"):text.index("## Key takeaways")]
    assert "must reach the caller" in exercise and "may propagate" not in exercise


def test_stragglers_left_running_are_caught():
    passed, message = verdict(wait_without_cancel)
    assert not passed and "still running" in message and "task(s)" in message


def test_results_out_of_order_are_caught():
    passed, message = verdict(as_completed_order)
    assert not passed and "not in the order of keys" in message


def test_a_seed_replays_one_round():
    passed, message = verdict(one_deadline, seed=2)
    assert not passed and "check_fetch_all(one_deadline, seed=2) replays this round" in message
    passed, message = verdict(reference, seed=4)
    assert passed and "seed 4" in message


def test_not_a_function_and_not_async():
    async def fetch_all(fetch, keys, timeout):
        return []

    coro = fetch_all(None, [], 1)
    passed, message = verdict(coro)
    assert not passed and "not a coroutine" in message
    passed, message = verdict(lambda fetch, keys, timeout: [])
    assert not passed and "async def" in message
