"""Print the course's benchmark tables: notebook execution times, lab-server throughput,
the virtual clock beside the alternatives, the live panels' redraw times, the time from a
fresh clone to a ready .venv, and every pattern under a fault at every moment.

    python tools/bench.py                   # every table (what `make bench` runs)
    python tools/bench.py --clock-only      # one table: also --notebooks-only, --server-only,
                                            # --panels-only, --setup-only, --faults-only

What each table measures, and its target, is in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asyncio_patterns import run_virtual
from asyncio_patterns.lab.measure import Measurement, measure, percentile

import execute_notebooks  # tools/, beside this file

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
NOTEBOOK_TARGET = 3.0  # suite time / (floor x notebooks), at most
FLOOR_RUNS = 3  # at least; --repeat N raises it to N
SLOWEST_CELLS = 3

SERVER_LATENCY = 0.05
CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64)
SERVER_TARGET = 0.90  # share of the Little's-law bound, at least, at every concurrency
REQUEST_TIMEOUT = 10.0  # seconds for one request before it counts as failed
WARMUP_LATENCIES = 2  # each level's warm-up before its measuring window, in server latencies
MEASURING_WINDOW = 1.0  # seconds of steady state measured per level
SERVER_START_TIMEOUT = 10.0  # seconds for the server process to accept connections
SERVER_STOP_TIMEOUT = 5.0  # seconds after SIGTERM before the server process is killed

CLOCK_TASKS, CLOCK_SLEEPS, CLOCK_SEED = 1000, 50, 8  # each task sleeps CLOCK_SLEEPS durations in [0, 1) s
STOCK_SCALE = 1e-7  # the stock loop's sleeps, scaled down to cost the loop its timers and nothing more
CLOCK_TARGET = 1.5  # run_virtual's CPU time / the stock loop's, at most

PANEL_TARGET = 0.200  # seconds for one redraw of a live panel, at most

SETUP_TARGET = 60.0  # seconds from a fresh clone to a ready .venv, package caches warm
SETUP_TARGETS = ("venv", ".venv/.installed")  # the Makefile's set-up target; the stamp file where none exists


# -- table 1: notebooks ------------------------------------------------------------


@dataclass(frozen=True)
class CellTime:
    label: str  # "In [12]" as the reader sees it
    source: str  # the cell's first line of code, shortened
    seconds: float


@dataclass
class NotebookTime:
    name: str
    seconds: float = 0.0  # median over the runs
    runs: list[float] = field(default_factory=list)
    cells: list[CellTime] = field(default_factory=list)  # from the median run
    error: str = ""  # one line, set when the notebook could not be executed
    detail: str = ""  # the kernel's last stderr lines, when the kernel itself failed


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cell_times(nb) -> list[CellTime]:
    """Each executed code cell's time, execute_input to execute_reply, from nbclient's record_timing."""
    times = []
    for cell in nb.cells:
        stamps = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "iopub.execute_input" not in stamps or "shell.execute_reply" not in stamps:
            continue
        seconds = _timestamp(stamps["shell.execute_reply"]) - _timestamp(stamps["iopub.execute_input"])
        times.append(CellTime(f"In [{cell.get('execution_count') or '?'}]", _summary(cell.source), seconds))
    return times


def _summary(source: str) -> str:
    """The cell's first line of code (not a comment or a %magic), and how many more lines follow."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    code = [line for line in lines if not line.startswith(("#", "%"))] or lines or [""]
    first = code[0] if len(code[0]) <= 56 else code[0][:53] + "..."
    more = len(lines) - 1
    return first + (f"  (+{more} line{'s' if more > 1 else ''})" if more else "")


def execute(nb, directory: Path) -> float:
    """Execute ``nb`` (in place, in memory) in a fresh python3 kernel; return the wall-clock seconds.

    The kernel's own stderr (start-up chatter) is kept aside; if the kernel itself fails
    (dies, does not start, times out) its last lines are attached to the error as a note.
    """
    from nbclient.exceptions import CellExecutionError

    with tempfile.TemporaryFile() as kernel_stderr:
        try:
            return execute_notebooks.run(nb, directory, record_timing=True, stderr=kernel_stderr)
        except Exception as error:
            if isinstance(error, CellExecutionError):  # the notebook's own code raised
                raise
            kernel_stderr.seek(0)
            tail = kernel_stderr.read().decode(errors="replace").strip().splitlines()[-5:]
            if tail:
                error.add_note("kernel stderr (last lines):\n" + "\n".join(tail))
            raise


def time_notebook(path: Path, *, repeat: int = 1) -> NotebookTime:
    """Execute the notebook at ``path`` ``repeat`` times; never writes it. Errors are recorded, not raised."""
    import nbformat

    result = NotebookTime(path.name)
    timed: list[tuple[float, list[CellTime]]] = []
    for _ in range(repeat):
        nb = nbformat.read(path, as_version=4)
        try:
            seconds = execute(nb, path.parent)
        except Exception as error:  # report it and go on with the next notebook
            lines = str(error).strip().splitlines() or [""]
            result.error = f"{type(error).__name__}: {lines[-1][:200]}"
            result.detail = "\n".join(getattr(error, "__notes__", []))
            return result
        timed.append((seconds, cell_times(nb)))
    result.runs = [seconds for seconds, _ in timed]
    result.seconds = statistics.median(result.runs)
    # the cells of the run nearest the median, so they add up to a time the row shows
    result.cells = min(timed, key=lambda run: abs(run[0] - result.seconds))[1]
    return result


def floor_notebook():
    import nbformat

    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])


def time_floor(*, runs: int = FLOOR_RUNS, directory: Path = NOTEBOOK_DIR) -> list[float]:
    """Seconds for each of ``runs`` executions of the one-``pass``-cell notebook."""
    return [execute(floor_notebook(), directory) for _ in range(runs)]


def ratio(seconds: float, floor: float) -> float:
    if floor <= 0:
        raise ValueError(f"the floor must be positive, got {floor!r}")
    return seconds / floor


def format_ratio(value: float) -> str:
    """``2.345`` -> ``'2.35x'``, the way every ratio in the tables is written."""
    return f"{value:.2f}x"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def slowest(cells: Iterable[CellTime], n: int = SLOWEST_CELLS) -> list[CellTime]:
    return sorted(cells, key=lambda cell: cell.seconds, reverse=True)[:n]


def notebook_summary(times: Sequence[NotebookTime], floor: float, *, target: float = NOTEBOOK_TARGET) -> tuple[list[str], bool]:
    """The summary lines under table 1 and whether the suite meets the target."""
    measured = [t for t in times if not t.error]
    total = sum(t.seconds for t in measured)
    budget = floor * len(measured)
    suite = ratio(total, budget) if measured else float("nan")
    ok = bool(measured) and suite <= target
    lines = [
        f"{'suite total':<40} {total:8.2f}",
        f"{f'floor x {len(measured)} notebooks':<40} {budget:8.2f}",
        f"suite ratio {format_ratio(suite)}, target at most {target:g}x: {verdict(ok)}",
    ]
    return lines, ok


def notebook_table(paths: Sequence[Path], *, repeat: int = 1, out=print) -> tuple[bool, bool]:
    """Measure and print table 1. Returns (every notebook ran, the suite met the target)."""
    out(f"Notebook execution time (nbclient, fresh kernel each, {'median of ' + str(repeat) if repeat > 1 else 'one run each'})")
    floor_runs = time_floor(runs=max(FLOOR_RUNS, repeat))
    floor = statistics.median(floor_runs)
    out(f"floor: one 'pass' cell, median of {len(floor_runs)} runs = {floor:.2f} s "
        f"(runs: {', '.join(f'{s:.2f}' for s in floor_runs)})")
    out("")
    out(f"{'notebook':<40} {'seconds':>8} {'x floor':>8}")
    out(f"{'-' * 40} {'-' * 8} {'-' * 8}")
    times = []
    for path in paths:
        t = time_notebook(path, repeat=repeat)
        times.append(t)
        if t.error:
            out(f"{t.name:<40} {'ERROR':>8}  {t.error}")
            for line in t.detail.splitlines():
                out(f"    {line}")
        else:
            mark = "  <- above target" if ratio(t.seconds, floor) > NOTEBOOK_TARGET else ""
            out(f"{t.name:<40} {t.seconds:8.2f} {format_ratio(ratio(t.seconds, floor)):>8}{mark}")
    out(f"{'-' * 40} {'-' * 8} {'-' * 8}")
    lines, ok = notebook_summary(times, floor)
    for line in lines:
        out(line)
    over = [t for t in times if not t.error and ratio(t.seconds, floor) > NOTEBOOK_TARGET]
    for t in over:
        in_cells = sum(cell.seconds for cell in t.cells)
        out("")
        out(f"slowest cells in {t.name}: {t.seconds:.2f} s in all, {in_cells:.2f} s in its {len(t.cells)} code cells")
        for cell in slowest(t.cells):
            out(f"  {cell.label:>8} {cell.seconds:6.2f} s  {cell.source}")
    return all(not t.error for t in times), ok


# -- table 2: lab server -------------------------------------------------------------


class LabServerError(RuntimeError):
    """The lab server process did not start, or one of its own routes (/reset, /stats) failed."""


@dataclass(frozen=True)
class LabProcess:
    """A lab server running in its own process, serving at ``base_url``."""

    process: subprocess.Popen
    base_url: str


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def lab_server_command(port: int, latency: float) -> list[str]:
    """The instructors' command line: only latency, capacity, failures and rate limit off."""
    return [
        str(Path(sys.executable).with_name("asyncio-labserver")), "--port", str(port), "--latency", str(latency),
        "--jitter", "0", "--capacity", "0", "--failure-rate", "0", "--rate-limit", "0",
    ]


@contextlib.contextmanager
def lab_server_process(*, latency: float = SERVER_LATENCY, start_timeout: float = SERVER_START_TIMEOUT):
    """Run the lab server in its own process for the ``with`` block; it is stopped however the block ends."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(lab_server_command(port, latency), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_until_serving(process, base_url, stderr, timeout=start_timeout)
            yield LabProcess(process, base_url)
        finally:
            stop_process(process)


def wait_until_serving(process: subprocess.Popen, base_url: str, stderr, *, timeout: float) -> None:
    """Poll ``GET /`` until the server answers; LabServerError (one line) if it exits or ``timeout`` s pass."""
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never via a proxy
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            stderr.seek(0)
            said = stderr.read().decode(errors="replace").strip().splitlines()
            raise LabServerError(f"the lab server exited with status {process.returncode} before serving"
                                 + (f": {said[-1]}" if said else ""))
        try:
            with no_proxy.open(base_url + "/", timeout=1.0) as response:
                response.read()
            return
        except urllib.error.HTTPError as error:
            error.close()
            raise LabServerError(f"{base_url}/ answered {error.code}: not the lab server") from None
        except OSError:
            if time.monotonic() >= deadline:
                raise LabServerError(f"the lab server did not accept connections on {base_url} "
                                     f"within {timeout:g} s") from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen, *, timeout: float = SERVER_STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` s; it is always reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Request:
    """One request a worker sent and got a successful answer to, on the event loop's clock."""

    sent: float
    answered: float

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


def worker_rate(answered: Sequence[float]) -> float:
    """Requests per second one worker completed: n answer times in order make n - 1 cycles in last - first seconds.

    Fewer than two answers measure no rate and count as 0, which can only understate throughput.
    """
    if len(answered) < 2:
        return 0.0
    span = answered[-1] - answered[0]
    if span <= 0:
        raise ValueError(f"answer times must increase, got {answered[0]!r} .. {answered[-1]!r}")
    return (len(answered) - 1) / span


@dataclass(frozen=True)
class ServerRow:
    """One concurrency level: what was measured, and the numbers of table 2 computed from it."""

    concurrency: int
    latency: float  # the server's configured latency
    workers: tuple[tuple[Request, ...], ...]  # each worker's requests sent and answered inside the window
    errors: int = 0  # failed requests in the whole level, warm-up included
    max_in_flight: int = 0  # as the server counted it

    @property
    def requests(self) -> int:
        return sum(len(worker) for worker in self.workers)

    @property
    def throughput(self) -> float:
        """Requests per second: the workers' steady rates, summed."""
        return sum(worker_rate([request.answered for request in worker]) for worker in self.workers)

    @property
    def bound(self) -> float:
        """Little's law: c requests in flight, each ``latency`` long, finish at most c / latency a second."""
        return self.concurrency / self.latency

    @property
    def share(self) -> float:
        return self.throughput / self.bound

    def latency_percentile(self, q: float) -> float:
        """Seconds, over the requests in the window; nan when there are none."""
        seconds = [request.seconds for worker in self.workers for request in worker]
        return percentile(seconds, q) if seconds else math.nan

    @property
    def p50(self) -> float:
        return self.latency_percentile(50)

    @property
    def p95(self) -> float:
        return self.latency_percentile(95)

    def ok(self, target: float = SERVER_TARGET) -> bool:
        return self.errors == 0 and self.share >= target


def format_share(share: float) -> str:
    """``0.8997`` -> ``'89.9%'``: rounded down, so a row just under the target never shows as on it."""
    return f"{math.floor(share * 1000 + 1e-9) / 10:.1f}%"


async def run_workers(fetch: Callable[[int], Awaitable[object]], concurrency: int, *, stagger: float,
                      stop_at: float) -> tuple[list[list[Request]], int]:
    """Worker i waits i x ``stagger`` s, then calls ``fetch(i)`` over and over until the loop's clock reaches ``stop_at``.

    Returns each worker's successful requests, in order, and how many requests raised.
    """
    loop = asyncio.get_running_loop()
    done: list[list[Request]] = [[] for _ in range(concurrency)]
    errors = 0

    async def worker(i: int) -> None:
        nonlocal errors
        await asyncio.sleep(i * stagger)
        while (sent := loop.time()) < stop_at:
            try:
                await fetch(i)
            except Exception:
                errors += 1
            else:
                done[i].append(Request(sent, loop.time()))

    async with asyncio.TaskGroup() as group:
        for i in range(concurrency):
            group.create_task(worker(i))
    return done, errors


async def server_call(session, method: str, url: str) -> dict:
    """The JSON answer of one of the server's own routes (/reset, /stats); LabServerError if it fails."""
    import aiohttp

    try:
        async with session.request(method, url) as response:
            response.raise_for_status()
            return await response.json()
    except aiohttp.ClientError as error:
        raise LabServerError(f"{method} {url}: {type(error).__name__}: {error}") from None


async def measure_level(session, base_url: str, concurrency: int, *, latency: float = SERVER_LATENCY,
                        window: float = MEASURING_WINDOW) -> ServerRow:
    """One row: reset the server's counters, warm up, keep only the requests sent and answered inside the window."""
    async def fetch(i: int) -> None:
        async with session.get(f"{base_url}/items/{i}") as response:
            await response.read()
            response.raise_for_status()

    await server_call(session, "POST", f"{base_url}/reset")
    loop = asyncio.get_running_loop()
    window_start = loop.time() + WARMUP_LATENCIES * latency
    window_end = window_start + window
    done, errors = await run_workers(fetch, concurrency, stagger=latency / concurrency, stop_at=window_end)
    max_in_flight = (await server_call(session, "GET", f"{base_url}/stats"))["max_in_flight"]
    in_window = tuple(tuple(r for r in worker if window_start <= r.sent and r.answered <= window_end) for worker in done)
    return ServerRow(concurrency, latency, in_window, errors, max_in_flight)


async def server_rows(
    base_url: str,
    concurrencies: Iterable[int] = CONCURRENCIES,
    *,
    latency: float = SERVER_LATENCY,
    window: float = MEASURING_WINDOW,
    request_timeout: float = REQUEST_TIMEOUT,
    on_row: Callable[[ServerRow], object] = lambda row: None,
) -> list[ServerRow]:
    """Measure one row per concurrency against the lab server at ``base_url``; see the module docstring."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)  # no client-side cap on connections
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    rows = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for c in concurrencies:
            level_seconds = WARMUP_LATENCIES * latency + window + request_timeout
            async with asyncio.timeout(10 + level_seconds):  # nothing hangs, however slow
                row = await measure_level(session, base_url, c, latency=latency, window=window)
            rows.append(row)
            on_row(row)
    return rows


def server_header(latency: float = SERVER_LATENCY, window: float = MEASURING_WINDOW) -> list[str]:
    return [
        f"Lab server throughput (own process, latency {latency * 1000:g} ms, capacity off; "
        f"c staggered workers, {window:g} s of steady state each, real clock)",
        f"{'c':>4} {'requests':>9} {'req/s':>9} {'bound':>9} {'% bound':>8} {'p50 ms':>8} {'p95 ms':>8} {'in flight':>9} {'errors':>7}",
        f"{'-' * 4} {'-' * 9} {'-' * 9} {'-' * 9} {'-' * 8} {'-' * 8} {'-' * 8} {'-' * 9} {'-' * 7}",
    ]


def format_server_row(row: ServerRow) -> str:
    mark = "" if row.ok() else "  <- below"
    return (
        f"{row.concurrency:>4} {row.requests:>9} {row.throughput:>9.1f} {row.bound:>9.1f} {format_share(row.share):>8} "
        f"{row.p50 * 1000:>8.1f} {row.p95 * 1000:>8.1f} {row.max_in_flight:>9} {row.errors:>7}{mark}"
    )


def server_summary(rows: Sequence[ServerRow], *, target: float = SERVER_TARGET) -> tuple[str, bool]:
    if not rows:
        return f"no rows measured: {verdict(False)}", False
    ok = all(row.ok(target) for row in rows)
    worst = min(rows, key=lambda row: row.share)
    return (f"every row at least {target * 100:g}% of c / latency, no errors: {verdict(ok)} "
            f"(lowest {format_share(worst.share)} at c = {worst.concurrency})"), ok


def server_table(*, out=print) -> tuple[bool, bool]:
    """Measure and print table 2. Returns (every request succeeded, every row met the target)."""
    for line in server_header():
        out(line)
    with lab_server_process() as server:
        rows = asyncio.run(server_rows(server.base_url, on_row=lambda row: out(format_server_row(row))))
    line, ok = server_summary(rows)
    out(line)
    return all(row.errors == 0 for row in rows), ok


# -- table 3: the virtual clock -----------------------------------------------------


def sleep_plan(tasks: int = CLOCK_TASKS, sleeps: int = CLOCK_SLEEPS, seed: int = CLOCK_SEED) -> list[list[float]]:
    """Each task's sleeps, seeded: ``tasks`` lists of ``sleeps`` durations in [0, 1) s."""
    rng = random.Random(seed)
    return [[rng.random() for _ in range(sleeps)] for _ in range(tasks)]


async def sleep_through(plan: Sequence[Sequence[float]], scale: float = 1.0) -> Measurement:
    """One task per list in ``plan``, all at once, each sleeping its durations x ``scale`` in turn."""
    async def job(n: int) -> None:
        for seconds in plan[n]:
            await asyncio.sleep(seconds * scale)

    return await measure(job, jobs=len(plan), concurrency=len(plan))


@dataclass(frozen=True)
class ClockRow:
    """One event loop through the plan: the real and CPU seconds it took, and what its own clock says."""

    name: str
    seconds: float = math.nan
    cpu_seconds: float = math.nan  # this process's, all threads: what other work on the machine barely moves
    loop_seconds: float = math.nan  # the run's length on the loop's clock: the plan's longest task when virtual
    error: str = ""


def _on_loop(loop_factory: Callable[[], asyncio.AbstractEventLoop], scale: float = 1.0):
    """A runner that runs the plan on a fresh loop from ``loop_factory`` in this thread."""
    def run(plan):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(sleep_through(plan, scale))
    return run


def clock_runners() -> list[tuple[str, Callable | None]]:
    """The loops of table 3 and how each runs the plan; None where looptime is not installed."""
    try:
        import looptime
    except ImportError:
        looptime = None

    def with_looptime(**options):
        return looptime and _on_loop(lambda: looptime.new_event_loop(**options))

    return [
        (f"stock loop, sleeps x {STOCK_SCALE:g}", _on_loop(asyncio.new_event_loop, STOCK_SCALE)),
        ("run_virtual", lambda plan: run_virtual(sleep_through(plan))),
        ("looptime, noop_cycles=0", with_looptime(noop_cycles=0)),
        ("looptime, its defaults", with_looptime()),
    ]


def clock_rows(plan: Sequence[Sequence[float]], runners=None, *, repeat: int = 1,
               on_row: Callable[[ClockRow], object] = lambda row: None) -> list[ClockRow]:
    """Run ``plan`` through each runner ``repeat`` times and keep the median real and CPU times."""
    rows = []
    for name, run in runners or clock_runners():
        if run is None:
            row = ClockRow(name, error="not installed (pip install looptime)")
        else:
            real, cpu = [], []
            for _ in range(repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                result = run(plan)
                real.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
            row = ClockRow(name, statistics.median(real), statistics.median(cpu), result.elapsed)
        rows.append(row)
        on_row(row)
    return rows


def clock_header(plan: Sequence[Sequence[float]], repeat: int = 1) -> list[str]:
    runs = f"median of {repeat} runs" if repeat > 1 else "one run each"
    return [
        f"Virtual clock beside the alternatives ({len(plan)} tasks x {len(plan[0])} seeded sleeps in [0, 1) s, {runs})",
        f"{'event loop':<32} {'seconds':>8} {'CPU s':>8} {'x stock':>8} {'loop clock':>11}",
        f"{'-' * 32} {'-' * 8} {'-' * 8} {'-' * 8} {'-' * 11}",
    ]


def format_clock_row(row: ClockRow, stock: ClockRow) -> str:
    if row.error:
        return f"{row.name:<32} {'-':>8} {'-':>8} {'-':>8} {'-':>11}  {row.error}"
    share = format_ratio(ratio(row.cpu_seconds, stock.cpu_seconds))
    return f"{row.name:<32} {row.seconds:8.3f} {row.cpu_seconds:8.3f} {share:>8} {row.loop_seconds:10.3f}s"


def clock_summary(rows: Sequence[ClockRow], *, target: float = CLOCK_TARGET) -> tuple[str, bool]:
    by_name = {row.name: row for row in rows}
    stock, virtual = rows[0], by_name["run_virtual"]
    share = ratio(virtual.cpu_seconds, stock.cpu_seconds)
    ok = share <= target
    return f"run_virtual at {format_ratio(share)} the stock loop's CPU time, target at most {target:g}x: {verdict(ok)}", ok


def clock_table(*, repeat: int = 1, out=print) -> bool:
    """Measure and print table 3. Returns whether run_virtual met the target."""
    plan = sleep_plan()
    for line in clock_header(plan, repeat):
        out(line)
    rows = clock_rows(plan, repeat=repeat)
    for row in rows:
        out(format_clock_row(row, rows[0]))
    line, ok = clock_summary(rows)
    out(line)
    return ok


# -- table 4: live panels --------------------------------------------------------------


@dataclass(frozen=True)
class PanelRow:
    lesson: str
    name: str  # the draw function's name
    knobs: int
    redraws: tuple[float, ...]  # seconds per redraw: each knob to each of its ends and back

    @property
    def median(self) -> float:
        return statistics.median(self.redraws)

    @property
    def slowest(self) -> float:
        return max(self.redraws)


def panel_redraws(panel) -> tuple[float, ...]:
    """Every redraw's seconds (the demo re-run in virtual time, the figure drawn, the PNG made)
    while each knob of ``panel`` goes to its ends and back (``Panel.turn_each_knob``)."""
    return tuple(panel.redraw_seconds for _ in panel.turn_each_knob())


def panel_rows(panels=None) -> list[PanelRow]:
    from asyncio_patterns.demos.panels import PANELS

    rows = []
    for lesson, makers in (PANELS if panels is None else panels).items():
        for make in makers:
            panel = make()
            rows.append(PanelRow(lesson, panel.draw.__name__, len(panel.choices), panel_redraws(panel)))
    return rows


def format_panel_row(row: PanelRow) -> str:
    return (f"{row.lesson[:34]:<34} {row.name:<24} {row.knobs:>5} {len(row.redraws):>8} "
            f"{row.median * 1000:8.0f} {row.slowest * 1000:8.0f}")


def panel_summary(rows: Sequence[PanelRow], *, target: float = PANEL_TARGET) -> tuple[str, bool]:
    if not rows:
        return "no panels registered in asyncio_patterns.demos.panels: FAIL", False
    worst = max(rows, key=lambda row: row.slowest)
    ok = worst.slowest <= target
    return (f"slowest redraw {worst.slowest * 1000:.0f} ms ({worst.name}, {worst.lesson}), "
            f"target at most {target * 1000:.0f} ms: {verdict(ok)}"), ok


def panel_table(*, out=print) -> bool:
    """Measure and print table 4. Returns whether every redraw met the target."""
    out("Live panels (each knob to its ends and back; a redraw re-runs the demo, draws, makes the PNG)")
    out(f"{'lesson':<34} {'panel':<24} {'knobs':>5} {'redraws':>8} {'median':>8} {'slowest':>8}  (ms)")
    rows = panel_rows()
    for row in rows:
        out(format_panel_row(row))
    line, ok = panel_summary(rows)
    out(line)
    return ok


# -- table 5: set-up time ---------------------------------------------------------------


class SetupError(RuntimeError):
    """The clone or the set-up failed: one line, the command's last words."""


@dataclass(frozen=True)
class SetupTime:
    target: str  # the make target that set .venv up
    clone: float  # seconds for git clone
    make: float  # seconds for make <target>

    @property
    def seconds(self) -> float:
        return self.clone + self.make


def _fresh_env() -> dict[str, str]:
    """This environment without make's own variables (MAKEFLAGS, MAKELEVEL), so a make run
    from here is a fresh one, as on a new machine, not a sub-make of `make bench`."""
    return {name: value for name, value in os.environ.items() if not name.startswith("MAKE")}


def _run(command: list[str]) -> float:
    """Seconds ``command`` took; SetupError with its last line of output if it fails."""
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=_fresh_env())
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise SetupError(f"{' '.join(command[:2])} ... exited with status {done.returncode}"
                         + (f": {said[-1]}" if said else ""))
    return time.perf_counter() - began


def setup_target(directory: Path) -> str:
    """The first of SETUP_TARGETS the Makefile in ``directory`` has a rule for."""
    for target in SETUP_TARGETS:
        if subprocess.run(["make", "-C", str(directory), "-n", target], capture_output=True,
                          env=_fresh_env()).returncode == 0:
            return target
    raise SetupError(f"the Makefile has none of the targets {', '.join(SETUP_TARGETS)}")


def time_setup(repository: Path = ROOT) -> SetupTime:
    """``git clone`` the repository into a temporary directory and ``make`` its .venv; removed afterwards.

    The clone has the repository's committed files, not uncommitted changes.
    """
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as scratch:
        clone = Path(scratch) / "clone"
        clone_seconds = _run(["git", "clone", "--quiet", str(repository), str(clone)])
        target = setup_target(clone)
        return SetupTime(target, clone_seconds, _run(["make", "-C", str(clone), target]))


def setup_lines(result: SetupTime, *, target: float = SETUP_TARGET) -> tuple[list[str], bool]:
    ok = result.seconds < target
    fallback = "" if result.target == SETUP_TARGETS[0] else f" (no `{SETUP_TARGETS[0]}` target: the stamp file)"
    return [
        f"{'git clone':<32} {result.clone:8.2f}",
        f"{'make ' + result.target:<32} {result.make:8.2f}{fallback}",
        f"total {result.seconds:.1f} s, target under {target:g} s: {verdict(ok)}",
    ], ok


def setup_table(*, out=print) -> bool:
    """Measure and print table 5. Returns whether the set-up met the target."""
    out("Set-up time (a fresh clone to a ready .venv, package caches warm; seconds)")
    lines, ok = setup_lines(time_setup())
    for line in lines:
        out(line)
    return ok


# -- table 6: every pattern under a fault at every moment -----------------------------------


FAULT_SEEDS = (None, 0, 1, 2, 3)  # asyncio's own order of the ties, and four shuffles


@dataclass(frozen=True)
class FaultRow:
    pattern: str
    scenarios: int
    moments: int  # runs with a fault (a cancel at an await, an error from a call)
    broken: tuple[str, ...]  # one line per run that broke a promise
    seconds: float


def fault_rows(scenarios=None, *, seeds: Sequence[int | None] = FAULT_SEEDS) -> list[FaultRow]:
    """Each pattern's scenarios explored with a fault at every moment, under each seed."""
    from asyncio_patterns.demos.testing.scenarios import SCENARIOS
    from asyncio_patterns.lab.faults import explore

    rows = []
    for pattern, group in (SCENARIOS if scenarios is None else scenarios).items():
        reports = [explore(scenario, seeds=seeds) for scenario in group]
        broken = tuple(f"{report.scenario}: {failure}" for report in reports for failure in report.failures)
        rows.append(FaultRow(pattern, len(group), sum(r.moments for r in reports), broken,
                             sum(r.seconds for r in reports)))
    return rows


def format_fault_row(row: FaultRow) -> str:
    return f"{row.pattern:<22} {row.scenarios:>9} {row.moments:>8} {len(row.broken):>8} {row.seconds:8.2f}"


def fault_summary(rows: Sequence[FaultRow]) -> tuple[list[str], bool]:
    broken = [line for row in rows for line in row.broken]
    moments = sum(row.moments for row in rows)
    seconds = sum(row.seconds for row in rows)
    ok = not broken
    firsts = {}  # the first failure of each scenario: where to look first
    for line in broken:
        firsts.setdefault(line.split(": ", 1)[0], line)
    return [*(f"  first: {line}" for line in firsts.values()),
            f"{len(broken)} runs broke a promise in {moments} moments tried ({seconds:.1f} s), goal 0: {verdict(ok)}"], ok


def fault_table(*, out=print) -> bool:
    """Measure and print table 6. Returns whether every promise held at every moment."""
    seeds = ", ".join("asyncio's" if seed is None else str(seed) for seed in FAULT_SEEDS)
    out(f"Every pattern under a cancel at every await and an error from every call (orders of ties: {seeds})")
    out(f"{'pattern':<22} {'scenarios':>9} {'moments':>8} {'broken':>8} {'seconds':>8}")
    rows = fault_rows()
    for row in rows:
        out(format_fault_row(row))
    lines, ok = fault_summary(rows)
    for line in lines:
        out(line)
    return ok


# -- command line ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block, exit status 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


TABLES = {  # --<name>-only: what the table shows, and how an error in it is labelled
    "notebooks": ("table 1, notebook execution times", "notebooks"),
    "server": ("table 2, lab-server throughput", "lab server"),
    "clock": ("table 3, the virtual clock beside the alternatives", "clock"),
    "panels": ("table 4, the live panels' redraw times", "panels"),
    "setup": ("table 5, the time from a fresh clone to a ready .venv", "set-up"),
    "faults": ("table 6, every pattern under a fault at every moment", "faults"),
}


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python tools/bench.py",
        description="Notebook execution times, lab-server throughput, the virtual clock's speed, the "
                    "live panels' redraw times, the set-up time and the patterns under faults, each against its target. Reports; exits 0 even when a target is missed.",
    )
    which = parser.add_mutually_exclusive_group()
    for name, (shows, _) in TABLES.items():
        which.add_argument(f"--{name}-only", dest="only", action="store_const", const=name, help=f"only {shows}")
    parser.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                        help="run each notebook and each clock N times and keep the median (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    tables = [args.only] if args.only else list(TABLES)
    paths = sorted(NOTEBOOK_DIR.glob(NOTEBOOK_GLOB))
    if "notebooks" in tables and not paths:
        print(f"{_parser().prog}: error: no notebooks match {NOTEBOOK_DIR / NOTEBOOK_GLOB}", file=sys.stderr)
        return 2

    def out(line: str = "") -> None:
        print(line, flush=True)

    def run(table: str) -> tuple[bool, bool]:  # (the measurement was made, the target was met)
        if table == "notebooks":
            return notebook_table(paths, repeat=args.repeat, out=out)
        if table == "server":
            return server_table(out=out)
        if table == "clock":
            return True, clock_table(repeat=args.repeat, out=out)
        if table == "panels":
            return True, panel_table(out=out)
        if table == "faults":
            return True, fault_table(out=out)
        return True, setup_table(out=out)

    versions = ", ".join(f"{name} {_version(name)}" for name in ("nbclient", "ipykernel", "aiohttp", "looptime"))
    out(f"asyncio patterns bench - Python {platform.python_version()}, {_cpus()} CPUs, {versions}")
    measured, met = True, True
    for table in tables:
        out("")
        try:
            ran, ok = run(table)
        except (TimeoutError, OSError, LabServerError, SetupError) as error:
            out(f"{TABLES[table][1]}: could not measure: {type(error).__name__}: {error}")
            ran, ok = False, False
        measured, met = measured and ran, met and ok
    if not measured:
        return 1
    return 1 if args.strict and not met else 0


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main())
