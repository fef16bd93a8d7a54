"""The pieces of tools/bench.py that can be wrong: the arithmetic, the timing, the command line.

The bench's numbers are not asserted against targets here (that is its own job); these
tests check that what it prints is computed from what it measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from asyncio_patterns.lab.measure import percentile

import bench  # tools/bench.py: conftest.py puts tools/ on sys.path


# -- lab-server table ----------------------------------------------------------------


def _worker(answered: list[float], seconds: float = 0.05) -> tuple:
    """One worker's requests in the window, answered at the given times, each ``seconds`` long."""
    return tuple(bench.Request(t - seconds, t) for t in answered)


def test_server_rows_are_computed_from_what_was_measured(monkeypatch):
    staggers, real_run_workers = [], bench.run_workers

    async def run_workers(fetch, concurrency, *, stagger, stop_at):
        staggers.append(stagger)
        return await real_run_workers(fetch, concurrency, stagger=stagger, stop_at=stop_at)

    monkeypatch.setattr(bench, "run_workers", run_workers)
    # 4 before 1: the counters are reset between levels, so c = 1 must see one in flight
    window = 0.3
    with bench.lab_server_process() as server:
        rows = asyncio.run(bench.server_rows(server.base_url, (4, 1), window=window))
    assert [row.concurrency for row in rows] == [4, 1]
    assert staggers == [pytest.approx(0.05 / 4), pytest.approx(0.05)]  # spread over one latency
    for row in rows:
        c = row.concurrency
        assert row.errors == 0 and row.max_in_flight == c  # the server saw exactly c at once, no cap
        assert len(row.workers) == c
        requests = [r for worker in row.workers for r in worker]
        assert row.requests == len(requests)
        assert 3 * c <= row.requests <= 6 * c  # 0.3 s of 50 ms cycles: at most 6 a worker
        assert max(r.answered for r in requests) - min(r.sent for r in requests) <= window + 1e-6
        for worker in row.workers:
            assert all(later.sent >= earlier.answered for earlier, later in zip(worker, worker[1:]))  # one at a time
        assert min(r.seconds for r in requests) >= 0.05 * 0.98  # the server's 50 ms
        rates = [(len(w) - 1) / (w[-1].answered - w[0].answered) for w in row.workers]
        assert row.throughput == pytest.approx(sum(rates))
        assert row.bound == pytest.approx(c / 0.05)
        assert row.share == pytest.approx(row.throughput / row.bound)
        assert 0.3 < row.share and row.throughput <= row.bound * 1.02  # Little's law: nothing beats c / latency
        assert row.p50 == pytest.approx(percentile([r.seconds for r in requests], 50))
        assert 0.05 * 0.98 <= row.p50 <= row.p95 < 1.0
        assert bench.format_share(row.share) in bench.format_server_row(row)


def test_a_workers_rate_is_its_cycles_over_the_time_they_took():
    assert bench.worker_rate([0.0, 0.05, 0.10]) == pytest.approx(20.0)
    assert bench.worker_rate([1.0, 1.05, 1.10, 1.15, 1.2]) == pytest.approx(20.0)
    assert bench.worker_rate([0.0, 0.05, 0.15]) == pytest.approx(2 / 0.15)  # uneven cycles: their mean
    assert bench.worker_rate([]) == 0.0 and bench.worker_rate([0.3]) == 0.0  # no rate measured: counts 0
    with pytest.raises(ValueError, match="must increase"):
        bench.worker_rate([0.2, 0.2])
    # the row sums the workers' rates; a worker with a single answer adds a request but no rate
    row = bench.ServerRow(2, 0.05, (_worker([0.10, 0.15, 0.20]), _worker([0.125])))
    assert (row.requests, row.throughput, row.bound) == (4, pytest.approx(20.0), 40.0)
    assert row.share == pytest.approx(0.5)
    # counting answers in a window would give 19 or 20 a second for the same worker; its rate does not
    assert bench.worker_rate([0.01 + 0.05 * k for k in range(20)]) == pytest.approx(20.0)


def test_workers_are_staggered_sequential_and_count_their_errors():
    async def run():
        loop = asyncio.get_running_loop()

        async def fetch(i):
            await asyncio.sleep(0.02)
            if i == 2:
                raise ConnectionResetError("fake")

        began = loop.time()
        done, errors = await bench.run_workers(fetch, 3, stagger=0.01, stop_at=began + 0.1)
        return began, done, errors

    began, done, errors = asyncio.run(run())
    assert done[2] == [] and errors >= 4  # every one of worker 2's requests failed, none counted as done
    for i in (0, 1):
        assert len(done[i]) >= 3
        assert done[i][0].sent >= began + i * 0.01  # worker i starts i x stagger in
        assert all(later.sent >= earlier.answered for earlier, later in zip(done[i], done[i][1:]))
        assert done[i][-1].sent < began + 0.1  # nothing sent after stop_at


def test_share_of_the_bound_and_the_verdict():
    cycles = [0.0625 * k for k in range(17)]  # 16 cycles of 62.5 ms: 16 a second
    row = bench.ServerRow(8, 0.05, tuple(_worker(cycles) for _ in range(8)), errors=0, max_in_flight=8)
    assert (row.throughput, row.bound) == (pytest.approx(128.0), 160.0) and row.share == pytest.approx(0.8)
    assert row.requests == 8 * 17 and row.p50 == pytest.approx(0.05)
    assert not row.ok() and row.ok(target=0.8)
    assert "80.0%" in bench.format_server_row(row) and "<- below" in bench.format_server_row(row)
    assert bench.format_share(0.8997) == "89.9%" and bench.format_share(0.9) == "90.0%"
    assert bench.format_share(0.29) == "29.0%" and bench.format_share(1.0) == "100.0%"
    fast_cycles = [0.052 * k for k in range(20)]
    fast = bench.ServerRow(8, 0.05, tuple(_worker(fast_cycles) for _ in range(8)), errors=0, max_in_flight=8)
    assert fast.ok() and not bench.ServerRow(8, 0.05, fast.workers, errors=1, max_in_flight=8).ok()  # errors fail a row
    line, ok = bench.server_summary([fast, row])
    assert not ok and "FAIL" in line and "80.0% at c = 8" in line
    assert bench.server_summary([fast])[1]
    assert math.isnan(bench.ServerRow(1, 0.05, ((),)).p50)  # nothing answered in the window: no latency


def _record_servers(monkeypatch) -> list:
    """Make bench.lab_server_process record each server it starts; returns the record."""
    real, started = bench.lab_server_process, []

    @contextlib.contextmanager
    def recording(**options):
        with real(**options) as server:
            started.append(server)
            yield server

    monkeypatch.setattr(bench, "lab_server_process", recording)
    return started


def test_the_server_process_is_stopped_when_a_level_fails(monkeypatch, capsys):
    async def failing_level(*args, **options):
        raise TimeoutError("a level that never finished")

    monkeypatch.setattr(bench, "measure_level", failing_level)
    started = _record_servers(monkeypatch)
    assert bench.main(["--server-only"]) == 1  # a measurement that could not be made
    out = capsys.readouterr().out
    assert "lab server: could not measure: TimeoutError: a level that never finished" in out
    [server] = started
    assert server.process.poll() is not None  # stopped, and reaped


def test_a_server_that_does_not_start_is_one_line_and_stopped(monkeypatch):
    with pytest.raises(bench.LabServerError) as info:
        with bench.lab_server_process(latency=-1):  # the server's own command line refuses it
            pass
    assert "exited with status 2" in str(info.value) and "latency" in str(info.value)
    assert "\n" not in str(info.value)

    stopped = []
    real_stop = bench.stop_process
    monkeypatch.setattr(bench, "stop_process", lambda process, **options: stopped.append(process) or real_stop(process))
    with pytest.raises(bench.LabServerError, match="did not accept connections .* within 0.01 s"):
        with bench.lab_server_process(start_timeout=0.01):  # far too short for python to start
            pass
    [process] = stopped
    assert process.returncode is not None


def test_stop_process_kills_what_ignores_sigterm():
    ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", ignore], stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout.readline() == "ready\n"
        bench.stop_process(process, timeout=0.2)
        assert process.returncode == -signal.SIGKILL


# -- notebook table -------------------------------------------------------------------


def _notebook(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_time_notebook_times_a_tiny_notebook_and_never_writes_it(tmp_path):
    path = _notebook(tmp_path, "import time\ntime.sleep(0.3)", "x = 1")
    before = path.read_bytes()
    result = bench.time_notebook(path)
    assert result.error == ""
    assert result.seconds > 0.3 and result.runs == [result.seconds]
    assert [cell.label for cell in result.cells] == ["In [1]", "In [2]"]
    slow, quick = result.cells
    assert 0.3 <= slow.seconds < result.seconds and quick.seconds < 0.3
    assert slow.source == "import time  (+1 line)"
    assert bench.slowest(result.cells, 1) == [slow]
    assert path.read_bytes() == before


def test_repeated_runs_keep_the_median(tmp_path, monkeypatch):
    seconds = iter([3.0, 1.0, 2.0])
    monkeypatch.setattr(bench, "execute", lambda nb, directory, **options: next(seconds))
    result = bench.time_notebook(_notebook(tmp_path, "x = 1"), repeat=3)
    assert (result.runs, result.seconds, result.error) == ([3.0, 1.0, 2.0], 2.0, "")


def test_the_floor_is_a_real_kernel_start():
    [seconds] = bench.time_floor(runs=1)
    assert 0.1 < seconds < 60  # no kernel starts and stops in 0.1 s


def test_the_floor_runs_a_one_pass_cell_notebook_each_time(monkeypatch):
    seen = []
    monkeypatch.setattr(bench, "execute", lambda nb, directory, **options: seen.append(nb) or 0.5)
    assert bench.time_floor(runs=3) == [0.5, 0.5, 0.5]
    assert len(seen) == 3 and all([cell.source for cell in nb.cells] == ["pass"] for nb in seen)


def test_a_notebook_that_raises_is_reported_not_raised(tmp_path):
    result = bench.time_notebook(_notebook(tmp_path, "1 / 0"))
    assert "ZeroDivisionError" in result.error and result.seconds == 0.0


def test_cell_times_read_nbclients_timestamps():
    cell = nbformat.v4.new_code_cell("%xmode minimal\n# set up\nimport asyncio")
    cell.execution_count = 7
    cell.metadata["execution"] = {
        "iopub.execute_input": "2024-05-01T10:00:00.250000Z",
        "shell.execute_reply": "2024-05-01T10:00:01.750000Z",
    }
    skipped = nbformat.v4.new_code_cell("never ran")
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text"), skipped])
    [timed] = bench.cell_times(nb)
    assert timed.label == "In [7]" and timed.seconds == pytest.approx(1.5)
    assert timed.source == "import asyncio  (+2 lines)"
    long = nbformat.v4.new_code_cell("x = " + "1 + " * 40 + "1")
    assert bench._summary(long.source) == long.source[:53] + "..."


def test_ratio_formatting_and_the_suite_verdict():
    assert bench.format_ratio(2.345) == "2.35x" and bench.format_ratio(10) == "10.00x"
    assert bench.ratio(3.0, 1.5) == 2.0
    with pytest.raises(ValueError):
        bench.ratio(1.0, 0.0)

    def times(*seconds, error=None):
        return [bench.NotebookTime(f"{i:02}_x.ipynb", s) for i, s in enumerate(seconds)] + (
            [bench.NotebookTime("99_broken.ipynb", error=error)] if error else [])

    lines, ok = bench.notebook_summary(times(2.0, 4.0), floor=1.0)  # 6 s against 2 x 1 s: exactly 3
    assert ok and lines[-1] == "suite ratio 3.00x, target at most 3x: PASS"
    assert "6.00" in lines[0] and "floor x 2 notebooks" in lines[1] and "2.00" in lines[1]
    lines, ok = bench.notebook_summary(times(2.0, 4.2), floor=1.0)
    assert not ok and lines[-1] == "suite ratio 3.10x, target at most 3x: FAIL"
    # a notebook that could not run is left out of both sides, not counted as zero seconds
    lines, ok = bench.notebook_summary(times(2.0, 4.0, error="boom"), floor=1.0)
    assert ok and "floor x 2 notebooks" in lines[1]


# -- clock table ----------------------------------------------------------------------


def test_the_sleep_plan_is_seeded():
    plan = bench.sleep_plan(tasks=20, sleeps=5, seed=3)
    assert plan == bench.sleep_plan(tasks=20, sleeps=5, seed=3) != bench.sleep_plan(tasks=20, sleeps=5, seed=4)
    assert [len(sleeps) for sleeps in plan] == [5] * 20 and all(0 <= s < 1 for sleeps in plan for s in sleeps)


def test_clock_rows_are_computed_from_what_was_measured():
    plan = bench.sleep_plan(tasks=20, sleeps=5, seed=3)
    printed = []
    rows = bench.clock_rows(plan, on_row=printed.append)
    assert printed == rows and [row.name for row in rows] == [name for name, _ in bench.clock_runners()]
    stock, virtual, *looptime = rows
    longest = max(sum(sleeps) for sleeps in plan)  # every task starts at once: the run is its longest task
    assert virtual.loop_seconds == longest  # exact: the clock lands on each timer
    assert 0 < stock.loop_seconds <= stock.seconds < longest / 100  # real time, each sleep scaled down
    assert all(0 < row.cpu_seconds for row in (stock, virtual))
    for row in looptime:  # its clock counts whole microseconds
        assert row.error == "not installed (pip install looptime)" or row.loop_seconds == pytest.approx(longest, abs=1e-5)
    for row in (virtual, *looptime):
        if not row.error:
            share = bench.format_ratio(row.cpu_seconds / stock.cpu_seconds)
            assert f"{row.seconds:8.3f} {row.cpu_seconds:8.3f} {share:>8}" in bench.format_clock_row(row, stock)
    line, ok = bench.clock_summary(rows)
    assert line.startswith(f"run_virtual at {bench.format_ratio(virtual.cpu_seconds / stock.cpu_seconds)} the stock loop's CPU")
    assert ok == (virtual.cpu_seconds / stock.cpu_seconds <= 1.5)


def test_repeated_clock_runs_keep_the_median():
    took = iter([0.1, 0.01, 0.05])

    def run(plan):
        time.sleep(next(took))  # real time, hardly any CPU
        return bench.Measurement(jobs=1, concurrency=1, elapsed=7.0, latencies=(7.0,))

    [row] = bench.clock_rows([[1.0]], [("fake", run)], repeat=3)
    assert 0.05 <= row.seconds < 0.1 and row.cpu_seconds < 0.05 and row.loop_seconds == 7.0


def test_the_clock_verdict_and_a_missing_loop():
    stock, virtual = bench.ClockRow("stock", 0.9, 0.2, 0.9), bench.ClockRow("run_virtual", 0.4, 0.3, 30.0)
    missing = bench.ClockRow("looptime, its defaults", error="not installed (pip install looptime)")
    assert bench.clock_summary([stock, virtual, missing]) == (  # CPU time: other work on the machine barely moves it
        "run_virtual at 1.50x the stock loop's CPU time, target at most 1.5x: PASS", True)
    assert not bench.clock_summary([stock, bench.ClockRow("run_virtual", 0.4, 0.31, 30.0)])[1]
    assert bench.format_clock_row(virtual, stock).split() == ["run_virtual", "0.400", "0.300", "1.50x", "30.000s"]
    assert "not installed" in bench.format_clock_row(missing, stock)


# -- set-up table ---------------------------------------------------------------------


def _repository(tmp_path: Path, makefile: str) -> Path:
    """A one-commit git repository holding only ``makefile``."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    (repo / "Makefile").write_text(makefile)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for command in (["init", "--quiet"], ["add", "Makefile"], ["commit", "--quiet", "-m", "a Makefile"]):
        subprocess.run(git + command, check=True)
    return repo


def test_the_set_up_is_timed_on_a_fresh_clone_that_is_removed(tmp_path, monkeypatch):
    repo = _repository(tmp_path, "venv:\n\tsleep 0.3\n\tmkdir .venv\n")
    commands, real_run = [], bench._run
    monkeypatch.setattr(bench, "_run", lambda command: commands.append(command) or real_run(command))
    result = bench.time_setup(repo)
    clone = Path(commands[0][-1])
    assert commands == [["git", "clone", "--quiet", str(repo), str(clone)], ["make", "-C", str(clone), "venv"]]
    assert not clone.exists() and not (repo / ".venv").exists()  # built in the clone, and the clone is gone
    assert result.target == "venv" and result.clone > 0 and result.make >= 0.3
    lines, ok = bench.setup_lines(result)
    assert ok == (result.seconds < 60) and lines[-1].startswith(f"total {result.clone + result.make:.1f} s")


def test_the_set_up_falls_back_to_the_stamp_file(tmp_path):
    result = bench.time_setup(_repository(tmp_path, ".venv/.installed:\n\tmkdir -p .venv && touch $@\n"))
    assert result.target == ".venv/.installed"
    assert "(no `venv` target: the stamp file)" in bench.setup_lines(result)[0][1]


def test_a_set_up_that_fails_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    repo = _repository(tmp_path, "venv:\n\t@echo 'no matching distribution' >&2; exit 3\n")
    with pytest.raises(bench.SetupError, match="^make -C ... exited with status 2: make: .*Error 3"):
        bench.time_setup(repo)
    with pytest.raises(bench.SetupError, match="none of the targets venv, .venv/.installed"):
        bench.time_setup(_repository(tmp_path / "other", "all:\n\ttrue\n"))
    real_time_setup = bench.time_setup
    monkeypatch.setattr(bench, "time_setup", lambda: real_time_setup(repo))
    assert bench.main(["--setup-only"]) == 1
    assert "set-up: could not measure: SetupError: make -C ... exited with status 2" in capsys.readouterr().out


def test_set_up_verdict():
    assert bench.setup_lines(bench.SetupTime("venv", 0.5, 59.4))[1]
    lines, ok = bench.setup_lines(bench.SetupTime("venv", 0.5, 59.5))
    assert not ok and lines[-1] == "total 60.0 s, target under 60 s: FAIL"


# -- live panels table ----------------------------------------------------------------


def _tilted(tilt: int = 1):
    from asyncio_patterns.lab.panel import panel_figure

    fig, ax = panel_figure(2.0, legend=False)
    ax.plot([0, 1], [0, tilt])
    return fig


def test_panel_rows_time_each_knob_to_its_ends_and_back():
    from asyncio_patterns.lab.panel import Panel

    [row] = bench.panel_rows({"99_demo": [lambda: Panel(_tilted, tilt=range(0, 4))]})
    assert (row.lesson, row.name, row.knobs, len(row.redraws)) == ("99_demo", "_tilted", 1, 3)
    assert row.slowest == max(row.redraws) > 0 and min(row.redraws) <= row.median <= row.slowest


def test_panel_verdict_is_the_slowest_redraw():
    fast = bench.PanelRow("00_a", "fast", 1, (0.05, 0.08))
    slow = bench.PanelRow("01_b", "slow", 2, (0.1, 0.201))
    assert bench.panel_summary([fast]) == ("slowest redraw 80 ms (fast, 00_a), target at most 200 ms: PASS", True)
    assert bench.panel_summary([fast, slow]) == ("slowest redraw 201 ms (slow, 01_b), target at most 200 ms: FAIL", False)
    assert not bench.panel_summary([])[1]


# -- command line ---------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--repeat", "two"], ["--server-only", "--notebooks-only"],
                                  ["--clock-only", "--setup-only"], ["--panels-only", "--clock-only"], ["--bogus"]])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
