"""Lesson 09's live panel: clients starving for a pool's connections, and the wait it costs."""

from __future__ import annotations

from statistics import fmean

from matplotlib.figure import Figure

from ...lab.clock import run_virtual
from ...lab.panel import Panel, panel_figure
from ...lab.plots import timeline
from ...lab.trace import Trace
from .sweep import closed_loop, little_throughput, little_wait
from .watch import COLORS

__all__ = ["starvation_figure", "starvation_panel"]

LANES = 6  # clients drawn; the others do the same
USES = 2  # requests drawn in each lane: the first two rounds, and the connects
USING = "using a connection"  # one colour for every connection: this picture is about waiting, not sharing
PANEL_COLORS = {"waiting": COLORS["waiting"], "connecting": COLORS["connecting"], USING: COLORS["conn 1"]}


def _first_uses(trace: Trace, clients: int) -> Trace:
    """The first ``USES`` requests (and the waits and connects before them) of the first ``LANES``
    clients, each use drawn as :data:`USING` whatever its connection (a legend of up to 32
    connections would cost more to draw than the rest of the picture, and say less)."""
    shown = Trace(colors=PANEL_COLORS)
    for lane in (f"client {i + 1}" for i in range(min(clients, LANES))):
        spans = sorted((s for s in trace.spans if s.lane == lane), key=lambda s: s.start)
        used = [s for s in spans if s.name.startswith("conn ")]
        end = used[min(USES, len(used)) - 1].end
        for span in spans:
            if span.end <= end:
                shown.add(lane, USING if span.name.startswith("conn ") else span.name, span.start, span.end)
    return shown


def starvation_figure(size: int = 4, clients: int = 16, service_ms: int = 20) -> Figure:
    """Lesson 09's sweep at one pool size: ``clients`` each make 50 requests of ``service_ms``
    through a pool of ``size`` (50 ms to open a connection). The first clients' first requests
    on a timeline; the title gives the mean wait to acquire and the throughput, each beside
    what Little's law says of those means (:func:`little_wait`, :func:`little_throughput`)."""
    service = service_ms / 1000
    trace = Trace(colors=COLORS)
    result = run_virtual(closed_loop(size, clients=clients, requests=50, service_time=service,
                                     connect_cost=0.05, trace=trace))
    fig, ax = panel_figure(1.1 + 0.38 * min(clients, LANES))
    timeline(_first_uses(trace, clients), ax=ax, unit="ms", title=(
        f"A pool of {size}, {clients} clients: acquires wait {fmean(result.latencies) * 1000:.0f} ms on average "
        f"(theory {little_wait(size, clients, service) * 1000:.0f}); {result.throughput:.1f} requests/s "
        f"(Little's law {little_throughput(size, clients, service):.0f})"))
    return fig


def starvation_panel() -> Panel:
    """Pool size, clients and the time each request holds its connection."""
    return Panel(starvation_figure, size=range(1, 33), clients=range(1, 33), service_ms=[5, 10, 20, 50, 100])
