import asyncio

import pytest

from asyncio_patterns import Trace, run_virtual


def test_spans_record_lanes_names_and_times():
    trace = Trace()

    async def worker(delay):
        with trace.span("waiting"):
            await asyncio.sleep(delay)
        with trace.span("working"):
            await asyncio.sleep(1)
        trace.mark("done")

    async def main():
        async with asyncio.TaskGroup() as group:
            group.create_task(worker(2), name="slow")
            group.create_task(worker(1), name="fast")

    run_virtual(main())
    assert trace.lanes() == ["slow", "fast"]
    assert trace.names() == ["waiting", "working"]
    assert trace.total("waiting") == 3 and trace.total("working", lane="fast") == 1
    assert [(m.lane, m.time) for m in trace.marks] == [("fast", 2.0), ("slow", 3.0)]
    assert repr(trace) == "Trace(4 spans in 2 lanes over 3.000 s)"


def test_span_is_recorded_when_the_block_raises():
    trace = Trace()

    async def main():
        with pytest.raises(ZeroDivisionError):
            with trace.span("failing", lane="lane"):
                await asyncio.sleep(0.5)
                1 / 0

    run_virtual(main())
    assert [(s.lane, s.name, s.duration) for s in trace.spans] == [("lane", "failing", 0.5)]


def test_add_and_clear():
    trace = Trace()
    trace.add("a", "x", 1.0, 2.5)
    assert trace.origin == 1.0 and len(trace) == 1
    with pytest.raises(ValueError, match="must end after it starts"):
        trace.add("a", "x", 2.0, 1.0)
    trace.clear()
    assert len(trace) == 0 and repr(trace) == "Trace(no spans, 0 marks)"
