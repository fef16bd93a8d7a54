import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.queue import backpressure_demo
from asyncio_patterns.demos.queue.panels import backpressure_figure


def test_a_bounded_queue_holds_the_producer_back():
    result = backpressure_demo(maxsize=2, consumers=2, items=10, every=0.05, work=0.3)
    assert repr(result) == ("10 items, maxsize=2, 2 consumers: producer blocked 0.50 s, done at 1.00 s, "
                            "all done at 1.60 s, at most 2 waiting")


def test_unbounded_the_backlog_waits_in_the_queue_and_the_end_is_the_same():
    bounded, unbounded = backpressure_demo(maxsize=2), backpressure_demo(maxsize=0)
    assert (unbounded.blocked, round(unbounded.producer_done, 9), unbounded.most_waiting) == (0.0, 0.5, 6)
    assert round(unbounded.all_done, 9) == round(bounded.all_done, 9) == 1.6


def test_an_item_taken_the_moment_it_is_put_never_waited():
    result = backpressure_demo(consumers=8)
    assert result.queue.max_depth == 1  # the sample right after put
    assert result.most_waiting == 0


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "maxsize=2: the producer waits 0.50 s in put, at most 2 waiting in the queue, all done at 1.60 s"),
    ({"maxsize": 0}, "unbounded: the producer never waits, at most 6 waiting in the queue, all done at 1.60 s"),
    ({"consumers": 1}, "maxsize=2: the producer waits 1.65 s in put, at most 2 waiting in the queue, all done at 3.05 s"),
    ({"consumers": 8}, "maxsize=2: the producer never waits, no item ever waits in the queue, all done at 0.80 s"),
    ({"every_ms": 10}, "maxsize=2: the producer waits 0.82 s in put, at most 2 waiting in the queue, all done at 1.52 s"),
])
def test_the_panel_title_says_where_the_backlog_waits(knobs, title):
    fig = backpressure_figure(**knobs)
    assert fig.axes[0].get_title() == title
    plt.close(fig)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(maxsize=-1), "maxsize must be a whole number >= 0, got -1"),
    (dict(consumers=0), "consumers must be a whole number >= 1, got 0"),
    (dict(every=-0.1), "every must be a number of seconds >= 0, got -0.1"),
    (dict(work=0), "work must be a number of seconds > 0, got 0"),
])
def test_bad_arguments_get_one_line_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        backpressure_demo(**kwargs)
    assert str(error.value) == message
