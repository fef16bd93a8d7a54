"""The pieces of tools/bench.py that can be wrong: the arithmetic, the timing, the command line.

The bench's numbers are not asserted against targets here (that is its own job); these
tests check that what it prints is computed from what it measured.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


# -- lab-server table ----------------------------------------------------------------


def test_server_rows_are_computed_from_what_was_measured():
    # 4 before 1: the counters are reset between levels, so c = 1 must see one in flight
    rows = asyncio.run(bench.server_rows((4, 1), latency=0.05, jobs=lambda c: 5 * c))
    assert [row.concurrency for row in rows] == [4, 1]
    for row in rows:
        c = row.concurrency
        assert row.requests == 5 * c and row.errors == 0
        assert row.max_in_flight == c  # the server saw exactly c at once: warm-up not counted, no cap
        assert row.elapsed >= 5 * 0.05 * 0.95  # five rounds of 50 ms cannot take less
        assert row.throughput == pytest.approx(row.requests / row.elapsed)
        assert row.bound == pytest.approx(c / 0.05)
        assert row.share == pytest.approx(row.throughput / row.bound)
        assert 0.3 < row.share <= 1.02  # Little's law: nothing beats c / latency
        assert 0.05 * 0.95 <= row.p50 <= row.p95 < 1.0
        assert bench.format_share(row.share) in bench.format_server_row(row)


def test_share_of_the_bound_and_the_verdict():
    row = bench.ServerRow(concurrency=8, requests=160, elapsed=1.25, p50=0.06, p95=0.07,
                          errors=0, max_in_flight=8, latency=0.05)
    assert (row.throughput, row.bound, row.share) == (128.0, 160.0, 0.8)
    assert not row.ok() and row.ok(target=0.8)
    assert "80.0%" in bench.format_server_row(row) and "<- below" in bench.format_server_row(row)
    assert bench.format_share(0.8997) == "89.9%" and bench.format_share(0.9) == "90.0%"
    assert bench.format_share(0.29) == "29.0%" and bench.format_share(1.0) == "100.0%"
    fast = bench.ServerRow(8, 160, 1.05, 0.05, 0.05, 0, 8, 0.05)
    assert fast.ok() and not bench.ServerRow(8, 160, 1.05, 0.05, 0.05, 1, 8, 0.05).ok()  # errors fail a row
    line, ok = bench.server_summary([fast, row])
    assert not ok and "FAIL" in line and "80.0% at c = 8" in line
    assert bench.server_summary([fast])[1]


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


# -- command line ---------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--repeat", "two"], ["--server-only", "--notebooks-only"], ["--bogus"]])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
