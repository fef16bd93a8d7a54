"""How many events happened per second, window by window, and a plot of it.

    starts = [...]                  # loop times at which requests started
    rate_over_time(starts, width=0.1)
    rate_plot({"semaphore": starts}, limit=20, title="...")
    rate_panels({"semaphore": starts, "bucket": others}, limit=20, title="...")  # one panel each

A concurrency limit and a rate limit look alike until you count starts per second:
that is what this module does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .validate import seconds

__all__ = ["rate_over_time", "rate_panels", "rate_plot"]


def rate_over_time(
    times: Sequence[float], *, width: float = 0.1, start: float = 0.0, end: float | None = None
) -> tuple[list[float], list[float]]:
    """Events per second in consecutive windows ``[start + k*width, start + (k+1)*width)``.

    Returns ``(window starts, rates)``, with rates in events per second (count / width).
    The windows cover ``start`` up to ``end`` (default: just past the last event); events
    outside that range are not counted.
    """
    if isinstance(times, (str, bytes)) or not isinstance(times, Iterable):
        raise ValueError(f"times must be a list of event times in seconds, e.g. [0.0, 0.05, 0.1], got {times!r}")
    times = list(times)
    width = seconds("width", width, positive=True)
    if end is None:
        end = max(times, default=start) + width / 2
    if end < start:
        raise ValueError(f"end must not be before start, got start={start} end={end}")
    windows = max(1, math.ceil((end - start) / width - 1e-9))
    counts = [0] * windows
    for t in times:
        k = math.floor((t - start) / width + 1e-9)  # 1e-9: a start exactly on an edge belongs to the window it opens
        if 0 <= k < windows:
            counts[k] += 1
    return [start + k * width for k in range(windows)], [c / width for c in counts]


def _span(series: Mapping[str, Sequence[float]], width: float) -> tuple[float, float]:
    """One time range for every series: from the first event of any to just past the last."""
    if not series:
        raise ValueError("series needs at least one series of event times, e.g. {'semaphore': start_times}")
    start = min((min(ts) for ts in series.values() if ts), default=0.0)
    end = max((max(ts) for ts in series.values() if ts), default=start) + width / 2
    return start, end


def _draw(ax: Axes, label: str, times: Sequence[float], start: float, end: float, width: float, **style) -> None:
    edges, rates = rate_over_time(times, width=width, start=start, end=end)
    ax.step([e - start for e in edges] + [edges[-1] - start + width], rates + rates[-1:], where="post",
            label=label, **style)


def _finish(ax: Axes, limit: float | None, limit_label: str) -> None:
    if limit is not None:
        ax.axhline(limit, color="black", linestyle="--", linewidth=1, label=limit_label)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def rate_plot(
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    width: float = 0.1,
    limit: float | None = None,
    limit_label: str = "rate limit",
    ax: Axes | None = None,
) -> Axes:
    """Events per second over time for each named list of event times (one step line each).

    ``limit`` (events per second) is drawn as a dashed horizontal line. Series that run
    along the same rate hide each other here: draw those with ``rate_panels``.
    """
    start, end = _span(series, width)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.4))
    for label, times in series.items():
        _draw(ax, label, times, start, end, width)
    _finish(ax, limit, limit_label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"starts per second ({width:g} s windows)")
    ax.set_title(title)
    return ax


def rate_panels(
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    width: float = 0.1,
    limit: float | None = None,
    limit_label: str = "rate limit",
) -> list[Axes]:
    """Like ``rate_plot``, but each series in a panel of its own, one above the other, on
    shared axes and one clock (time counts from the first event of any series), so lines
    that coincide stay visible. Returns the panels, top first."""
    start, end = _span(series, width)
    fig, panels = plt.subplots(len(series), 1, figsize=(9, 0.6 + 1.5 * len(series)), sharex=True, sharey=True,
                               squeeze=False)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    axes = [row[0] for row in panels]
    for i, (ax, (label, times)) in enumerate(zip(axes, series.items())):
        _draw(ax, label, times, start, end, width, color=palette[i % len(palette)])
        _finish(ax, limit, limit_label)
    axes[-1].set_xlabel("time (s)")
    fig.supylabel(f"starts per second ({width:g} s windows)", fontsize="medium")
    fig.suptitle(title)
    fig.tight_layout()
    return axes
