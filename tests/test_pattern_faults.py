"""Every pattern keeps its docstring's promise with a cancel at every await of the task that uses
it, an error from every call of its dependencies, and the ties at each instant in several orders.

The scenarios are in ``demos/testing/scenarios.py``; the bench prints the same as a table. A
scenario marked xfail fails on this code for the reason it names: the mark goes when the fix lands.
"""

import pytest

from asyncio_patterns.demos.testing.scenarios import SCENARIOS
from asyncio_patterns.lab.faults import explore

SEEDS = [None, 0, 1, 2, 3]  # asyncio's own order, and four shuffles of the ties

KNOWN: dict[str, str] = {}  # scenario name: the defect it still finds (none at present)

CASES = [
    pytest.param(scenario, id=scenario.name,
                 marks=[pytest.mark.xfail(strict=True, reason=KNOWN[scenario.name])] if scenario.name in KNOWN else [])
    for scenarios in SCENARIOS.values() for scenario in scenarios
]


@pytest.mark.parametrize("scenario", CASES)
def test_the_promise_holds_at_every_moment(scenario):
    report = explore(scenario, seeds=SEEDS)
    assert report.moments > 0
    assert report.ok, str(report)


def test_every_pattern_has_a_scenario():
    assert sorted(SCENARIOS) == sorted([
        "BoundedBuffer", "CircuitBreaker", "Pool", "TokenBucket", "WorkerPool", "bounded_map",
        "gather_with_timeouts", "hedged", "locked", "retry"])
    assert set(KNOWN) <= {s.name for scenarios in SCENARIOS.values() for s in scenarios}


# -- the checks have teeth: each rejects a plausible broken version of its pattern ----------------

import asyncio  # noqa: E402
import contextlib  # noqa: E402

from asyncio_patterns.demos.testing import scenarios as module  # noqa: E402


def only(name):
    return next(s for group in SCENARIOS.values() for s in group if s.name == name)


@contextlib.asynccontextmanager
async def locked_without_finally(lock, *, timeout):
    async with asyncio.timeout(timeout):
        await lock.acquire()
    yield
    lock.release()  # skipped when the block raises or is cancelled


def retry_that_retries_a_cancel(*, on, attempts, base, jitter):
    def decorate(function):
        async def retried():
            for number in range(attempts):
                try:
                    return await function()
                except BaseException:  # the mistake: a cancel is caught and retried like an error
                    if number == attempts - 1:
                        raise
                    await asyncio.sleep(base)
        return retried
    return decorate


class BufferThatDropsOnCancel:
    def __init__(self, maxsize):
        self.queue = asyncio.Queue(maxsize)

    def __len__(self):
        return self.queue.qsize()

    async def put(self, item):
        await self.queue.put(item)

    async def get(self):
        item = await self.queue.get()
        await asyncio.sleep(0)  # an await after the item was taken: a cancel here loses it
        return item


class BucketWithoutALimit:
    def __init__(self, rate, *, burst):
        pass

    async def acquire(self):
        await asyncio.sleep(0)


async def hedged_that_leaves_the_loser(request, *, after):
    first = asyncio.ensure_future(request())
    done, _ = await asyncio.wait([first], timeout=after)
    if not done:
        second = asyncio.ensure_future(request())
        done, _ = await asyncio.wait([first, second], return_when=asyncio.FIRST_COMPLETED)
    return done.pop().result()  # the mistake: the other copy runs on


async def bounded_map_that_forgets_its_calls(func, items, *, concurrency):
    from asyncio_patterns.patterns import ItemResult
    items = list(items)
    tasks = [asyncio.ensure_future(func(item)) for item in items]  # all at once, and never cancelled
    for index, task in enumerate(tasks):
        yield ItemResult(index, items[index], value=await task)


class BreakerThatKeepsACancelledTrial:
    """Opens on a failure; after reset_timeout lets one trial through, whose slot a cancel never frees."""

    def __init__(self, *, failure_threshold, reset_timeout, failures):
        from asyncio_patterns.patterns import BreakerStats
        self.stats, self.reset_timeout, self.failures = BreakerStats(), reset_timeout, failures
        self.opened_at, self.trial = None, False

    async def call(self, function):
        self.stats.calls += 1
        now = asyncio.get_running_loop().time()
        if self.opened_at is not None:
            if now - self.opened_at < self.reset_timeout or self.trial:
                self.stats.rejected += 1
                raise module.CircuitOpen("mutant", None)
            self.trial = True
        try:
            result = await function()
        except self.failures:
            self.stats.failed += 1
            self.opened_at, self.trial = asyncio.get_running_loop().time(), False
            raise
        except BaseException:
            self.stats.ignored += 1  # the mistake: the trial slot stays taken
            raise
        self.stats.succeeded += 1
        self.opened_at, self.trial = None, False
        return result


@pytest.mark.parametrize("scenario, name, broken, expected", [
    ("hedged", "hedged", hedged_that_leaves_the_loser, "left running"),
    ("bounded_map", "bounded_map", bounded_map_that_forgets_its_calls, "left running"),
    ("CircuitBreaker", "CircuitBreaker", BreakerThatKeepsACancelledTrial, "the trial slot was never freed"),
    ("locked", "locked", locked_without_finally, "the lock is still held after every task ended"),
    ("retry (succeeds at call 3)", "retry", retry_that_retries_a_cancel, "a call was made after the cancel"),
    ("BoundedBuffer (get tried)", "BoundedBuffer", BufferThatDropsOnCancel, "put and never got"),
    ("TokenBucket", "TokenBucket", BucketWithoutALimit, "more than the rate allows"),
])
def test_a_broken_pattern_is_caught(monkeypatch, scenario, name, broken, expected):
    monkeypatch.setattr(module, name, broken)
    report = explore(only(scenario), seeds=SEEDS)
    assert any(expected in problem for failure in report.failures for problem in failure.broken), str(report)
