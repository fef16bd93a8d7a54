"""Lesson 09's panel: the closed loop at one pool size, traced, and its title beside theory."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns import Trace, run_virtual
from asyncio_patterns.demos.pool.panels import starvation_figure
from asyncio_patterns.demos.pool.sweep import closed_loop


def lane(trace, name):
    return [(s.name, round(s.start, 6), round(s.end, 6)) for s in sorted(trace.spans, key=lambda s: s.start)
            if s.lane == name]


def test_the_traced_loop_draws_waits_connects_and_uses_and_measures_the_same():
    trace = Trace()
    traced = run_virtual(closed_loop(1, clients=2, requests=2, service_time=0.1, connect_cost=0.05, trace=trace))
    plain = run_virtual(closed_loop(1, clients=2, requests=2, service_time=0.1, connect_cost=0.05))
    assert traced == plain
    assert lane(trace, "client 1") == [("connecting", 0.0, 0.05), ("conn 1", 0.05, 0.15),
                                       ("waiting", 0.15, 0.25), ("conn 1", 0.25, 0.35)]
    assert lane(trace, "client 2") == [("waiting", 0.0, 0.15), ("conn 1", 0.15, 0.25),
                                       ("waiting", 0.25, 0.35), ("conn 1", 0.35, 0.45)]


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "A pool of 4, 16 clients: acquires wait 60 ms on average (theory 60); 197.5 requests/s (Little's law 200)"),
    ({"size": 1}, "A pool of 1, 16 clients: acquires wait 298 ms on average (theory 300); 49.8 requests/s "
                  "(Little's law 50)"),
    ({"size": 16}, "A pool of 16, 16 clients: acquires wait 1 ms on average (theory 0); 761.9 requests/s "
                   "(Little's law 800)"),
    # Little's law gives the mean: at 12 most acquires wait nothing (the median is 0 ms), a third wait 20 ms
    ({"size": 12}, "A pool of 12, 16 clients: acquires wait 6 ms on average (theory 7); 516.1 requests/s "
                   "(Little's law 600)"),
    ({"size": 1, "clients": 32, "service_ms": 100},
     "A pool of 1, 32 clients: acquires wait 3070 ms on average (theory 3100); 10.0 requests/s (Little's law 10)"),
])
def test_the_panel_title_gives_the_wait_and_the_throughput_beside_theory(knobs, title):
    fig = starvation_figure(**knobs)
    assert fig.axes[0].get_title() == title
    assert len(fig.axes[0].get_yticks()) == min(knobs.get("clients", 16), 6)
    plt.close(fig)


def test_the_panel_draws_one_colour_for_every_connection_so_its_legend_stays_short():
    fig = starvation_figure(size=32, clients=32)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert sorted(labels) == ["connecting", "using a connection"]  # 32 connections: nobody waits
    plt.close(fig)
    fig = starvation_figure(size=2)
    assert sorted(t.get_text() for t in fig.axes[0].get_legend().get_texts()) == [
        "connecting", "using a connection", "waiting"]
    plt.close(fig)
