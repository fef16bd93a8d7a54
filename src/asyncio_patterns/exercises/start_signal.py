"""Check for lesson 03's exercise: start workers together after a set-up phase.

The learner writes ``async def start_together(setup, workers)``: ``setup`` is an async
function taking no arguments, each worker an async function taking the start
``asyncio.Event``. It must create the workers first (so they prepare while set-up runs),
release them all with one ``set()`` when set-up has finished, and return their results in
order. If set-up raises, the error must reach the caller, no worker may pass the start
line, and no worker task may still be running when ``start_together`` ends.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field

from . import Verdict
from ._harness import REAL_LIMIT, Attempt, attempt, describe_error, run_guarded

__all__ = ["check_start_together"]

SETUP = 0.2  # seconds of set-up
PREPARE = (0.05, 0.1, 0.3)  # each worker's own preparation; the last one finishes after set-up
WORK = 0.1


class _SetupFailed(Exception):
    """Raised by the checker's failing set-up."""


@dataclass
class _Worker:
    """When one worker began preparing and when it passed the start line (loop time)."""

    prepare: float
    go: float | None = None


@dataclass
class _Report(Attempt):
    """What one call of start_together did."""

    workers: dict[int, _Worker] = field(default_factory=dict)  # the workers that ran, by index
    elapsed: float = 0.0


async def _run(start_together, fail: bool) -> _Report:
    loop = asyncio.get_running_loop()
    report = _Report()

    async def setup() -> None:
        await asyncio.sleep(SETUP)
        if fail:
            raise _SetupFailed("set-up failed: the config file is missing")

    def make_worker(i: int, prepare: float):
        async def worker(start) -> str:
            record = report.workers[i] = _Worker(prepare=loop.time())
            await asyncio.sleep(prepare)
            await start.wait()
            record.go = loop.time()
            await asyncio.sleep(WORK)
            return f"worker {i} done"
        return worker

    workers = [make_worker(i, p) for i, p in enumerate(PREPARE)]
    await attempt(report, start_together, setup, workers, name="start_together()")
    report.elapsed = loop.time()
    return report  # the run's end cancels the tasks left running


def _is_setup_error(error: BaseException) -> bool:
    if isinstance(error, _SetupFailed):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_is_setup_error(e) for e in error.exceptions)
    return False


def _check_success(report: _Report) -> str | None:
    if report.error is not None:
        return f"start_together raised {describe_error(report.error)}"
    seen = report.workers
    missing = [i for i in range(len(PREPARE)) if i not in seen]
    if missing:
        return f"worker {missing[0]} never ran: create one task per worker and wait for them all"
    late = {i: w.prepare for i, w in seen.items() if w.prepare > 0}
    if late:
        i, t = min(late.items())
        return (f"worker {i} only began preparing at t={t:.2f} s, after set-up. Create the worker tasks "
                "first, then run set-up: they prepare while set-up runs.")
    early = {i: w.go for i, w in seen.items() if w.go is not None and w.go < SETUP}
    if early:
        i, t = min(early.items())
        return (f"worker {i} passed the start line at t={t:.2f} s, before set-up finished at "
                f"t={SETUP:.2f} s: call start.set() only after `await setup()` returns.")
    expected_go = [max(SETUP, p) for p in PREPARE]
    went = [seen[i].go for i in range(len(PREPARE))]
    if went != expected_go:
        return (f"the workers passed the start line at {went}, expected {expected_go}: one set() "
                "should release everyone waiting, and a late worker should pass straight through.")
    expected = [f"worker {i} done" for i in range(len(PREPARE))]
    if not isinstance(report.result, (list, tuple)) or list(report.result) != expected:
        return f"start_together returned {report.result!r}; return the workers' results in order: {expected!r}"
    finish = max(expected_go) + WORK
    if report.elapsed > finish + 1e-9:
        return (f"it finished at t={report.elapsed:.2f} s; with the workers running together "
                f"it takes {finish:.2f} s. Run the workers concurrently, not one after another.")
    return report.left_running or None


def _check_failure(report: _Report) -> str | None:
    went = sorted(i for i, w in report.workers.items() if w.go is not None)
    if went:
        return (f"set-up failed, yet worker {went[0]} passed the start line: set the event only after "
                "set-up has succeeded.")
    if report.error is None:
        return ("set-up raised an error but start_together returned normally: let the error reach "
                "the caller (do not catch it, or re-raise it).")
    if not _is_setup_error(report.error):
        return f"set-up raised, and start_together raised {describe_error(report.error)} instead of set-up's error"
    if report.left_running:
        return f"when set-up raised, {report.left_running}"
    return None


def check_start_together(start_together, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``start_together`` with a set-up that succeeds, then with one that raises."""
    if not inspect.iscoroutinefunction(start_together):
        return Verdict(False, "start_together must be an `async def` function taking (setup, workers)")
    for fail in (False, True):
        outcome = run_guarded(_run(start_together, fail), real_limit=real_limit)
        if problem := outcome.not_judged(
                deadlock="Was start.set() ever called? (`await` the set-up, then set the event.)"):
            return Verdict(False, problem)
        problem = (_check_failure if fail else _check_success)(outcome.value)
        if problem:
            return Verdict(False, problem)
    return Verdict(True, "the workers prepared while set-up ran, all passed the start line the moment "
                         "set-up finished (the late one went straight through), and a failed set-up "
                         "cancelled them instead of leaving them waiting.")
