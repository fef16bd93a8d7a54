"""Lesson 11's demos: the tutorial breaker's defects, the outage run, and when each kind trips."""

import itertools

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns import CircuitBreaker, FailureRateBreaker, run_real  # noqa: E402
from asyncio_patterns.demos.breaker import (PATTERNS, burst, clock_demo, first_trip, half_open_stampede,  # noqa: E402
                                            load_plot, load_theory, outage_run, outage_timeline,
                                            rejected_coroutines, steady, trip_probability, trip_run, trip_share,
                                            trips_plot)


def test_the_tutorial_breaker_drops_one_coroutine_per_rejected_call():
    said, warned = rejected_coroutines(calls=3)
    assert said == ["Circuit breaker is open"] * 3
    assert warned == ["RuntimeWarning: coroutine 'fetch' was never awaited"] * 3


def test_the_wall_clock_keeps_the_tutorial_breaker_open():
    seen = clock_demo(reset_timeout=1.0, set_back=3600)
    assert seen.naive_virtual.startswith("rejected")
    assert seen.correct_virtual == "let a trial through"
    assert seen.naive_clock_set_back.startswith("rejected")


def test_half_open_lets_every_caller_through_only_in_the_tutorial_version():
    assert run_real(half_open_stampede(naive=True, callers=10)) == 10
    assert run_real(half_open_stampede(naive=False, callers=10)) == 1


@pytest.fixture(scope="module")
def runs():
    options = dict(outage=(0.1, 0.5), duration=0.6, reset_timeout=0.1)
    return {"no breaker": run_real(outage_run(breaker=False, **options)),
            "with a breaker": run_real(outage_run(breaker=True, **options))}


def test_outage_run_records_what_the_server_saw(runs):
    free, guarded = runs["no breaker"], runs["with a breaker"]
    assert free.outcomes()["rejected"] == 0 and free.states == []
    assert free.stats.failed == free.outcomes()["503"]  # every 503 a client saw, the server counted
    assert guarded.states[0][1] == "open" and guarded.states[-1][1] == "closed"
    assert guarded.outcomes(*guarded.outage)["rejected"] > 0
    assert guarded.stats.failed < free.stats.failed / 3
    assert guarded.samples[-1][1] == guarded.stats.requests


def test_load_theory_corners(runs):
    free, guarded = runs["no breaker"], runs["with a breaker"]
    normal = 4 / 0.03
    flat = [v for corner in load_theory(free) for v in corner]
    assert flat == pytest.approx([0, 0, 0.1, 0.1 * normal, 0.5, 0.1 * normal + 200 * 0.4, 0.6, 0.2 * normal + 80])
    trip = 0.1 + 4 * 0.02 / 4
    corners = load_theory(guarded)
    assert corners[2] == pytest.approx((trip, 0.1 * normal + 5))
    assert corners[3] == pytest.approx((0.5, 0.1 * normal + 5 + 3))  # trials at trip + 0.1, + 0.2, + 0.3
    assert corners[4] == pytest.approx((trip + 0.4, 0.1 * normal + 8))


def test_outage_plots_draw(runs):
    assert len(outage_timeline(runs, title="t")) == 2
    assert len(load_plot(runs, title="t").get_lines()) == 4
    plt.close("all")


def test_each_kind_trips_where_the_pattern_says():
    def kinds():
        return {"count": CircuitBreaker(failures=ConnectionError, failure_threshold=5, reset_timeout=10),
                "rate": FailureRateBreaker(failures=ConnectionError, failure_rate=0.25, window=40, min_calls=20, reset_timeout=10)}
    expected = {steady: {"count": None, "rate": 20}, burst: {"count": 55, "rate": None}}
    for pattern, by_kind in expected.items():
        for name, breaker in kinds().items():
            assert trip_run(breaker, pattern).tripped_at == by_kind[name]
        assert first_trip(pattern, 100, in_a_row=5) == by_kind["count"]
        assert first_trip(pattern, 100, rate=0.25, window=40, min_calls=20) == by_kind["rate"]
    trips = {label: {name: trip_run(b, pattern) for name, b in kinds().items()} for label, pattern in PATTERNS.items()}
    predicted = {label: {"count": None, "rate": None} for label in PATTERNS}
    assert len(trips_plot(trips, predicted, title="t")) == 2
    plt.close("all")


def test_trip_probability_is_exact():
    for p, k, n in [(0.3, 2, 6), (0.5, 3, 8), (0.9, 4, 7)]:
        brute = sum(p ** sum(seq) * (1 - p) ** (n - sum(seq))
                    for seq in itertools.product((0, 1), repeat=n) if "1" * k in "".join(map(str, seq)))
        assert trip_probability(p, k, n) == pytest.approx(brute)


def test_trip_share_measures_the_probability():
    share = trip_share(lambda: CircuitBreaker(failures=ConnectionError, failure_threshold=5), 0.3, runs=1000)
    assert abs(share - trip_probability(0.3, 5, 100)) < 4 * (0.153 * 0.847 / 1000) ** 0.5
