"""Run a small pytest suite from a notebook, and the same suite on three clocks.

``run_pytest({"test_x.py": source, ...}, "--looptime")`` writes the files into a temporary
directory, runs pytest there in a subprocess (this Python, pytest-asyncio in auto mode) and
returns a :class:`PytestRun`: each test's outcome, read from pytest's JUnit XML report (so
what is printed is the same every run), with the seconds and CPU seconds the run took.

:data:`SUITE` is a suite of timing tests of the course's patterns; :data:`CLOCKS` the three
ways lesson 13 runs it: on the real clock, on looptime's, and on the course's virtual clock
(chosen in ``conftest.py`` with pytest-asyncio's ``pytest_asyncio_loop_factories`` hook).
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CLOCKS", "SUITE", "SUITE_SLEEPS", "VIRTUAL_CONFTEST", "PytestRun", "run_pytest"]

OPTIONS = ("-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
           "-o", "asyncio_default_fixture_loop_scope=function", "-W", "error")


@dataclass
class PytestRun:
    """What one pytest run did: each test's outcome ("passed", or "failed: " and the first line
    of why), the real seconds and CPU seconds of the whole process, and the tests' own seconds."""

    outcomes: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    test_seconds: float = 0.0
    output: str = ""  # pytest's own output, in case the report is missing

    @property
    def passed(self) -> int:
        return sum(outcome == "passed" for outcome in self.outcomes.values())

    def __str__(self) -> str:
        if not self.outcomes:
            return "no tests ran:\n" + self.output
        return "\n".join(f"{name}: {outcome}" for name, outcome in self.outcomes.items())


def _first_line(text: str | None) -> str:
    """The first line of a failure's message, with the run's file descriptor numbers blanked."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return re.sub(r"\bfd=\d+", "fd=N", lines[0]) if lines else ""


def run_pytest(files: dict[str, str], *options: str, timeout: float = 300.0) -> PytestRun:
    """Write ``files`` (name: source, dedented) into a temporary directory and run pytest there."""
    with tempfile.TemporaryDirectory(prefix="lesson13-") as directory:
        root = Path(directory)
        for name, source in files.items():
            (root / name).write_text(textwrap.dedent(source))
        report = root / "report.xml"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", *OPTIONS, f"--junitxml={report}", *options],
                              cwd=root, capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = PytestRun(seconds=seconds, output=done.stdout[-2000:] + done.stderr[-2000:],
                        cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if report.exists():
            for case in ElementTree.parse(report).iter("testcase"):
                run.test_seconds += float(case.get("time", 0))
                problem = case.find("failure")
                if problem is None:
                    problem = case.find("error")
                run.outcomes[case.get("name")] = (
                    "passed" if problem is None else f"failed: {_first_line(problem.get('message'))}")
        return run


SUITE_SLEEPS = 2.5  # seconds the suite's tests wait for, in all: the least a real-time run can take

SUITE = '''
import asyncio

import pytest

from asyncio_patterns import TimedOut, gather_with_timeouts, hedged, locked, retry


def elapsed_since(began):
    return asyncio.get_running_loop().time() - began


async def test_a_lock_held_elsewhere_times_out():
    lock = asyncio.Lock()
    await lock.acquire()                     # held, and not released in time
    began = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        async with locked(lock, timeout=1.0):
            pass
    assert elapsed_since(began) == pytest.approx(1.0, abs=0.2)


async def test_retry_waits_its_backoff_then_gives_up():
    calls = []

    @retry(on=ConnectionError, attempts=3, base=0.25, jitter="none")
    async def refused():
        calls.append(elapsed_since(began))
        raise ConnectionError("refused")

    began = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionError):     # it gives up with the real error
        await refused()                      # waits 0.25 s, then 0.5 s: 0.75 s
    assert calls == pytest.approx([0.0, 0.25, 0.75], abs=0.2)


async def test_a_slow_request_is_hedged():
    latencies = iter([0.5, 0.1])

    async def request():
        latency = next(latencies)
        await asyncio.sleep(latency)
        return latency

    began = asyncio.get_running_loop().time()
    assert await hedged(request, after=0.15) == 0.1       # the copy sent at 0.15 s wins at 0.25 s
    assert elapsed_since(began) == pytest.approx(0.25, abs=0.2)


async def test_a_batch_ends_at_its_time_limit():
    async def work(seconds):
        await asyncio.sleep(seconds)
        return seconds

    began = asyncio.get_running_loop().time()
    answers = await gather_with_timeouts([work(0.1), work(5.0), work(0.3)], 0.5)
    assert answers == [0.1, TimedOut(0.5), 0.3]
    assert elapsed_since(began) == pytest.approx(0.5, abs=0.2)
'''

VIRTUAL_CONFTEST = '''
from asyncio_patterns.lab.clock import VirtualTimeLoop


def pytest_asyncio_loop_factories(config, item):
    return {"virtual": VirtualTimeLoop}      # every asyncio test runs on the course's clock
'''

CLOCKS = {  # name: (extra files, pytest options)
    "real clock": ({}, ("-p", "no:looptime_plugin")),
    "looptime": ({}, ("--looptime",)),
    "course's clock": ({"conftest.py": VIRTUAL_CONFTEST}, ("-p", "no:looptime_plugin")),
}
