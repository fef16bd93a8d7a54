"""Lesson 02's live panel: a semaphore's limit and the number of requests, as waves on a timeline."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from .slots import slots_demo

__all__ = ["slots_figure", "slots_panel"]


def slots_figure(tasks: int = 12, limit: int = 4) -> Figure:
    """``tasks`` requests of 50 ms through ``Semaphore(limit)``: one lane per request."""
    fig, ax = panel_figure(1.1 + 0.3 * tasks)
    slots_demo(tasks=tasks, limit=limit, latency=0.05).timeline(ax=ax, unit="ms")
    return fig


def slots_panel() -> Panel:
    """The semaphore's limit and how many requests go through it."""
    return Panel(slots_figure, tasks=range(1, 17), limit=range(1, 13))
