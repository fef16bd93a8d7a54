"""A bounded FIFO buffer built from a Condition: ``asyncio.Queue(maxsize)``'s blocking
behaviour, written out so the waiting and waking can be read.

``put`` waits while the buffer is full, ``get`` waits while it is empty, and items come
out in FIFO order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from ._checks import whole_number

__all__ = ["BoundedBuffer"]

T = TypeVar("T")


class BoundedBuffer(Generic[T]):
    """A FIFO buffer of at most ``maxsize`` items: one lock, two conditions on it.

    ``put`` waits until there is room, ``get`` until there is an item. Waiting getters are
    woken in arrival order; a caller that finds an item takes it at once, as with
    ``asyncio.Queue``, even if a woken getter has not run yet (putters and room likewise).
    A ``get`` cancelled after it was notified passes the notification on, so an item never
    sits in the buffer while another getter sleeps (a ``put`` likewise passes on the room it
    was told about). ``asyncio.Condition`` does this itself from Python 3.13 (gh-112202);
    on 3.11 and 3.12 only the buffer's own hand-on does. On 3.13 both fire, which costs at
    most one extra wake-up, and ``wait_for`` sends that waiter back to sleep.
    """

    def __init__(self, maxsize: int) -> None:
        whole_number("maxsize", maxsize)
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        lock = asyncio.Lock()
        self._not_empty = asyncio.Condition(lock)  # getters wait here
        self._not_full = asyncio.Condition(lock)  # putters wait here

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"BoundedBuffer({len(self._items)}/{self.maxsize} items)"

    async def put(self, item: T) -> None:
        """Add ``item`` at the end, waiting while the buffer is full."""
        async with self._not_full:
            try:
                await self._not_full.wait_for(lambda: len(self._items) < self.maxsize)
            except asyncio.CancelledError:
                if len(self._items) < self.maxsize:
                    self._not_full.notify()  # the wake-up may have been meant for us: pass it on
                raise
            self._items.append(item)
            self._not_empty.notify()

    async def get(self) -> T:
        """Remove and return the oldest item, waiting while the buffer is empty."""
        async with self._not_empty:
            try:
                await self._not_empty.wait_for(lambda: self._items)
            except asyncio.CancelledError:
                if self._items:
                    self._not_empty.notify()  # as in put(): pass the wake-up on
                raise
            item = self._items.popleft()
            self._not_full.notify()
            return item
