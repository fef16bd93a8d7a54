"""Lesson 10's demos: the three strategies' schedules, the chunked theory, the spread sweep
and the stream census, all in virtual time."""

import math
import random

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns.demos.batch import (STRATEGIES, chunked_theory, draw_latencies, harmonic,  # noqa: E402
                                          spread_plot, spread_sweep, stream_census, stream_plot,
                                          strategy_trace)

LATENCIES = [0.3, 0.1, 0.1, 0.2, 0.1, 0.1]


def ends(trace):
    return {s.lane: round(s.end, 9) for s in trace.spans if s.name == "working"}


def test_chunked_gather_waits_for_each_chunks_slowest_item():
    trace = strategy_trace("chunked gather", LATENCIES, 3)
    # chunk 1 (0.3, 0.1, 0.1) ends at 0.3; chunk 2 starts then and ends at 0.5
    starts = {s.lane: round(s.start, 9) for s in trace.spans if s.name == "working"}
    assert starts == {"item 0": 0, "item 1": 0, "item 2": 0, "item 3": 0.3, "item 4": 0.3, "item 5": 0.3}
    assert max(ends(trace).values()) == 0.5
    assert trace.lanes() == [f"item {i}" for i in range(6)]


@pytest.mark.parametrize("name", ["semaphore", "worker pool", "bounded_map, completion order"])
def test_a_window_starts_the_next_item_when_any_slot_frees(name):
    trace = strategy_trace(name, LATENCIES, 3)
    starts = {s.lane: round(s.start, 9) for s in trace.spans if s.name == "working"}
    assert starts == {"item 0": 0, "item 1": 0, "item 2": 0, "item 3": 0.1, "item 4": 0.1, "item 5": 0.2}
    assert max(ends(trace).values()) == 0.3
    waits = {s.lane: round(s.duration, 9) for s in trace.spans if s.name == "waiting"}
    assert waits == {"item 3": 0.1, "item 4": 0.1, "item 5": 0.2}


def test_draw_latencies_has_the_mean_and_the_spread():
    xs = draw_latencies(20_000, mean=0.1, spread=0.5, seed=1)
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    assert mean == pytest.approx(0.1, rel=0.02) and sd / mean == pytest.approx(0.5, rel=0.03)
    assert min(xs) >= 0.05  # the fixed part
    assert draw_latencies(5, spread=0) == [0.1] * 5
    with pytest.raises(ValueError, match="spread must be a number between 0 and 1"):
        draw_latencies(5, spread=1.5)


def test_harmonic_numbers_are_the_expected_maximum_of_exponentials():
    assert harmonic(1) == 1 and harmonic(3) == pytest.approx(11 / 6)
    rng = random.Random(0)
    slowest = sum(max(rng.expovariate(1) for _ in range(10)) for _ in range(20_000)) / 20_000
    assert slowest == pytest.approx(harmonic(10), rel=0.02)


def test_chunked_theory_counts_a_short_last_chunk():
    assert chunked_theory(20, 10, mean=0.1, spread=0) == pytest.approx(0.2)
    assert chunked_theory(25, 10, mean=1.0, spread=1) == pytest.approx(2 * harmonic(10) + harmonic(5))


def test_the_sweep_matches_theory_and_the_bound():
    sweep = spread_sweep([0, 1.0], items=200, concurrency=10, seeds=10)
    totals = sweep.totals
    assert set(totals) == set(STRATEGIES)
    assert all(t[0] == pytest.approx(2.0) for t in totals.values())  # alike items: all equal the ideal
    assert totals["chunked gather"][1] == pytest.approx(chunked_theory(200, 10, mean=0.1, spread=1), rel=0.1)
    for name in ["semaphore", "worker pool", "bounded_map, completion order"]:
        assert sweep.within_bound[name]
        assert totals[name][1] == pytest.approx(totals["semaphore"][1])
    assert totals["semaphore"][1] < totals["bounded_map, input order"][1] < totals["chunked gather"][1]
    spread_plot(sweep, title="t")
    plt.close("all")


def test_the_census_sees_every_item_held_by_a_task_per_item():
    many = stream_census("a task per item", 2000)
    assert many.most_tasks == 2000 and many.most_ahead == 2000 and many.elapsed == pytest.approx(10.0)
    few = stream_census("bounded_map", 2000)
    assert few.most_tasks == 10 and few.most_ahead == 10 and few.elapsed == pytest.approx(10.0)
    assert few.peak_bytes * 10 < many.peak_bytes
    bigger = stream_census("bounded_map", 8000)
    assert bigger.peak_bytes < 2 * few.peak_bytes  # flat, whatever the input
    stream_plot([many, few, bigger], title="t")
    plt.close("all")
    assert "2,000 items" in str(many)


@pytest.mark.parametrize("call, message", [
    (lambda: strategy_trace("chunks", [0.1], 2), "strategy must be one of"),
    (lambda: strategy_trace("semaphore", [], 2), "latencies must be a non-empty list"),
    (lambda: stream_census("all at once", 10), "way must be one of"),
    (lambda: stream_census("bounded_map", 10, concurrency=0), "concurrency must be a whole number >= 1"),
    (lambda: spread_sweep([2.0]), "spread must be a number between 0 and 1"),
])
def test_bad_arguments_say_what_to_change(call, message):
    with pytest.raises(ValueError, match=message):
        call()
