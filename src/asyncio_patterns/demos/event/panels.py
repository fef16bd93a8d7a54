"""Lesson 03's live panel: the start signal, awaited with ``start.wait()`` or polled."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from .start import start_demo

__all__ = ["start_figure", "start_panel"]


def start_figure(poll_ms: int = 0, workers: int = 5, setup: float = 0.3) -> Figure:
    """The launch's timeline: ``workers`` workers, ``setup`` s of set-up, and each worker waiting
    with ``start.wait()`` (``poll_ms=0``) or checking ``start.is_set()`` every ``poll_ms``."""
    fig, ax = panel_figure(1.1 + 0.38 * (workers + 1))
    start_demo(workers=workers, setup=setup, poll=poll_ms / 1000).timeline(ax=ax)
    return fig


def start_panel() -> Panel:
    """The polling interval (0: start.wait()), the number of workers and the set-up's length."""
    return Panel(start_figure, poll_ms=[0, 15, 30, 70, 120, 200], workers=range(1, 9),
                 setup=[0.1, 0.2, 0.3, 0.4, 0.5])
