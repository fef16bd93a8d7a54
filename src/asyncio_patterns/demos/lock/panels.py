"""Lesson 04's live panels: the race, with the lock on or off; the deadlock, ordered or not."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from ...lab.plots import timeline
from .deadlock import deadlock_demo
from .race import race_demo

__all__ = ["deadlock_figure", "deadlock_panel", "race_figure", "race_panel"]


def race_figure(tasks: int = 6, use_lock: bool = False, spacing_ms: int = 3) -> Figure:
    """The race's timeline: ``tasks`` increments arriving ``spacing_ms`` apart, 10 ms each."""
    fig, ax = panel_figure(1.1 + 0.38 * min(tasks, 8))
    race_demo(tasks=tasks, use_lock=use_lock, delay=0.01, spacing=spacing_ms / 1000).timeline(ax=ax, unit="ms")
    return fig


def race_panel() -> Panel:
    """Tasks, arrival spacing and the lock: how many updates are lost, and where."""
    return Panel(race_figure, tasks=range(2, 41), spacing_ms=range(0, 21), use_lock=[False, True])


def deadlock_figure(locks: int = 2, ordered: bool = False) -> Figure:
    """Each task takes lock i, then lock i + 1: the cycle, or the global order that breaks it."""
    fig, ax = panel_figure(1.1 + 0.38 * locks)
    demo = deadlock_demo(locks=locks, ordered=ordered, timeout=0.5)
    title = ("A global lock order: every task gets both locks" if ordered else
             f"{locks} tasks, each holding one lock and waiting for the next: deadlock")
    timeline(demo.trace, ax=ax, unit="ms", title=title)
    return fig


def deadlock_panel() -> Panel:
    """Number of locks in the cycle, and the fix (a global order) on or off."""
    return Panel(deadlock_figure, locks=range(2, 9), ordered=[False, True])
