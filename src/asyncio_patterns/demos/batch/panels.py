"""Lesson 10's live panel: chunked gather against a sliding window, on long-tailed latencies."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from ...lab.plots import timeline
from ...lab.trace import Mark
from .strategies import STRATEGIES, draw_latencies, strategy_trace

__all__ = ["chunks_figure", "chunks_panel"]

ITEMS = 12
SEED = 3  # the lesson's draw: 27, 79, 46, 93, 98, 7, 1, 182, 30, 27, 544, 64 ms at spread 1


def chunks_figure(strategy: str = "chunked gather", concurrency: int = 3, spread: float = 1.0) -> Figure:
    """Lesson 10's twelve latencies (mean 100 ms, seeded) through ``strategy``, ``concurrency``
    at a time. Dashed: the ideal, total work / N; dotted: a window's bound, the ideal plus
    (1 - 1/N) x the longest item (Graham's bound for greedy scheduling)."""
    latencies = draw_latencies(ITEMS, mean=0.1, spread=spread, seed=SEED)
    trace = strategy_trace(strategy, latencies, concurrency)
    ideal = sum(latencies) / concurrency
    bound = ideal + (1 - 1 / concurrency) * max(latencies)
    trace.marks += [Mark("item 0", "ideal: total work / N", trace.origin + ideal),
                    Mark("item 0", "a window's bound", trace.origin + bound)]
    done = max(span.end for span in trace.spans) - trace.origin
    fig, ax = panel_figure(1.1 + 0.3 * ITEMS)
    timeline(trace, ax=ax, unit="ms", title=(
        f"{strategy}, {concurrency} at a time: done at {done * 1000:.0f} ms, "
        f"{done / ideal:.2f} x the ideal ({ideal * 1000:.0f} ms)"))
    return fig


def chunks_panel() -> Panel:
    """The strategy, how many at a time, and the spread of the latencies."""
    return Panel(chunks_figure, strategy=list(STRATEGIES), concurrency=range(1, 13),
                 spread=[0.0, 0.25, 0.5, 0.75, 1.0])
