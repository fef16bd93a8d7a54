"""Fake connections for pools in virtual time: each knows who is using it, so a connection
handed to two tasks at once, or never given back, or never closed, shows up in the counts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ...lab.trace import Trace

__all__ = ["FakeConnection", "FakeService"]


@dataclass(eq=False)
class FakeConnection:
    """One connection to a :class:`FakeService`. ``query`` uses it for a while."""

    number: int
    service: FakeService
    users: int = 0  # tasks inside query() right now: more than 1 means it was shared
    uses: int = 0
    closed: bool = False
    broken: bool = False  # a failed request left it unusable (or the server hung up)

    async def query(self, seconds: float) -> str:
        """Use the connection for ``seconds``; raise ``ConnectionError`` if it is closed or broken."""
        if self.closed or self.broken:
            raise ConnectionError(f"{self} is {'closed' if self.closed else 'broken'}")
        self.users += 1
        self.uses += 1
        if self.users > 1:
            self.service.shared.append((self.number, round(asyncio.get_running_loop().time(), 6)))
        try:
            await asyncio.sleep(seconds)
        finally:
            self.users -= 1
        return f"answer over {self}"

    def __repr__(self) -> str:
        return f"conn {self.number}"


@dataclass
class FakeService:
    """Opens :class:`FakeConnection` objects; ``connect`` takes ``connect_cost`` seconds.

    ``trace`` (optional) gets a "connecting" span in the connecting task's lane. The first
    ``failing_connects`` connects raise ``ConnectionRefusedError`` after their cost.
    """

    connect_cost: float = 0.0
    trace: Trace | None = None
    failing_connects: int = 0
    connections: list[FakeConnection] = field(default_factory=list)
    shared: list[tuple[int, float]] = field(default_factory=list)  # (connection, time) a 2nd user began
    attempts: int = 0

    async def connect(self) -> FakeConnection:
        self.attempts += 1
        if self.trace is not None:
            with self.trace.span("connecting"):
                await asyncio.sleep(self.connect_cost)
        else:
            await asyncio.sleep(self.connect_cost)
        if self.attempts <= self.failing_connects:
            raise ConnectionRefusedError(f"connect attempt {self.attempts} refused")
        conn = FakeConnection(len(self.connections) + 1, self)
        self.connections.append(conn)
        return conn

    def close(self, conn: FakeConnection) -> None:
        conn.closed = True

    @property
    def still_open(self) -> list[FakeConnection]:
        return [conn for conn in self.connections if not conn.closed]

    def report(self) -> str:
        """What happened, in one line per fact."""
        lines = [f"{len(self.connections)} connection(s) opened, {len(self.still_open)} still open"]
        for number, time in self.shared:
            lines.append(f"conn {number} was handed to a second task while in use, at {time:g} s")
        return "\n".join(lines)
