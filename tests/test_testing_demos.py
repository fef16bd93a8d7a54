"""Lesson 13's pytest runner: outcomes read from pytest's report, the same every run, and the
loop-factory conftest that puts a suite on the course's clock."""

from asyncio_patterns.demos.testing.suite import CLOCKS, VIRTUAL_CONFTEST, run_pytest

TESTS = """
import asyncio
import socket

async def test_waits_one_second():
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(1.0)
    assert loop.time() - began == 1.0        # exact on a virtual clock only

def test_fails():
    assert 1 + 1 == 3, "arithmetic"

def test_leaks_a_socket():
    connection = socket.socket()
    del connection
"""


def test_outcomes_are_read_from_the_report_and_a_socket_leak_fails():
    run = run_pytest({"test_some.py": TESTS}, "-p", "no:looptime_plugin", "-k", "fails or leaks")
    assert run.outcomes == {
        "test_fails": "failed: AssertionError: arithmetic",
        "test_leaks_a_socket": run.outcomes["test_leaks_a_socket"],
    }
    assert run.outcomes["test_leaks_a_socket"].startswith("failed: pytest.PytestUnraisableExceptionWarning")
    assert "fd=N," in run.outcomes["test_leaks_a_socket"]  # the run's own descriptor number is blanked
    assert run.passed == 0 and run.seconds > 0 and run.cpu_seconds > 0
    assert str(run).splitlines()[0] == "test_fails: failed: AssertionError: arithmetic"


def test_the_virtual_conftest_runs_a_wait_instantly_and_exactly():
    files, options = CLOCKS["course's clock"]
    assert files == {"conftest.py": VIRTUAL_CONFTEST}
    run = run_pytest({"test_some.py": TESTS, **files}, *options, "-k", "waits")
    assert run.outcomes == {"test_waits_one_second": "passed"}
    assert run.test_seconds < 0.5


def test_a_run_with_no_tests_says_so():
    run = run_pytest({"test_none.py": "x = 1\n"})
    assert run.outcomes == {} and str(run).startswith("no tests ran:")
