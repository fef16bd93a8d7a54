"""The batch checker passes correct answers and names what each wrong one got wrong."""

import asyncio
import collections
import sys

import pytest

from asyncio_patterns import bounded_map
from asyncio_patterns.demos.batch import task_per_item as demo_task_per_item
from asyncio_patterns.exercises.batch import check_ordered_map


def window(*, catch=True, cleanup=True):
    """An ordered_map with a deque of tasks that keeps every rule except the ones switched off."""
    async def ordered_map(func, items, concurrency):
        window = collections.deque()  # (item, task), in input order
        source = aiter(items)
        try:
            while True:
                while len(window) < concurrency:
                    try:
                        item = await anext(source)
                    except StopAsyncIteration:
                        break
                    window.append((item, asyncio.ensure_future(func(item))))
                if not window:
                    return
                item, task = window.popleft()
                yield item, (await _outcome(task) if catch else await task)
        finally:
            if cleanup:
                for _, task in window:
                    task.cancel()
                await asyncio.gather(*(task for _, task in window), return_exceptions=True)
    return ordered_map


reference = window()
raises_errors = window(catch=False)
no_cleanup = window(cleanup=False)


async def with_the_package(func, items, concurrency):
    results = bounded_map(func, items, concurrency=concurrency, ordered=True)
    try:
        async for done in results:
            yield done.item, done.value if done.ok else done.error
    finally:
        await results.aclose()


async def pull_then_wait(func, items, concurrency):
    """Takes an item first and then waits for room: one item in hand beyond the window."""
    window = collections.deque()
    try:
        async for item in items:
            if len(window) == concurrency:
                head, task = window.popleft()
                yield head, await _outcome(task)
            window.append((item, asyncio.ensure_future(func(item))))
        while window:
            head, task = window.popleft()
            yield head, await _outcome(task)
    finally:
        for _, task in window:
            task.cancel()
        await asyncio.gather(*(task for _, task in window), return_exceptions=True)


async def _outcome(task):
    try:
        return await task
    except Exception as error:
        return error


async def task_per_item(func, items, concurrency):
    """The common tutorial's stream processor (the lesson's demo of it): every item gets a task first."""
    async def paired(item):
        return item, await _outcome(asyncio.ensure_future(func(item)))

    for pair in await demo_task_per_item(paired, items, concurrency):
        yield pair


async def chunked(func, items, concurrency):
    chunk = []
    async for item in items:
        chunk.append(item)
        if len(chunk) == concurrency:
            outcomes = await asyncio.gather(*(func(i) for i in chunk), return_exceptions=True)
            for pair in zip(chunk, outcomes):
                yield pair
            chunk = []
    outcomes = await asyncio.gather(*(func(i) for i in chunk), return_exceptions=True)
    for pair in zip(chunk, outcomes):
        yield pair


async def completion_order(func, items, concurrency):
    results = bounded_map(func, items, concurrency=concurrency)  # as they finish
    try:
        async for done in results:
            yield done.item, done.value if done.ok else done.error
    finally:
        await results.aclose()


async def one_at_a_time(func, items, concurrency):
    async for item in items:
        try:
            yield item, await func(item)
        except Exception as error:
            yield item, error


async def yields_inside_a_task_group(func, items, concurrency):
    async def call(item):
        try:
            return await func(item)
        except Exception as error:
            return error

    window = collections.deque()
    async with asyncio.TaskGroup() as group:
        async for item in items:
            window.append((item, group.create_task(call(item))))
            if len(window) == concurrency:
                item, task = window.popleft()
                yield item, await task
        while window:
            item, task = window.popleft()
            yield item, await task


async def as_a_list(func, items, concurrency):
    return [pair async for pair in reference(func, items, concurrency)]


async def error_as_text(func, items, concurrency):
    async for item, outcome in reference(func, items, concurrency):
        yield item, str(outcome) if isinstance(outcome, Exception) else outcome


@pytest.mark.parametrize("answer", [reference, with_the_package, pull_then_wait], ids=lambda f: f.__name__)
def test_correct_answers_pass(answer):
    verdict = check_ordered_map(answer)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("answer, hint", [
    (task_per_item, "took 10 items from the iterator while only 0 results had been yielded"),
    (chunked, "where a sliding window takes"),
    (completion_order, "not in input order"),
    (raises_errors, "raised ItemError, and ordered_map() raised it too"),
    (no_cleanup, "closed after 20 results, it left 2 call(s) still running (func x2). Closing an async generator"),
    pytest.param(yields_inside_a_task_group, "it yields inside `async with TaskGroup()`, so the GeneratorExit that "
                 "closing raises at the `yield` reaches the group, which wraps it. Keep the calls in a deque",
                 marks=pytest.mark.skipif(sys.version_info >= (3, 15), reason=(
                     "3.15's TaskGroup lets a GeneratorExit through unwrapped, so closing the generator early "
                     "raises nothing the checker can see there (checked: aclose() is fine on 3.15, raises a "
                     "BaseExceptionGroup on 3.14)"))),
    (one_at_a_time, "never more than 1 call(s) ran at once"),
    (as_a_list, "returned a coroutine, not an async iterator"),
    (error_as_text, "yield the exception object itself"),
], ids=lambda x: getattr(x, "__name__", "hint"))
def test_wrong_answers_get_a_hint(answer, hint):
    verdict = check_ordered_map(answer)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message
    assert "check_ordered_map(" in verdict.message and "seed=" in verdict.message


def test_no_hint_sends_a_generator_to_a_task_group():
    for answer in (no_cleanup, yields_inside_a_task_group):
        message = check_ordered_map(answer).message
        assert "never yield inside `async with TaskGroup()`" in message or "TaskGroup() as" not in message
        assert "a TaskGroup does both for you" not in message, message


def test_a_seed_replays_one_round():
    assert check_ordered_map(reference, seed=1).passed
    verdict = check_ordered_map(no_cleanup, seed=3)
    assert not verdict.passed and "seed=3" in verdict.message


def test_not_a_function():
    assert "pass your function itself" in check_ordered_map(42).message


def test_a_blocking_answer_is_a_verdict_not_a_hang():
    import time

    async def blocks(func, items, concurrency):
        async for item in items:
            time.sleep(0.2)
            yield item, await func(item)

    verdict = check_ordered_map(blocks, real_limit=0.5)
    assert not verdict.passed and "real time" in verdict.message
