"""Lesson 05's live panel: the stolen item, with ``if`` or ``while`` round the wait."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from ...lab.plots import timeline
from .wakeups import StolenItemResult, stolen_item_demo

__all__ = ["stolen_item_figure", "stolen_item_panel", "stolen_item_title"]


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def stolen_item_title(result: StolenItemResult) -> str:
    """What the room sees, counted from the run: the errors and unclaimed items with ``if``,
    the wake-ups that found nothing with ``while``."""
    if result.use_while:
        return (f"while: {_count(result.empty_wakeups, 'wake-up')} found the deque empty and waited again; "
                f"all {len(result.outcomes)} consumers got an item")
    errors = sum(text.startswith("IndexError") for text in result.outcomes.values())
    return (f"if: {_count(errors, 'woken consumer')} found the item taken and raised IndexError; "
            f"{_count(len(result.left), 'item')} left in the deque")


def stolen_item_figure(consumers: int = 2, use_while: bool = False, notify_all: bool = False) -> Figure:
    """The stolen item's timeline: half the consumers wait from the start, the others arrive
    one per round while the producer holds the lock, and take the item first."""
    fig, ax = panel_figure(1.1 + 0.38 * (consumers + 1))
    fig.subplots_adjust(right=1 - 4.6 / 12)  # room for the legend's long labels: drawn once, not twice
    result = stolen_item_demo(use_while=use_while, consumers=consumers, notify_all=notify_all)
    timeline(result.trace, ax=ax, unit="ms", title=stolen_item_title(result))
    return fig


def stolen_item_panel() -> Panel:
    """Consumers, ``if`` or ``while`` round the wait, and ``notify()`` or ``notify_all()``."""
    return Panel(stolen_item_figure, consumers=range(2, 7), use_while=[False, True], notify_all=[False, True])
