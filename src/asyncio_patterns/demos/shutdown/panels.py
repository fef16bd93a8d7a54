"""Lesson 08's live panel: the job service stopped at a chosen moment, gracefully or not."""

from __future__ import annotations

from matplotlib.figure import Figure

from ...lab.panel import Panel, panel_figure
from ...lab.plots import timeline
from ...lab.trace import Mark, Trace
from .jobservice import Config
from .phases import COLORS, _events, log_trace, replay

__all__ = ["killed", "shutdown_figure", "shutdown_panel"]

LOST = "#252525"  # a job that died with the process


def killed(config: Config, at: float) -> tuple[Trace, dict]:
    """What a service without a SIGTERM handler does: the signal's default action ends the
    process at ``at`` s, in the middle of whatever it was doing.

    The service runs in virtual time with no signal, and its log is cut at ``at``: nothing
    after that moment happens. A job started and not completed by then is lost mid-way;
    a job accepted and never started is lost in the queue. Returns the trace and the counts
    ``accepted``, ``completed``, ``lost_running`` and ``lost_queued``.
    """
    lines = [line for line in replay(config, None).lines if float(line.split(maxsplit=1)[0]) < at]
    cut = log_trace(lines)
    trace = Trace(colors=COLORS | {"lost job": LOST})
    if not any(span.lane == "service" for span in cut.spans):  # the kill came before the service closed
        trace.add("service", "accepting", 0.0, at)
    for span in cut.spans:
        trace.add(span.lane, span.name, span.start, span.end)
    started = {}
    for time, text in _events(lines):
        worker, _, what = text.partition(" ")
        if what.startswith("started "):
            started[worker] = time
        elif what.startswith("completed "):
            started.pop(worker)
    for worker, start in sorted(started.items()):
        trace.add(worker, "lost job", start, at)
    trace.marks.append(Mark("service", "SIGTERM: killed", at))
    completed = sum(span.name == "job" for span in trace.spans)
    accepted = config.jobs  # all arrive at once, at 0 s
    return trace, {"accepted": accepted, "completed": completed, "lost_running": len(started),
                   "lost_queued": accepted - completed - len(started)}


def shutdown_figure(signal_ms: int = 410, graceful: bool = True, drain: float = 0.6) -> Figure:
    """Lesson 08's service (12 jobs of 0.4 s on 3 workers) and SIGTERM at ``signal_ms``:
    with ``graceful``, the drain of up to ``drain`` s and the hand-back; without, the kill."""
    config = Config(jobs=12, workers=3, work=0.4, drain=drain)
    at = signal_ms / 1000
    fig, ax = panel_figure(2.9)
    if graceful:
        run = replay(config, at)
        trace, report = run.trace, run.report
        lost = report["accepted"] - report["completed"] - report["failed"] - report["handed_back"]
        title = (f"Graceful stop, SIGTERM at {at:.2f} s: {report['completed']} completed, "
                 f"{report['handed_back']} handed back, {lost} lost")
    else:
        trace, counts = killed(config, at)
        lost = counts["lost_running"] + counts["lost_queued"]
        title = (f"No handler, SIGTERM at {at:.2f} s kills it: {lost} of {counts['accepted']} jobs lost "
                 f"({counts['lost_running']} mid-way, {counts['lost_queued']} never started)")
    timeline(trace, ax=ax, title=title)
    ax.set_xlim(0, 1.7)  # the whole run: the work runs out at 1.6 s
    return fig


def shutdown_panel() -> Panel:
    """When SIGTERM comes, a graceful stop or none, and the drain deadline."""
    return Panel(shutdown_figure, signal_ms=range(10, 1561, 50), graceful=[False, True],
                 drain=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.6])
