"""Check lesson 14's exercise: a job runner that hung, diagnosed and fixed.

The learner writes::

    async def run_jobs(jobs, handle, workers=3):
        ...  # `workers` tasks take jobs from an asyncio.Queue and await handle(job)
        return results  # {job: what handle(job) returned, or the exception it raised}

``check_run_jobs(run_jobs)`` runs it in virtual time three times, 12 jobs each, with seeded
delays: two jobs whose ``handle`` raises ``ValueError``, every job succeeding, and two jobs
whose ``handle`` raises ``RuntimeError``. A correct runner returns one result per job (the
exception object for a job that raised), handles each job once, keeps ``workers`` jobs
running at once, finishes (``queue.join()`` returns only after one ``task_done()`` per job),
and leaves no worker running. A run that hangs is reported with where each task was waiting.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Attempt, attempt, describe_error, run_guarded

__all__ = ["check_run_jobs"]

JOBS = tuple(range(12))
WORKERS = 3
ROUNDS = (  # (what the round does, the jobs that fail and how)
    ("jobs 2 and 7 raise ValueError", {2: ValueError, 7: ValueError}),
    ("every job succeeds", {}),
    ("jobs 4 and 9 raise RuntimeError", {4: RuntimeError, 9: RuntimeError}),
)
FINALLY = "call queue.task_done() in a `finally:` block, so that it runs however handle(job) ends"


@dataclass
class _Report(Attempt):
    """What one call of run_jobs did."""

    calls: Counter = field(default_factory=Counter)  # job -> how many times handle() was called
    raised: dict[int, BaseException] = field(default_factory=dict)  # job -> what handle raised
    running: int = 0
    most: int = 0  # the most handle() calls running at once


async def _run(run_jobs: Any, failing: dict[int, type], seed: int) -> _Report:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: None)  # a dead worker's "exception was
    # never retrieved" would print whenever it is collected; the verdict says what happened
    report = _Report()
    rng = random.Random(seed)
    delays = {job: rng.uniform(0.1, 1.0) for job in JOBS}

    async def handle(job: int) -> str:
        report.calls[job] += 1
        report.running += 1
        report.most = max(report.most, report.running)
        try:
            await asyncio.sleep(delays[job])
            if job in failing:
                error = failing[job](f"job {job} failed")
                report.raised[job] = error
                raise error
            return f"report {job}"
        finally:
            report.running -= 1

    await attempt(report, run_jobs, list(JOBS), handle, WORKERS, name="run_jobs()")
    return report


def _hang_hint(failing: dict[int, type]) -> str:
    kinds = sorted({kind.__name__ for kind in failing.values()})
    if not failing:
        return f"queue.join() returns once task_done() has been called once for each job: {FINALLY}."
    if kinds == ["ValueError"]:
        return ("queue.join() waits for one task_done() per job, and a job whose handle() raised skipped it: "
                f"{FINALLY}.")
    return (f"a job raised {kinds[0]}, which the worker did not catch: the worker ended, without task_done() for "
            f"that job, and nobody retrieved its exception. Catch Exception around handle(job), and {FINALLY}.")


def _judge(report: _Report, failing: dict[int, type]) -> str | None:
    if report.not_awaitable:
        return f"run_jobs returned a {report.not_awaitable}: it must be an `async def` function"
    if report.error is not None:
        if isinstance(report.error, TimeoutError):
            return ("run_jobs raised TimeoutError. A time limit turns the hang into an error, it does not end it: "
                    f"find the job whose task_done() never came, and {FINALLY}.")
        return f"run_jobs raised {describe_error(report.error)}; record a failed job's exception in results instead"
    twice = sorted(job for job, n in report.calls.items() if n > 1)
    if twice:
        return f"job {twice[0]} was handled {report.calls[twice[0]]} times: put each job in the queue once"
    results = report.result
    if not isinstance(results, dict):
        return f"run_jobs returned {type(results).__name__}; return a dict {{job: result or exception}}"
    missing = [job for job in JOBS if job not in results]
    if missing:
        job = missing[0]
        if job in failing and failing[job] is not ValueError:
            return (f"job {job} has no result: its handle() raised {failing[job].__name__}, which ended the worker. "
                    f"Catch Exception around handle(job) and record it, and {FINALLY}.")
        return (f"job {job} has no result: run_jobs returned before it was done. queue.join() returns when "
                f"task_done() has been called once per job; call it exactly once per job, in a `finally:` block.")
    for job in JOBS:
        expected = report.raised.get(job, f"report {job}")
        got = results[job]
        if (got is not expected) if job in report.raised else (got != expected):
            return f"results[{job}] is {got!r}; it should be {expected!r}, what handle({job}) returned or raised"
    if report.most < WORKERS:
        return (f"never more than {report.most} job(s) ran at once, with workers={WORKERS}: start `workers` worker "
                "tasks, each taking jobs from the queue")
    if report.most > WORKERS:
        return f"{report.most} jobs ran at once, with workers={WORKERS}: keep to `workers` worker tasks"
    return report.left_running or None


def check_run_jobs(run_jobs: Any, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``run_jobs`` in the three rounds and say what, if anything, is wrong."""
    if not callable(run_jobs) or inspect.iscoroutine(run_jobs):
        return not_a_function(run_jobs, "check_run_jobs(run_jobs)")
    if not inspect.iscoroutinefunction(run_jobs):
        return Verdict(False, "run_jobs must be an `async def` function taking (jobs, handle, workers)")
    for seed, (what, failing) in enumerate(ROUNDS):
        outcome = run_guarded(_run(run_jobs, failing, seed), real_limit=real_limit)
        if problem := outcome.not_judged(deadlock=_hang_hint(failing)):
            return Verdict(False, f"when {what}, run_jobs did not finish: {problem}")
        if problem := _judge(outcome.value, failing):
            return Verdict(False, f"when {what}: {problem}")
    return Verdict(True, f"{len(JOBS)} jobs with {WORKERS} workers, in three rounds: every job handled once, a failed "
                         "job's exception recorded in its place, queue.join() returned, no worker left running.")
