"""Run a learner's code for a check: in virtual time, under a virtual and a real time limit.

``run_guarded(main)`` never raises and never hangs. It reports how the run ended:
``"ok"`` with the result, ``"error"`` with the exception, ``"deadlock"`` (every task
waiting, nothing left to wake them), ``"timeout"`` (still running after ``virtual_limit``
virtual seconds), or ``"hung"`` (still running after ``real_limit`` real seconds: a
blocking call, a loop that never awaits, or one that polls with ``asyncio.sleep(0)`` so
virtual time never moves). A hung run's tasks are then cancelled, which ends a polling
loop; code that never awaits at all runs on in its thread until the kernel restarts.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ..lab.clock import Deadlock, VirtualTimeLoop, next_timer_due

__all__ = ["VIRTUAL_LIMIT", "Attempt", "Outcome", "attempt", "describe_error", "run_guarded"]

VIRTUAL_LIMIT = 600.0  # virtual seconds a checked run may take by default


@dataclass
class Attempt:
    """How one call of the learner's async function ended (filled in by :func:`attempt`)."""

    result: Any = None
    error: BaseException | None = None  # what the learner's code raised
    timed_out: bool = False  # still running when the deadline passed
    not_awaitable: str = ""  # the type returned instead of a coroutine


async def attempt(into: Attempt, function: Callable, *args: Any, timeout: float) -> None:
    """Await ``function(*args)`` for at most ``timeout`` seconds and record in ``into`` how
    it ended. Never raises for the learner's errors, cancellation included."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            running = function(*args)
            if not inspect.isawaitable(running):
                into.not_awaitable = type(running).__name__
                return
            into.result = await running
    except TimeoutError as error:
        if deadline.expired():
            into.timed_out = True
        else:
            into.error = error
    except (Exception, asyncio.CancelledError) as error:  # the deadline turns our own
        into.error = error  # cancellation into TimeoutError above, so this is the learner's


@dataclass(frozen=True)
class Outcome:
    """How a guarded run ended; ``value`` is the result (ok) or the exception (error, deadlock)."""

    status: str
    value: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def describe_error(error: BaseException) -> str:
    """``ValueError: message`` for an exception, looking inside a one-exception group."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    text = re.sub(r"<([\w.]+) object at 0x[0-9a-fA-F]+[^>]*>", r"<\1>", str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_guarded(main: Coroutine[Any, Any, Any], *, virtual_limit: float = VIRTUAL_LIMIT, real_limit: float = 5.0) -> Outcome:
    """Run ``main`` to completion in virtual time on a fresh loop in a daemon thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with asyncio.Runner(loop_factory=lambda: _LimitedLoop(virtual_limit)) as runner:
                box["loop"] = runner.get_loop()
                box["outcome"] = Outcome("ok", runner.run(main))
        except Deadlock as error:
            box["outcome"] = Outcome("deadlock", error)
        except _OverTime:
            box["outcome"] = Outcome("timeout")
        except BaseException as error:  # the learner's code may raise anything; report it
            box["outcome"] = Outcome("error", error)

    thread = threading.Thread(target=target, name="exercise check", daemon=True)
    thread.start()
    thread.join(real_limit)
    if thread.is_alive():
        _cancel_all(box.get("loop"))
        thread.join(1.0)
        return Outcome("hung")
    return box["outcome"]


def _cancel_all(loop: asyncio.AbstractEventLoop | None) -> None:
    """Ask a runaway loop, from another thread, to cancel every task it runs."""
    if loop is None:
        return
    try:
        loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
    except RuntimeError:  # it closed in the meantime
        pass


class _OverTime(Exception):
    """The virtual clock was about to pass the run's limit."""


class _LimitedLoop(VirtualTimeLoop):
    """A virtual-time loop that stops at ``limit`` virtual seconds. No timer is added for
    the limit, so a deadlock is still seen as one (a pending timer would hide it)."""

    def __init__(self, limit: float) -> None:
        super().__init__(thread_grace=0.0)
        self.limit = limit
        self.over = False

    def advance_to_next_timer(self) -> None:
        due = next_timer_due(self)
        if due is not None and due > self.limit and not self.over:
            self.over = True  # raise once; cleaning up afterwards may still need the clock
            raise _OverTime
        super().advance_to_next_timer()
