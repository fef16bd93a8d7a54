"""Lesson 06's live panel: the thundering herd, by backoff strategy, number of clients and seed."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from .herd import STRATEGIES, HerdRun, herd, herd_load_plot

__all__ = ["herd_figure", "herd_panel", "herd_title"]

SHOWN = 5.0  # seconds drawn at least, as in the lesson's figure; a longer run is drawn to its end


def herd_title(run: HerdRun) -> str:
    """What the room sees, counted from the run."""
    return (f"{run.strategy}, {run.clients} clients: {run.calls} writes for {run.clients} updates "
            f"({run.collisions} collided), all done at {run.finished:.2f} s")


def herd_figure(strategy: str = "exponential", clients: int = 50, seed: int = 0) -> Figure:
    """Writes reaching the row over time: the first 5 s, as in the lesson's figure of the five
    strategies, or the whole run when it lasts longer (exponential backoff's, up to 35 s)."""
    fig, ax = panel_figure(3.0, legend=False)
    run = herd(strategy, clients=clients, seed=seed)
    herd_load_plot([run], title="", axes=[ax])
    ax.set_xlim(0, max(SHOWN, 1.02 * run.finished))
    ax.set_title(herd_title(run))
    return fig


def herd_panel() -> Panel:
    """Backoff strategy, clients and seed: how many writes the herd makes, and when they land."""
    return Panel(herd_figure, strategy=list(STRATEGIES), clients=range(5, 51, 5), seed=range(0, 10))
