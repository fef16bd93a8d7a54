"""Run by ``process.run_child`` as a script in a fresh interpreter: each mode is one way a
program meets SIGTERM or Ctrl-C. It prints "ready" when the signal may come, and what it
does after; standard library only, so it starts fast.

- ``no-handler``: no handler for SIGTERM at all;
- ``tutorial-task``: the "cancel all tasks, then loop.stop()" shutdown found in many
  tutorials, scheduled as a task by the signal handler;
- ``tutorial-awaited``: the same shutdown awaited by main, which then closes its database;
- ``ctrl-c``: no handler of our own: what ``asyncio.run`` does on SIGINT.
"""

import asyncio
import signal
import sys


def say(text: str) -> None:
    print(text, flush=True)


async def job(i: int) -> None:
    try:
        await asyncio.sleep(10)  # a job in flight, 10 s from done
        say(f"job {i} completed")
    except asyncio.CancelledError:
        say(f"job {i} cancelled")
        raise


async def tutorial_shutdown(loop: asyncio.AbstractEventLoop, signal=None) -> None:
    # The shape found in many tutorials: cancel everything, gather, stop the loop.
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    tasks.sort(key=asyncio.Task.get_name)  # (sorted only so that the log reads the same every run)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    loop.stop()


async def main(mode: str) -> None:
    loop = asyncio.get_running_loop()
    for i in range(3):
        asyncio.create_task(job(i), name=f"job {i}")
    if mode == "tutorial-task":
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.create_task(tutorial_shutdown(loop, signal.SIGTERM)))
    stop = asyncio.Event()
    if mode == "tutorial-awaited":
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await asyncio.sleep(0.01)  # let the jobs start
        say("ready")
        if mode == "tutorial-awaited":
            await stop.wait()
            await tutorial_shutdown(loop, signal.SIGTERM)
        else:
            await asyncio.sleep(10)  # serving; the jobs run in tasks of their own
    finally:
        say("main: closing the database")
        await asyncio.sleep(0.01)
        say("main: database closed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
