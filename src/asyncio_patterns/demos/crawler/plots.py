"""The crawl's dashboard, and the raw numbers of the runs that switch each pattern off."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from ..breaker.outage import STATE_COLORS
from .lab import early_503s, late_503s
from .record import CrawlRecord

__all__ = ["ERROR_COLORS", "dashboard", "runs_plot"]

ERROR_COLORS = {"503": "tab:red", "429": "tab:orange", "404": "tab:pink", "timeout": "tab:purple", "error": "tab:brown",
                "cut": "tab:gray"}


def _shade(ax: Axes, record: CrawlRecord) -> None:
    for start, end in record.outages:
        ax.axvspan(start, end, color="tab:red", alpha=0.08, lw=0)


def dashboard(record: CrawlRecord, *, title: str, step: float = 0.1) -> list[Axes]:
    """Four panels on one time axis: throughput, requests in flight, the breaker's state,
    and retries and errors; the outage shaded, the rate limits dashed."""
    config, end = record.config, max(record.wall, step)
    edges = np.arange(0.0, end + step, step)
    fig, axes = plt.subplots(4, 1, figsize=(10, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2, 0.6, 2.4]})
    through, flight, state, errors = axes

    done = [t for t, how in record.finished if how == "done"]
    sent = [r.start for r in record.requests]
    through.stairs(np.histogram(sent, edges)[0] / step, edges, color="tab:gray", label="requests sent / s")
    through.stairs(np.histogram(done, edges)[0] / step, edges, color="tab:green", lw=2, label="URLs done / s")
    if config.rate is not None:
        through.axhline(config.rate, ls="--", color="tab:blue", label=f"token bucket: {config.rate:g}/s")
    if record.rate_limit:
        through.axhline(record.rate_limit / record.rate_limit_window, ls="--", color="tab:orange",
                        label=f"server's limit: {record.rate_limit} per {record.rate_limit_window:g} s")
    through.set_ylabel("per second")

    times = sorted([(r.start, 1) for r in record.requests] + [(r.end, -1) for r in record.requests if r.end is not None])
    if times:
        moments, steps = zip(*times)
        flight.step((0.0, *moments), (0, *np.cumsum(steps)), where="post", color="tab:blue", label="in flight")
    flight.axhline(config.workers, ls="--", color="black", label=f"workers: {config.workers}")
    flight.set_ylabel("requests")

    changes = [(0.0, "closed"), *record.states, (end, "")]
    for (t0, name), (t1, _) in zip(changes, changes[1:]):
        if config.breaker:
            state.broken_barh([(t0, max(t1 - t0, 0.003))], (0, 1), facecolors=STATE_COLORS[name])
    state.set_yticks([0.5], ["breaker" if config.breaker else "no breaker"])
    state.set_ylim(0, 1)

    bottom = np.zeros(len(edges) - 1)
    for outcome, color in ERROR_COLORS.items():
        counts = np.histogram([r.start for r in record.requests if r.outcome == outcome], edges)[0]
        if counts.any():
            errors.bar(edges[:-1], counts, width=step, bottom=bottom, align="edge", color=color, label=outcome)
            bottom += counts
    errors.stairs(np.histogram(record.retries, edges)[0], edges, color="black", label="retries")
    errors.stairs(np.histogram(record.rejected, edges)[0], edges, color="tab:gray", ls=":", label="rejected by breaker")
    errors.set_ylabel(f"per {step * 1000:g} ms")
    errors.set_xlabel("time since the crawl started (s)")

    for ax in axes:
        _shade(ax, record)
        ax.grid(axis="x", alpha=0.3)
        if ax is not state:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    through.set_xlim(0, end)
    fig.suptitle(title)
    fig.tight_layout()
    return list(axes)


def runs_plot(records: dict[str, CrawlRecord], *, title: str) -> Axes:
    """The raw counts of each run side by side (these vary a little from run to run)."""
    metrics = {
        "requests sent": lambda r: r.server.requests,
        "429s": lambda r: r.server.rate_limited,
        "503s before the breaker opened": early_503s,
        "late 503s": late_503s,
        "timeouts": lambda r: r.count("timeout"),
        "connections": lambda r: r.server.connections_opened,
        "failed": lambda r: len(r.failed),
        "handed back": lambda r: len(r.handed_back),
        "lost": lambda r: r.lost,
        "answers thrown away": lambda r: r.thrown_away,
    }
    fig, (ax, wall) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    labels = list(records)
    y = np.arange(len(labels))
    height = 0.8 / len(metrics)
    for k, (name, value) in enumerate(metrics.items()):
        values = [value(records[label]) for label in labels]
        bars = ax.barh(y + k * height - 0.4 + height / 2, values, height=height, label=name)
        ax.bar_label(bars, fontsize=6, padding=1)
    wall.barh(y, [records[label].wall for label in labels], color="tab:gray")
    wall.set_xlabel("wall time (s)")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("count")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=len(metrics), fontsize=8, frameon=False)
    return ax
