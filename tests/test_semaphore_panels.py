import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.semaphore import slots_demo
from asyncio_patterns.demos.semaphore.panels import slots_figure


def in_flight(result):
    return sorted((round(s.start, 6), round(s.end, 6)) for s in result.trace.spans if s.name == "request in flight")


def test_twelve_requests_through_four_slots_go_in_three_waves():
    result = slots_demo(tasks=12, limit=4, latency=0.05)
    assert in_flight(result) == [(0.0, 0.05)] * 4 + [(0.05, 0.1)] * 4 + [(0.1, 0.15)] * 4
    assert (result.most_in_flight, result.waves) == (4, 3)
    assert round(result.elapsed, 9) == round(result.predicted, 9) == 0.15
    assert repr(result) == "12 requests through Semaphore(4): at most 4 in flight, done in 150 ms"


def test_a_limit_above_the_number_of_requests_lets_all_go_at_once():
    result = slots_demo(tasks=5, limit=12)
    assert (result.most_in_flight, result.waves, round(result.elapsed, 9)) == (5, 1, 0.05)


@pytest.mark.parametrize(("knobs", "title", "theory"), [
    ({}, "At most 4 of 12 requests in flight: 3 waves of 50 ms, done at 150 ms", "theory: ⌈12 / 4⌉ × 50 ms = 150 ms"),
    ({"tasks": 16, "limit": 1}, "At most 1 of 16 requests in flight: 16 waves of 50 ms, done at 800 ms",
     "theory: ⌈16 / 1⌉ × 50 ms = 800 ms"),
    ({"tasks": 1}, "At most 1 of 1 request in flight: 1 wave of 50 ms, done at 50 ms", "theory: ⌈1 / 4⌉ × 50 ms = 50 ms"),
    ({"limit": 5}, "At most 5 of 12 requests in flight: 3 waves of 50 ms, done at 150 ms", "theory: ⌈12 / 5⌉ × 50 ms = 150 ms"),
])
def test_the_panel_title_counts_the_waves(knobs, title, theory):
    fig = slots_figure(**knobs)
    ax = fig.axes[0]
    assert ax.get_title() == title
    assert ax.get_legend().get_texts()[-1].get_text() == theory
    plt.close(fig)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(tasks=0), "tasks must be a whole number >= 1, got 0"),
    (dict(limit=0), "limit must be a whole number >= 1, got 0"),
    (dict(latency=0), "latency must be a number of seconds > 0, got 0"),
])
def test_bad_arguments_get_one_line_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        slots_demo(**kwargs)
    assert str(error.value) == message
