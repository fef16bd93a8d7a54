"""Lesson 11's live panel: clients through an outage, with a circuit breaker or without."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from ...lab.clock import run_virtual
from ...lab.panel import Panel, panel_figure
from .outage import OutageRun, outage_lanes, outage_legend, virtual_outage_run

__all__ = ["outage_figure", "outage_panel", "outage_title"]


def outage_title(run: OutageRun) -> str:
    """The requests that reached the server during the outage, beside what theory says:
    without a breaker, one per client per ``period`` (each 503 comes back at once); with
    one, at most the failures that trip it, the requests in flight then (one per other
    client) and one trial per reset timeout."""
    start, end = run.outage
    sent = [outcome for _, at, outcome in run.requests if start <= at < end]
    reached = sum(outcome != "rejected" for outcome in sent)
    length = end - start
    if run.breaker is None:
        return (f"No breaker: {reached} requests reached the server in the {length:g} s outage "
                f"(theory {run.clients} / {run.period:g} s x {length:g} s = {run.clients / run.period * length:.0f})")
    breaker = run.breaker
    trials = math.ceil(round(length / breaker.reset_timeout, 9))
    bound = breaker.failure_threshold + run.clients - 1 + trials
    failures = f"{breaker.failure_threshold} failure{'s' if breaker.failure_threshold > 1 else ''}"
    return (f"A breaker ({failures}, reset {breaker.reset_timeout * 1000:.0f} ms): "
            f"{reached} requests reached the server in the {length:g} s outage (at most {bound}), "
            f"{len(sent) - reached} rejected")


def outage_figure(breaker: bool = True, failure_threshold: int = 5, reset_ms: int = 150, clients: int = 4) -> Figure:
    """Lesson 11's outage in virtual time: 503 from 0.3 s to 1.3 s, 10 ms latency, each
    client waiting 20 ms between requests; a dot per request on its client's lane."""
    run = run_virtual(virtual_outage_run(breaker=breaker, clients=clients, failure_threshold=failure_threshold,
                                         reset_timeout=reset_ms / 1000))
    fig, ax = panel_figure(max(2.6, 1.1 + 0.38 * (clients + breaker)))  # room for the legend's seven rows
    outage_lanes(run, ax=ax, label="")
    outage_legend(ax)
    ax.set_title(outage_title(run))
    ax.set_xlim(0, run.duration)
    ax.set_xlabel("time since the start (s)")
    return fig


def outage_panel() -> Panel:
    """The breaker on or off, its failure threshold and reset timeout, and the clients."""
    return Panel(outage_figure, breaker=[False, True], failure_threshold=range(1, 21),
                 reset_ms=[50, 100, 150, 200, 300, 500], clients=range(1, 9))
