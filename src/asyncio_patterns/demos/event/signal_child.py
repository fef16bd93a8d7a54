"""Run by ``threads.signal_set_demo`` as a script in a fresh interpreter (signal handlers
belong to a process's main thread, which in a notebook is the kernel's). For each mode
named on the command line, one asyncio loop in the main thread waits for an Event that a
SIGUSR1 handler sets; prints one JSON line per mode with how long after the signal the
waiter woke. Imports only the standard library, so it starts fast."""

import asyncio
import json
import os
import signal
import sys
import threading
import time


async def wait_for_signal(mode: str, send_after: float, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    sent: list[float] = []

    def handler(*_: object) -> None:
        sent.append(time.monotonic())
        if mode == "signal.signal: event.set()":
            event.set()  # runs between two bytecodes of whatever the main thread was doing
        else:
            loop.call_soon_threadsafe(event.set)

    if mode == "loop.add_signal_handler":
        loop.add_signal_handler(signal.SIGUSR1, handler)
    else:
        signal.signal(signal.SIGUSR1, handler)
    sender = threading.Timer(send_after, os.kill, (os.getpid(), signal.SIGUSR1))
    sender.start()
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass
    woke = loop.time()  # the loop's clock is time.monotonic()
    sender.join()
    if mode == "loop.add_signal_handler":
        loop.remove_signal_handler(signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    return woke - sent[0]


if __name__ == "__main__":
    send_after, timeout = float(sys.argv[1]), float(sys.argv[2])
    for mode in sys.argv[3:]:
        woke_after = asyncio.run(wait_for_signal(mode, send_after, timeout))
        print(json.dumps({"mode": mode, "woke_after": woke_after}), flush=True)
