"""Two plots the lessons use everywhere: a timeline of a trace, and a sweep of a knob.

Both draw on a new figure unless given axes, return the axes, and want a ``title`` that
states the takeaway ("Without the lock, updates are lost").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .measure import Measurement
from .trace import Trace

__all__ = ["plain_numbers", "sweep_plot", "time_scale", "timeline"]

_UNITS = {"s": 1.0, "ms": 1000.0}


def time_scale(unit: str) -> float:
    """Seconds to ``unit`` ("s" or "ms"): the factor the time axes here are drawn with."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    return _UNITS[unit]


def timeline(trace: Trace, *, title: str, unit: str = "s", colors: dict[str, str] | None = None, ax: Axes | None = None) -> Axes:
    """One lane per task (top to bottom in order of first activity), one bar per span,
    coloured by span name; marks are dashed vertical lines. Time counts from the first event.

    Colours come from ``trace.colors``, then ``colors`` (which wins), then the default cycle."""
    if not trace.spans and not trace.marks:
        raise ValueError("the trace is empty: record spans with trace.span(...) inside the run first")
    scale = time_scale(unit)
    lanes = trace.lanes()
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = ({name: palette[i % len(palette)] for i, name in enumerate(trace.names())}
              | trace.colors | (colors or {}))
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.9 + 0.38 * len(lanes)))
    row = {lane: i for i, lane in enumerate(lanes)}
    origin = trace.origin
    bars: dict[str, list[tuple[float, float, int]]] = {}  # one collection per colour: fast to draw
    for span in trace.spans:
        bars.setdefault(span.name, []).append(((span.start - origin) * scale, span.duration * scale, row[span.lane]))
    for name, spans in bars.items():
        boxes = [[(x, y - 0.38), (x, y + 0.38), (x + w, y + 0.38), (x + w, y - 0.38)] for x, w, y in spans]
        ax.add_collection(PolyCollection(boxes, facecolors=colors[name], edgecolor="white", linewidth=0.5))
    ax.autoscale_view()
    handles = [Patch(color=colors[name], label=name) for name in trace.names()]
    for i, name in enumerate(dict.fromkeys(m.name for m in trace.marks)):
        style = dict(color="black", linestyle=("--", ":", "-.")[i % 3], linewidth=1)
        for mark in (m for m in trace.marks if m.name == name):
            ax.axvline((mark.time - origin) * scale, **style)
        handles.append(plt.Line2D([], [], label=name, **style))
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"time ({unit})")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax


def plain_numbers() -> FuncFormatter:
    """A tick formatter that writes plain numbers (1, 2, 4, 8, 0.5), not powers (2^0, 10^1),
    for log axes: ``ax.xaxis.set_major_formatter(plain_numbers())``, a new one per axis."""
    return FuncFormatter(lambda x, _: f"{x:g}")


def _theory_values(theory: Sequence[float] | Callable[[float], float], xs: Sequence[float]) -> list[float]:
    values = [theory(x) for x in xs] if callable(theory) else list(theory)
    if len(values) != len(xs):
        raise ValueError(f"theory has {len(values)} values for {len(xs)} x values")
    return values


def sweep_plot(
    xs: Sequence[float],
    results: Sequence[Measurement],
    *,
    xlabel: str,
    title: str,
    theory: Sequence[float] | Callable[[float], float] | None = None,
    theory_label: str = "theory",
    latency_theory: Sequence[float] | Callable[[float], float] | None = None,
    latency_theory_label: str = "theory",
    logx: bool = False,
) -> tuple[Axes, Axes]:
    """Throughput (left) and p50/p95 latency (right) against a knob such as concurrency.

    ``theory`` (jobs per second) and ``latency_theory`` (seconds, drawn in ms) are drawn
    dashed, each with its own label: a list of values at ``xs`` or a function of x.
    ``logx`` spaces x by powers of two, labelled 1, 2, 4, 8 (every x must be > 0).
    Returns the two axes.
    """
    # Every check comes before the figure exists, so bad input leaves no empty figure behind.
    if not xs:
        raise ValueError("nothing to plot: pass at least one x value and its measurement")
    if len(xs) != len(results):
        raise ValueError(f"need one measurement per x value, got {len(results)} for {len(xs)}")
    if logx and min(xs) <= 0:
        raise ValueError(f"logx needs every x value > 0, got {min(xs)}; drop that point or use logx=False")
    throughput_theory = None if theory is None else _theory_values(theory, xs)
    latency_theory_ms = None if latency_theory is None else [v * 1000 for v in _theory_values(latency_theory, xs)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.plot(xs, [r.throughput for r in results], "o-", label="measured")
    right.plot(xs, [r.p50 * 1000 for r in results], "o-", label="p50")
    right.plot(xs, [r.p95 * 1000 for r in results], "s-", label="p95")
    if throughput_theory is not None:
        left.plot(xs, throughput_theory, "k--", label=theory_label)
    if latency_theory_ms is not None:
        right.plot(xs, latency_theory_ms, "k--", label=latency_theory_label)
    left.set_ylabel("throughput (jobs/s)")
    right.set_ylabel("latency (ms)")
    for ax in (left, right):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        ax.set_ylim(bottom=0)
        if logx:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(plain_numbers())
    fig.suptitle(title)
    fig.tight_layout()
    return left, right
