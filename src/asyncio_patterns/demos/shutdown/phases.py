"""The job service's shutdown, drawn and measured.

- :func:`log_trace` turns the service's log (its own timestamps) into a :class:`Trace`:
  one lane for the service's phases, one per worker, each job a bar; :func:`job_timeline`
  draws it with each bar labelled with its job's number, so back-to-back jobs read as two;
- :func:`replay` runs the very same service code (:func:`jobservice.serve`) in virtual
  time, with the signal simulated at ``signal_at`` seconds: the same log, exact and instant;
- :func:`expected` is what theory says a run ends with, for jobs that all arrive at once;
- :func:`deadline_sweep` and :func:`moment_sweep` replay many runs, and their plots draw
  the measured counts beside that theory.
"""

from __future__ import annotations

import asyncio
import math
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from ...lab.clock import run_virtual
from ...lab.plots import timeline
from ...lab.trace import Mark, Trace
from ...patterns.shutdown import ShutdownSignals
from .jobservice import Config, serve

__all__ = ["Replay", "deadline_plot", "deadline_sweep", "expected", "job_timeline", "log_trace", "moment_plot",
           "moment_sweep", "replay"]

COLORS = {"accepting": "#9ecae1", "draining": "#fdae6b", "job": "#74c476", "cancelled job": "#de2d26"}
_LINE = re.compile(r"^\s*(\d+\.\d+) (.*)$")
_JOB = re.compile(r"^(worker-\d+) (started|completed|cancelled) (job-\d+)$")


def _events(lines: Sequence[str]) -> list[tuple[float, str]]:
    return [(float(m.group(1)), m.group(2)) for m in map(_LINE.match, lines) if m]


def log_trace(lines: Sequence[str]) -> Trace:
    """A trace of the service's log: phases in a "service" lane, each job in its worker's lane."""
    trace = Trace(colors=COLORS)
    service: list[tuple[str, float, float]] = []
    jobs: list[tuple[str, str, float, float]] = []
    started: dict[str, float] = {}
    phase, since = "accepting", None
    for time, text in _events(lines):
        since = time if since is None else since
        if match := _JOB.match(text):
            worker, what, _ = match.groups()
            if what == "started":
                started[worker] = time
            else:
                jobs.append((worker, "job" if what == "completed" else "cancelled job", started.pop(worker), time))
        elif "stop accepting" in text:
            service.append((phase, since, time))
            trace.marks.append(Mark("service", text.split(":")[0], time))
            phase, since = "draining", time
        elif text.startswith(("drain deadline", "second signal", "drained")):
            service.append((phase, since, time))
            if not text.startswith("drained"):
                trace.marks.append(Mark("service", text.split(":")[0], time))
            phase = ""
        elif text.startswith("closed") and phase:
            service.append((phase, since, time))
            phase = ""
    for name, start, end in service:
        trace.add("service", name, start, end)
    for worker, name, start, end in sorted(jobs):
        trace.add(worker, name, start, end)
    return trace


def _job_spans(lines: Sequence[str]) -> list[tuple[str, str, float, float]]:
    """(worker, job, start, end) for each job that ended in the log."""
    spans, started = [], {}
    for time, text in _events(lines):
        if match := _JOB.match(text):
            worker, what, job = match.groups()
            if what == "started":
                started[worker] = time
            else:
                spans.append((worker, job, started.pop(worker), time))
    return spans


def job_timeline(lines: Sequence[str], *, ax: Axes, title: str) -> Axes:
    """The :func:`log_trace` of ``lines`` on a timeline, each job's bar labelled with its number."""
    trace = log_trace(lines)
    timeline(trace, ax=ax, title=title)
    row = {lane: i for i, lane in enumerate(trace.lanes())}
    for worker, job, start, end in _job_spans(lines):
        ax.text((start + end) / 2 - trace.origin, row[worker], job.removeprefix("job-"),
                ha="center", va="center", fontsize=8, color="white", fontweight="bold")
    return ax


@dataclass(frozen=True)
class Replay:
    """One run of the service in virtual time: its log and its report."""

    lines: list[str]
    report: dict

    @property
    def trace(self) -> Trace:
        return log_trace(self.lines)


def replay(config: Config, signal_at: float | None, *, second_at: float | None = None) -> Replay:
    """Run :func:`serve` in virtual time; SIGTERM at ``signal_at`` s (None: none), again at ``second_at``."""

    async def run() -> Replay:
        loop = asyncio.get_running_loop()
        start = loop.time()
        lines: list[str] = []

        def log(text: str) -> None:
            lines.append(f"{loop.time() - start:8.3f} {text}")

        signals = ShutdownSignals(on_signal=lambda signum, n: n > 1 and log(f"{signum.name} again: cutting the drain short"))
        for at in (signal_at, second_at):
            if at is not None:
                loop.call_later(at, signals.receive, signal.SIGTERM)
        report = await serve(config, signals, log)
        log("closed")
        return Replay(lines, report)

    return run_virtual(run())


def expected(config: Config, signal_at: float, drain: float) -> dict:
    """What theory says, for jobs that all arrive at once (``interval=0``).

    The W workers take the N jobs in rounds of W, each round ``work`` seconds long. By the
    drain deadline ``signal_at + drain``, ⌊(signal_at + drain) / work⌋ rounds have ended, so
    ``completed = min(N, W × that)``; every other job is handed back, the min(W, N − completed)
    running ones cancelled. The shutdown takes the deadline, or less if the work ends first:
    ``min(drain, ⌈N / W⌉ × work − signal_at)``.
    """
    n, w = config.jobs, config.workers
    completed = min(n, w * math.floor((signal_at + drain) / config.work + 1e-9))
    left = n - completed
    all_done = math.ceil(n / w) * config.work
    return {"completed": completed, "handed_back": left, "cancelled": min(w, left),
            "shutdown_seconds": round(max(0.0, min(drain, all_done - signal_at)), 6)}


def deadline_sweep(config: Config, signal_at: float, deadlines: Sequence[float]) -> list[dict]:
    """The report of a replayed run for each drain deadline, the signal at ``signal_at`` s."""
    return [replay(replace(config, drain=d), signal_at).report for d in deadlines]


def moment_sweep(config: Config, moments: Sequence[float]) -> list[dict]:
    """The report of a replayed run for each moment of the signal, the deadline ``config.drain``."""
    return [replay(config, s).report for s in moments]


def _fine(xs: Sequence[float]) -> list[float]:
    low, high = min(xs), max(xs)
    return [low + (high - low) * i / 400 for i in range(401)]


def deadline_plot(config: Config, signal_at: float, deadlines: Sequence[float], reports: Sequence[dict], *,
                  real: dict | None = None, title: str) -> tuple[Axes, Axes]:
    """Jobs completed and handed back (left) and the shutdown's length (right) against the deadline,
    theory dashed; ``real`` (a real run's report at ``config.drain``) drawn as a star."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    fine = _fine(deadlines)
    theory = [expected(config, signal_at, d) for d in fine]
    for key, marker in (("completed", "o"), ("handed_back", "s")):
        left.plot(deadlines, [r[key] for r in reports], marker, label=f"{key.replace('_', ' ')} (virtual time)")
        left.plot(fine, [t[key] for t in theory], "k--", linewidth=1)
    right.plot(deadlines, [r["shutdown_seconds"] for r in reports], "o", label="measured (virtual time)")
    right.plot(fine, [t["shutdown_seconds"] for t in theory], "k--", linewidth=1, label="theory")
    left.plot([], [], "k--", linewidth=1, label="theory")
    if real is not None:
        left.plot([config.drain] * 2, [real["completed"], real["handed_back"]], "r*", markersize=12,
                  label="the real run")
        right.plot([config.drain], [real["shutdown_seconds"]], "r*", markersize=12, label="the real run")
    left.set_ylabel("jobs")
    right.set_ylabel("signal to report (s)")
    for ax in (left, right):
        ax.set_xlabel("drain deadline (s)")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
        ax.set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    return left, right


def moment_plot(config: Config, moments: Sequence[float], reports: Sequence[dict], *, title: str) -> Axes:
    """Jobs completed, handed back and lost against the moment of the signal, theory dashed."""
    _, ax = plt.subplots(figsize=(9, 3.6))
    fine = _fine(moments)
    theory = [expected(config, s, config.drain) for s in fine]
    ax.plot(moments, [r["completed"] for r in reports], ".", label="completed (virtual time)")
    ax.plot(moments, [r["handed_back"] for r in reports], ".", label="handed back")
    ax.plot(moments, [r["accepted"] - r["completed"] - r["failed"] - r["handed_back"] for r in reports], ".",
            label="lost")
    ax.plot(fine, [t["completed"] for t in theory], "k--", linewidth=1, label="theory")
    ax.plot(fine, [t["handed_back"] for t in theory], "k--", linewidth=1)
    ax.set_xlabel("moment of the signal (s after the start)")
    ax.set_ylabel("jobs")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="center right")
    ax.set_title(title)
    return ax
