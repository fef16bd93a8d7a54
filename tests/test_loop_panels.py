import matplotlib

matplotlib.use("Agg")

import asyncio

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns import VirtualClockError, run_real
from asyncio_patterns.demos.loop import blocking_demo, hold_the_loop
from asyncio_patterns.demos.loop.panels import blocking_figure


def spans(result, name):
    return [(s.lane, round(s.start, 6), round(s.end, 6)) for s in result.trace.spans if s.name == name]


def test_blocking_workers_take_turns_and_the_heartbeat_waits_for_all_of_them():
    result = blocking_demo(workers=3, seconds=0.1, blocking=True)
    assert spans(result, "time.sleep (loop blocked)") == [
        ("worker 0", 0.0, 0.1), ("worker 1", 0.1, 0.2), ("worker 2", 0.2, 0.3)]
    assert round(result.longest_gap, 6) == round(result.predicted_gap, 6) == 0.3
    assert repr(result) == "3 workers, time.sleep(0.1): the heartbeat's longest gap was 300 ms"


def test_awaiting_workers_wait_at_once_and_the_heartbeat_keeps_time():
    result = blocking_demo(workers=3, seconds=0.1, blocking=False)
    assert sorted(spans(result, "await asyncio.sleep")) == [(f"worker {i}", 0.0, 0.1) for i in range(3)]
    assert round(result.longest_gap, 6) == result.predicted_gap == 0.05


def test_a_block_shorter_than_a_beat_delays_no_beat():
    result = blocking_demo(workers=1, seconds=0.01, blocking=True)
    assert round(result.longest_gap, 6) == result.predicted_gap == 0.05


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "time.sleep holds the loop: the heartbeat's longest gap is 300 ms, not 50 ms"),
    ({"workers": 8, "sleep_ms": 300}, "time.sleep holds the loop: the heartbeat's longest gap is 2400 ms, not 50 ms"),
    ({"blocking": False}, "await asyncio.sleep: the heartbeat keeps time, its longest gap is 50 ms"),
    ({"workers": 1, "sleep_ms": 10}, "time.sleep: the heartbeat keeps time, its longest gap is 50 ms"),
])
def test_the_panel_title_says_what_the_heartbeat_did(knobs, title):
    fig = blocking_figure(**knobs)
    assert fig.axes[0].get_title() == title
    plt.close(fig)


def test_hold_the_loop_needs_the_virtual_clock():
    async def main():
        hold_the_loop(0.1)

    with pytest.raises(VirtualClockError, match=r"^hold_the_loop\(\) moves a virtual clock; run the coroutine with run_virtual\(\)$"):
        run_real(main())


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(workers=0), "workers must be a whole number >= 1, got 0"),
    (dict(seconds=-1), "seconds must be a number of seconds >= 0, got -1"),
])
def test_bad_arguments_get_one_line_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        blocking_demo(**kwargs)
    assert str(error.value) == message
