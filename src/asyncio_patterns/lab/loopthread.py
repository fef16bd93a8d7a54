"""Run a coroutine on a fresh event loop in a thread of its own.

    run = LoopThread(main(), loop_factory=asyncio.new_event_loop, name="worker")
    if run.join(timeout=5):  # True once the run has ended
        print(run.result())
    else:
        run.cancel()  # ask every task of the loop to stop

The loop runs under ``asyncio.Runner``, which closes it properly however ``main`` ends:
tasks still pending are cancelled and awaited, async generators and the default executor
are shut down. The thread is a daemon: code that never awaits cannot be stopped from
outside, and must not keep the interpreter from exiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

# Waits are cut into slices this long: on Windows, Ctrl-C reaches a waiting thread only
# between two waits, so this bounds how long the stop button takes there. They wait on an
# Event, not Thread.join: on 3.11 a join interrupted by Ctrl-C marks the thread as stopped.
_SLICE = 0.05


class LoopThread(Generic[T]):
    """``main`` run to completion on a loop made by ``loop_factory``, in a daemon thread.

    The thread starts at once. The loop is made in the calling thread, so :meth:`cancel`
    and :meth:`submit` work from the first moment; what they ask for runs once the loop
    runs. A KeyboardInterrupt while :meth:`join` waits (Ctrl-C, a notebook's stop button)
    cancels every task of the loop, waits for the run to end and is raised again; a
    second one stops that wait. Any other exception that interrupts the wait (raised by a
    signal handler: a test runner's timeout, a SIGTERM handler) also cancels the run, so no
    loop is left running behind it; it is raised at once.
    """

    def __init__(
        self,
        main: Coroutine[Any, Any, T],
        *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
        name: str = "loop thread",
    ) -> None:
        self.loop = loop_factory()
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(main,), name=name, daemon=True)
        self.thread.start()

    def _run(self, main: Coroutine[Any, Any, T]) -> None:
        try:
            with asyncio.Runner(loop_factory=lambda: self.loop) as runner:
                self._result = runner.run(main)
        except BaseException as error:  # whatever main raised: result() raises it
            self._error = error
        finally:
            self._done.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended, at most ``timeout`` real seconds; True if it has."""
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        try:
            while not self._done.is_set() and (left := deadline - time.monotonic()) > 0:
                self._done.wait(min(left, _SLICE))
        except KeyboardInterrupt:
            self.cancel()
            while not self._done.wait(_SLICE):
                pass
            self.thread.join()  # it has only to return
            raise
        except BaseException:
            self.cancel()
            raise
        if not self._done.is_set():
            return False
        self.thread.join()  # it has only to return
        return True

    def result(self) -> T:
        """What ``main`` returned, or raise what it raised. The run must have ended."""
        if not self._done.is_set():
            raise RuntimeError(f"{self.thread.name} is still running: join() it first")
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        """Ask every task of the loop to stop, from any thread (nothing once it has closed)."""
        try:
            self.loop.call_soon_threadsafe(self._cancel_all)
        except RuntimeError:  # the loop has closed: nothing is left to cancel
            pass

    def _cancel_all(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            task.cancel()

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run ``coroutine`` on this loop beside ``main``; wait for its future from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)
