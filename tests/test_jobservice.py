"""asyncio-jobservice: its command line, and real signals at many moments, with nothing lost."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from asyncio_patterns.demos.shutdown.jobservice import Config
from asyncio_patterns.demos.shutdown.phases import expected, log_trace, replay
from asyncio_patterns.demos.shutdown.process import Child, jobservice_command

SCRIPT = jobservice_command()
SRC = Path(__file__).resolve().parents[1] / "src" / "asyncio_patterns"
# The same main(), started without the package's top-level __init__ (which loads matplotlib,
# most of a second per process): 60 processes then fit in a few seconds on 2 cores.
FAST = [sys.executable, "-c",
        "import sys, types; package = types.ModuleType('asyncio_patterns'); package.__path__ = [sys.argv.pop(1)]; "
        "sys.modules['asyncio_patterns'] = package; "
        "from asyncio_patterns.demos.shutdown.jobservice import main; sys.exit(main(sys.argv[1:]))", str(SRC)]


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kwargs)


def test_help_names_every_option():
    result = run([*SCRIPT, "--help"])
    assert result.returncode == 0
    for option in ("--jobs", "--interval", "--workers", "--work", "--drain", "SIGTERM"):
        assert option in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "argument --workers: must be >= 1, got 0"),
    (["--jobs", "2.5"], "argument --jobs: expected a whole number, got '2.5'"),
    (["--drain", "-1"], "argument --drain: must be >= 0, got -1"),
    (["--work", "soon"], "argument --work: expected a number, got 'soon'"),
    (["--wrokers", "2"], "unrecognized arguments: --wrokers 2"),
    (["--work", "inf"], "argument --work: must be a finite number >= 0, got inf"),
    (["--interval", "inf"], "argument --interval: must be a finite number >= 0, got inf"),
])
def test_bad_options_are_one_line_and_exit_status_2(argv, message):
    result = run([*FAST, *argv])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"asyncio-jobservice: error: {message} (see --help)"]


def test_when_the_input_ends_it_finishes_everything_and_exits_0():
    result = run([*SCRIPT, "--jobs", "5", "--workers", "2", "--work", "0.01"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert (report["accepted"], report["completed"], report["handed_back"], report["signals"]) == (5, 5, 0, [])
    assert "closed: 0 tasks left; the report, then the signal handlers go" in result.stdout


async def signalled_run(argv, after, signals, pause=0.0):
    async with Child(argv) as child:
        await child.wait_for(after)
        for signum in signals:
            await asyncio.sleep(pause)
            child.send(signum)
        return await child.finish()


def test_sigterm_drains_then_cancels_and_hands_back_and_the_log_is_a_timeline():
    finished = asyncio.run(signalled_run(SCRIPT, "started job-3", [signal.SIGTERM]))
    assert finished.returncode == 0, finished.stderr
    report = finished.report
    assert report | {"shutdown_seconds": 0} == {
        "accepted": 12, "completed": 6, "failed": 0, "handed_back": 6, "cancelled": 3,
        "handed_back_jobs": ["job-6", "job-7", "job-8", "job-9", "job-10", "job-11"], "signals": ["SIGTERM"],
        "shutdown_seconds": 0}
    assert 0.55 < report["shutdown_seconds"] < 1.5
    assert report == replay(Config(), 0.41).report | {"shutdown_seconds": report["shutdown_seconds"],
                                                       "handed_back_jobs": report["handed_back_jobs"]}
    trace = log_trace(finished.log)
    assert trace.lanes() == ["service", "worker-0", "worker-1", "worker-2"]
    assert [m.name for m in trace.marks] == ["SIGTERM", "drain deadline"]
    assert len([s for s in trace.spans if s.name == "cancelled job"]) == 3


def test_a_second_signal_cuts_the_drain_short():
    argv = [*SCRIPT, "--drain", "30"]
    finished = asyncio.run(signalled_run(argv, "started job-3", [signal.SIGTERM, signal.SIGINT], pause=0.05))
    assert finished.returncode == 0
    assert finished.report["signals"] == ["SIGTERM", "SIGINT"] and finished.report["completed"] == 3
    assert finished.report["shutdown_seconds"] < 5
    assert any("SIGINT again: cutting the drain short" in line for line in finished.log)


def test_sigterm_at_60_random_moments_loses_nothing():
    rng = random.Random(8)
    argv = [*FAST, "--jobs", "10", "--interval", "0.01", "--workers", "3", "--work", "0.03", "--drain", "0.04"]

    async def one(delay, limit):
        async with limit:
            async with Child(argv) as child:
                await child.wait_for("ready")
                await asyncio.sleep(delay)
                child.send(signal.SIGTERM)
                return delay, await child.finish()

    async def main():
        limit = asyncio.Semaphore(6)
        return await asyncio.gather(*(one(rng.uniform(0, 0.16), limit) for _ in range(60)))

    outcomes = asyncio.run(main())
    states = set()
    for delay, finished in outcomes:
        report = finished.report  # always printed, before the signal handlers are removed
        # A signal that comes after the report, while the interpreter exits, ends it with the
        # default action: nothing is left to lose by then.
        assert finished.returncode == 0 or (finished.returncode == -signal.SIGTERM and not report["signals"]), (
            delay, finished.stderr)
        done = [line.split()[-1] for line in finished.log if " completed job-" in line]
        accepted = [line.split()[-1] for line in finished.log if " accepted job-" in line]
        assert len(accepted) == report["accepted"] and len(done) == report["completed"]
        assert sorted(done + report["handed_back_jobs"]) == sorted(accepted), (delay, finished.lines)
        assert report["failed"] == 0 and (report["shutdown_seconds"] or 0) <= 0.04 + 0.5
        states.add((report["accepted"] < 10, report["handed_back"] > 0, bool(report["signals"])))
    assert len(states) >= 3  # the signals landed during intake, during the drain, and after the work


def test_the_virtual_replica_matches_theory_for_every_deadline():
    config = Config()
    for drain in [i * 0.05 for i in range(41)]:
        report = replay(Config(drain=drain), 0.41).report
        theory = expected(config, 0.41, drain)
        assert (report["completed"], report["handed_back"], report["cancelled"]) == (
            theory["completed"], theory["handed_back"], theory["cancelled"])
        assert report["shutdown_seconds"] == pytest.approx(theory["shutdown_seconds"], abs=1e-3)


def test_an_infinite_drain_is_a_drain_without_a_limit():
    result = run([*FAST, "--jobs", "2", "--work", "0.01", "--drain", "inf"])
    assert result.returncode == 0 and json.loads(result.stdout.splitlines()[-1])["completed"] == 2
    assert "inf for no limit" in run([*FAST, "--help"]).stdout


# The service as FAST starts it (with Python's own SIGINT handler, even when the tests run with
# SIGINT ignored), but sending itself SIGTERM (or SIGINT) while main() builds its parser: after
# main() has begun, before the signal handlers are installed.
EARLY = [sys.executable, "-c",
         "import os, signal, sys, types; signal.signal(signal.SIGINT, signal.default_int_handler); package = types.ModuleType('asyncio_patterns'); "
         "package.__path__ = [sys.argv.pop(1)]; sys.modules['asyncio_patterns'] = package; "
         "from asyncio_patterns.demos.shutdown import jobservice; parser = jobservice._parser; "
         "signum = signal.Signals[sys.argv.pop(1)]; "
         "jobservice._parser = lambda: (os.kill(os.getpid(), signum), parser())[1]; "
         "sys.exit(jobservice.main(sys.argv[1:]))", str(SRC)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_before_the_handlers_are_in_place_still_ends_with_the_report(signum):
    result = run([*EARLY, signum.name, "--jobs", "4", "--work", "0.01"])
    assert result.returncode == 0, (result.returncode, result.stderr)
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["signals"] == [signum.name] and report["accepted"] == 4
    assert report["completed"] + report["handed_back"] == 4


def test_the_timeline_labels_each_job_so_back_to_back_jobs_read_as_two():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from asyncio_patterns.demos.shutdown.phases import job_timeline

    virtual = replay(Config(), 0.41)
    fig, ax = plt.subplots()
    job_timeline(virtual.lines, ax=ax, title="t")
    labels = sorted((round(text.get_position()[0], 3), text.get_text()) for text in ax.texts)
    plt.close(fig)
    # worker-0 runs job-0 from 0 to 0.4 s and job-3 from 0.4 to 0.8 s: one bar each, labelled
    assert labels[:6] == [(0.2, "0"), (0.2, "1"), (0.2, "2"), (0.6, "3"), (0.6, "4"), (0.6, "5")]
    assert len(labels) == 9 and len([s for s in virtual.trace.spans if s.lane == "worker-0"]) == 3
