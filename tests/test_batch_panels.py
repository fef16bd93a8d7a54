"""Lesson 10's panel: the lesson's twelve latencies through each strategy, timed against the ideal."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.batch.panels import chunks_figure


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "chunked gather, 3 at a time: done at 902 ms, 2.26 x the ideal (399 ms)"),
    ({"strategy": "semaphore"}, "semaphore, 3 at a time: done at 693 ms, 1.74 x the ideal (399 ms)"),
    ({"strategy": "worker pool"}, "worker pool, 3 at a time: done at 693 ms, 1.74 x the ideal (399 ms)"),
    ({"strategy": "bounded_map, input order"},
     "bounded_map, input order, 3 at a time: done at 902 ms, 2.26 x the ideal (399 ms)"),
    ({"spread": 0.0}, "chunked gather, 3 at a time: done at 400 ms, 1.00 x the ideal (400 ms)"),
    ({"concurrency": 1}, "chunked gather, 1 at a time: done at 1197 ms, 1.00 x the ideal (1197 ms)"),
])
def test_the_panel_title_times_the_batch_against_the_ideal(knobs, title):
    fig = chunks_figure(**knobs)
    assert fig.axes[0].get_title() == title
    plt.close(fig)


def test_the_ideal_and_the_bound_are_drawn_where_theory_puts_them():
    fig = chunks_figure(strategy="semaphore")
    ax = fig.axes[0]
    ideal, bound = (line.get_xdata()[0] for line in ax.get_lines()[:2])
    assert round(ideal) == 399 and round(bound) == 761  # 1196.5 / 3, and that + 2/3 x 543.6
    plt.close(fig)
