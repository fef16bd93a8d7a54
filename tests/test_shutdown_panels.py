"""Lesson 08's panel: a graceful stop hands back what a kill loses, at any moment of the signal."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.shutdown.jobservice import Config
from asyncio_patterns.demos.shutdown.panels import killed, shutdown_figure


def test_a_kill_loses_the_running_jobs_and_the_queued_ones():
    trace, counts = killed(Config(), 0.75)
    assert counts == {"accepted": 12, "completed": 3, "lost_running": 3, "lost_queued": 6}
    assert sorted((s.lane, s.start, s.end) for s in trace.spans if s.name == "lost job") == [
        (f"worker-{i}", 0.4, 0.75) for i in range(3)]
    assert [(m.name, m.time) for m in trace.marks] == [("SIGTERM: killed", 0.75)]


def test_a_kill_after_the_work_ran_out_loses_nothing():
    trace, counts = killed(Config(), 2.0)
    assert counts == {"accepted": 12, "completed": 12, "lost_running": 0, "lost_queued": 0}
    assert [(s.start, s.end) for s in trace.spans if s.lane == "service"] == [(0.0, 1.6)]


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "Graceful stop, SIGTERM at 0.41 s: 6 completed, 6 handed back, 0 lost"),
    ({"graceful": False}, "No handler, SIGTERM at 0.41 s kills it: 9 of 12 jobs lost (3 mid-way, 6 never started)"),
    ({"drain": 0.0}, "Graceful stop, SIGTERM at 0.41 s: 3 completed, 9 handed back, 0 lost"),
    ({"drain": 1.6}, "Graceful stop, SIGTERM at 0.41 s: 12 completed, 0 handed back, 0 lost"),
    ({"signal_ms": 1560, "graceful": False},
     "No handler, SIGTERM at 1.56 s kills it: 3 of 12 jobs lost (3 mid-way, 0 never started)"),
])
def test_the_panel_title_counts_the_jobs(knobs, title):
    fig = shutdown_figure(**knobs)
    assert fig.axes[0].get_title() == title
    plt.close(fig)
