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
item out exactly once, runs each stage in a fixed pool of ``workers`` tasks, finishes, and
leaves no task running when it returns. When ``parse()`` raises, it
must still finish: either raising the error (alone or in an ``ExceptionGroup``), or
returning the exception object in that item's place.
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..lab.validate import seconds, whole_number
from . import Verdict, not_a_function
from ._harness import Attempt, Outcome, Status, attempt, describe_error, run_guarded, still_running, task_names

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
    """The checker's fetch and parse: they count calls, how many run at once, and in how
    many different tasks."""

    fail_on: Any = None
    fetch_calls: Counter = field(default_factory=Counter)
    fetch_tasks: int = 0  # how many different tasks called fetch()
    parse_tasks: int = 0
    # The tasks seen so far; weak, so that a task that died with an error is not kept alive.
    fetchers: weakref.WeakSet = field(default_factory=weakref.WeakSet)
    parsers: weakref.WeakSet = field(default_factory=weakref.WeakSet)
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
        if asyncio.current_task() not in self.fetchers:
            self.fetchers.add(asyncio.current_task())
            self.fetch_tasks += 1
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
        if asyncio.current_task() not in self.parsers:
            self.parsers.add(asyncio.current_task())
            self.parse_tasks += 1
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
    stuck: Outcome | None = None  # the guarded run, if it did not finish (hung, or ignored cancellation)
    waiting: str = ""  # the tasks still waiting at the deadline


async def _run(pipeline: Callable, items: list, workers: int, stages: _Stages, timeout: float) -> _Outcome:
    outcome = _Outcome()
    me = asyncio.current_task()
    # Just before the deadline, note who is still waiting (after it, cancellation ends them).
    def note_waiting() -> None:
        outcome.waiting = task_names(still_running(besides=me))
    snapshot = asyncio.get_running_loop().call_later(timeout * (1 - 1e-9), note_waiting)
    try:
        await attempt(outcome, pipeline, items, stages.fetch, stages.parse, workers, timeout=timeout,
                      name="pipeline()")
    finally:
        snapshot.cancel()
    return outcome


REAL_LIMIT = 10.0  # real seconds a run may take; a correct one takes a few milliseconds


def _attempt(pipeline: Callable, items: list, workers: int, stages: _Stages, timeout: float) -> _Outcome:
    # _run applies the virtual timeout itself; run_guarded adds the real-time limit.
    guarded = run_guarded(_run(pipeline, items, workers, stages, timeout),
                          virtual_limit=2 * timeout, real_limit=REAL_LIMIT)
    if guarded.ok:
        return guarded.value
    if guarded.status is Status.ERROR:
        raise guarded.value  # the checker's own failure: _run reports the learner's errors
    return _Outcome(stuck=guarded)


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
    if outcome.stuck is not None and outcome.stuck.status is Status.HUNG:
        return f"{when}, " + outcome.stuck.unfinished(hung="Wait for work with `await queue.get()`.")
    if outcome.stuck is not None:  # the run went on after its deadline cancelled it
        return (f"{when}, pipeline() did not finish within {timeout:g} s (virtual time), and a task ignored "
                f"its cancellation: {outcome.stuck.unfinished()} Let CancelledError propagate.")
    if outcome.timed_out:
        waiting = f" Still waiting: {outcome.waiting}." if outcome.waiting else ""
        return (f"{when}, pipeline() did not finish within {timeout:g} s (virtual time).{waiting} "
                "Something waits forever: a worker blocked in get() because no sentinel reached it, "
                "join() waiting for a task_done() that was never called, or a worker that died "
                "while the others waited for it.")
    if outcome.left_running:
        return f"{when}, {outcome.left_running}"
    return ""


def _raised(error: BaseException, when: str) -> str:
    text = f"{when}pipeline() raised {describe_error(error)}"
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
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
    for stage, tasks in (("fetch", stages.fetch_tasks), ("parse", stages.parse_tasks)):
        if tasks > workers:
            return (f"{stage}() ran in {tasks} different tasks, but workers={workers}: make the {stage} "
                    f"stage a fixed pool of {workers} worker tasks that take items from a queue, not a task "
                    "per item (even one that a semaphore holds back)")
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
