import asyncio

from asyncio_patterns.exercises.start_signal import check_start_together


async def textbook_shape(setup, workers):
    start = asyncio.Event()
    await setup()
    start.set()
    return await asyncio.gather(*(worker(start) for worker in workers))


async def leaks_on_failure(setup, workers):
    start = asyncio.Event()
    tasks = [asyncio.create_task(worker(start)) for worker in workers]
    await setup()
    start.set()
    return await asyncio.gather(*tasks)


async def in_a_taskgroup(setup, workers):
    start = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(worker(start)) for worker in workers]
        await setup()
        start.set()
    return [task.result() for task in tasks]


def cancels_by_hand(await_them):
    async def start_together(setup, workers):
        start = asyncio.Event()
        tasks = [asyncio.create_task(worker(start)) for worker in workers]
        try:
            await setup()
        except BaseException:
            for task in tasks:
                task.cancel()
            if await_them:
                await asyncio.gather(*tasks, return_exceptions=True)
            raise
        start.set()
        return await asyncio.gather(*tasks)

    return start_together


async def sets_too_early(setup, workers):
    start = asyncio.Event()
    start.set()
    return await in_a_taskgroup(setup, workers)  # (its own event; this one is unused)


async def early(setup, workers):
    start = asyncio.Event()
    start.set()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(worker(start)) for worker in workers]
        await setup()
    return [task.result() for task in tasks]


async def never_sets(setup, workers):
    start = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker(start))
        await setup()


async def swallows_the_error(setup, workers):
    try:
        return await in_a_taskgroup(setup, workers)
    except BaseExceptionGroup:
        return None


def test_the_textbook_shape_fails_because_workers_start_late():
    verdict = check_start_together(textbook_shape)
    assert not verdict and "only began preparing at t=0.20 s" in verdict.message


def test_workers_left_waiting_after_a_failed_setup_fail_the_check():
    verdict = check_start_together(leaks_on_failure)
    assert not verdict
    assert "when set-up raised, start_together() ended with 3 task(s) still running (worker x3)" in verdict.message
    assert "wait for every task you start" in verdict.message


def test_workers_cancelled_but_not_awaited_fail_the_check():
    # They are still running when start_together ends: their clean-up would run afterwards.
    verdict = check_start_together(cancels_by_hand(await_them=False))
    assert not verdict
    assert "start_together() ended with 3 task(s) still running (worker x3)" in verdict.message
    assert "they were cancelled but not awaited" in verdict.message


def test_taskgroup_and_manual_cancel_then_await_pass():
    assert check_start_together(in_a_taskgroup)
    assert check_start_together(cancels_by_hand(await_them=True))


def test_other_wrong_answers_get_specific_hints():
    assert "before set-up finished" in check_start_together(early).message
    assert "nothing left to wake them. Was start.set() ever called?" in check_start_together(never_sets).message
    assert "returned normally" in check_start_together(swallows_the_error).message
    assert "async def" in check_start_together(lambda setup, workers: None).message


async def returns_a_number(setup, workers):
    await in_a_taskgroup(setup, workers)
    return 3


def test_a_result_that_is_not_a_list_gets_a_verdict_not_an_error():
    verdict = check_start_together(returns_a_number)
    assert not verdict and "start_together returned 3; return the workers' results in order" in verdict.message


def test_a_busy_loop_is_reported_in_the_shared_words():
    async def spins(setup, workers):
        while True:
            await asyncio.sleep(0)  # polls: the loop turns, virtual time never moves

    verdict = check_start_together(spins, real_limit=0.2)
    assert not verdict
    assert verdict.message.startswith("the event loop was kept busy for 0.2 s of real time without letting time pass")
