"""A pool of reusable connections: each task borrows its own, and at most ``max_size`` exist.

    async def connect():
        return await asyncio.open_connection("127.0.0.1", 8080)

    async def close(streams):
        streams[1].close()
        await streams[1].wait_closed()

    async with Pool(connect, close, max_size=10, timeout=2.0) as pool:
        async with pool.acquire() as (reader, writer):
            ...

The pool knows nothing about what it pools: ``connect()`` opens one connection (a socket,
an ``aiohttp.ClientSession``, a database connection, or a fake one in a test) and
``close(conn)`` closes one. Every wait is on the event loop's clock, so a test can run a
pool in virtual time and check each wait exactly.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from ._checks import seconds, whole_number

__all__ = ["Pool", "PoolClosed"]

T = TypeVar("T")

_SLOT: Any = object()  # handed to a waiter instead of a connection: "a slot is yours, open one in it"
_POOL_TIMEOUT: Any = object()  # acquire(timeout=...) not given: use the pool's


class PoolClosed(RuntimeError):
    """Raised by ``acquire()`` on a pool that is closing or closed."""


async def _to_the_end(awaitable: Awaitable[object]) -> None:
    """Await ``awaitable`` until it has ended, even through a cancel of the caller, which is
    raised afterwards. A close cut half-way would leave a connection neither open nor closed."""
    task = asyncio.ensure_future(awaitable)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.cancelled():  # the close itself was cancelled: the loop is shutting down
                raise
            cancelled = error
            if not task.done():
                continue  # wait on for the close
        except Exception:
            if cancelled is None:
                raise  # the close's own error
        break
    if cancelled is not None:
        raise cancelled


class Pool(Generic[T]):
    """At most ``max_size`` connections, each lent to one task at a time.

    ``async with pool.acquire() as conn:`` gives the calling task a connection of its own: an
    idle one if there is one, else a new one from ``await connect()`` if fewer than
    ``max_size`` exist, else it waits until another task gives one back. The connection
    belongs to that block alone; it is never stored on the pool, so two tasks can never be
    handed the same one.

    *Reuse is LIFO*: the connection given back last is lent first. It is the one most likely
    to still be open (a server closes connections idle longer than its keep-alive timeout),
    and under light load the same few connections do all the work while the rest stay idle,
    where an idle-time limit can close them. FIFO would spread the work over every
    connection and keep them all open.

    *Waiters are served first come, first served*: a connection given back goes straight to
    the task that has waited longest, and a task that arrives meanwhile queues behind it.

    *A connection is given back only if its block ended normally.* If the block raised or
    was cancelled, the connection may be half way through a request, so it is closed (with
    ``close(conn)``, awaited if it returns an awaitable) and its place in the pool freed
    once the close has returned, so that at most ``max_size`` connections are open (but see
    the cancellation below). The
    block's own error (or cancellation) is what propagates; if the close failed too, that
    error is added to it as a note. ``check(conn)``, if given, is called each time an idle
    connection is lent; if it returns false (say, the server closed it), that connection is
    closed and a new one opened instead; if it raises, the connection is closed and the error
    propagates. It must not block: do a ping inside the block, and raise if it fails.

    *Timeouts*: ``acquire(timeout=)`` (by default the pool's ``timeout``; ``None`` waits for
    ever) bounds getting a connection: the wait for one, the ``connect()`` that opens it, and
    closing one that failed its check; never the block itself. It raises ``TimeoutError``.
    A timed-out or cancelled acquire leaves the pool as it was: a connection handed to it at
    the very moment it gave up is passed on to the next waiter (or kept idle), never lost,
    and a slot it was opening a connection in is freed.

    ``await pool.close(timeout=)`` (also the end of ``async with pool:``) refuses new
    acquires and wakes waiting ones with :class:`PoolClosed` (an acquire under way, opening
    or checking a connection or just handed one, closes that connection and raises
    :class:`PoolClosed` too), closes the idle connections, and waits
    up to ``timeout`` seconds (``None``: for ever) for the borrowed ones, closing each as it
    comes back. If some are still out then, it raises ``TimeoutError``; they are closed when
    they come back.

    *Cancellation never leaves a connection open.* A close is never cut short: a cancel that
    lands while ``close(conn)`` runs (in a block that failed, after a failed check, or in
    ``close()``) waits for it to return and is raised then, and ``close()`` cancelled half-way
    closes every idle connection before raising, as a ``TaskGroup`` finishes its tasks before
    raising. So a cancelled ``async with pool:`` leaves no connection open, and the cancel is
    late by the closes under way at most. A ``close(conn)`` that raised is not tried again:
    that connection counts as closed, and ``close()`` raises the first such error once it has
    closed the rest.
    """

    def __init__(self, connect: Callable[[], Awaitable[T]], close: Callable[[T], object], *,
                 max_size: int = 10, timeout: float | None = None,
                 check: Callable[[T], bool] | None = None) -> None:
        self._connect = connect
        self._close = close
        self.max_size = whole_number("max_size", max_size)
        self.timeout = None if timeout is None else seconds("timeout", timeout)
        self._check = check
        self._idle: list[T] = []  # a stack: the last given back is lent first
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._size = 0  # connections open or being opened: each holds one of max_size slots
        self._closing = False
        self._all_back = asyncio.Event()  # set when closing and nothing is borrowed
        self.opened = 0  # connections opened since the pool was made
        self.discarded = 0  # connections closed because their block failed or check() said so

    # -- what a caller reads ---------------------------------------------------------

    @property
    def size(self) -> int:
        """Connections counted against ``max_size``: idle, borrowed, being opened or being
        closed after a failed block or check (not the idle ones ``close()`` is closing)."""
        return self._size

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def in_use(self) -> int:
        """Connections borrowed now (or being opened for a borrower)."""
        return self._size - len(self._idle)

    @property
    def waiting(self) -> int:
        """Tasks waiting for a connection."""
        return sum(not waiter.done() for waiter in self._waiters)

    def __repr__(self) -> str:
        state = "closed" if self._closing else f"{self.in_use} in use, {self.idle} idle, {self.waiting} waiting"
        return f"<Pool {self._size}/{self.max_size} connections: {state}>"

    # -- borrowing -------------------------------------------------------------------

    @asynccontextmanager
    async def acquire(self, *, timeout: float | None = _POOL_TIMEOUT) -> AsyncIterator[T]:
        """Lend the calling task a connection for the ``async with`` block (see the class)."""
        if timeout is _POOL_TIMEOUT:
            timeout = self.timeout
        elif timeout is not None:
            timeout = seconds("timeout", timeout)
        async with asyncio.timeout(timeout):  # getting a connection only: the block is the caller's
            conn = await self._get()
        try:
            yield conn
        except BaseException as error:
            try:
                await self._discard(conn)  # an error or a cancellation: its state is unknown
            except Exception as close_error:  # (a cancel during the close propagates instead)
                error.add_note(f"closing its connection failed too: {close_error!r}")
            raise
        if self._closing:
            await self._discard(conn)
        else:
            self._give(conn)

    async def _get(self) -> T:
        if self._closing:
            raise PoolClosed("the pool is closed: acquire from a pool that is open")
        if self._waiters:  # others were first: queue behind them
            got = await self._wait()
        elif self._idle:
            got = self._idle.pop()
        elif self._size < self.max_size:
            self._size += 1
            got = _SLOT
        else:
            got = await self._wait()
        # `got` holds one of the slots: from here on it is lent, or closed and its slot freed.
        try:
            if got is not _SLOT and await self._passes_check(got):
                conn = got
            else:
                conn = await self._connect()
                self.opened += 1
            if self._closing:  # close() began while this task waited, checked or connected
                await self._close_one(conn)
                raise PoolClosed("the pool was closed while this task got a connection")
        except BaseException:
            self._give(_SLOT)  # the slot goes to the next waiter, or the pool shrinks
            raise
        return conn

    async def _passes_check(self, conn: T) -> bool:
        """``check(conn)``; a connection that fails it, or whose check raises, is closed."""
        if self._check is None:
            return True
        passed = False
        try:
            passed = bool(self._check(conn))
        finally:
            if not passed:
                self.discarded += 1
                await self._close_one(conn)
        return passed

    async def _wait(self) -> Any:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection (or a slot) at the moment this task was cancelled or
                # timed out: pass it on instead of losing it.
                self._give(waiter.result())
            elif not waiter.done():
                waiter.cancel()
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass  # already taken off by whoever completed it
            raise

    # -- giving back -----------------------------------------------------------------

    def _give(self, got: Any) -> None:
        """Hand a connection (or a free slot) to the longest waiter, else keep it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(got)
                return
        if got is _SLOT:
            self._size -= 1
        else:
            self._idle.append(got)
        self._note_returns()

    async def _discard(self, conn: T) -> None:
        if not self._closing:
            self.discarded += 1
        try:
            await self._close_one(conn)
        finally:
            self._give(_SLOT)  # its place is free whatever the close did

    async def _close_one(self, conn: T) -> None:
        """``close(conn)``, to its end: a cancel meanwhile is raised once it has returned."""
        closing = self._close(conn)
        if inspect.isawaitable(closing):
            await _to_the_end(closing)

    def _note_returns(self) -> None:
        if self._closing and self.in_use == 0:
            self._all_back.set()

    # -- closing ---------------------------------------------------------------------

    async def close(self, *, timeout: float | None = None) -> None:
        """Close the pool (see the class); safe to call again, e.g. to wait on after its timeout."""
        if timeout is not None:
            timeout = seconds("timeout", timeout)
        self._closing = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the pool was closed while this task waited for a connection"))
        await self._close_idle()
        self._note_returns()
        try:
            async with asyncio.timeout(timeout):
                await self._all_back.wait()
        except TimeoutError:
            still_out = self.in_use
        except asyncio.CancelledError as cancel:
            try:
                await self._close_idle()  # any given back idle meanwhile; then the cancel goes on
            except Exception as error:
                cancel.add_note(f"closing an idle connection failed too: {error!r}")
            raise
        else:
            still_out = 0
        await self._close_idle()  # any given back idle meanwhile (by a waiter cancelled at the hand-over)
        if still_out:
            raise TimeoutError(f"{still_out} connection(s) still borrowed after {timeout:g} s: "
                               "each is closed when it is given back")

    async def _close_idle(self) -> None:
        """Close every idle connection; a cancel or a failed close is raised once all are closed."""
        idle, self._idle = self._idle, []  # out of the pool before the first await: lent to no one
        self._size -= len(idle)
        cancelled: asyncio.CancelledError | None = None
        failed: Exception | None = None
        for conn in idle:
            try:
                await self._close_one(conn)
            except asyncio.CancelledError as error:  # raised once the rest are closed, before any failure
                cancelled = cancelled or error
            except Exception as error:
                failed = failed or error
        if cancelled is not None:
            raise cancelled
        if failed is not None:
            raise failed

    async def __aenter__(self) -> Pool[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
