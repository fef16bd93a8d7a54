"""Check lesson 01's exercise: a two-stage pipeline (fetch, then parse) that loses nothing.

The learner writes::

    async def pipeline(items, fetch, parse, workers):
        ...  # `workers` tasks call fetch(item), `workers` tasks call parse(page)
        return results  # one parse() result per item, any order

``check_pipeline(pipeline)`` runs it in virtual time (instant, repeatable) three times:
on a list of items, on no items, and with a ``parse()`` that fails for one item. It
returns a :class:`~asyncio_patterns.exercises.Verdict`. Every run has a virtual timeout,
so a pipeline that waits forever becomes a verdict, and a real-time limit, so one that
keeps the loop busy without letting time pass does too. A correct pipeline puts every
item out exactly once, uses ``workers`` tasks per stage, finishes, and leaves no task
running when it returns. When ``parse()`` raises, it
must still finish: either raising the error (alone or in an ``ExceptionGroup``), or
returning the exception object in that item's place.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..lab.validate import seconds, whole_number
from ..lab.clock import task_label
from . import Verdict, not_a_function
from ._harness import Attempt, attempt, run_guarded

__all__ = ["Page", "ParseError", "Parsed", "check_pipeline"]


@dataclass(frozen=True)
class Page:
    """What the checker's ``fetch(item)`` returns."""

    item: Any


@dataclass(frozen=True)
class Parsed:
    """What the checker's ``parse(page)`` returns."""

    item: Any


class ParseError(Exception):
    """Raised by the checker's ``parse()`` for the one item it is told to fail on."""


def _spread(item: Any, kinds: int) -> int:
    """0..kinds-1, the same for the same item on every run (``hash`` of a str is not)."""
    return zlib.crc32(repr(item).encode()) % kinds


@dataclass
class _Stages:
    """The checker's fetch and parse: they count calls and how many run at once."""

    fail_on: Any = None
    fetch_calls: Counter = field(default_factory=Counter)
    misuse: str = ""
    fetching: int = 0
    parsing: int = 0
    most_fetching: int = 0
    most_parsing: int = 0
    most_busy: int = 0
    error: ParseError | None = None

    def _busy(self) -> None:
        self.most_fetching = max(self.most_fetching, self.fetching)
        self.most_parsing = max(self.most_parsing, self.parsing)
        self.most_busy = max(self.most_busy, self.fetching + self.parsing)

    async def fetch(self, item: Any) -> Page:
        self.fetch_calls[item] += 1
        self.fetching += 1
        self._busy()
        try:
            await asyncio.sleep(0.05 + 0.01 * _spread(item, 3))
        finally:
            self.fetching -= 1
        return Page(item)

    async def parse(self, page: Any) -> Parsed:
        if not isinstance(page, Page):
            self.misuse = self.misuse or (
                f"parse() was called with {page!r}, not with a page that fetch() returned: "
                "the parse stage takes the fetch stage's results"
            )
            raise TypeError(f"parse() needs a page from fetch(), got {page!r}")
        self.parsing += 1
        self._busy()
        try:
            await asyncio.sleep(0.15 + 0.05 * _spread(page.item, 2))
        finally:
            self.parsing -= 1
        if self.fail_on is not None and page.item == self.fail_on:
            self.error = ParseError(f"cannot parse page {page.item}")
            raise self.error
        return Parsed(page.item)


@dataclass
class _Outcome(Attempt):
    hung: bool = False  # still running after the real-time limit
    waiting: list[str] = field(default_factory=list)  # tasks still waiting at the deadline
    left_running: list[str] = field(default_factory=list)  # tasks not done when the run ended


def _running_tasks(me: asyncio.Task | None) -> list[str]:
    """Labels of the tasks not yet done, other than ``me``, as "name" or "name x3"."""
    counts = Counter(task_label(t) for t in asyncio.all_tasks() if t is not me and not t.done())
    return [name if n == 1 else f"{name} x{n}" for name, n in sorted(counts.items())]


async def _run(pipeline: Callable, items: list, workers: int, stages: _Stages, timeout: float) -> _Outcome:
    outcome = _Outcome()
    me = asyncio.current_task()
    # Just before the deadline, note who is still waiting (after it, cancellation ends them).
    def note_waiting() -> None:
        outcome.waiting = _running_tasks(me)
    snapshot = asyncio.get_running_loop().call_later(timeout * (1 - 1e-9), note_waiting)
    try:
        await attempt(outcome, pipeline, items, stages.fetch, stages.parse, workers, timeout=timeout)
    finally:
        snapshot.cancel()
    # Checked at once, before yielding: a task that was cancelled but not awaited is
    # still running here, and would run its clean-up after pipeline() had returned.
    outcome.left_running = _running_tasks(me)
    return outcome


REAL_LIMIT = 10.0  # real seconds a run may take; a correct one takes a few milliseconds


def _attempt(pipeline: Callable, items: list, workers: int, stages: _Stages, timeout: float) -> _Outcome:
    # _run applies the virtual timeout itself; run_guarded adds the real-time limit.
    guarded = run_guarded(_run(pipeline, items, workers, stages, timeout),
                          virtual_limit=2 * timeout, real_limit=REAL_LIMIT)
    if guarded.status == "ok":
        return guarded.value
    if guarded.status == "hung":
        return _Outcome(hung=True)
    if guarded.status == "error":
        raise guarded.value  # the checker's own failure: _run reports the learner's errors
    # A task that ignored cancellation while the run was cleaned up.
    detail = guarded.value or f"still running after {2 * timeout:g} s of virtual time"
    return _Outcome(timed_out=True, waiting=[f"a task that ignores cancellation ({detail})"])


def _contains(error: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(error, kind):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_contains(e, kind) for e in error.exceptions)
    return False


def _items(values: Iterable[Any], limit: int = 5) -> str:
    """'item 3' or 'items 1, 2, 3, ... (9 in all)'."""
    values = list(values)
    text = ", ".join(repr(v) for v in values[:limit])
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return f"item {text}" if len(values) == 1 else f"items {text}{more}"


def _common_problem(outcome: _Outcome, stages: _Stages, timeout: float, when: str) -> str:
    """What is wrong with any run, whatever the scenario ('' if nothing)."""
    if outcome.not_awaitable:
        return (f"pipeline() returned a {outcome.not_awaitable}, not a coroutine: "
                "define it with `async def pipeline(items, fetch, parse, workers):`")
    if stages.misuse:
        return stages.misuse
    if outcome.hung:
        return (f"{when}, pipeline() kept the event loop busy for {REAL_LIMIT:g} s of real time without "
                "letting time pass: a loop that never awaits, or one that polls (`while queue.empty(): "
                "await asyncio.sleep(0)`). Wait with `await queue.get()` instead. If the notebook stays "
                "slow, restart the kernel: a loop with no await at all cannot be stopped from outside.")
    if outcome.timed_out:
        waiting = f" Still waiting: {', '.join(outcome.waiting)}." if outcome.waiting else ""
        return (f"{when}, pipeline() did not finish within {timeout:g} s (virtual time).{waiting} "
                "Something waits forever: a worker blocked in get() because no sentinel reached it, "
                "join() waiting for a task_done() that was never called, or a worker that died "
                "while the others waited for it.")
    if outcome.left_running:
        return (f"{when}, some tasks were still running when pipeline() returned "
                f"({', '.join(outcome.left_running)}). Cancelling a task only asks it to stop: await the "
                "workers after cancelling them (or end them with sentinels and await them); a TaskGroup "
                "awaits them for you.")
    return ""


def _raised(error: BaseException, when: str) -> str:
    text = f"{when}pipeline() raised {type(error).__name__}: {error}".rstrip(": ")
    if isinstance(error, asyncio.CancelledError):
        text += (" (awaiting cancelled workers with gather() re-raises their CancelledError: "
                 "use gather(*workers, return_exceptions=True))")
    return text


def _as_list(result: Any) -> list | None:
    if result is None or isinstance(result, (str, bytes)):
        return None
    try:
        return list(result)
    except TypeError:
        return None


def _check_items(results: list, items: list, stages: _Stages, failed: Any = None) -> str:
    not_parsed = [r for r in results if not isinstance(r, Parsed) and not (failed is not None and r is stages.error)]
    if not_parsed:
        return (f"the results should be the values parse() returned, but {len(not_parsed)} are not "
                f"(first: {not_parsed[0]!r}); collect what parse(page) returns")
    refetched = sorted(item for item, n in stages.fetch_calls.items() if n > 1)
    if refetched:
        return f"fetch() was called more than once for {_items(refetched)}: each item should be fetched once"
    counts = Counter(r.item for r in results if isinstance(r, Parsed))
    expected = [item for item in items if item != failed]
    twice = sorted(item for item, n in counts.items() if n > 1)
    if twice:
        return f"{_items(twice)} came out more than once: each item should come out exactly once"
    missing = [item for item in expected if item not in counts]
    if missing:
        return (f"{len(missing)} of {len(expected)} items never came out ({_items(missing)}). "
                "Did pipeline() return before the last pages were parsed? Wait until the fetch stage "
                "has finished, then until the parse stage has.")
    return ""


def _check_concurrency(stages: _Stages, workers: int) -> str:
    for stage, most in (("fetch", stages.most_fetching), ("parse", stages.most_parsing)):
        if most > workers:
            return (f"{stage}() ran {most} times at once, but workers={workers}: start {workers} worker tasks "
                    f"for the {stage} stage that take items from a queue, not a task per item")
        if most < workers:
            return (f"{stage}() never ran more than {most} at once, but workers={workers}: start {workers} "
                    f"worker tasks for the {stage} stage so that {workers} calls can run at once")
    if stages.most_busy <= workers:
        return (f"fetch() and parse() together never ran more than {workers} at once: it looks like one set of "
                f"workers does both. Give each stage its own {workers} workers, with a queue between them, "
                "so pages are parsed while the next items are fetched")
    return ""


def check_pipeline(pipeline: Callable, *, items: int = 30, workers: int = 3, timeout: float = 60.0) -> Verdict:
    """Run ``pipeline(items, fetch, parse, workers)`` three ways in virtual time and judge it.

    ``items`` is how many items the main run feeds in (0..items-1), ``workers`` how many
    tasks each stage should have, and ``timeout`` the virtual seconds each run may take.
    """
    whole_number("workers", workers)
    # Fewer items than 2 x workers cannot show that each stage has its own workers at once.
    whole_number("items", items, minimum=2 * workers)
    seconds("timeout", timeout, positive=True)
    if not callable(pipeline):
        return not_a_function(pipeline, "check_pipeline(pipeline)")

    # 1. The main run: every item once, the right number of workers, nothing left running.
    stages, feed = _Stages(), list(range(items))
    outcome = _attempt(pipeline, feed, workers, stages, timeout)
    problem = _common_problem(outcome, stages, timeout, f"With {items} items")
    if problem:
        return Verdict(False, problem)
    if outcome.error is not None:
        return Verdict(False, _raised(outcome.error, ""))
    results = _as_list(outcome.result)
    if results is None:
        return Verdict(False, f"pipeline() returned {outcome.result!r}: return a list with the value parse() "
                              f"returned for each item ({items} values for {items} items)")
    problem = _check_items(results, feed, stages) or _check_concurrency(stages, workers)
    if problem:
        return Verdict(False, problem)

    # 2. Nothing to do must finish too (a worker waiting for a first item that never comes hangs).
    stages = _Stages()
    outcome = _attempt(pipeline, [], workers, stages, timeout)
    problem = _common_problem(outcome, stages, timeout, "With no items")
    if problem:
        return Verdict(False, problem)
    if outcome.error is not None:
        return Verdict(False, _raised(outcome.error, "with no items, "))
    if _as_list(outcome.result) != []:
        return Verdict(False, f"with no items, pipeline() should return an empty list, not {outcome.result!r}")

    # 3. A failing parse must not hang the pipeline, nor vanish without a trace.
    failed = items // 2
    stages, feed = _Stages(fail_on=failed), list(range(items))
    outcome = _attempt(pipeline, feed, workers, stages, timeout)
    when = f"When parse() raised ParseError for item {failed}"
    when_lower = "w" + when[1:]
    problem = _common_problem(outcome, stages, timeout, when)
    if problem:
        return Verdict(False, problem)
    if outcome.error is not None:
        if not _contains(outcome.error, ParseError):
            return Verdict(False, _raised(outcome.error, f"{when_lower}, ")
                           + " (expected the ParseError, alone or in an ExceptionGroup)")
    else:
        results = _as_list(outcome.result) or []
        if not any(r is stages.error for r in results):
            return Verdict(False, f"{when_lower}, pipeline() returned as if nothing had happened: the error "
                                  "was swallowed and the item lost without a trace. Let the exception "
                                  "propagate (a TaskGroup does), or put it in the results in that item's place")
        problem = _check_items(results, feed, stages, failed=failed)
        if problem:
            return Verdict(False, f"{when_lower}: {problem}")

    return Verdict(True, f"all {items} items came out exactly once through {workers} fetch and {workers} parse "
                         "workers; an empty input and a failing parse() both finished with no task left running.")
