"""The pipeline checker passes a correct pipeline and fails each classic mistake with its hint."""

import asyncio
import threading

import pytest

from asyncio_patterns.exercises.pipeline import check_pipeline

DONE = object()


async def reference(items, fetch, parse, workers):
    to_fetch, to_parse, results = asyncio.Queue(), asyncio.Queue(maxsize=2 * workers), []

    async def fetcher():
        while (item := await to_fetch.get()) is not DONE:
            await to_parse.put(await fetch(item))

    async def parser():
        while (page := await to_parse.get()) is not DONE:
            results.append(await parse(page))

    async with asyncio.TaskGroup() as group:
        fetchers = [group.create_task(fetcher()) for _ in range(workers)]
        parsers = [group.create_task(parser()) for _ in range(workers)]
        for item in [*items, *[DONE] * workers]:
            await to_fetch.put(item)
        await asyncio.gather(*fetchers)
        for _ in parsers:
            await to_parse.put(DONE)
    return results


def join_and_cancel(await_them=True, catch=True, done_in_finally=True):
    """Two stages ended by join() then cancel; optionally forgets to await, to catch errors,
    or to call task_done() when the work fails."""

    async def pipeline(items, fetch, parse, workers):
        to_fetch, to_parse, results = asyncio.Queue(), asyncio.Queue(), []

        async def stage(source, work, sink):
            while True:
                value = await source.get()
                if not done_in_finally:  # the textbook shape: an error skips task_done()
                    sink(await work(value))
                    source.task_done()
                    continue
                try:
                    sink(await work(value))
                except Exception as error:
                    if not catch:
                        raise
                    results.append(error)
                finally:
                    source.task_done()

        tasks = [asyncio.create_task(stage(to_fetch, fetch, to_parse.put_nowait)) for _ in range(workers)]
        tasks += [asyncio.create_task(stage(to_parse, parse, results.append)) for _ in range(workers)]
        for item in items:
            to_fetch.put_nowait(item)
        await to_fetch.join()
        await to_parse.join()
        for task in tasks:
            task.cancel()
        if await_them:
            await asyncio.gather(*tasks, return_exceptions=True)
        return results

    return pipeline


async def one_sentinel(items, fetch, parse, workers):
    queue, results = asyncio.Queue(), []

    async def worker():
        while (item := await queue.get()) is not None:
            results.append(await parse(await fetch(item)))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    for item in items:
        queue.put_nowait(item)
    queue.put_nowait(None)
    await asyncio.gather(*tasks)
    return results


async def task_per_item(items, fetch, parse, workers):
    async def one(item):
        return await parse(await fetch(item))

    return await asyncio.gather(*(one(item) for item in items))


async def one_crew_for_both(items, fetch, parse, workers):
    todo, results = iter(items), []

    async def worker():
        for item in todo:
            results.append(await parse(await fetch(item)))

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
    return results


async def drops_the_last(items, fetch, parse, workers):
    return (await reference(items, fetch, parse, workers))[:-1]


async def duplicates_one(items, fetch, parse, workers):
    results = await reference(items, fetch, parse, workers)
    return results + results[:1]


async def swallows_errors(items, fetch, parse, workers):
    try:
        return await reference(items, fetch, parse, workers)
    except BaseExceptionGroup:
        return []


async def parses_items_not_pages(items, fetch, parse, workers):
    return [await parse(item) for item in items]


async def stub(items, fetch, parse, workers):
    ...


def not_async(items, fetch, parse, workers):
    return []


async def gather_cancelled_without_return_exceptions(items, fetch, parse, workers):
    results = await join_and_cancel(await_them=False)(items, fetch, parse, workers)
    await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))
    return results


async def semaphores_and_a_task_per_item(items, fetch, parse, workers):
    """At most `workers` fetches and parses at once, but a task for every item."""
    fetching, parsing, results = asyncio.Semaphore(workers), asyncio.Semaphore(workers), []

    async def one(item):
        async with fetching:
            page = await fetch(item)
        async with parsing:
            results.append(await parse(page))

    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))
    return results


async def returns_before_the_workers_end(items, fetch, parse, workers):
    """Waits for the results, then returns with the parsers still blocked in get()."""
    to_fetch, to_parse, results = asyncio.Queue(), asyncio.Queue(), []

    async def fetcher():
        while (item := await to_fetch.get()) is not DONE:
            await to_parse.put(await fetch(item))

    async def parser():
        while True:
            results.append(await parse(await to_parse.get()))

    fetchers = [asyncio.create_task(fetcher()) for _ in range(workers)]
    parsers = [asyncio.create_task(parser()) for _ in range(workers)]
    for item in [*items, *[DONE] * workers]:
        to_fetch.put_nowait(item)
    await asyncio.gather(*fetchers)
    while len(results) < len(items):
        await asyncio.sleep(0.1)
    return results


def test_reference_passes():
    verdict = check_pipeline(reference)
    assert verdict.passed, verdict.message
    assert repr(verdict).startswith("Correct: all 30 items came out exactly once")


def test_join_then_cancel_and_await_with_errors_as_results_passes():
    verdict = check_pipeline(join_and_cancel())
    assert verdict.passed, verdict.message


def test_other_sizes_pass():
    assert check_pipeline(reference, items=7, workers=1)
    assert check_pipeline(reference, items=50, workers=5)
    assert check_pipeline(reference, items=6, workers=3)  # the fewest items the check accepts


async def polls_for_work(items, fetch, parse, workers):
    """Busy-waits on the queue: the loop keeps turning but virtual time never moves."""
    queue = asyncio.Queue()
    while queue.empty():
        await asyncio.sleep(0)


def test_a_pipeline_that_never_lets_time_pass_gets_a_verdict_not_a_hang(monkeypatch):
    monkeypatch.setattr("asyncio_patterns.exercises.pipeline.REAL_LIMIT", 0.5)
    verdict = check_pipeline(polls_for_work)
    assert not verdict.passed
    assert "the event loop was kept busy for 0.5 s of real time" in verdict.message
    assert "Wait for work with `await queue.get()`" in verdict.message
    runaway = [t for t in threading.enumerate() if t.name == "exercise check"]
    assert not runaway, "the polling loop was cancelled, so its thread must have ended"


@pytest.mark.parametrize("pipeline, hint", [
    (stub, "returned None"),
    (not_async, "not a coroutine: define it with `async def"),
    (join_and_cancel(await_them=False), "pipeline() ended with 6 task(s) still running (stage x6): they were "
                                        "cancelled but not awaited"),
    (semaphores_and_a_task_per_item, "fetch() ran in 30 different tasks, but workers=3: make the fetch stage "
                                     "a fixed pool of 3 worker tasks"),
    (returns_before_the_workers_end, "pipeline() ended with 3 task(s) still running (parser x3): wait for "
                                     "every task you start"),
    (join_and_cancel(catch=False), "the error was swallowed and the item lost"),
    (join_and_cancel(catch=False, done_in_finally=False), "When parse() raised ParseError for item 15, pipeline() did not finish"),
    (one_sentinel, "did not finish within 60 s (virtual time). Still waiting: worker x2"),
    (task_per_item, "fetch() ran 30 times at once, but workers=3"),
    (one_crew_for_both, "it looks like one set of workers does both"),
    (drops_the_last, "1 of 30 items never came out"),
    (duplicates_one, "came out more than once"),
    (swallows_errors, "the error was swallowed"),
    (parses_items_not_pages, "parse() was called with 0, not with a page that fetch() returned"),
    (gather_cancelled_without_return_exceptions, "use gather(*workers, return_exceptions=True)"),
], ids=lambda p: getattr(p, "__name__", "hint"))
def test_wrong_pipelines_fail_with_a_useful_hint(pipeline, hint):
    verdict = check_pipeline(pipeline)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message
    assert repr(verdict).startswith("Not yet: ")


def test_the_same_verdict_every_time():
    assert check_pipeline(one_sentinel) == check_pipeline(one_sentinel)


def test_not_a_function():
    assert "pass your function itself" in check_pipeline(reference(None, None, None, 1)).message


@pytest.mark.parametrize("kwargs, message", [
    ({"items": 1}, "items must be a whole number >= 6, got 1"),
    ({"items": 3, "workers": 2}, "items must be a whole number >= 4, got 3"),
    ({"workers": 0}, "workers must be a whole number >= 1, got 0"),
    ({"timeout": 0}, "timeout must be a number of seconds > 0, got 0"),
])
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_pipeline(reference, **kwargs)


def test_a_typo_inside_a_task_group_is_named_not_its_group():
    async def typo(items, fetch, parse, workers):
        async def fetcher():
            await fetch(item_s[0])  # a NameError in a task of the group

        async with asyncio.TaskGroup() as group:
            group.create_task(fetcher())
        return []

    verdict = check_pipeline(typo)
    assert not verdict.passed
    assert "pipeline() raised NameError: name 'item_s' is not defined" in verdict.message, verdict.message
    assert "ExceptionGroup" not in verdict.message
