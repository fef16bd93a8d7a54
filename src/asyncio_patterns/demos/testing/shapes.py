"""Small patterns with one bug each, in the shapes lessons 08 and 09 warned about, and their fixes.

Each is a few lines of the real pattern's stop or close path, small enough to read in a cell:

- :class:`Workers` (lesson 08's worker pool): ``stop()`` cancels the workers, *awaits* them,
  and only then hands back the jobs still queued. A cancel of the stopping task while the
  workers clean up skips the hand-back: those jobs are lost. ``Workers(safe=True)`` takes
  the queued jobs out before its first await.
- :class:`Connections` (lesson 09's pool): ``close()`` closes the idle connections one by one,
  each with an await. A cancel during one close leaves the rest open, out of the pool, closed
  by nobody. ``Connections(safe=True)`` starts every close before the first await.
- :func:`counter_race` (lesson 04's lost update): read, await, write back, with the next
  task's read due at the same instant as the previous task's write.

The scenarios that drive them (:data:`SHAPES`, by name) are what lesson 13 gives the fault harness.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ...lab.faults import Probe, Scenario

__all__ = ["SHAPES", "Connection", "Connections", "Workers", "connections_scenario", "counter_race", "race_scenario",
           "workers_scenario"]


class Workers:
    """``workers`` tasks running ``await handle(job)`` for the jobs in one queue."""

    def __init__(self, handle: Callable[[int], Awaitable[object]], *, workers: int, safe: bool = False) -> None:
        self.handle, self.safe = handle, safe
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.accepted, self.done, self.failed, self.handed_back = 0, [], [], []
        self.tasks = [asyncio.create_task(self._work(), name=f"worker-{i}") for i in range(workers)]

    def submit(self, job: int) -> None:
        self.queue.put_nowait(job)
        self.accepted += 1

    @property
    def lost(self) -> int:
        return self.accepted - len(self.done) - len(self.failed) - len(self.handed_back)

    async def stop(self) -> None:
        """Cancel the workers and hand back every job they did not finish."""
        if self.safe:
            while not self.queue.empty():  # before the first await: a cancel cannot skip it
                self.handed_back.append(self.queue.get_nowait())
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)  # the workers clean up
        while not self.queue.empty():  # the bug: a cancel at the await above skips this
            self.handed_back.append(self.queue.get_nowait())

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self.handle(job)
            except asyncio.CancelledError:
                self.handed_back.append(job)
                raise
            except Exception:
                self.failed.append(job)
            else:
                self.done.append(job)


@dataclass(eq=False)
class Connection:
    """A fake connection: ``closed`` once it was closed (even if its goodbye failed)."""

    number: int
    goodbye: Callable[[Connection], Awaitable[None]]
    closed: bool = False

    async def close(self) -> None:
        self.closed = True  # the socket is closed at once; telling the server takes a while
        await self.goodbye(self)


async def goodbye(conn: Connection) -> None:
    await asyncio.sleep(0.01)  # the polite goodbye to the server


@dataclass
class Connections:
    """An idle list of connections and the close path of lesson 09's pool."""

    idle: list[Connection] = field(default_factory=list)
    safe: bool = False

    async def close(self) -> None:
        """Close every idle connection."""
        if self.safe:
            idle, self.idle = self.idle, []
            failure = None
            for conn in idle:
                try:
                    await conn.close()
                except BaseException as error:  # a cancel or a failed goodbye: close the rest first
                    failure = failure or error
            if failure is not None:
                raise failure
            return
        while self.idle:
            conn = self.idle.pop()
            await conn.close()  # the bug: a cancel here leaves the rest open, and out of reach


async def counter_race(tasks: int = 2, *, delay: float = 0.01, lock: bool = False) -> int:
    """Lesson 04's increment: task ``i`` arrives at ``i * delay``, reads, awaits ``delay``,
    writes back. Returns how many updates were lost."""
    counter = 0
    guard = asyncio.Lock() if lock else None

    async def increment(i: int) -> None:
        nonlocal counter
        if i:
            await asyncio.sleep(i * delay)  # arrives as the one before it writes: a tie
        async with guard or _nothing():
            current = counter
            await asyncio.sleep(delay)
            counter = current + 1

    async with asyncio.TaskGroup() as group:
        for i in range(tasks):
            group.create_task(increment(i))
    return tasks - counter


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        return None


# -- the scenarios the harness runs on them -------------------------------------------------

def workers_scenario(*, safe: bool = False) -> Scenario[Workers]:
    """Five jobs, two workers whose clean-up takes a while, stopped half way through."""

    async def run(probe: Probe) -> Workers:
        async def handle(job: int) -> None:
            try:
                await asyncio.sleep(1.0)
            finally:
                await asyncio.sleep(0.1)  # clean-up: the workers end some time after the cancel

        pool = Workers(probe.dependency(handle, name="handle"), workers=2, safe=safe)
        for job in range(5):
            pool.submit(job)
        await asyncio.sleep(0.5)
        await probe.target(pool.stop())
        return pool

    def check(pool: Workers) -> list[str]:
        return [f"{pool.lost} of {pool.accepted} accepted jobs lost"] if pool.lost else []

    return Scenario("Workers.stop" + (" (safe)" if safe else ""), run, check)


def connections_scenario(*, safe: bool = False) -> Scenario[list[Connection]]:
    """Three idle connections, closed."""

    async def run(probe: Probe) -> list[Connection]:
        polite = probe.dependency(goodbye, name="goodbye")
        opened = [Connection(n, polite) for n in range(3)]
        pool = Connections(list(opened), safe=safe)
        await probe.target(pool.close())
        return opened

    def check(opened: list[Connection]) -> list[str]:
        leaked = [conn.number for conn in opened if not conn.closed]
        return [f"connection(s) {leaked} never closed"] if leaked else []

    return Scenario("Connections.close" + (" (safe)" if safe else ""), run, check)


def race_scenario(*, lock: bool = False) -> Scenario[int]:
    """Two increments whose read and write fall due at the same instant."""

    async def run(probe: Probe) -> int:
        return await counter_race(2, lock=lock)

    def check(lost: int) -> list[str]:
        return [f"{lost} update(s) lost"] if lost else []

    return Scenario("counter_race" + (" (lock)" if lock else ""), run, check)


SHAPES = {
    "workers": workers_scenario, "connections": connections_scenario, "race": race_scenario,
}
