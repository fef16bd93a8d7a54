"""bounded_map: a sliding window over a sync or async iterable, in virtual time, with exact
start times, the pull bound, both orders, errors kept with their items, and clean-up."""

import asyncio
import contextlib

import pytest

from asyncio_patterns import ItemResult, bounded_map, run_virtual

LATENCIES = [0.3, 0.1, 0.1, 0.1, 0.2, 0.1]  # item i sleeps LATENCIES[i]


class Recorder:
    """A func that sleeps each item's latency and records when each call starts and ends,
    how many run at once, and how many items the source has handed out."""

    def __init__(self, latencies, fail=()):
        self.latencies, self.fail = latencies, set(fail)
        self.starts, self.ends, self.cancelled = {}, {}, []
        self.running = self.most = self.pulled = 0

    async def source(self):
        for i in range(len(self.latencies)):
            self.pulled += 1
            yield i

    async def __call__(self, i):
        loop = asyncio.get_running_loop()
        self.starts[i] = loop.time()
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.latencies[i])
        except asyncio.CancelledError:
            self.cancelled.append(i)
            raise
        finally:
            self.running -= 1
        self.ends[i] = loop.time()
        if i in self.fail:
            raise ValueError(f"item {i} is bad")
        return i * 10


async def collect(func, items, **options):
    return [done async for done in bounded_map(func, items, **options)]


def test_completion_order_starts_each_item_when_a_slot_frees():
    rec = Recorder(LATENCIES)
    results = run_virtual(collect(rec, rec.source(), concurrency=2))
    # slots: item 0 at 0 (ends 0.3); item 1 at 0 (ends 0.1), 2 at 0.1, 3 at 0.2, 4 at 0.3, 5 at 0.3
    assert {i: round(t, 9) for i, t in rec.starts.items()} == {0: 0, 1: 0, 2: 0.1, 3: 0.2, 4: 0.3, 5: 0.3}
    assert [r.index for r in results] == [1, 2, 0, 3, 5, 4]
    assert [r.value for r in results] == [10, 20, 0, 30, 50, 40]
    assert rec.most == 2


def test_input_order_holds_the_window_until_the_head_is_yielded():
    rec = Recorder(LATENCIES)
    results = run_virtual(collect(rec, rec.source(), concurrency=2, ordered=True))
    assert [r.index for r in results] == list(range(6))
    # item 1 ends at 0.1 but keeps its place until item 0 ends at 0.3: 2 and 3 start then
    assert {i: round(t, 9) for i, t in rec.starts.items()} == {0: 0, 1: 0, 2: 0.3, 3: 0.3, 4: 0.4, 5: 0.4}


def test_a_sync_iterable_works_the_same():
    rec = Recorder(LATENCIES)
    results = run_virtual(collect(rec, range(6), concurrency=3, ordered=True))
    assert [r.item for r in results] == list(range(6))
    assert all(isinstance(r, ItemResult) and r.ok for r in results)


def test_it_never_holds_more_than_concurrency_items():
    seen = []

    async def main():
        rec = Recorder([0.01 * (i % 5 + 1) for i in range(200)])
        yielded = 0
        async for _ in bounded_map(rec, rec.source(), concurrency=4, ordered=True):
            seen.append(rec.pulled - yielded)
            yielded += 1
            if yielded % 50 == 0:
                await asyncio.sleep(1)  # a slow consumer: nothing more is pulled meanwhile
        return rec

    rec = run_virtual(main())
    assert max(seen) <= 4 and rec.most == 4


def test_an_endless_source_is_pulled_only_as_fast_as_it_is_worked():
    async def endless():
        i = 0
        while True:
            yield i
            i += 1

    async def slow(i):
        await asyncio.sleep(1)
        return i

    async def main():
        firsts = []
        async with contextlib.aclosing(bounded_map(slow, endless(), concurrency=3)) as results:
            async for done in results:
                firsts.append(done.value)
                if len(firsts) == 7:
                    break
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        return firsts, asyncio.get_running_loop().time(), left

    firsts, when, left = run_virtual(main())
    assert firsts == list(range(7)) and when == 3.0 and left == []


def test_errors_stay_with_their_items_and_the_rest_goes_on():
    rec = Recorder([0.1] * 6, fail={2, 4})
    results = run_virtual(collect(rec, rec.source(), concurrency=2, ordered=True))
    assert [r.ok for r in results] == [True, True, False, True, False, True]
    bad = results[2]
    assert bad.index == 2 and bad.item == 2 and isinstance(bad.error, ValueError) and bad.value is None
    with pytest.raises(ValueError, match="item 2 is bad"):
        bad.result()
    assert results[3].result() == 30


def test_stop_on_error_cancels_the_rest_and_names_the_item():
    rec = Recorder([0.1, 0.5, 0.5, 0.5], fail={0})

    async def main():
        try:
            await collect(rec, rec.source(), concurrency=3, stop_on_error=True)
        except ValueError as error:
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
            return error, asyncio.get_running_loop().time(), left

    error, when, left = run_virtual(main())
    assert when == pytest.approx(0.1) and left == [] and sorted(rec.cancelled) == [1, 2]
    assert error.__notes__ == ["while processing items[0] = 0"]


def test_closing_early_cancels_the_calls_in_flight_and_waits_for_them():
    rec = Recorder([0.1, 5, 5, 5])

    async def main():
        results = bounded_map(rec, rec.source(), concurrency=3)
        first = await anext(results)
        await results.aclose()
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        return first, left

    first, left = run_virtual(main())
    assert first.index == 0 and left == [] and sorted(rec.cancelled) == [1, 2]


def test_cancelling_the_consumer_cancels_the_calls():
    rec = Recorder([5, 5, 5])

    async def main():
        async def consume():
            async for _ in bounded_map(rec, rec.source(), concurrency=3):
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]

    assert run_virtual(main()) == [] and sorted(rec.cancelled) == [0, 1, 2]


def test_an_error_from_the_source_is_raised_after_the_calls_stop():
    rec = Recorder([1, 1, 1])

    async def broken():
        yield 0
        yield 1
        raise OSError("the file went away")

    async def main():
        with pytest.raises(OSError, match="went away"):
            await collect(rec, broken(), concurrency=3)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]

    assert run_virtual(main()) == [] and rec.starts == {}  # cancelled before they had begun


def test_a_func_that_fails_before_awaiting_is_that_items_error():
    def not_async(item):
        raise TypeError("not a coroutine function")

    results = run_virtual(collect(not_async, [1, 2], concurrency=2))
    assert [type(r.error) for r in results] == [TypeError, TypeError]


def test_empty_input_yields_nothing():
    assert run_virtual(collect(Recorder([]), [], concurrency=2)) == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_concurrency_must_be_a_whole_number(bad):
    async def main():
        await collect(Recorder([]), [], concurrency=bad)

    with pytest.raises(ValueError, match=r"concurrency must be a whole number >= 1, got"):
        run_virtual(main())
