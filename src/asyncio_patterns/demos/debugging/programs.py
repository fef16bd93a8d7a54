"""Small programs that go wrong, run by lesson 14 in a process of their own so that tools can
look at them from outside: ``python -m asyncio_patterns.demos.debugging.programs NAME``.

- ``deadlock``: two transfers take two locks in opposite orders and wait for each other;
- ``stall``: one handler calls a blocking function, which holds the event loop;
- ``dangling``: tasks nobody keeps or awaits, and the warnings they leave at exit.

``deadlock`` and ``stall`` print ``ready`` once they are stuck, then hang: until they are
killed, or ``--limit`` seconds (a thread ends the process even if the loop is blocked).
On SIGUSR1 they print a task dump (``lab.stuck``) and a line ``end of dump``: the task dump on
a signal that a service can keep for production. Task names are ASCII: Python 3.14's
``python -m asyncio ps`` and ``pstree`` show other names as blank (fixed in 3.15).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
import threading
import time
import weakref

from ...lab.stuck import snapshot
from .outside import END_OF_DUMP


def dump_tasks() -> None:
    """Print where every task waits: installed as the SIGUSR1 handler."""
    print(snapshot(), END_OF_DUMP, sep="\n", flush=True)


def _on_signal(loop: asyncio.AbstractEventLoop) -> None:
    if hasattr(signal, "SIGUSR1"):
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)


async def transfer(first: asyncio.Lock, second: asyncio.Lock) -> None:
    async with first:
        await asyncio.sleep(0.01)  # long enough for the other transfer to take its first lock
        async with second:
            pass


async def deadlock() -> None:
    _on_signal(asyncio.get_running_loop())
    a, b = asyncio.Lock(), asyncio.Lock()
    async with asyncio.TaskGroup() as group:
        group.create_task(transfer(a, b), name="transfer a->b")
        group.create_task(transfer(b, a), name="transfer b->a")
        await asyncio.sleep(0.1)
        print("ready", flush=True)


def checksum(data: bytes) -> int:
    print("ready", flush=True)
    time.sleep(3600)  # stands for CPU-bound work: no await, so the loop waits for it
    return sum(data)


async def handler(i: int) -> None:
    while True:
        await asyncio.sleep(0.01)
        if i == 1:
            checksum(b"request")


async def stall() -> None:
    _on_signal(asyncio.get_running_loop())
    async with asyncio.TaskGroup() as group:
        for i in range(3):
            group.create_task(handler(i), name=f"handler-{i}")


async def send_report() -> None:
    await asyncio.sleep(0.01)


async def wait_for_reply(replies: weakref.WeakValueDictionary, key: str) -> str:
    reply = asyncio.get_running_loop().create_future()
    replies[key] = reply  # a table that holds its futures weakly, as some RPC clients do
    return await reply


async def audit() -> None:
    raise ConnectionError("audit log unreachable")


async def dangling() -> None:
    gc.disable()  # no automatic collection: the one below is the first, on every run
    replies: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
    send_report()  # called, never awaited: a coroutine object that never runs
    asyncio.create_task(wait_for_reply(replies, "r1"), name="wait for reply")  # no reference kept
    asyncio.create_task(audit(), name="audit")  # nobody looks at its exception
    await asyncio.sleep(0.01)
    print("tasks before a collection:", sorted(t.get_name() for t in asyncio.all_tasks()), flush=True)
    gc.collect()  # as can happen at any moment
    print("tasks after it:", sorted(t.get_name() for t in asyncio.all_tasks()), flush=True)


PROGRAMS = {"deadlock": deadlock, "stall": stall, "dangling": dangling}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="programs", description="Lesson 14's programs that go wrong.")
    parser.add_argument("name", choices=sorted(PROGRAMS))
    parser.add_argument("--limit", type=float, default=60.0, help="end after this many seconds (default 60)")
    args = parser.parse_args(argv)
    threading.Timer(args.limit, os._exit, args=(3,)).start()  # daemon or not, os._exit ends it all
    asyncio.run(PROGRAMS[args.name]())
    sys.stdout.flush()
    os._exit(0)  # the limit's timer thread must not keep a finished program alive


if __name__ == "__main__":
    main()
