"""Check for lesson 03's exercise: start workers together after a set-up phase.

The learner writes ``async def start_together(setup, workers)``: ``setup`` is an async
function taking no arguments, each worker an async function taking the start
``asyncio.Event``. It must create the workers first (so they prepare while set-up runs),
release them all with one ``set()`` when set-up has finished, and return their results in
order. If set-up raises, the error must reach the caller, no worker may pass the start
line, and no worker task may be left waiting.
"""

from __future__ import annotations

import asyncio
import inspect

from . import Verdict
from ._harness import describe_error, run_guarded

__all__ = ["check_start_together"]

SETUP = 0.2  # seconds of set-up
PREPARE = (0.05, 0.1, 0.3)  # each worker's own preparation; the last one finishes after set-up
WORK = 0.1


class _SetupFailed(Exception):
    """Raised by the checker's failing set-up."""


async def _run(start_together, fail: bool) -> dict:
    loop = asyncio.get_running_loop()
    seen: dict[int, dict] = {}
    tasks: list[asyncio.Task] = []

    async def setup() -> None:
        await asyncio.sleep(SETUP)
        if fail:
            raise _SetupFailed("set-up failed: the config file is missing")

    def make_worker(i: int, prepare: float):
        async def worker(start) -> str:
            tasks.append(asyncio.current_task())
            record = seen[i] = {"prepare": loop.time()}
            await asyncio.sleep(prepare)
            await start.wait()
            record["go"] = loop.time()
            await asyncio.sleep(WORK)
            return f"worker {i} done"
        return worker

    workers = [make_worker(i, p) for i, p in enumerate(PREPARE)]
    report: dict = {"seen": seen}
    try:
        report["result"] = await start_together(setup, workers)
    except BaseException as error:  # the learner's function may raise anything
        if isinstance(error, asyncio.CancelledError) and asyncio.current_task().cancelling():
            raise
        report["error"] = error
    report["elapsed"] = loop.time()
    for _ in range(3):
        await asyncio.sleep(0)  # let tasks cancelled on the way out finish cancelling
    report["left_waiting"] = sum(not t.done() for t in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return report


def _is_setup_error(error: BaseException) -> bool:
    if isinstance(error, _SetupFailed):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_is_setup_error(e) for e in error.exceptions)
    return False


def _check_success(report: dict) -> str | None:
    if "error" in report:
        return f"start_together raised {describe_error(report['error'])}"
    seen = report["seen"]
    missing = [i for i in range(len(PREPARE)) if i not in seen]
    if missing:
        return f"worker {missing[0]} never ran: create one task per worker and wait for them all"
    late = {i: r["prepare"] for i, r in seen.items() if r["prepare"] > 0}
    if late:
        i, t = min(late.items())
        return (f"worker {i} only began preparing at t={t:.2f} s, after set-up. Create the worker tasks "
                "first, then run set-up: they prepare while set-up runs.")
    early = {i: r["go"] for i, r in seen.items() if r.get("go", SETUP) < SETUP}
    if early:
        i, t = min(early.items())
        return (f"worker {i} passed the start line at t={t:.2f} s, before set-up finished at "
                f"t={SETUP:.2f} s: call start.set() only after `await setup()` returns.")
    expected_go = [max(SETUP, p) for p in PREPARE]
    went = [seen[i].get("go") for i in range(len(PREPARE))]
    if went != expected_go:
        return (f"the workers passed the start line at {went}, expected {expected_go}: one set() "
                "should release everyone waiting, and a late worker should pass straight through.")
    result = report.get("result")
    expected = [f"worker {i} done" for i in range(len(PREPARE))]
    if not isinstance(result, (list, tuple)) or list(result) != expected:
        return f"start_together returned {result!r}; return the workers' results in order: {expected!r}"
    finish = max(expected_go) + WORK
    if report["elapsed"] > finish + 1e-9:
        return (f"it finished at t={report['elapsed']:.2f} s; with the workers running together "
                f"it takes {finish:.2f} s. Run the workers concurrently, not one after another.")
    return None


def _check_failure(report: dict) -> str | None:
    went = sorted(i for i, r in report["seen"].items() if "go" in r)
    if went:
        return (f"set-up failed, yet worker {went[0]} passed the start line: set the event only after "
                "set-up has succeeded.")
    if "error" not in report:
        return ("set-up raised an error but start_together returned normally: let the error reach "
                "the caller (do not catch it, or re-raise it).")
    if not _is_setup_error(report["error"]):
        return f"set-up raised, and start_together raised {describe_error(report['error'])} instead of set-up's error"
    if report["left_waiting"]:
        return (f"when set-up raised, {report['left_waiting']} worker task(s) were left waiting for a start "
                "signal that will never come (in a server they would wait for ever). Create them inside "
                "`async with asyncio.TaskGroup() as group:`, whose block cancels them if set-up raises.")
    return None


def check_start_together(start_together, *, real_limit: float = 5.0) -> Verdict:
    """Run ``start_together`` with a set-up that succeeds, then with one that raises."""
    if not inspect.iscoroutinefunction(start_together):
        return Verdict(False, "start_together must be an `async def` function taking (setup, workers)")
    for fail in (False, True):
        outcome = run_guarded(_run(start_together, fail), real_limit=real_limit)
        if outcome.status == "deadlock":
            return Verdict(False, "every task ended up waiting with nothing left to wake them: was "
                                  "start.set() ever called? (`await` the set-up, then set the event)")
        if outcome.status in ("timeout", "hung"):
            return Verdict(False, f"the check did not finish ({outcome.status}): something blocks or "
                                  "loops for ever. Restart the kernel if the notebook is slow.")
        if outcome.status == "error":
            return Verdict(False, f"the check itself failed with {describe_error(outcome.value)}")
        problem = (_check_failure if fail else _check_success)(outcome.value)
        if problem:
            return Verdict(False, problem)
    return Verdict(True, "the workers prepared while set-up ran, all passed the start line the moment "
                         "set-up finished (the late one went straight through), and a failed set-up "
                         "cancelled them instead of leaving them waiting.")
