"""Lesson 14's checker: the hung job runner. Each wrong answer a learner would write gets a
"Not yet" that names the remedy; the right ones pass."""

import asyncio
from pathlib import Path

from asyncio_patterns.exercises.debugging import check_run_jobs


async def given(jobs, handle, workers=3):  # the lesson's program, as handed out
    queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    results = {}

    async def worker():
        while True:
            job = await queue.get()
            try:
                results[job] = await handle(job)
            except ValueError as error:
                results[job] = error
                continue
            queue.task_done()

    for _ in range(workers):
        asyncio.create_task(worker())
    await queue.join()
    return results


def runner(*, catch=Exception, done="finally", stop=True, timeout=None, workers_used=None):
    """The reference with one thing changed: what it catches, where task_done() is called,
    whether the workers are cancelled at the end, a time limit around join()."""
    async def run_jobs(jobs, handle, workers=3):
        queue = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        results = {}

        async def worker():
            while True:
                job = await queue.get()
                try:
                    results[job] = await handle(job)
                    if done == "on success":
                        queue.task_done()
                except catch as error:
                    results[job] = error
                finally:
                    if done in ("finally", "twice"):
                        queue.task_done()
                if done == "twice":
                    queue.task_done()

        tasks = [asyncio.create_task(worker()) for _ in range(workers_used or workers)]
        try:
            if timeout is None:
                await queue.join()
            else:
                await asyncio.wait_for(queue.join(), timeout)
        finally:
            if stop:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        return results

    return run_jobs


async def in_a_taskgroup(jobs, handle, workers=3):
    queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    results = {}

    async def worker():
        while True:
            job = await queue.get()
            try:
                results[job] = await handle(job)
            except Exception as error:
                results[job] = error
            finally:
                queue.task_done()

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(worker()) for _ in range(workers)]
        await queue.join()
        for task in tasks:
            task.cancel()
    return results


def line(text):
    return next(i for i, source in enumerate(Path(__file__).read_text().splitlines(), 1) if text in source)


def test_the_given_program_hangs_and_the_verdict_says_where_each_task_waited():
    verdict = check_run_jobs(given)
    assert not verdict
    assert verdict.message.startswith("when jobs 2 and 7 raise ValueError, run_jobs did not finish: every task was "
                                      "waiting, with nothing left to wake them.")
    assert "a job whose handle() raised skipped it: call queue.task_done() in a `finally:`" in verdict.message
    assert (f"Where the tasks were: given() at line {line('    await queue.join()')} (`await queue.join()`), in "
            f"Queue.join(); worker() x3 at line {line('job = await queue.get()')} (`job = await queue.get()`), "
            "in Queue.get().") in verdict.message


def test_catching_only_valueerror_hangs_when_another_error_kills_a_worker():
    verdict = check_run_jobs(runner(catch=ValueError))
    assert not verdict and verdict.message.startswith("when jobs 4 and 9 raise RuntimeError: job 4 has no result")
    assert "Catch Exception around handle(job)" in verdict.message


def test_task_done_only_on_success_hangs_on_a_failed_job():
    verdict = check_run_jobs(runner(done="on success"))
    assert not verdict and "run_jobs did not finish" in verdict.message and "in a `finally:` block" in verdict.message


def test_task_done_twice_lets_join_return_too_early():
    verdict = check_run_jobs(runner(done="twice"))
    assert not verdict
    assert "has no result: run_jobs returned before it was done" in verdict.message or \
        "task_done() called too many times" in verdict.message


def test_a_time_limit_around_join_is_not_a_fix():
    verdict = check_run_jobs(runner(done="on success", timeout=30))
    assert not verdict and "run_jobs raised TimeoutError. A time limit turns the hang into an error" in verdict.message


def test_workers_left_running_are_named():
    verdict = check_run_jobs(runner(stop=False))
    assert not verdict
    assert verdict.message.startswith("when jobs 2 and 7 raise ValueError: run_jobs() ended with 3 task(s) still "
                                      "running (worker x3): wait for every task you start, or cancel it")


def test_one_worker_is_not_enough():
    verdict = check_run_jobs(runner(workers_used=1))
    assert not verdict and "never more than 1 job(s) ran at once, with workers=3" in verdict.message


def test_the_right_answers_pass():
    assert check_run_jobs(runner())
    assert check_run_jobs(in_a_taskgroup)


def test_not_a_coroutine_function():
    assert "pass your function itself" in check_run_jobs(given(0, 0)).message
    assert "async def" in check_run_jobs(lambda jobs, handle, workers: None).message


def test_a_verdict_is_the_same_every_run():
    assert len({check_run_jobs(given).message for _ in range(5)}) == 1
