"""Record what each task is doing over time, as named spans on the running loop's clock.

    trace = Trace()
    async def worker():
        with trace.span("waiting for lock"):
            await lock.acquire()
        ...

A span is one list append, cheap enough to leave on. Times come from ``loop.time()``,
so the same code traces a virtual-time run and a real-time run. The lane of a span is
the current task's name unless given. A trace may carry the colours its span names are
drawn in (``Trace(colors={"waiting": "#c7c7c7"})``), so whoever draws it needs no palette.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Mark", "Span", "Trace"]


@dataclass(frozen=True)
class Span:
    """``lane`` was doing ``name`` from ``start`` to ``end`` (loop seconds)."""

    lane: str
    name: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Mark:
    """An instant worth pointing at on a timeline, such as ``event.set()``."""

    lane: str
    name: str
    time: float


def _here(lane: str | None) -> tuple[float, str]:
    loop = asyncio.get_running_loop()
    if lane is None:
        task = asyncio.current_task()
        lane = task.get_name() if task is not None else "loop"
    return loop.time(), lane


class Trace:
    """An append-only record of spans and marks, in the order they finished."""

    def __init__(self, *, colors: dict[str, str] | None = None) -> None:
        self.colors: dict[str, str] = dict(colors or {})  # span name -> colour; others get the default cycle
        self.spans: list[Span] = []
        self.marks: list[Mark] = []
        self._lanes: dict[str, None] = {}  # insertion-ordered sets: first seen first
        self._names: dict[str, None] = {}

    @contextmanager
    def span(self, name: str, *, lane: str | None = None) -> Iterator[None]:
        """Record the time spent inside the ``with`` block as a span called ``name``."""
        start, lane = _here(lane)
        self._lanes.setdefault(lane)
        self._names.setdefault(name)
        try:
            yield
        finally:
            self.spans.append(Span(lane, name, start, asyncio.get_running_loop().time()))

    def mark(self, name: str, *, lane: str | None = None) -> None:
        """Record an instant called ``name`` (drawn as a vertical line)."""
        now, lane = _here(lane)
        self._lanes.setdefault(lane)
        self.marks.append(Mark(lane, name, now))

    def add(self, lane: str, name: str, start: float, end: float) -> None:
        """Record a span whose times were measured elsewhere."""
        if end < start:
            raise ValueError(f"a span must end after it starts, got start={start} end={end}")
        self._lanes.setdefault(lane)
        self._names.setdefault(name)
        self.spans.append(Span(lane, name, start, end))

    @property
    def origin(self) -> float:
        """The earliest recorded time; timelines count seconds from here."""
        times = [s.start for s in self.spans] + [m.time for m in self.marks]
        return min(times, default=0.0)

    def lanes(self) -> list[str]:
        """Lane names in the order they were first used."""
        return list(self._lanes)

    def names(self) -> list[str]:
        """Span names in the order they were first used (this fixes their colours)."""
        return list(self._names)

    def total(self, name: str, lane: str | None = None) -> float:
        """Seconds spent in spans called ``name`` (in one lane, or in all)."""
        return sum(s.duration for s in self.spans if s.name == name and lane in (None, s.lane))

    def clear(self) -> None:
        self.spans.clear()
        self.marks.clear()
        self._lanes.clear()
        self._names.clear()

    def __len__(self) -> int:
        return len(self.spans)

    def __repr__(self) -> str:
        if not self.spans:
            return f"Trace(no spans, {len(self.marks)} marks)"
        end = max(s.end for s in self.spans)
        return (
            f"Trace({len(self.spans)} spans in {len(self.lanes())} lanes "
            f"over {end - self.origin:.3f} s)"
        )
