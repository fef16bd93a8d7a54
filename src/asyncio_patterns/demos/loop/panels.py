"""Lesson 00's live panel: the heartbeat beside workers that block the loop or await."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from .blocking import blocking_demo

__all__ = ["blocking_figure", "blocking_panel"]


def blocking_figure(workers: int = 3, sleep_ms: int = 100, blocking: bool = True) -> Figure:
    """The day's timeline: ``workers`` tasks each sleeping ``sleep_ms``, beside the heartbeat."""
    fig, ax = panel_figure(1.1 + 0.38 * (workers + 1))
    blocking_demo(workers=workers, seconds=sleep_ms / 1000, blocking=blocking).timeline(ax=ax, unit="ms")
    return fig


def blocking_panel() -> Panel:
    """Workers, how long each one sleeps, and time.sleep against await asyncio.sleep."""
    return Panel(blocking_figure, workers=range(1, 9), sleep_ms=range(10, 301, 10), blocking=[False, True])
