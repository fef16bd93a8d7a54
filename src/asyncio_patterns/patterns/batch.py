"""Process many items with a bounded number of calls at once, pulling items only as fast as
the calls finish, and keeping each item's error with the item.

    async with contextlib.aclosing(bounded_map(fetch, urls, concurrency=10)) as results:
        async for done in results:
            if done.ok:
                save(done.item, done.value)
            else:
                log(done.index, done.item, done.error)

``bounded_map`` is a sliding window: it starts ``concurrency`` calls, and each time one is
handed to you it takes the next item and starts it. It never holds more than
``concurrency`` items, so memory does not grow with the input, which may be an async
iterator that never ends. By default results come back as their calls finish, each with
its index; ``ordered=True`` hands them back in input order instead, at a cost: a finished
result then holds its place in the window until the slower ones before it are done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._checks import whole_number

__all__ = ["ItemResult", "bounded_map"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ItemResult(Generic[T, R]):
    """What became of one input item: its position in the input, the item itself, and the
    value ``func(item)`` returned or the ``Exception`` it raised (``error``; None if it returned)."""

    index: int
    item: T
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """True if the call returned (its ``value`` may still be None)."""
        return self.error is None

    def result(self) -> R | None:
        """The value, or raise the error (as ``Future.result()`` does)."""
        if self.error is not None:
            raise self.error
        return self.value


async def _from_sync(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


async def _call(func: Callable[[T], Awaitable[R]], item: T) -> R:
    return await func(item)  # a func that raises before it awaits fails in its task, like any other


async def bounded_map(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: int,
    ordered: bool = False,
    stop_on_error: bool = False,
) -> AsyncIterator[ItemResult[T, R]]:
    """Await ``func(item)`` for every item, at most ``concurrency`` at once, and yield one
    :class:`ItemResult` per item.

    - **Pulling:** the next item is taken from ``items`` (a list, any iterable, or an async
      iterable, possibly endless) only while fewer than ``concurrency`` items are held,
      running or finished but not yet yielded. So at most ``concurrency`` items have been
      taken and not yet handed to you, at most ``concurrency`` tasks exist, and a consumer
      that is slow to ask for the next result slows the pulling down.
    - **Order:** by default each result is yielded as its call finishes, so a slow item
      holds up only itself; its ``index`` says where it belongs. ``ordered=True`` yields in input order: a call that
      finished early keeps its place in the window, and no new item starts in it, until the
      calls before it have been yielded, so a slow item also holds up the ones after it.
    - **Errors:** an ``Exception`` raised by ``func(item)`` becomes that item's
      ``ItemResult.error``, and the other items go on. With ``stop_on_error=True`` the first
      such error is raised instead, with a note naming the item, once the calls still
      running have been cancelled and have finished. An error raised by ``items`` itself
      is raised the same way.
    - **Stopping early:** closing the iterator (``aclose()``, which ``async with
      contextlib.aclosing(bounded_map(...))`` does when the block ends, a ``break``
      included) or cancelling the task that iterates cancels the calls still running and
      waits for them. Without ``aclosing``, a ``break`` leaves them running until the
      iterator is garbage-collected.
    """
    whole_number("concurrency", concurrency)
    if isinstance(items, AsyncIterable):
        source, own_source = aiter(items), None
    else:
        source = own_source = _from_sync(items)
    held: dict[int, tuple[T, asyncio.Task[R]]] = {}  # index -> (item, task), in input order
    finished: asyncio.Queue[int] = asyncio.Queue()  # completion order: indexes, as their calls end
    taken = 0
    exhausted = False
    try:
        while True:
            while not exhausted and len(held) < concurrency:
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    exhausted = True
                    break
                task = asyncio.ensure_future(_call(func, item))
                task.set_name(f"bounded_map item {taken}")
                if not ordered:
                    task.add_done_callback(lambda _, index=taken: finished.put_nowait(index))
                held[taken] = (item, task)
                taken += 1
            if not held:
                return
            if ordered:
                index = next(iter(held))
                try:
                    await held[index][1]  # cancelled here, this call is cancelled too, and the rest below
                except Exception:
                    pass  # its error is read from the task below
            else:
                index = await finished.get()
            item, task = held.pop(index)
            error = task.exception()  # the task is done: never raises here but CancelledError
            if error is not None and not isinstance(error, Exception):
                raise error  # KeyboardInterrupt, SystemExit: not an item's failure
            if error is not None and stop_on_error:
                error.add_note(f"while processing items[{index}] = {item!r}")
                raise error
            if error is not None:
                yield ItemResult(index, item, error=error)
            else:
                yield ItemResult(index, item, value=task.result())
    finally:
        tasks = [task for _, task in held.values()]
        for task in tasks:
            task.cancel()
        if tasks:  # wait until they have stopped, and retrieve their errors
            await asyncio.gather(*tasks, return_exceptions=True)
        if own_source is not None:
            await own_source.aclose()
