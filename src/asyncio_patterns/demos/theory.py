"""What theory predicts on a timeline: a vertical line at the predicted moment, in the legend."""

from __future__ import annotations

from matplotlib.axes import Axes

from ..lab.plots import time_scale

__all__ = ["theory_line"]


def theory_line(ax: Axes, seconds: float, label: str, *, unit: str = "s", linestyle: str = "--") -> Axes:
    """Draw a black vertical line at ``seconds`` on a timeline drawn by
    :func:`~asyncio_patterns.lab.plots.timeline` in ``unit``, and add it, as ``label``, to
    the end of the timeline's legend (kept outside the axes, on the right)."""
    scale = time_scale(unit)
    line = ax.axvline(seconds * scale, color="black", linestyle=linestyle, linewidth=1.5 if linestyle == ":" else 1,
                      label=label)
    old = ax.get_legend()
    ax.legend(handles=[*old.legend_handles, line], loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax
