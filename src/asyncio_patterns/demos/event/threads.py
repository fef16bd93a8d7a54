"""Setting an asyncio Event from another thread or a signal handler: unsafe and safe ways.

asyncio objects are not thread-safe. ``event.set()`` called outside the loop's thread
marks the waiters' futures done and queues their wake-up, but nothing tells the loop,
which may be asleep in ``select()`` until its next timer or I/O. So the waiter wakes
late, or never; and because the loop's data structures are touched from two threads at
once, nothing at all is guaranteed. ``loop.call_soon_threadsafe(event.set)`` hands the
call to the loop and wakes it. Both demos run in real time: a thread or a signal
cannot be simulated on the virtual clock.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ...lab.clock import run_real
from ...lab.validate import seconds

__all__ = ["SIGNAL_MODES", "WakeResult", "signal_set_demo", "thread_set_demo"]

SIGNAL_MODES = ("signal.signal: event.set()", "signal.signal: call_soon_threadsafe", "loop.add_signal_handler")


@dataclass(frozen=True)
class WakeResult:
    """How long after ``set()`` the waiter woke (real seconds), against the loop's next timer."""

    how: str
    woke_after: float
    next_timer_after: float

    @property
    def prompt(self) -> bool:
        """Woke well before the loop's next timer would have woken it anyway."""
        return self.woke_after < self.next_timer_after / 2

    def __repr__(self) -> str:
        return f"{self.how}: the waiter woke promptly: {self.prompt}"


async def _wait_for_thread(safe: bool, set_after: float, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    sent: list[float] = []

    def other_thread() -> None:
        time.sleep(set_after)
        sent.append(time.monotonic())
        if safe:
            loop.call_soon_threadsafe(event.set)
        else:
            event.set()  # touches the loop's data from the wrong thread, and does not wake it

    thread = threading.Thread(target=other_thread, name="setter")
    thread.start()
    try:
        async with asyncio.timeout(timeout):  # the loop's only timer: it wakes the loop at `timeout`
            await event.wait()
    except TimeoutError:
        pass
    woke = loop.time()  # on every platform asyncio's clock is time.monotonic()
    thread.join()
    return woke - sent[0]


def _check_wait(name: str, after: float, timeout: float) -> None:
    seconds(name, after)
    seconds("timeout", timeout)
    if timeout <= after:
        raise ValueError(f"timeout must be longer than {name}, got timeout={timeout} {name}={after}")


def thread_set_demo(safe: bool = False, *, set_after: float = 0.05, timeout: float = 0.2) -> WakeResult:
    """A task waits for an Event (at most ``timeout`` s) that another thread sets after ``set_after`` s.

    Runs on a fresh real-time loop with nothing else to do, so the loop sleeps in
    ``select()`` until its only timer, the timeout. ``safe=False`` calls ``event.set()`` in
    the thread; ``safe=True`` calls ``loop.call_soon_threadsafe(event.set)``.
    """
    _check_wait("set_after", set_after, timeout)
    woke_after = run_real(_wait_for_thread(bool(safe), set_after, timeout))
    how = "loop.call_soon_threadsafe(event.set)" if safe else "event.set() from the thread"
    return WakeResult(how, woke_after, timeout - set_after)


def signal_set_demo(*, send_after: float = 0.05, timeout: float = 0.2) -> list[WakeResult]:
    """The same with a SIGUSR1 handler as the setter, once per mode in ``SIGNAL_MODES``.

    Signal handlers run in a process's main thread, which in a notebook belongs to the
    kernel, so this runs in a fresh Python process. Unix only (Windows has no SIGUSR1).
    """
    _check_wait("send_after", send_after, timeout)
    if not hasattr(signal, "SIGUSR1"):
        raise RuntimeError("this demo needs SIGUSR1, which Windows does not have; on Windows, read along")
    script = Path(__file__).with_name("signal_child.py")
    done = subprocess.run([sys.executable, str(script), str(send_after), str(timeout), *SIGNAL_MODES],
                          capture_output=True, text=True, timeout=30, check=True)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return [WakeResult(row["mode"], row["woke_after"], timeout - send_after) for row in rows]
