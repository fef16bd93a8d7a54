import asyncio

import pytest

from asyncio_patterns import Deadlock, run_virtual
from asyncio_patterns import BoundedBuffer
from asyncio_patterns.demos.condition.handoff import PUT_WAIT, handoff_demo, handoff_rate


def test_fifo_and_bounded():
    async def main():
        buffer = BoundedBuffer(2)
        await buffer.put(1)
        await buffer.put(2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                await buffer.put(3)  # full: waits
        return [await buffer.get(), await buffer.get()], len(buffer), repr(buffer)

    assert run_virtual(main()) == ([1, 2], 0, "BoundedBuffer(0/2 items)")


def test_get_waits_for_an_item():
    async def main():
        buffer = BoundedBuffer(1)
        getter = asyncio.create_task(buffer.get())
        await asyncio.sleep(0.5)
        await buffer.put("x")
        return await getter, asyncio.get_running_loop().time()

    assert run_virtual(main()) == ("x", 0.5)


def test_empty_buffer_get_without_producer_is_a_deadlock():
    with pytest.raises(Deadlock):
        run_virtual(BoundedBuffer(1).get())


def test_a_getter_cancelled_after_its_notify_passes_it_on():
    async def main():
        buffer = BoundedBuffer(1)
        first = asyncio.create_task(buffer.get(), name="first")
        second = asyncio.create_task(buffer.get(), name="second")
        await asyncio.sleep(0.1)
        await buffer.put("item")  # notifies `first`...
        first.cancel()  # ...which is cancelled before it runs
        async with asyncio.timeout(1):
            got = await second
        return got, first.cancelled()

    assert run_virtual(main()) == ("item", True)


def test_condition_buffer_and_queue_behave_the_same():
    def spans(kind):
        return [(s.lane, s.name, round(s.start, 9), round(s.end, 9)) for s in handoff_demo(kind).spans]

    assert spans("condition") == spans("queue")
    assert handoff_demo("queue").total(PUT_WAIT) > 0


def test_a_bigger_buffer_hands_off_faster_and_the_queue_is_faster_than_the_condition():
    # What lesson 05 plots, in real time, with wide margins (measured 64 against 1: about 4x
    # for the Condition on 3.11 but 1.9x on 3.13, whose Condition also passes a wake-up on, and
    # 8x for the Queue; Queue against Condition at 64 about 2.5x, 6x on 3.13). With maxsize=1
    # every item costs a switch between producer and consumer; with 64 they work in batches.
    condition = handoff_rate("condition", [1, 64], items=2000, repeat=3)
    queue = handoff_rate("queue", [1, 64], items=2000, repeat=3)
    assert condition[1] > 1.2 * condition[0] and queue[1] > 2 * queue[0], (condition, queue)
    assert queue[1] > condition[1], (condition, queue)


@pytest.mark.parametrize("make", [BoundedBuffer, asyncio.Queue], ids=["condition", "queue"])
def test_waiters_are_woken_in_order_but_a_caller_that_finds_an_item_takes_it(make):
    async def main():
        buffer = make(2)
        first = asyncio.create_task(buffer.get(), name="first")
        second = asyncio.create_task(buffer.get(), name="second")
        await asyncio.sleep(0.1)
        await buffer.put("a")
        await buffer.put("b")
        in_order = [await first, await second]
        waiting = asyncio.create_task(buffer.get(), name="waiting")
        await asyncio.sleep(0.1)
        await buffer.put("c")  # wakes `waiting`, which has not run yet...
        late = await buffer.get()  # ...so this caller finds "c" and takes it at once
        await asyncio.sleep(0.1)
        still_waiting = not waiting.done()
        waiting.cancel()
        return in_order, late, still_waiting

    assert run_virtual(main()) == (["a", "b"], "c", True)


def test_bad_input_gets_a_clear_message():
    with pytest.raises(ValueError, match="maxsize must be a whole number >= 1, got 0"):
        BoundedBuffer(0)
    with pytest.raises(ValueError, match="kind must be one of"):
        handoff_demo("pipe")
    for maxsizes in (8, [], "18"):
        with pytest.raises(ValueError, match=r"maxsizes must be a non-empty list of buffer sizes, e\.g\. \[1, 4, 16\]"):
            handoff_rate("queue", maxsizes)


def test_handoff_rate_takes_any_iterable_of_sizes():
    assert len(handoff_rate("queue", (size for size in [1, 2]), items=50, repeat=1)) == 2


def test_a_putter_cancelled_after_its_notify_passes_it_on():
    async def main():
        buffer = BoundedBuffer(1)
        await buffer.put("old")
        first = asyncio.create_task(buffer.put("first"), name="first")
        second = asyncio.create_task(buffer.put("second"), name="second")
        await asyncio.sleep(0.1)
        await buffer.get()  # makes room and notifies `first`...
        first.cancel()  # ...which is cancelled before it runs
        async with asyncio.timeout(1):
            await second
        return await buffer.get()

    assert run_virtual(main()) == "second"
