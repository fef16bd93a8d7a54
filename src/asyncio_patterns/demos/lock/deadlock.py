"""Deadlock, live: tasks that take the same locks in different orders wait for each other forever.

    deadlock_demo(locks=2, ordered=False, timeout=0.5)

Task ``i`` takes lock ``i``, works ``hold`` seconds, then takes lock ``i + 1`` (the last
task wraps round to lock 0): a cycle, so every task ends up holding one lock and waiting
for the next. A timeout on the second acquire detects it; ``ordered=True`` applies the
fix, a global lock order (every task takes its two locks in alphabetical order), and
the cycle cannot form. Runs in virtual time: instant and the same every run. The result's
``stuck`` is where every task was waiting the moment the cycle closed (a
:class:`~asyncio_patterns.lab.stuck.Snapshot`), before any timeout fired.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ...lab.clock import run_virtual
from ...lab.stuck import Snapshot, snapshot
from ...lab.validate import seconds, whole_number
from ...lab.trace import Trace

__all__ = ["DeadlockResult", "deadlock_demo"]

NAMES = "abcdefghijklmnopqrstuvwxyz"
WAIT_FIRST = "waiting for its first lock"
HOLD_ONE = "holding one lock, working"
WAIT_SECOND = "holding one lock, waiting for the other"
HOLD_BOTH = "holding both locks"
COLORS = {WAIT_FIRST: "#c7c7c7", HOLD_ONE: "#1f77b4", WAIT_SECOND: "#d62728", HOLD_BOTH: "#2ca02c"}


@dataclass(frozen=True)
class DeadlockResult:
    """What each task did: ``outcomes`` maps a task's name to what happened to it; ``stuck``
    is where each task waited when the last one began waiting for its second lock (None if
    none had to)."""

    ordered: bool
    timeout: float
    outcomes: dict[str, str]
    trace: Trace
    stuck: Snapshot | None = None

    @property
    def deadlocked(self) -> bool:
        return any(text.startswith("timed out") for text in self.outcomes.values())

    def __repr__(self) -> str:
        return "\n".join(f"{name}: {text}" for name, text in self.outcomes.items())


async def _transfers(locks: int, ordered: bool, timeout: float | None, hold: float) -> DeadlockResult:
    trace = Trace(colors=COLORS)
    table = {name: asyncio.Lock() for name in NAMES[:locks]}
    outcomes: dict[str, str] = {}
    stuck: list[Snapshot] = []  # one more each time a task begins waiting for its second lock

    async def transfer(src: str, dst: str) -> None:
        me = asyncio.current_task().get_name()
        first, second = sorted((src, dst)) if ordered else (src, dst)
        with trace.span(WAIT_FIRST):
            await table[first].acquire()
        try:
            with trace.span(HOLD_ONE):
                await asyncio.sleep(hold)
            try:
                with trace.span(WAIT_SECOND):
                    if table[second].locked():  # it will wait: look once it has begun to
                        asyncio.get_running_loop().call_soon(lambda: stuck.append(snapshot()))
                    async with asyncio.timeout(timeout):
                        await table[second].acquire()
            except TimeoutError:
                trace.mark("timeout fires")
                outcomes[me] = f"timed out after {timeout:g} s waiting for lock {second} while holding lock {first}"
                return
            try:
                with trace.span(HOLD_BOTH):
                    await asyncio.sleep(hold)
                outcomes[me] = f"finished at t={asyncio.get_running_loop().time():.2f} s"
            finally:
                table[second].release()
        finally:
            table[first].release()

    async with asyncio.TaskGroup() as group:
        for i in range(locks):
            src, dst = NAMES[i], NAMES[(i + 1) % locks]
            outcomes[f"transfer {src}→{dst}"] = "still running"
            group.create_task(transfer(src, dst), name=f"transfer {src}→{dst}")
    return DeadlockResult(ordered, timeout if timeout is not None else float("inf"), outcomes, trace,
                          stuck[-1] if stuck else None)


def deadlock_demo(locks: int = 2, ordered: bool = False, timeout: float | None = 0.5,
                  hold: float = 0.01) -> DeadlockResult:
    """``locks`` tasks in a cycle, each taking two locks, in virtual time.

    Task ``i`` moves money from account ``i`` to account ``i + 1`` and needs both
    accounts' locks. With ``ordered=False`` it takes its own account's lock first: with
    two locks that is a→b against b→a. Each second acquire waits at most ``timeout``
    seconds; with ``timeout=None`` it waits for ever and the virtual clock raises
    :class:`~asyncio_patterns.Deadlock` (where real asyncio would hang).
    """
    whole_number("locks", locks, minimum=2)
    if locks > len(NAMES):
        raise ValueError(f"locks must be <= {len(NAMES)}, got {locks}")
    if timeout is not None:
        seconds("timeout", timeout)
    seconds("hold", hold)
    return run_virtual(_transfers(locks, bool(ordered), timeout, hold))
