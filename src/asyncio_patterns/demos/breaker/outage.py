"""Clients calling a real lab server through a scripted outage, with and without a breaker.

:func:`outage_run` starts a :class:`~asyncio_patterns.LabServer` with an outage window,
and ``clients`` clients that each send a request, wait ``period`` seconds, and send the
next, for ``duration`` seconds; with ``breaker=True`` every request goes through one
shared :class:`~asyncio_patterns.CircuitBreaker`. It records each request's outcome,
the breaker's changes of state, and the server's own request counter sampled every
``sample`` seconds. :func:`virtual_outage_run` is the same clients against a stand-in for
the server in virtual time. :func:`outage_timeline` and :func:`load_plot` draw a run, with
the theory of :func:`load_theory` dashed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ...lab.server import LabServer, LabStats
from ...patterns.breaker import CircuitBreaker, CircuitOpen

__all__ = ["OUTCOME_COLORS", "STATE_COLORS", "OutageRun", "load_plot", "load_theory", "outage_run", "outage_lanes",
           "outage_legend", "outage_timeline", "virtual_outage_run"]

OUTCOME_COLORS = {"ok": "tab:green", "503": "tab:red", "rejected": "#9e9e9e"}
STATE_COLORS = {"closed": "#b7e4c7", "open": "#f4a6a6", "half-open": "#ffe08a"}


@dataclass
class OutageRun:
    """One run: times in seconds since the server started."""

    breaker: CircuitBreaker | None
    clients: int
    period: float
    latency: float
    outage: tuple[float, float]
    duration: float
    requests: list[tuple[int, float, str]] = field(default_factory=list)  # (client, start, outcome)
    states: list[tuple[float, str]] = field(default_factory=list)  # (time, new state), from "closed" at 0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (time, server.stats.requests)
    stats: LabStats | None = None  # the server's counters at the end

    def outcomes(self, since: float = 0.0, until: float = math.inf) -> dict[str, int]:
        """How many requests started in [since, until) ended each way."""
        counts = dict.fromkeys(OUTCOME_COLORS, 0)
        for _, start, outcome in self.requests:
            if since <= start < until:
                counts[outcome] += 1
        return counts


class _Unavailable(Exception):
    """A 5xx answer."""


async def _client(run: OutageRun, i: int, get, loop: asyncio.AbstractEventLoop, began: float) -> None:
    await asyncio.sleep(i * run.period / run.clients)  # spread out, as independent clients are
    while (start := loop.time() - began) < run.duration:
        try:
            if run.breaker is None:
                await get()
            else:
                await run.breaker.call(get)
            outcome = "ok"
        except _Unavailable:
            outcome = "503"
        except CircuitOpen:
            outcome = "rejected"
        run.requests.append((i, start, outcome))
        await asyncio.sleep(run.period)


async def _drive(run: OutageRun, get: Callable[[], Awaitable[None]], received: Callable[[], int], *,
                 breaker: bool, failure_threshold: int, reset_timeout: float,
                 failures: tuple[type[BaseException], ...], sample: float) -> None:
    """Run the clients of ``run`` from now for ``run.duration`` seconds, each request ``get()``,
    through one shared breaker if asked; sample ``received()``, the server's count, every ``sample`` s."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    if breaker:
        run.breaker = CircuitBreaker(
            failure_threshold=failure_threshold, reset_timeout=reset_timeout, failures=failures,
            on_change=lambda old, new: run.states.append((loop.time() - began, new)))

    async def sampler() -> None:
        while (now := loop.time() - began) < run.duration:
            run.samples.append((now, received()))
            await asyncio.sleep(sample)

    async with asyncio.TaskGroup() as group:
        group.create_task(sampler())
        for i in range(run.clients):
            group.create_task(_client(run, i, get, loop, began))
    run.samples.append((loop.time() - began, received()))


async def outage_run(*, breaker: bool, clients: int = 4, period: float = 0.02, latency: float = 0.01,
                     outage: tuple[float, float] = (0.3, 1.3), duration: float = 1.6,
                     failure_threshold: int = 5, reset_timeout: float = 0.15, sample: float = 0.01) -> OutageRun:
    """Run the clients against a fresh lab server in real time (``duration`` seconds)."""
    run = OutageRun(None, clients, period, latency, outage, duration)
    async with LabServer(latency=latency, outages=[outage]) as server, aiohttp.ClientSession() as session:
        async def get() -> None:
            async with asyncio.timeout(1.0), session.get(server.url("/items/1")) as response:
                if response.status >= 500:
                    raise _Unavailable(response.status)
                await response.read()

        # The server started a few microseconds before the clients: its outage clock.
        await _drive(run, get, lambda: server.stats.requests, breaker=breaker, failure_threshold=failure_threshold,
                     reset_timeout=reset_timeout, failures=(_Unavailable, aiohttp.ClientError, TimeoutError),
                     sample=sample)
        run.stats = server.stats
    return run


async def virtual_outage_run(*, breaker: bool, clients: int = 4, period: float = 0.02, latency: float = 0.01,
                             outage: tuple[float, float] = (0.3, 1.3), duration: float = 1.6,
                             failure_threshold: int = 5, reset_timeout: float = 0.15,
                             sample: float = 0.01) -> OutageRun:
    """:func:`outage_run` with the server played in the loop's own time, for ``run_virtual``:
    each request counts as received, then answers after ``latency`` s, or at once with a 503
    inside the outage, as the lab server does. ``run.stats`` stays None; the samples count."""
    loop = asyncio.get_running_loop()
    run = OutageRun(None, clients, period, latency, outage, duration)
    began, received = loop.time(), 0

    async def get() -> None:
        nonlocal received
        received += 1
        if outage[0] <= loop.time() - began < outage[1]:
            raise _Unavailable(503)
        await asyncio.sleep(latency)

    await _drive(run, get, lambda: received, breaker=breaker, failure_threshold=failure_threshold,
                 reset_timeout=reset_timeout, failures=(_Unavailable,), sample=sample)
    return run


def load_theory(run: OutageRun) -> list[tuple[float, float]]:
    """The requests the server should have received by each time, as (time, count) corners.

    Outside the outage each client sends one request per ``period + latency``; during it
    a 503 comes back at once, so one per ``period``. With the breaker, the outage costs
    ``failure_threshold`` requests to trip it, then one trial per ``reset_timeout``
    (``half_open_calls`` of them, each failing at once); nothing more reaches the server
    until the first trial after the outage, which closes the breaker. Round trips on this machine make the real rates a little lower.
    """
    start, end = run.outage
    normal = run.clients / (run.period + run.latency)
    corners = [(0.0, 0.0), (start, normal * start)]
    count = normal * start
    if run.breaker is None:
        count += run.clients / run.period * (end - start)
        corners.append((end, count))
    else:
        breaker = run.breaker
        trip = start + (breaker.failure_threshold - 1) * run.period / run.clients
        count += breaker.failure_threshold
        corners.append((trip, count))
        trials = math.ceil((end - trip) / breaker.reset_timeout) - 1  # the trials that fall inside the outage
        count += trials * breaker.half_open_calls
        corners.append((end, count))
        end = trip + (trials + 1) * breaker.reset_timeout  # the first trial after the outage closes it
        corners.append((end, count))
    corners.append((run.duration, count + normal * (run.duration - end)))
    return corners


def outage_lanes(run: OutageRun, *, ax: Axes, label: str) -> Axes:
    """One lane per client with a dot per request (coloured by outcome), and, with a
    breaker, a lane of its state above them; the outage shaded."""
    lanes = [f"client {i}" for i in range(run.clients)]
    if run.breaker is not None:
        lanes = ["breaker"] + lanes
        changes = [(0.0, "closed")] + run.states + [(run.duration, "")]
        spans: dict[str, list[tuple[float, float]]] = {state: [] for state in STATE_COLORS}
        for (t0, state), (t1, _) in zip(changes, changes[1:]):
            spans[state].append((t0, max(t1 - t0, 0.004)))
        for state, ranges in spans.items():  # one bar collection per state: quick to draw
            if ranges:
                ax.broken_barh(ranges, (-0.4, 0.8), facecolors=STATE_COLORS[state])
    row = {lane: k for k, lane in enumerate(lanes)}
    for outcome, color in OUTCOME_COLORS.items():
        points = [(start, row[f"client {i}"]) for i, start, o in run.requests if o == outcome]
        if points:
            ax.scatter(*zip(*points), s=9 if outcome != "rejected" else 5, color=color, marker="|" if outcome == "rejected" else "o")
    ax.axvspan(*run.outage, color="tab:red", alpha=0.07)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_title(label, loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax


def outage_legend(ax: Axes) -> None:
    """The outcomes', the breaker's and the outage's colours, right of ``ax``."""
    handles = [Patch(color=c, label=f"request: {o}") for o, c in OUTCOME_COLORS.items()]
    handles += [Patch(color=c, label=f"breaker {s}") for s, c in STATE_COLORS.items()]
    handles.append(Patch(color="tab:red", alpha=0.15, label="outage (503)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def outage_timeline(runs: dict[str, OutageRun], *, title: str) -> list[Axes]:
    """:func:`outage_lanes` for each run, one above the other."""
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 1.4 + 1.7 * len(runs)), sharex=True, squeeze=False)
    for ax, (label, run) in zip(axes[:, 0], runs.items()):
        outage_lanes(run, ax=ax, label=label)
    outage_legend(axes[0, 0])
    axes[-1, 0].set_xlabel("time since the server started (s)")
    fig.suptitle(title)
    fig.tight_layout()
    return list(axes[:, 0])


def load_plot(runs: dict[str, OutageRun], *, title: str, ax: Axes | None = None) -> Axes:
    """The server's own request count over time for each run, with :func:`load_theory` dashed."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for (label, run), color in zip(runs.items(), ("tab:red", "tab:blue", "tab:green")):
        times, counts = zip(*run.samples)
        ax.plot(times, counts, color=color, label=f"{label}: measured (server's counter)")
        ax.plot(*zip(*load_theory(run)), "--", color=color, alpha=0.8, label=f"{label}: theory")
    first = next(iter(runs.values()))
    ax.axvspan(*first.outage, color="tab:red", alpha=0.07, label="outage (503)")
    ax.set_xlabel("time since the server started (s)")
    ax.set_ylabel("requests received by the server")
    ax.set_xlim(0, first.duration)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper left")
    ax.set_title(title)
    return ax
