"""Check for lesson 10's exercise: a bounded map over an async iterator, in input order.

The learner writes ``ordered_map(func, items, concurrency)``, an async generator: it awaits
``func(item)`` for every item of the async iterable ``items``, at most ``concurrency`` at
once, and yields ``(item, outcome)`` in input order, where ``outcome`` is what the call
returned or the ``Exception`` it raised. It takes the next item only when fewer than
``concurrency`` items are held (running, or finished and waiting for their turn), and it
leaves no call running when it ends or is closed early.

``check_ordered_map(ordered_map)`` runs it in virtual time on seeded rounds. Each feeds it a
long async iterator (2,000 items, long-tailed latencies, a few items whose call raises
:class:`ItemError`) through a consumer that now and then pauses, and watches how many calls
run at once, how far ahead of the consumer the items are taken, the order and the outcomes,
the total time against a sliding window's on the same items, and what is left running. A
last round feeds it an endless iterator, takes 20 results and closes it. Round N comes from
seed N, and ``check_ordered_map(ordered_map, seed=N)`` replays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from ..patterns.batch import bounded_map
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Attempt, attempt, describe_error, replay, run_guarded, still_running, task_names

__all__ = ["ItemError", "check_ordered_map"]

CONCURRENCY = 8
ITEMS = 2000
ROUNDS = 3  # seeds 0..2 are full runs; seed ROUNDS is the endless iterator closed early
EARLY = 20  # results taken from the endless iterator before closing it
PAUSE_EVERY, PAUSE = 250, 0.5  # the consumer pauses this long after every 250th result
AHEAD = CONCURRENCY + 1  # items taken and not yet yielded, at most (the window and one in hand)
VIRTUAL_LIMIT = 600.0
EPSILON = 1e-6


class ItemError(Exception):
    """The call for one item failed; ``item`` says which."""

    def __init__(self, item: int) -> None:
        super().__init__(f"item {item} failed")
        self.item = item


class _TooFarAhead(Exception):
    """Raised by the checker's iterator when items are taken too far ahead of the consumer."""


@dataclass
class _Round(Attempt):
    """One round: the plan, what the checker saw, and (from Attempt) how the learner's code ended."""

    seed: int = 0
    latencies: list[float] = field(default_factory=list)
    failing: set[int] = field(default_factory=set)
    endless: bool = False
    pulled: int = 0
    received: int = 0
    running: int = 0
    most: int = 0
    too_far: tuple[int, int] | None = None  # (items taken, results yielded) when the bound broke
    pairs: list = field(default_factory=list)
    raised: dict[int, ItemError] = field(default_factory=dict)
    not_iterator: str = ""
    closed_in_group: bool = False  # aclose() raised the GeneratorExit wrapped in an exception group
    after_close: str = ""  # the calls still running once aclose() returned ("" if none)
    elapsed: float = 0.0

    def latency(self, item: int) -> float:
        return self.latencies[item % len(self.latencies)]


def _plan(seed: int) -> _Round:
    rng = random.Random(seed)
    latencies = [0.01 + rng.expovariate(1 / 0.04) for _ in range(ITEMS)]
    failing = {i for i in range(ITEMS) if rng.random() < 0.03} | {seed + 5}
    return _Round(seed=seed, latencies=latencies, failing=failing, endless=seed == ROUNDS)


def _value(item: int) -> tuple[str, int]:
    return ("value of", item)


async def _source(run: _Round) -> AsyncIterator[int]:
    item = 0
    while run.endless or item < ITEMS:
        if run.pulled + 1 - run.received > AHEAD:
            run.too_far = (run.pulled + 1, run.received)
            raise _TooFarAhead(f"item {item} taken with only {run.received} results yielded")
        run.pulled += 1
        yield item
        item += 1


def _func(run: _Round) -> Callable:
    async def func(item: int) -> tuple[str, int]:
        run.running += 1
        run.most = max(run.most, run.running)
        try:
            await asyncio.sleep(run.latency(item))
        finally:
            run.running -= 1
        if item in run.failing:
            run.raised[item] = ItemError(item)
            raise run.raised[item]
        return _value(item)
    return func


async def _run(ordered_map: Callable, run: _Round) -> _Round:
    async def consume() -> None:
        results = ordered_map(_func(run), _source(run), CONCURRENCY)
        if not hasattr(results, "__anext__"):
            run.not_iterator = type(results).__name__
            if inspect.iscoroutine(results):
                results.close()  # never to be run: closing it avoids a "never awaited" warning
            return
        async for pair in results:
            run.received += 1
            run.pairs.append(pair)
            if run.endless and run.received == EARLY:
                try:
                    await results.aclose()
                except BaseExceptionGroup as group:  # a TaskGroup around the yield wrapped the GeneratorExit
                    if group.subgroup(GeneratorExit) is None:
                        raise
                    run.closed_in_group = True
                still = still_running()  # at once: a call cancelled but not awaited still runs here
                if still:
                    run.after_close = f"{len(still)} call(s) still running ({task_names(still)})"
                return
            if run.received % PAUSE_EVERY == 0:
                await asyncio.sleep(PAUSE)

    await attempt(run, consume, name="ordered_map()")  # what it leaves running is cancelled when the run ends
    run.elapsed = asyncio.get_running_loop().time()
    return run


async def _window(func, items, concurrency):
    """The reference: a sliding window in input order, timed on the same items."""
    async with contextlib.aclosing(bounded_map(func, items, concurrency=concurrency, ordered=True)) as results:
        async for done in results:
            yield done.item, done.value if done.ok else done.error


def _contains(error: BaseException, kind: type) -> BaseException | None:
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _contains(inner, kind)) is not None:
                return found
    return None


def _judge_error(run: _Round) -> str:
    if run.too_far is not None or _contains(run.error, _TooFarAhead):
        taken, yielded = run.too_far or (run.pulled, run.received)
        return (f"it took {taken} items from the iterator while only {yielded} results had been yielded, with "
                f"concurrency={CONCURRENCY}: take the next item only when fewer than concurrency items are held "
                "(running or waiting to be yielded). A task per item made up front holds the whole input, and an "
                "endless iterator would never let it finish")
    failed = _contains(run.error, ItemError)
    if failed is not None:
        return (f"the call for item {failed.item} raised ItemError, and ordered_map() raised it too, so the results "
                "after it were lost: catch the error and yield (item, error) in its place, and go on")
    return f"ordered_map() raised {describe_error(run.error)} after yielding {run.received} results"


# Where a generator's clean-up goes, and where a TaskGroup must not go.
_FINALLY = "cancel the calls still running and await them in a `finally:` around the loop"
_CLEAN_UP = f"{_FINALLY}, and never yield inside `async with TaskGroup()`"


def _judge(run: _Round, reference: float | None) -> str | None:
    """What is wrong with one round (None: nothing)."""
    if run.closed_in_group:
        return (f"closed after {EARLY} results, it raised an exception group holding GeneratorExit: it yields "
                "inside `async with TaskGroup()`, so the GeneratorExit that closing raises at the `yield` reaches "
                f"the group, which wraps it. Keep the calls in a deque of tasks (asyncio.create_task); {_FINALLY}")
    if run.not_iterator:
        return (f"ordered_map() returned a {run.not_iterator}, not an async iterator: make it an async generator "
                "(`yield item, outcome` inside an `async def`), so results come out while the rest still run")
    if run.error is not None or run.too_far is not None:
        return _judge_error(run)
    if run.most > CONCURRENCY:
        return (f"{run.most} calls ran at once with concurrency={CONCURRENCY}: start a call only while fewer than "
                "concurrency are running")
    if run.endless:
        if run.received < EARLY:
            return f"from an endless iterator it yielded only {run.received} results before it ended"
        if run.after_close or run.left_running:
            return (f"closed after {EARLY} results, it left {run.after_close or 'calls still running'}. Closing an "
                    "async generator (aclose(), or leaving `async with contextlib.aclosing(...)`) raises "
                    f"GeneratorExit at its `yield`: {_CLEAN_UP}")
        return None
    bad = [p for p in run.pairs if not (isinstance(p, tuple) and len(p) == 2)]
    if bad:
        return f"it yielded {bad[0]!r}: yield a pair (item, outcome) for each item"
    items = [item for item, _ in run.pairs]
    if sorted(items, key=repr) != sorted(range(ITEMS), key=repr):
        return f"it yielded {len(items)} pairs for {ITEMS} items: yield exactly one (item, outcome) for each item"
    if items != list(range(ITEMS)):
        position = next(i for i, item in enumerate(items) if item != i)
        return (f"the results are not in input order: at position {position} came item {items[position]}. "
                "Completion order (asyncio.wait, as_completed) hands each result out as it finishes; keep the "
                "calls in input order (a deque of tasks) and yield the oldest once it is done")
    for item, outcome in run.pairs:
        if item in run.failing:
            if not (isinstance(outcome, ItemError) and outcome.item == item):
                return (f"the call for item {item} raised ItemError, but its outcome is {outcome!r}: yield the "
                        "exception object itself, so the caller can see which item failed and why")
        elif outcome != _value(item):
            return f"the outcome for item {item} is {outcome!r}, expected what func returned, {_value(item)!r}"
    if run.left_running:
        ended = run.left_running.split(": ")[0]  # "ordered_map() ended with 2 task(s) still running (func x2)"
        return f"{ended}: await every call before it ends; {_CLEAN_UP}"
    if run.most < CONCURRENCY:
        return (f"never more than {run.most} call(s) ran at once, with concurrency={CONCURRENCY}: keep up to "
                "concurrency calls running (a task each) while you wait for the oldest")
    if reference is not None and run.elapsed > reference + EPSILON:
        return (f"it took {run.elapsed:.2f} s of virtual time, where a sliding window takes {reference:.2f} s on the "
                "same items: start the next item as soon as the oldest has been yielded, not when a whole chunk "
                "is done (a chunk waits for its slowest item)")
    return None


def check_ordered_map(ordered_map, *, seed: int | None = None, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``ordered_map(func, items, concurrency)`` on the seeded rounds (or only the one ``seed`` names)."""
    if not callable(ordered_map):
        return not_a_function(ordered_map, "check_ordered_map(ordered_map)")
    seeds = range(ROUNDS + 1) if seed is None else [seed]
    for round_seed in seeds:
        note = replay("check_ordered_map", getattr(ordered_map, "__name__", "ordered_map"), round_seed)
        outcome = run_guarded(_run(ordered_map, _plan(round_seed)), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if problem := outcome.not_judged(
                note=note,
                timeout="Does it stop when the iterator is exhausted?",
                deadlock="Is something waiting that nothing will ever wake?",
                hung="Wait with `await`, never time.sleep(), and await something that takes time "
                     "between two items."):
            return Verdict(False, problem)
        run = outcome.value
        reference = None
        if not run.endless:
            timed = run_guarded(_run(_window, _plan(round_seed)), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
            reference = timed.value.elapsed if timed.ok else None
        problem = _judge(run, reference)
        if problem:
            return Verdict(False, f"{problem} {note}")
    if seed is not None:
        return Verdict(True, f"the round with seed {seed} kept every promise.")
    return Verdict(True, f"{ROUNDS} streams of {ITEMS:,} items came out in input order with every error in its "
                         f"place, at most {CONCURRENCY} calls at once and never more than {AHEAD} items taken ahead "
                         "of the consumer, as fast as a sliding window; and an endless stream closed early left "
                         "nothing running.")
