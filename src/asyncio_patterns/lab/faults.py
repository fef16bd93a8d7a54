"""Try a scenario with a fault at every moment: a cancel at each await, an error from each call.

A *scenario* is an async function that builds a pattern, drives it, and returns what its
invariants need; a *check* turns that into the list of promises broken (empty: all kept)::

    async def stop_while_busy(probe):
        async with WorkerPool(probe.dependency(handle), workers=2) as pool:
            for job in range(5):
                pool.submit(job)
            await asyncio.sleep(0.5)
            await probe.target(pool.stop(deadline=1.0))   # the task whose awaits are tried
        return pool.report

    def nothing_lost(report):
        return [f"{report.lost} accepted job(s) lost"] if report.lost else []

    print(explore(Scenario("stop while busy", stop_while_busy, nothing_lost)))

:func:`explore` runs the scenario in virtual time once, counting the *moments*: each time
the target task suspends (an await that really yields to the loop) and each call of a
dependency. Then, for every moment in turn, it runs the scenario afresh and cancels the
target there (kind ``"cancel"``), or makes that dependency call raise :class:`InjectedError`
(kind ``"raise"``), and checks the invariants. Each run is deterministic, so a moment
found once is found again: a :class:`Failure` names it by kind, number and seed (replay
it with :func:`replay`), and says when (virtual time) and where (file, line, function).

Besides the scenario's own check, every run is held to the promises of its own: the
scenario returns (it raises nothing, and does not deadlock or run past ``limit`` virtual
seconds), no task is left running when it returns, no exception goes unretrieved and no
coroutine is dropped without being awaited.

Kind ``"cancel twice"`` (asked for with ``kinds=``) cancels the target at each await and
again at the next await of the same task, if it reaches one: a second Ctrl-C, or an outer
timeout firing while the target is still cleaning up after the first cancel.

With ``seeds=range(n)``, every run is repeated under ``n`` orders of the callbacks that are
ready at the same virtual instant (:func:`~asyncio_patterns.lab.clock.run_virtual`'s
``seed``); ``None`` is asyncio's own order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import os
import time
import types
import warnings
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .clock import Deadlock, run_virtual, task_label

__all__ = ["Failure", "InjectedError", "Moment", "Probe", "Report", "Scenario", "explore", "replay"]

T = TypeVar("T")

KINDS = ("cancel", "raise", "cancel twice")
DEFAULT_KINDS = ("cancel", "raise")
_SKIP = (os.path.dirname(asyncio.__file__) + os.sep, contextlib.__file__, __file__)  # not where an await is written


class InjectedError(Exception):
    """The error a dependency call raises when the harness makes it fail."""


@dataclass(frozen=True)
class Moment:
    """One place a fault can land: the ``index``-th suspension of the target (``"cancel"``; with
    ``"cancel twice"``, the same task's next suspension too) or the ``index``-th dependency call
    (``"raise"``), at virtual ``time``, written at ``where``."""

    kind: str
    index: int
    time: float
    where: str
    seed: int | None = None

    def __str__(self) -> str:
        at = {"cancel": f"cancel at await {self.index}", "raise": f"raise at call {self.index}",
              "cancel twice": f"cancel at await {self.index} and at its next"}[self.kind]
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"{at} (t={self.time:g} s, {self.where}{seed})"


@dataclass(frozen=True)
class Failure:
    """A run in which promises were broken: the moment of the fault (None: no fault) and the seed."""

    moment: Moment | None
    seed: int | None
    broken: tuple[str, ...]

    def __str__(self) -> str:
        if self.moment is not None:
            at = str(self.moment)
        else:
            at = "no fault" + ("" if self.seed is None else f" (seed {self.seed})")
        return f"{at}: {'; '.join(self.broken)}"


@dataclass
class Report:
    """What :func:`explore` tried on one scenario and what broke."""

    scenario: str
    runs: int = 0  # every run, the plain ones included
    moments: int = 0  # runs with a fault
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0  # real time the exploration took

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        head = (f"{self.scenario}: {self.moments} moments tried in {self.runs} runs, "
                f"{len(self.failures)} broke a promise")
        return "\n".join([head, *(f"  {failure}" for failure in self.failures)])


@dataclass(frozen=True)
class Scenario(Generic[T]):
    """``run(probe)`` drives the pattern and returns a state; ``check(state)`` lists the broken
    promises. ``limit``: virtual seconds a run may take before it counts as hung."""

    name: str
    run: Callable[[Probe], Awaitable[T]]
    check: Callable[[T], Iterable[str]] = lambda state: ()
    limit: float = 600.0


def _where(frame: types.FrameType | None) -> str:
    if frame is None:
        return "?"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno} in {frame.f_code.co_name}"


def _await_site(coro: Any) -> str:
    """Where the chain of awaits ``coro`` is suspended in, innermost first, asyncio's own frames left out."""
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None and not frame.f_code.co_filename.startswith(_SKIP):
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " < ".join(_where(frame) for frame in reversed(frames)) or "?"


class Probe:
    """Handed to a scenario: marks the target task and the dependencies, and places the fault."""

    def __init__(self, fault: tuple[str, int] | None, seed: int | None) -> None:
        self.fault = fault
        self.seed = seed
        self.suspensions = 0  # the target's awaits that yielded, so far
        self.calls = 0  # dependency calls, so far
        self.injected: Moment | None = None  # where the fault landed
        self._again: asyncio.Task | None = None  # the task a "cancel twice" cancels once more

    async def target(self, awaitable: Awaitable[T]) -> T | BaseException:
        """Run ``awaitable`` as the target task (its awaits are the moments) and wait for it.

        Returns its result, or the exception the fault caused (a ``CancelledError`` or an
        :class:`InjectedError`), so the scenario goes on to clean up and return its state.
        Any other exception is raised, and so is a cancel of the task that called this one
        (a coroutine it then never started is closed). Called more than once, one after
        another or at the same time, the awaits of all the targets are counted together, in
        the order they happen."""
        task = asyncio.ensure_future(self._watch(awaitable))
        try:
            return await task
        except (asyncio.CancelledError, InjectedError) as error:
            if self.injected is None:
                raise  # no fault was placed: not ours to swallow
            if isinstance(error, asyncio.CancelledError) and (
                    not task.cancelled() or asyncio.current_task().cancelling()):
                raise  # the scenario itself was cancelled, not (only) the target
            return error
        finally:  # its task cancelled before its first step: close what it never awaited
            if inspect.iscoroutine(awaitable) and inspect.getcoroutinestate(awaitable) == inspect.CORO_CREATED:
                awaitable.close()

    async def _watch(self, awaitable: Awaitable[T]) -> T:
        inner = awaitable if inspect.iscoroutine(awaitable) else awaitable.__await__()
        return await self._step_through(inner)

    @types.coroutine
    def _step_through(self, inner):
        """Drive ``inner`` as the task would, noting each time it yields (suspends)."""
        value, error = None, None
        while True:
            try:
                yielded = inner.throw(error) if error is not None else inner.send(value)
            except StopIteration as stop:
                return stop.value
            self._suspended(inner)
            try:
                value, error = (yield yielded), None
            except BaseException as thrown:  # a cancel or an error thrown in by the task
                value, error = None, thrown

    def _suspended(self, inner: Any) -> None:
        index = self.suspensions
        self.suspensions += 1
        task = asyncio.current_task()
        if task is self._again:  # the same task's next await after the first cancel
            self._again = None
            task.cancel()
        elif self.fault in (("cancel", index), ("cancel twice", index)):
            kind = self.fault[0]
            self.injected = Moment(kind, index, asyncio.get_running_loop().time(), _await_site(inner), self.seed)
            task.cancel()  # lands at the await being entered now
            if kind == "cancel twice":
                self._again = task

    def dependency(self, function: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
        """``function`` (sync or async), each of whose calls is a moment where it may raise."""
        label = name or getattr(function, "__qualname__", repr(function))
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def call_async(*args: Any, **kwargs: Any) -> Any:
                self._called(label, inspect.currentframe().f_back)
                return await function(*args, **kwargs)
            return call_async

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            self._called(label, inspect.currentframe().f_back)
            return function(*args, **kwargs)
        return call

    def _called(self, label: str, caller: types.FrameType | None) -> None:
        index = self.calls
        self.calls += 1
        if self.fault == ("raise", index):
            self.injected = Moment("raise", index, asyncio.get_running_loop().time(),
                                   f"{label}() called from {_where(caller)}", self.seed)
            raise InjectedError(f"injected: call {index} ({label}) fails")


async def _run(scenario: Scenario[T], probe: Probe) -> list[str]:
    loop = asyncio.get_running_loop()
    unretrieved: list[str] = []
    loop.set_exception_handler(lambda _, context: unretrieved.append(context.get("message", "?")))
    me = asyncio.current_task()
    broken: list[str] = []
    try:
        async with asyncio.timeout(scenario.limit):
            state = await scenario.run(probe)
    except TimeoutError:
        broken.append(f"still running after {scenario.limit:g} virtual seconds")
    except Exception as error:
        broken.append(f"the scenario raised {type(error).__name__}: {error}")
    else:
        broken.extend(scenario.check(state))
    left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    if left:
        broken.append(f"left running: {', '.join(sorted(task_label(t) for t in left))}")
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=60)
    gc.collect()  # a future dropped with its exception unread reports it when collected
    await asyncio.sleep(0)
    broken.extend(f"never retrieved: {message}" for message in sorted(set(unretrieved)))
    return broken


@contextlib.contextmanager
def _older_objects_frozen():
    """Leave the objects that existed before the runs out of their garbage collections, which
    then look only at what the runs made: a full collection of a big process costs ten runs."""
    global _frozen
    _frozen += 1
    if _frozen == 1:
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        _frozen -= 1
        if _frozen == 0:
            gc.unfreeze()


_frozen = 0


def _attempt(scenario: Scenario[T], fault: tuple[str, int] | None, seed: int | None) -> tuple[Probe, list[str]]:
    with _older_objects_frozen():
        return _attempt_once(scenario, fault, seed)


def _attempt_once(scenario: Scenario[T], fault: tuple[str, int] | None, seed: int | None) -> tuple[Probe, list[str]]:
    probe = Probe(fault, seed)
    with warnings.catch_warnings(record=True) as warned:  # a coroutine made and dropped unawaited
        warnings.simplefilter("always", RuntimeWarning)
        try:
            broken = run_virtual(_run(scenario, probe), seed=seed)
        except Deadlock as deadlock:
            broken = [str(deadlock)]
        gc.collect()  # what the run dropped, with its loop: the warning belongs to this run
    broken.extend(sorted({str(w.message) for w in warned if "never awaited" in str(w.message)}))
    return probe, broken


def replay(scenario: Scenario[T], kind: str | None = None, index: int = 0, *,
           seed: int | None = None) -> Failure | None:
    """Run ``scenario`` once with one fault (``kind`` ``"cancel"``, ``"cancel twice"`` or
    ``"raise"`` at moment ``index``; ``None``: no fault) under ``seed``: the :class:`Failure`,
    or None if it kept every promise."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))} or None, got {kind!r}")
    probe, broken = _attempt(scenario, None if kind is None else (kind, index), seed)
    if kind is not None and probe.injected is None:
        broken.append(f"no {kind} moment {index}: the run has fewer")
    return Failure(probe.injected, seed, tuple(broken)) if broken else None


def explore(scenario: Scenario[T], *, seeds: Sequence[int | None] = (None,),
            kinds: Sequence[str] = DEFAULT_KINDS) -> Report:
    """Run ``scenario`` plainly and with a fault at each of its moments, under each seed: each
    of ``kinds``, among ``"cancel"``, ``"raise"`` and ``"cancel twice"``."""
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds must be among {', '.join(map(repr, KINDS))}, got {kind!r}")
    report = Report(scenario.name)
    began = time.perf_counter()
    with _older_objects_frozen():
        _explore(scenario, seeds, kinds, report)
    report.seconds = time.perf_counter() - began
    return report


def _explore(scenario: Scenario[T], seeds: Sequence[int | None], kinds: Sequence[str], report: Report) -> None:
    for seed in seeds:
        counted, broken = _attempt(scenario, None, seed)
        report.runs += 1
        if broken:
            report.failures.append(Failure(None, seed, tuple(broken)))
        totals = {"cancel": counted.suspensions, "cancel twice": counted.suspensions, "raise": counted.calls}
        for kind in kinds:
            for index in range(totals[kind]):
                failure = replay(scenario, kind, index, seed=seed)
                report.runs += 1
                report.moments += 1
                if failure is not None:
                    report.failures.append(failure)
