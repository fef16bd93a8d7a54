"""The stuck-task snapshot: every pending task with the line it waits at, who awaits it
(Python 3.14+), the same text on every run and machine."""

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest

from asyncio_patterns import run_virtual
from asyncio_patterns.lab.loopthread import LoopThread
from asyncio_patterns.lab.stuck import CALL_GRAPH, Snapshot, shorten, snapshot, watch

HERE = "test_stuck.py"


async def consumer(queue):
    while True:
        await queue.get()  # the line every consumer waits at


async def pipeline():
    queue = asyncio.Queue()
    async with asyncio.TaskGroup() as group:
        for i in range(2):
            group.create_task(consumer(queue), name=f"consumer-{i}")
        await queue.join()
        queue.put_nowait("job")
        await asyncio.Event().wait()  # never set


def line_of(text):
    source = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(source, 1) if text in line)


def test_each_pending_task_is_shown_with_its_line_and_the_call_it_waits_in():
    watched = run_virtual(watch(pipeline(), after=5))
    stuck = watched.stuck
    assert not watched.finished and stuck.time == 5
    names = {task.name: task for task in stuck.tasks}
    assert sorted(names) == ["consumer-0", "consumer-1", "main"]
    consumer_line = line_of("await queue.get()  # the line")
    for name in ("consumer-0", "consumer-1"):
        place = names[name].where()
        assert (place.short_file, place.line, place.function) == (HERE, consumer_line, "consumer")
        assert names[name].waits_in == "Queue.get"
    main = names["main"].where()
    assert (main.line, main.code) == (line_of("await asyncio.Event().wait()  # never set"),
                                      "await asyncio.Event().wait()  # never set")
    assert names["main"].waits_in == "Event.wait"


def test_on_314_the_tasks_are_a_tree_of_who_awaits_whom_and_before_a_list():
    stuck = run_virtual(watch(pipeline(), after=5)).stuck
    lines = str(stuck).splitlines()
    consumer_line = line_of("await queue.get()  # the line")
    if CALL_GRAPH:
        assert stuck.linked
        assert lines[0].startswith("main ")
        assert lines[1].startswith("├── consumer-0 ") and lines[2].startswith("└── consumer-1 ")
    else:
        assert not stuck.linked
        assert [line.split()[0] for line in lines] == ["consumer-0", "consumer-1", "main"]
    assert all(f"{HERE}:" in line for line in lines)
    assert f"{HERE}:{consumer_line}  await queue.get()  # the line every consumer waits at  in Queue.get()" in lines[1]


def test_gather_and_an_awaited_task_are_linked_on_314():
    async def leaf():
        await asyncio.sleep(100)

    async def middle():
        await asyncio.gather(leaf(), leaf())

    async def top():
        await asyncio.create_task(middle(), name="middle")

    text = str(run_virtual(watch(top(), after=1)).stuck)
    if CALL_GRAPH:
        assert text.splitlines()[:2][1].startswith("└── middle ")
        assert text.count("│") + text.count("└") + text.count("├") >= 3
        assert "    ├── leaf " in text and "    └── leaf " in text
    else:
        assert "└" not in text and text.count("leaf ") == 2


def test_the_summary_counts_tasks_waiting_at_the_same_place():
    async def worker(event):
        await event.wait()

    async def main():
        event = asyncio.Event()
        workers = [asyncio.create_task(worker(event)) for _ in range(3)]
        named = [asyncio.create_task(worker(event), name=f"w{i}") for i in range(2)]
        await asyncio.gather(*workers, *named)

    summary = run_virtual(watch(main(), after=1)).stuck.summary()
    line = line_of("await event.wait()")
    assert f"w0, w1 at line {line} of worker() (`await event.wait()`), in Event.wait()" in summary
    assert f"worker() x3 at line {line} (`await event.wait()`), in Event.wait()" in summary
    assert summary.startswith("main at line ")
    assert run_virtual(watch(main(), after=1)).stuck.summary(most=1).endswith("; and 2 more")


def test_a_run_that_finishes_in_time_gives_its_result_and_no_snapshot():
    async def quick():
        await asyncio.sleep(1)
        return "done"

    watched = run_virtual(watch(quick(), after=5))
    assert watched.finished and watched.result == "done" and watched.stuck is None


def test_the_watched_run_is_cancelled_after_the_snapshot():
    ended = []

    async def slow():
        try:
            await asyncio.sleep(100)
        finally:
            ended.append(asyncio.get_running_loop().time())

    assert not run_virtual(watch(slow(), after=2)).finished
    assert ended == [2]


def test_a_snapshot_is_the_same_text_every_run():
    assert len({str(run_virtual(watch(pipeline(), after=5)).stuck) for _ in range(10)}) == 1


def test_a_task_running_a_blocking_call_is_seen_from_another_thread_at_its_line():
    started = threading.Event()

    async def blocks():
        started.set()
        time.sleep(0.5)  # holds the loop's thread

    run = LoopThread(blocks())
    assert started.wait(5)
    stuck = snapshot(run.loop)
    run.join()
    (task,) = stuck.tasks
    assert task.running and task.where().line == line_of("time.sleep(0.5)  # holds")
    assert task.describe() == "blocks() at line %d (`time.sleep(0.5)  # holds the loop's thread`), running" % (
        line_of("time.sleep(0.5)  # holds"))


def test_no_pending_task_says_so():
    async def alone():
        return snapshot()

    assert str(run_virtual(alone())) == "no task is pending"
    assert isinstance(run_virtual(alone()), Snapshot)


def test_shorten_cuts_paths_to_file_names_and_drops_the_standard_librarys_lines():
    stdlib = asyncio.__file__.rsplit("/", 1)[0]
    text = (f"    └──  main /home/me/app/server.py:11\n"
            f"        └──  TaskGroup.__aexit__ {stdlib}/taskgroups.py:72\n"
            f'  File "{stdlib}/runners.py", line 205, in run\n'
            f'  File "/tmp/ipykernel_123/4567.py", line 3, in main\n'
            f"<Task pending coro=<main() running at /srv/app.py:9> created at {stdlib}/tasks.py:395>")
    assert shorten(text) == ("    └──  main server.py:11\n"
                             "        └──  TaskGroup.__aexit__ taskgroups.py\n"
                             '  File "runners.py", in run\n'
                             '  File "cell", line 3, in main\n'
                             "<Task pending coro=<main() running at app.py:9> created at tasks.py>")


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="the fallback of 3.11-3.13")
def test_before_314_the_stacks_come_from_get_stack():
    stuck = run_virtual(watch(pipeline(), after=5)).stuck
    assert all(task.awaited_by == () for task in stuck.tasks)


def test_shorten_cuts_relative_paths_too():
    assert shorten('  File "src/pkg/programs.py", line 60, in checksum') == '  File "programs.py", line 60, in checksum'


def test_drawing_the_tree_indexes_who_awaits_whom_once_not_once_per_task(monkeypatch):
    # Looking the children up task by task made a dump of 10,000 tasks take seconds.
    stuck = run_virtual(watch(pipeline(), after=5)).stuck
    calls = []
    index = Snapshot._children
    monkeypatch.setattr(Snapshot, "_children", lambda self: calls.append(1) or index(self))
    str(stuck)
    assert len(calls) == 1
