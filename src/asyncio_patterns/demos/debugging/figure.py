"""The picture of a hang: where every task waited (a :class:`~asyncio_patterns.lab.stuck.Snapshot`,
drawn as its tree) beside the timeline of the same run, with the moment it was taken marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ...lab.plots import time_scale, timeline
from ...lab.stuck import Snapshot
from ...lab.trace import Trace

__all__ = ["stuck_figure"]


def stuck_figure(stuck: Snapshot, trace: Trace, *, title: str, unit: str = "s") -> Figure:
    """The snapshot's tree (left) and the trace's timeline (right), a dotted line at the
    snapshot's time. The tree is drawn as text in a fixed-width font: its lines are the
    snapshot's own, as ``print(stuck)`` shows them."""
    if stuck is None:
        raise ValueError("no snapshot: the run finished, nothing was stuck")
    lines = stuck.lines()
    text_width = 0.068 * max(len(line) for line in lines)  # inches, at 8 points in a fixed-width font
    lanes = trace.lanes()
    label_width = 0.075 * max((len(lane) for lane in lanes), default=0)  # the timeline's lane names
    fig, (left, right) = plt.subplots(1, 2, figsize=(text_width + label_width + 9.5, 1.4 + 0.36 * max(len(lines), len(lanes))),
                                      width_ratios=[text_width + label_width + 0.3, 6])
    left.axis("off")
    left.text(0, 1, "\n".join(lines), family="monospace", fontsize=8, va="top", transform=left.transAxes)
    left.set_title(f"where each task waited at t={stuck.time:g} s", fontsize=10, loc="left")
    timeline(trace, title=title, unit=unit, ax=right)
    moment = right.axvline((stuck.time - trace.origin) * time_scale(unit), color="black", linestyle=":",
                           linewidth=1.5, label="snapshot")
    handles = right.get_legend().legend_handles + [moment]
    right.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig
