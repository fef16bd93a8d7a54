"""Run a learner's code for a check: in virtual time, under a virtual and a real time limit.

``run_guarded(main)`` never raises and never hangs. Its :class:`Outcome` says how the run
ended, as a :class:`Status`: it finished (``OK``, with the result), it raised (``ERROR``,
with the exception), every task was waiting with nothing left to wake them
(``DEADLOCK``), it was still running after ``virtual_limit`` virtual seconds
(``TIMEOUT``), or after ``real_limit`` real seconds (``HUNG``: a blocking call, a loop
that never awaits, or one that polls with ``asyncio.sleep(0)`` so virtual time never
moves). A hung run's tasks are then cancelled, which ends a polling loop; code that never
awaits at all runs on in its thread until the kernel restarts. A run that did not finish
also says where its tasks were waiting at that moment (:mod:`~asyncio_patterns.lab.stuck`),
by the lines of the learner's code.

The words for a run that did not finish (:meth:`Outcome.unfinished`), for tasks left
running (:func:`left_running`) and for naming a seed (:func:`replay`) are here, once;
each checker adds only what it knows about its own exercise.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import re
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..lab.clock import Deadlock, VirtualTimeLoop, next_timer_due, task_label
from ..lab.loopthread import LoopThread
from ..lab.stuck import Place, snapshot

__all__ = ["REAL_LIMIT", "VIRTUAL_LIMIT", "Attempt", "Outcome", "Status", "attempt", "describe_error",
           "left_running", "replay", "run_guarded", "still_running", "task_names"]

VIRTUAL_LIMIT = 600.0  # virtual seconds a checked run may take by default
REAL_LIMIT = 5.0  # real seconds a checked run may take by default; a correct one takes milliseconds


@dataclass
class Attempt:
    """How one call of the learner's async function ended (filled in by :func:`attempt`)."""

    result: Any = None
    error: BaseException | None = None  # what the learner's code raised
    timed_out: bool = False  # still running when the deadline passed
    not_awaitable: str = ""  # the type returned instead of a coroutine
    left_running: str = ""  # the words for tasks still running when it ended ("" if none)


async def attempt(into: Attempt, function: Callable, *args: Any, timeout: float | None = None,
                  name: str = "") -> None:
    """Await ``function(*args)`` for at most ``timeout`` seconds (None: no limit) and record
    in ``into`` how it ended, and which tasks it left running (see :func:`left_running`;
    ``name`` is how the verdict calls it, by default ``function.__name__ + "()"``).
    Never raises for the learner's errors, cancellation included."""
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
    finally:  # at once, before any await: a task cancelled but not awaited is still running here
        into.left_running = left_running(still_running(), name or f"{getattr(function, '__name__', 'it')}()")


class Status(enum.Enum):
    """How a guarded run ended."""

    OK = "ok"  # it finished; the outcome's value is the result
    ERROR = "error"  # it raised; the value is the exception
    DEADLOCK = "deadlock"  # every task was waiting, nothing left to wake them; the value is the Deadlock
    TIMEOUT = "timeout"  # still running after the virtual time limit
    HUNG = "hung"  # still running after the real time limit


@dataclass(frozen=True)
class Outcome:
    """How a guarded run ended, and the limits it ran under."""

    status: Status
    value: Any = None
    virtual_limit: float = VIRTUAL_LIMIT
    real_limit: float = REAL_LIMIT
    stuck: str = ""  # where the tasks of a run that did not finish were waiting ("" if unknown)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def finished(self) -> bool:
        """It returned or raised (the other three never finished)."""
        return self.status in (Status.OK, Status.ERROR)

    def not_judged(self, *, note: str = "", **hints: str) -> str | None:
        """Why this run cannot be judged, or None if it returned. For a checker that records the
        learner's errors itself (with :func:`attempt`), so that an error here is the checker's
        own; ``hints`` go to :meth:`unfinished`, ``note`` (a seed to replay) at the end."""
        if self.status is Status.OK:
            return None
        if self.status is Status.ERROR:
            text = f"the check itself failed with {describe_error(self.value)}"
        else:
            text = self.unfinished(**hints)
        return f"{text} {note}".rstrip()

    def unfinished(self, *, deadlock: str = "", timeout: str = "", hung: str = "") -> str:
        """What a run that did not finish did, then the checker's own hint for that case."""
        said, hint = {
            Status.DEADLOCK: ("every task was waiting, with nothing left to wake them", deadlock),
            Status.TIMEOUT: (f"still running after {self.virtual_limit:g} s of virtual time", timeout),
            Status.HUNG: (f"the event loop was kept busy for {self.real_limit:g} s of real time without "
                          "letting time pass: a call that blocks (time.sleep) or a loop that never waits "
                          "(`while ...: pass`, or polling with `await asyncio.sleep(0)`) holds it", hung),
        }[self.status]
        text = f"{said}. {hint}".rstrip()
        if self.status is Status.HUNG:
            text += (" If the notebook stays slow, restart the kernel: a loop with no await at all "
                     "cannot be stopped from outside.")
        if self.stuck:
            text += f" Where the tasks were: {self.stuck}."
        return text


def describe_error(error: BaseException) -> str:
    """``ValueError: message`` for an exception, looking inside a one-exception group."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    text = re.sub(r"<([\w.]+) object at 0x[0-9a-fA-F]+[^>]*>", r"<\1>", str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def still_running(besides: asyncio.Task | None = None) -> list[asyncio.Task]:
    """The tasks not yet done, other than ``besides`` (by default the current task).

    Call it the moment the learner's function has returned, before any ``await``: a task
    that was cancelled but not awaited is still running then, and would run its clean-up
    after the function had returned.
    """
    besides = besides or asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not besides and not task.done()]


def task_names(tasks: list[asyncio.Task]) -> str:
    """The tasks' labels, each once: "parser, worker x3"."""
    counts = Counter(task_label(task) for task in tasks)
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in sorted(counts.items()))


def left_running(tasks: list[asyncio.Task], function: str) -> str:
    """The words for ``tasks`` still running when ``function`` ended ("" if there are none)."""
    if not tasks:
        return ""
    if all(task.cancelling() for task in tasks):
        why = ("they were cancelled but not awaited. Cancelling a task only asks it to stop: await the "
               "tasks after cancelling them (a TaskGroup does both for you).")
    else:
        why = "wait for every task you start, or cancel it and then await it (a TaskGroup does both for you)."
    return f"{function} ended with {len(tasks)} task(s) still running ({task_names(tasks)}): {why}"


def replay(check: str, answer: str, seed: int) -> str:
    """The note that names a failing round's seed: ``replay("check_bank", "Bank", 3)`` is
    "(seed 3; check_bank(Bank, seed=3) replays this round)"."""
    return f"(seed {seed}; {check}({answer}, seed={seed}) replays this round)"


def run_guarded(main: Coroutine[Any, Any, Any], *, virtual_limit: float = VIRTUAL_LIMIT,
                real_limit: float = REAL_LIMIT) -> Outcome:
    """Run ``main`` to completion in virtual time on a fresh loop in a daemon thread."""
    run = LoopThread(main, loop_factory=lambda: _LimitedLoop(virtual_limit), name="exercise check")
    limits = {"virtual_limit": virtual_limit, "real_limit": real_limit}
    if not run.join(real_limit):
        stuck = _where(run.loop)  # read from here while the loop's thread is busy
        run.cancel()  # ends a loop that polls; one that never awaits runs on in its thread
        run.join(1.0)
        return Outcome(Status.HUNG, **limits, stuck=stuck)
    try:
        return Outcome(Status.OK, run.result(), **limits)
    except Deadlock as error:
        return Outcome(Status.DEADLOCK, error, **limits, stuck=run.loop.stuck)
    except _OverTime:
        return Outcome(Status.TIMEOUT, **limits, stuck=run.loop.stuck)
    except BaseException as error:  # the learner's code may raise anything; report it
        return Outcome(Status.ERROR, error, **limits)


_PACKAGE = str(Path(__file__).resolve().parent.parent)  # the checkers' own code, and the bench's


def _learners(place: Place) -> bool:
    return not place.stdlib and not str(Path(place.file).resolve()).startswith(_PACKAGE)


def _where(loop: asyncio.AbstractEventLoop) -> str:
    """Where each pending task of ``loop`` waits, by the learner's lines (see lab.stuck)."""
    try:
        return snapshot(loop).summary(_learners)
    except Exception:  # a snapshot must never turn a verdict into an error  # pragma: no cover
        return ""


class _OverTime(Exception):
    """The virtual clock was about to pass the run's limit."""


class _LimitedLoop(VirtualTimeLoop):
    """A virtual-time loop that stops at ``limit`` virtual seconds. No timer is added for
    the limit, so a deadlock is still seen as one (a pending timer would hide it)."""

    def __init__(self, limit: float) -> None:
        super().__init__(thread_grace=0.0)
        self.limit = limit
        self.over = False
        self.stuck = ""  # where the tasks waited when the run deadlocked or ran over

    def describe_waiting(self) -> str:
        self.stuck = _where(self)  # every task is waiting: the moment to look
        return super().describe_waiting()

    def advance_to_next_timer(self) -> None:
        due = next_timer_due(self)
        if due is not None and due > self.limit and not self.over:
            self.over = True  # raise once; cleaning up afterwards may still need the clock
            self.stuck = _where(self)
            raise _OverTime
        super().advance_to_next_timer()
