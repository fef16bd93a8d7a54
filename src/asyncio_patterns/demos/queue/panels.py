"""Lesson 01's live panel: backpressure on a timeline, with the queue's maxsize, the consumers and the producer's pace on knobs."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from .backpressure import backpressure_demo

__all__ = ["backpressure_figure", "backpressure_panel"]


def backpressure_figure(maxsize: int = 2, consumers: int = 2, every_ms: int = 50) -> Figure:
    """Ten items made one every ``every_ms``, 0.3 s of work each, through a queue of
    ``maxsize`` (0: unbounded): the producer's and the consumers' timeline."""
    fig, ax = panel_figure(1.1 + 0.38 * (consumers + 1))
    backpressure_demo(maxsize=maxsize, consumers=consumers, every=every_ms / 1000).timeline(ax=ax)
    return fig


def backpressure_panel() -> Panel:
    """The queue's maxsize, the number of consumers and how fast the producer makes items."""
    return Panel(backpressure_figure, maxsize=[0, 1, 2, 3, 4, 6, 8], consumers=range(1, 9),
                 every_ms=[10, 20, 30, 50, 100, 150, 200, 300])
