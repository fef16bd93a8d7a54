"""Lesson 11's panel: the outage in virtual time, exactly, with and without a breaker."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns import run_virtual
from asyncio_patterns.demos.breaker.outage import load_theory, virtual_outage_run
from asyncio_patterns.demos.breaker.panels import outage_figure


def test_without_a_breaker_the_outage_gets_one_request_per_client_per_pause():
    run = run_virtual(virtual_outage_run(breaker=False))
    assert run.outcomes(0.3, 1.3) == {"ok": 0, "503": 200, "rejected": 0}
    assert run.samples[-1][1] == len(run.requests) == 280
    assert load_theory(run)[-1] == (1.6, 280.0)


def test_with_a_breaker_the_outage_costs_the_trip_and_one_trial_per_reset_timeout():
    run = run_virtual(virtual_outage_run(breaker=True))
    assert run.outcomes(0.3, 1.3) == {"ok": 0, "503": 11, "rejected": 189}
    opened = [round(t, 6) for t, state in run.states if state == "open"]
    assert opened == [0.32, 0.47, 0.62, 0.77, 0.92, 1.07, 1.22]  # 5 failures, then a failed trial each 0.15 s
    assert [(round(t, 6), state) for t, state in run.states[-2:]] == [(1.37, "half-open"), (1.38, "closed")]  # the trial answered after 10 ms


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "A breaker (5 failures, reset 150 ms): 11 requests reached the server in the 1 s outage "
         "(at most 15), 189 rejected"),
    ({"breaker": False}, "No breaker: 200 requests reached the server in the 1 s outage (theory 4 / 0.02 s x 1 s = 200)"),
    ({"breaker": False, "clients": 8},
     "No breaker: 400 requests reached the server in the 1 s outage (theory 8 / 0.02 s x 1 s = 400)"),
    ({"failure_threshold": 1, "reset_ms": 50, "clients": 1},
     "A breaker (1 failure, reset 50 ms): 17 requests reached the server in the 1 s outage (at most 21), 33 rejected"),
])
def test_the_panel_title_counts_what_reached_the_server(knobs, title):
    fig = outage_figure(**knobs)
    assert fig.axes[0].get_title() == title
    plt.close(fig)
