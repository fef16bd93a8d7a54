import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns import Trace, run_virtual
from asyncio_patterns.demos.lock.race import first_lanes, race_demo, thread_race


def test_without_a_lock_every_task_reads_the_same_value():
    result = race_demo(tasks=100, use_lock=False, delay=0.01)
    assert (result.total, result.lost) == (1, 99)
    assert {value for _, _, value in result.reads} == {0}
    assert repr(result) == "100 increments without a lock: total 1 (expected 100, 99 lost)"


def test_with_the_lock_no_update_is_lost_and_each_task_reads_the_last_write():
    result = race_demo(tasks=100, use_lock=True, delay=0.01)
    assert result.total == 100
    assert [value for _, _, value in result.reads] == list(range(100))


def test_the_race_gives_the_same_result_every_run():
    runs = {(r.total, r.reads, r.writes) for r in (race_demo(tasks=100, spacing=0.004) for _ in range(20))}
    assert len(runs) == 1
    assert next(iter(runs))[0] == 34


def test_spacing_and_delay_change_how_many_updates_are_lost():
    assert race_demo(tasks=100, spacing=0.02, delay=0.01).total == 100  # no overlap, no loss
    assert race_demo(tasks=100, delay=0).total == 1  # sleep(0) still lets the others run


@pytest.mark.parametrize("kwargs, message", [
    (dict(tasks=0), "tasks must be a whole number >= 1, got 0"),
    (dict(tasks=2.5), "tasks must be a whole number >= 1, got 2.5"),
    (dict(delay=-1), "delay must be a number of seconds >= 0, got -1"),
    (dict(spacing="fast"), "spacing must be a number of seconds >= 0, got 'fast'"),
])
def test_bad_knobs_get_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        race_demo(**kwargs)


def test_timeline_shows_only_the_first_lanes():
    result = race_demo(tasks=20, spacing=0.003)
    assert first_lanes(result.trace, 5).lanes() == [f"task {i}" for i in range(5)]
    ax = result.timeline(lanes=5)
    assert "updates lost" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"task {i}" for i in range(5)]
    plt.close(ax.figure)


def test_timeline_in_milliseconds_puts_the_read_and_write_markers_on_the_same_scale():
    result = race_demo(tasks=3, spacing=0.003)
    ax = result.timeline(unit="ms")
    assert ax.get_xlabel() == "time (ms)"
    reads = next(line for line in ax.get_lines() if line.get_label() == "read (value)")
    writes = next(line for line in ax.get_lines() if line.get_label() == "write (value)")
    assert list(reads.get_xdata()) == pytest.approx([0, 3, 6])
    assert list(writes.get_xdata()) == pytest.approx([10, 13, 16])
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="unit must be one of"):
        result.timeline(unit="minutes")


def test_first_lanes_validates_and_copies():
    trace = Trace()

    async def main():
        with trace.span("x", lane="a"):
            pass
        trace.mark("m", lane="b")

    run_virtual(main())
    assert first_lanes(trace, 1).lanes() == ["a"]
    with pytest.raises(ValueError, match="lanes must be"):
        first_lanes(trace, 0)


def test_threads_lose_updates_without_a_lock_and_none_with_one():
    unlocked = thread_race(threads=4, increments=300)
    assert (unlocked.total, unlocked.lost, unlocked.lost_updates) == (300, 900, True)
    assert repr(unlocked) == "4 threads x 300 increments without a lock: total 300 (expected 1200, 900 lost)"
    locked = thread_race(threads=4, increments=300, use_lock=True)
    assert (locked.total, locked.lost_updates) == (1200, False)
    assert repr(locked) == "4 threads x 300 increments with threading.Lock: total 1200 (expected 1200, 0 lost)"


def test_the_thread_race_gives_the_same_totals_every_run():
    # The forced switch (a Barrier between the read and the write) makes the loss exact,
    # whatever the scheduler does: each round of `threads` increments adds one.
    assert {thread_race(threads=3, increments=50).total for _ in range(10)} == {50}
    assert {thread_race(threads=3, increments=50, use_lock=True).total for _ in range(10)} == {150}
    assert thread_race(threads=1, increments=10).total == 10  # alone, nothing to lose


def test_the_default_race_gives_the_same_wrong_total_twenty_times():
    assert {race_demo(tasks=100, use_lock=False, delay=0.01).total for _ in range(20)} == {1}
    assert {race_demo(tasks=100, use_lock=True, delay=0.01).total for _ in range(20)} == {100}
