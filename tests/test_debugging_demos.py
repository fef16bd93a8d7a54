"""Lesson 14's demos: stuck programs read from outside, the warnings of dangling tasks, the
steps debug mode reports as slow, and the picture of a hang."""

import asyncio
import sys
import time

import matplotlib
import pytest

from asyncio_patterns.demos.debugging import (
    dangling_warnings, pstree, slow_steps, stack_dump, stuck_program, task_dump,
)
from asyncio_patterns.demos.debugging.figure import stuck_figure
from asyncio_patterns.demos.lock import deadlock_demo

matplotlib.use("Agg")


def test_a_deadlocked_program_shows_both_transfers_waiting_for_a_lock_from_outside():
    with stuck_program("deadlock") as program:
        seen = pstree(program)
        inside = task_dump(program)
        pid = program.pid
    if sys.version_info >= (3, 14):
        assert seen.count("Lock.acquire locks.py") == 2 and "(T) transfer a->b" in seen and "(T) transfer b->a" in seen
        assert "/" not in seen and "0x" not in seen
    else:
        assert seen.startswith("python -m asyncio pstree needs Python 3.14 or later")
        assert inside in seen
    assert [line.split()[-1] for line in inside.splitlines()[1:]] == ["Lock.acquire()", "Lock.acquire()"]
    assert "transfer a->b" in inside and "async with second:" in inside
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)  # killed at the end of the with block


def test_a_stalled_program_shows_the_running_handler_at_its_blocking_call():
    with stuck_program("stall") as program:
        seen = pstree(program)
        dumped = stack_dump(program)
        began = time.monotonic()
        unanswered = task_dump(program)
        waited = time.monotonic() - began
    assert unanswered.endswith("(no answer: the program's event loop is not turning)") and waited < 10
    if sys.version_info >= (3, 14):
        handler_1 = seen.split("(T) handler-1")[1].split("(T)")[0]
        assert "handler programs.py:" in handler_1 and "sleep" not in handler_1  # running: no await below it
    if sys.version_info >= (3, 15):
        assert "time.sleep(3600)" in dumped and "checksum" in dumped
    else:
        assert dumped.startswith("python -m profiling.sampling needs Python 3.15 or later")


def test_dangling_tasks_leave_three_warnings_and_dev_mode_says_where_each_was_created():
    plain, dev = dangling_warnings(), dangling_warnings(dev=True)
    for text in (plain, dev):
        assert "tasks before a collection: ['Task-1', 'wait for reply']\ntasks after it: ['Task-1']" in text
        assert "coroutine 'send_report' was never awaited" in text
        assert "Task exception was never retrieved" in text and "Task was destroyed but it is pending!" in text
    assert "source_traceback" not in plain
    assert dev.count("Object created at") == 2 and "Coroutine created at" in dev
    assert 'asyncio.create_task(audit(), name="audit")' in dev
    assert "/" not in dev.replace("</", "")  # no directories


def test_debug_mode_names_the_task_whose_step_held_the_loop():
    async def handler(i):
        await asyncio.sleep(0.01)
        if i == 1:
            time.sleep(0.12)  # blocks
        await asyncio.sleep(0.01)

    async def main():
        async with asyncio.TaskGroup() as group:
            for i in range(3):
                group.create_task(handler(i), name=f"handler-{i}")

    (step,) = slow_steps(main())
    assert step.task == "handler-1" and step.took >= 0.12
    assert str(step).startswith("handler-1: one step held the loop for ") and " ms of real time, then waited at " \
        "test_debugging_demos.py:" in str(step)
    with pytest.raises(ValueError, match="threshold"):
        slow_steps(main(), threshold=-1)


def test_the_picture_of_a_hang_has_the_tree_and_the_timeline():
    run = deadlock_demo()
    fig = stuck_figure(run.stuck, run.trace, title="t", unit="ms")
    tree, line = fig.axes[0], fig.axes[1]
    assert tree.texts[0].get_text() == str(run.stuck)
    assert [t.get_text() for t in line.get_legend().get_texts()][-1] == "snapshot"
    with pytest.raises(ValueError, match="no snapshot"):
        stuck_figure(None, run.trace, title="t")


def test_the_programs_are_the_ones_the_outside_view_knows():
    from asyncio_patterns.demos.debugging import outside, programs

    assert sorted(programs.PROGRAMS) == list(outside.PROGRAMS)
    with pytest.raises(ValueError, match="name must be one of"):
        with stuck_program("nope"):
            pass


def test_where_pstree_is_refused_one_line_says_so_and_the_task_dump_follows(monkeypatch):
    import subprocess

    from asyncio_patterns.demos.debugging import outside

    refused = subprocess.CompletedProcess([], 1, "", "Error: The specified process cannot be attached to due to "
                                                     "insufficient permissions.\n")
    monkeypatch.setattr(outside, "_tool", lambda *args: refused)
    monkeypatch.setattr(outside.sys, "version_info", (3, 14, 0))
    with stuck_program("deadlock") as program:
        seen = pstree(program)
    first, *dump = seen.splitlines()
    assert first == ("python -m asyncio pstree was not allowed to read the process here (see 'Permission "
                     "requirements' in the Python docs); the program's own task dump instead:")
    assert len(dump) == 3 and all("Lock.acquire()" in line for line in dump[1:])


def test_a_snapshots_cost_is_measured_per_number_of_tasks():
    from asyncio_patterns.demos.debugging.cost import snapshot_cost

    cost = snapshot_cost((5, 50), repeat=2)
    assert cost.tasks == (5, 50) and len(cost.seconds) == 2 and all(s > 0 for s in cost.seconds)
    assert cost.per_task == cost.seconds[-1] / 50
    assert repr(cost).splitlines()[0].startswith("5 tasks: ") and repr(cost).endswith(" ms of real time")
    ax = cost.plot(title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["measured", "in proportion to the tasks"]
    for bad, message in [((0,), "tasks must be a whole number >= 1, got 0"), ((), "at least one")]:
        with pytest.raises(ValueError, match=message):
            snapshot_cost(bad)
    with pytest.raises(ValueError, match="repeat must be a whole number >= 1, got 0"):
        snapshot_cost((5,), repeat=0)
