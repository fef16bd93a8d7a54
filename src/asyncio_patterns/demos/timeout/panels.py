"""Lesson 07's live panel: one timeout against a long-tailed latency, success and time spent."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, MultipleLocator

from ...lab.panel import Panel, panel_figure
from .latency import ExpTail, TimeoutPoint, timeout_plot, timeout_sweep

__all__ = ["timeout_figure", "timeout_panel", "timeout_title"]

LATENCY = 0.02  # the fixed part of every answer, as in the lesson's lab server
SPAN = 0.4  # the timeouts the slider offers, and the theory drawn: up to 400 ms


def timeout_title(point: TimeoutPoint, tail: ExpTail) -> str:
    """What the room sees, measured in the run beside what theory says."""
    return (f"Timeout {point.timeout * 1000:.0f} ms: {point.success_rate:.1%} of {point.n} requests answered "
            f"(theory {tail.cdf(point.timeout):.1%}), {point.mean_time * 1000:.1f} ms per request "
            f"(theory {tail.mean_time(point.timeout) * 1000:.1f} ms)")


def timeout_figure(timeout_ms: int = 200, jitter_ms: int = 60, requests: int = 1000) -> Figure:
    """``requests`` requests, each 20 ms plus an exponential extra of mean ``jitter_ms``, cut
    off at ``timeout_ms``, in virtual time: the measured point on the closed forms (dashed)."""
    tail = ExpTail(LATENCY, jitter_ms / 1000)
    point, = timeout_sweep([timeout_ms / 1000], latency=tail.latency, jitter=tail.jitter, n=requests)
    fig, axes = panel_figure(3.4, cols=2, legend=False, gridspec_kw={"wspace": 0.3})
    timeout_plot([point], tail, title="", span=SPAN, axes=axes)
    for ax in axes:
        ax.axvline(timeout_ms, color="tab:red", linestyle=":", linewidth=1)
        ax.set_xlim(0, SPAN * 1000 * 1.04)  # room for the marker of a 400 ms timeout, not half of it
        ax.xaxis.set_major_locator(MultipleLocator(100))  # few ticks: they are most of a redraw's cost
        ax.yaxis.set_major_locator(MaxNLocator(5))
    axes[1].get_legend().remove()  # the same lines as the left one's, and the static figure above has it
    fig.suptitle(timeout_title(point, tail))
    return fig


def timeout_panel() -> Panel:
    """The timeout, the tail's mean and the number of requests: success rate and mean time."""
    return Panel(timeout_figure, timeout_ms=range(20, 401, 20), jitter_ms=[15, 30, 60, 120],
                 requests=[100, 300, 1000])
