"""Check for lesson 09's exercise: a connection pool that keeps its promises.

The learner fixes ``class ConnectionPool`` with ``ConnectionPool(connect, close, max_size)``
(``connect()`` and ``close(conn)`` are coroutine functions), ``async with
pool.acquire(timeout=None) as conn:`` and ``await pool.close()``. ``check_pool(ConnectionPool)``
runs it in virtual time against fake connections that know who is using them, scenario by
scenario, and names the first promise broken:

- every task in ``async with pool.acquire()`` gets a connection no other task is using;
- at most ``max_size`` connections are open at once, and connections are reused;
- ``acquire(timeout=)`` bounds getting a connection, never the block: it raises
  ``TimeoutError`` at the timeout, whether it was waiting for a busy pool or for a slow
  ``connect()``, and the pool is intact afterwards (every slot can still be used); a
  borrower that got its connection in time has the rest of its block to itself;
- a task cancelled just as a connection was handed to it loses nothing;
- a connection whose block raised or was cancelled is closed, not lent again, and the error
  (or the cancellation) reaches the caller;
- ``close()`` closes every connection the pool holds.

Each scenario runs under the shared harness, so a hang is a verdict, never a hung kernel.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from ..demos.pool.fake import FakeConnection, FakeService
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Attempt, Status, attempt, describe_error, run_guarded

__all__ = ["check_pool"]

SIZE = 3
HOLD = 0.3  # seconds each borrower uses its connection
CONNECT = 0.1  # seconds connect() takes
BORROW_LIMIT = 30.0  # virtual seconds one borrow may take before it counts as hung
VIRTUAL_LIMIT = 120.0


class _Broken(Exception):
    """A promise broken; the message is the hint."""


class _Watched(FakeService):
    """A fake service that also tracks the most connections open at once."""

    def __init__(self, connect_cost: float = CONNECT) -> None:
        super().__init__(connect_cost=connect_cost)
        self.most_open = 0

    async def connect(self) -> FakeConnection:
        conn = await super().connect()
        self.most_open = max(self.most_open, len(self.still_open))
        return conn

    async def close_connection(self, conn: FakeConnection) -> None:
        self.close(conn)


def _pool(Pool: type, service: _Watched, size: int = SIZE) -> Any:
    return Pool(service.connect, service.close_connection, size)


async def _borrow(pool: Any, hold: float = HOLD, timeout: float | None = None) -> FakeConnection:
    """Borrow a connection, use it for ``hold`` s, return it (raises what acquire raised)."""
    manager = pool.acquire() if timeout is None else pool.acquire(timeout=timeout)
    async with manager as conn:
        if not isinstance(conn, FakeConnection):
            raise _Broken(f"`async with pool.acquire() as conn` gave {conn!r}, not a connection: return the "
                          "connection from acquire's context manager (`yield conn`, or return it from __aenter__)")
        await conn.query(hold)
    return conn


async def _guarded_borrow(pool: Any, what: str, hold: float = HOLD, timeout: float | None = None) -> FakeConnection:
    try:
        async with asyncio.timeout(BORROW_LIMIT):
            return await _borrow(pool, hold, timeout)
    except TimeoutError as error:
        if timeout is None:
            raise _Broken(f"{what}: acquire() was still waiting after {BORROW_LIMIT:g} s although connections "
                          "should have been free: a slot was lost (taken and never released). Release it on "
                          "every way out: in a `finally:` around `yield conn` (an error or a cancellation in "
                          "the block too), and when connect() fails") from error
        raise


def _check_not_shared(service: _Watched, what: str) -> None:
    if service.shared:
        number, when = service.shared[0]
        raise _Broken(f"{what}: conn {number} was handed to a second task at {when:g} s while the first was still "
                      "using it. Keep the borrowed connection in a local variable of acquire(), never on the pool "
                      "(self.conn is overwritten by the next task to enter)")


async def _concurrent(Pool: type) -> None:
    service = _Watched()
    pool = _pool(Pool, service)

    async def borrower(i: int) -> None:
        await asyncio.sleep(i * 0.05)
        await _guarded_borrow(pool, "12 tasks borrowing at once")

    async with asyncio.TaskGroup() as group:
        for i in range(12):
            group.create_task(borrower(i))
    _check_not_shared(service, "12 tasks borrowing at once")
    if service.most_open > SIZE:
        raise _Broken(f"with max_size={SIZE}, {service.most_open} connections were open at once: wait for a free "
                      "slot (a Semaphore(max_size)) before opening a connection")
    if len(service.connections) > SIZE:
        raise _Broken(f"12 borrowers with max_size={SIZE} opened {len(service.connections)} connections: give "
                      "connections back to the pool and lend idle ones before opening new ones")


async def _reuse(Pool: type) -> None:
    service = _Watched()
    pool = _pool(Pool, service)
    for _ in range(5):
        await _guarded_borrow(pool, "5 borrows one after another")
    _check_not_shared(service, "5 borrows one after another")
    if len(service.connections) != 1:
        raise _Broken(f"5 borrows one after another opened {len(service.connections)} connections instead of 1: "
                      "keep a returned connection idle and lend it to the next borrower")


async def _timeout_when_busy(Pool: type) -> None:
    loop = asyncio.get_running_loop()
    service = _Watched()
    pool = _pool(Pool, service, size=1)
    holder = asyncio.create_task(_guarded_borrow(pool, "a holder", hold=2.0))
    await asyncio.sleep(0.5)
    began = loop.time()
    try:
        await _borrow(pool, 0.1, timeout=0.5)
    except TimeoutError:
        waited = loop.time() - began
        if abs(waited - 0.5) > 1e-6:
            raise _Broken(f"acquire(timeout=0.5) raised TimeoutError after {waited:g} s, not 0.5 s: put the "
                          "time limit around the wait (asyncio.timeout(timeout))") from None
    except _Broken:
        raise
    else:
        raise _Broken("with max_size=1 and the only connection borrowed for 2 s, acquire(timeout=0.5) got a "
                      "connection after the holder gave it back: the time limit must cover the wait for a free "
                      "slot as well as connect() (`async with asyncio.timeout(timeout):` around both)")
    await holder
    _check_not_shared(service, "a timed-out acquire")
    began = loop.time()
    try:
        await _borrow(pool, 0.1, timeout=0.5)
    except TimeoutError:
        raise _Broken("after an acquire timed out, the pool's only connection came back, yet the next "
                      "acquire(timeout=0.5) timed out too: the timed-out acquire left the pool short of a slot "
                      "(a slot taken and never given back)") from None
    if len(service.connections) != 1:
        raise _Broken("after a timed-out acquire, the pool opened a new connection though its idle one was free")


async def _timeout_while_connecting(Pool: type) -> None:
    service = _Watched(connect_cost=1.0)
    pool = _pool(Pool, service, size=2)
    for n in range(3):
        try:
            await _borrow(pool, 0.1, timeout=0.5)
        except TimeoutError:
            continue
        raise _Broken(f"connect() takes 1 s, yet acquire(timeout=0.5) number {n + 1} got a connection: the time "
                      "limit must cover opening a connection as well as waiting for one")
    try:
        async with asyncio.timeout(5.0), asyncio.TaskGroup() as group:
            for _ in range(2):
                group.create_task(_borrow(pool, 0.1, timeout=3.0))
    except* TimeoutError:
        raise _Broken("after 3 acquires timed out while connect() was running, 2 borrowers could not both get a "
                      "connection from a pool of max_size=2: a timeout (a cancellation) in connect() lost the "
                      "slot. Release the slot when connect() fails or is cancelled (try/except BaseException, "
                      "or take the slot with `async with`)") from None


async def _timeout_covers_getting_only(Pool: type) -> None:
    loop = asyncio.get_running_loop()
    service = _Watched()
    pool = _pool(Pool, service, size=1)
    began = loop.time()
    try:
        await _borrow(pool, 1.0, timeout=0.5)
    except TimeoutError:
        raise _Broken(f"acquire(timeout=0.5) got a new connection in {CONNECT:g} s, then the borrower's own 1 s "
                      f"of work was cut off with TimeoutError at {loop.time() - began:g} s: the time limit covers "
                      "getting a connection (the wait and connect()), not the block. End `async with "
                      "asyncio.timeout(timeout):` before `yield conn`") from None


async def _cancel_in_block(Pool: type) -> None:
    service = _Watched()
    pool = _pool(Pool, service, size=1)
    task = asyncio.create_task(_borrow(pool, 10.0))
    await asyncio.sleep(1.0)
    task.cancel()
    outcome = (await asyncio.gather(task, return_exceptions=True))[0]
    if not isinstance(outcome, asyncio.CancelledError):
        raise _Broken(f"a borrower cancelled inside its block ended with {outcome!r} instead of being cancelled: "
                      "re-raise the CancelledError after closing the connection")
    try:
        again = await _guarded_borrow(pool, "the borrow after a cancelled block", hold=0.1)
    except ConnectionError:
        raise _Broken("a borrower was cancelled in the middle of a request and its connection was lent to the "
                      "next task: its state is unknown, so close it. A cancellation is not an Exception: catch "
                      "BaseException (or use `finally`) around `yield conn`") from None
    first = service.connections[0]
    if again is first:
        raise _Broken("a borrower was cancelled in the middle of a request and its connection was lent again: "
                      "close a connection whose block was cancelled. A cancellation is not an Exception: catch "
                      "BaseException around `yield conn`")
    if not first.closed:
        raise _Broken("a borrower was cancelled in the middle of a request, and its connection was dropped but "
                      "never closed: a cancellation is not an Exception, so `except Exception` misses it. Catch "
                      "BaseException around `yield conn`, await close(conn), and re-raise")


async def _cancel_at_hand_over(Pool: type) -> None:
    service = _Watched()
    pool = _pool(Pool, service, size=1)
    waiters: list[asyncio.Task] = []

    async def holder() -> None:
        async with pool.acquire() as conn:
            await conn.query(1.0)
        waiters[0].cancel()  # in the same step as the release: it was handed the connection, and has not run

    first_holder = asyncio.create_task(holder())
    await asyncio.sleep(0.1)
    waiters.append(asyncio.create_task(_borrow(pool, 0.1)))
    second = asyncio.create_task(_borrow(pool, 0.1))
    await asyncio.gather(first_holder, waiters[0], return_exceptions=True)
    try:
        async with asyncio.timeout(BORROW_LIMIT):
            await second
            await _borrow(pool, 0.1)
    except TimeoutError:
        raise _Broken("a task waiting for the only connection was cancelled just as the connection was handed to "
                      "it, and the connection was lost: the other waiters never got it. If a waiter is cancelled "
                      "after it was given a connection, give the connection back") from None
    _check_not_shared(service, "a cancelled waiter")


async def _error_in_block(Pool: type) -> None:
    service = _Watched()
    pool = _pool(Pool, service, size=1)
    try:
        async with asyncio.timeout(BORROW_LIMIT):
            async with pool.acquire() as conn:
                conn.broken = True
                raise ConnectionResetError("the server hung up mid-request")
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise _Broken(f"acquire() was still waiting after {BORROW_LIMIT:g} s with nothing borrowed") from None
    else:
        raise _Broken("the block raised ConnectionResetError, and the caller never saw it: let errors from the "
                      "block through (re-raise after closing the connection)")
    try:
        again = await _guarded_borrow(pool, "the borrow after an error", hold=0.1)
    except ConnectionError:
        raise _Broken("a block raised ConnectionResetError and the pool lent that same broken connection to the "
                      "next task, which failed too: close a connection whose block raised (await close(conn)) "
                      "and free its slot, instead of putting it back") from None
    if not service.connections[0].closed:
        raise _Broken("the connection whose block raised was dropped but never closed (await close(conn)): on a "
                      "real server that is a socket left open")
    if again is service.connections[0]:
        raise _Broken("a connection whose block raised was lent again: close it instead of putting it back")


async def _close(Pool: type) -> None:
    service = _Watched()
    pool = _pool(Pool, service)
    async with asyncio.TaskGroup() as group:
        for _ in range(SIZE):
            group.create_task(_guarded_borrow(pool, "3 borrowers at once"))
    closing = Attempt()
    await attempt(closing, pool.close, timeout=BORROW_LIMIT, name="pool.close()")
    if closing.not_awaitable:
        raise _Broken(f"pool.close() returned a {closing.not_awaitable}: make it `async def close(self)`")
    if closing.timed_out:
        raise _Broken(f"pool.close() was still running after {BORROW_LIMIT:g} s with nothing borrowed")
    if closing.error is not None:
        raise _Broken(f"pool.close() raised {describe_error(closing.error)}")
    if service.still_open:
        raise _Broken(f"after pool.close(), {len(service.still_open)} of {len(service.connections)} connections "
                      "were still open: close every idle connection (await close(conn) for each)")


SCENARIOS: list[tuple[Callable[[type], Coroutine[Any, Any, None]], str]] = [
    (_reuse, "reuse"),
    (_concurrent, "12 borrowers"),
    (_error_in_block, "an error in the block"),
    (_cancel_in_block, "a cancellation in the block"),
    (_timeout_when_busy, "a timeout while the pool is busy"),
    (_timeout_while_connecting, "a timeout during connect()"),
    (_timeout_covers_getting_only, "a timeout and a long block"),
    (_cancel_at_hand_over, "a cancellation at the hand-over"),
    (_close, "close()"),
]


async def _scenario(run: Callable[[type], Coroutine[Any, Any, None]], Pool: type) -> str | None:
    try:
        await run(Pool)
    except _Broken as broken:
        return str(broken)
    except BaseExceptionGroup as group:  # from a TaskGroup of borrowers
        broken = group.subgroup(_Broken)
        if broken is None:
            raise
        while isinstance(broken, BaseExceptionGroup):
            broken = broken.exceptions[0]
        return str(broken)
    return None


def check_pool(ConnectionPool: object, *, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``ConnectionPool`` through every scenario; the first broken promise is the verdict."""
    if not isinstance(ConnectionPool, type):
        if inspect.iscoroutine(ConnectionPool):
            return not_a_function(ConnectionPool, "check_pool(ConnectionPool)")
        return Verdict(False, "pass your class itself, check_pool(ConnectionPool), not a "
                              f"{type(ConnectionPool).__name__} made from it")
    if not callable(getattr(ConnectionPool, "acquire", None)):
        return Verdict(False, "ConnectionPool needs a method `acquire(self, timeout=None)` that returns an async "
                              "context manager (decorate it with @contextlib.asynccontextmanager)")
    if not inspect.iscoroutinefunction(getattr(ConnectionPool, "close", None)):
        return Verdict(False, "ConnectionPool needs a method `async def close(self)` (store the close function "
                              "under another name, such as self.close_connection, so it does not hide the method)")
    for run, name in SCENARIOS:
        outcome = run_guarded(_scenario(run, ConnectionPool), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if outcome.status is Status.ERROR:
            error = outcome.value
            if isinstance(error, TypeError) and ("argument" in str(error) or "asynchronous context manager" in str(error)):
                return Verdict(False, "ConnectionPool(connect, close, max_size), pool.acquire(timeout=...) as an "
                                      f"async context manager, or await pool.close() failed: {describe_error(error)}")
            return Verdict(False, f"in the scenario '{name}', your pool raised {describe_error(error)}")
        if not outcome.finished:
            return Verdict(False, f"in the scenario '{name}': " + outcome.unfinished(
                deadlock="Is a borrower waiting for a slot that was never given back?",
                timeout="Does acquire() wait for a slot that was lost?"))
        if outcome.value:
            return Verdict(False, f"{outcome.value} (scenario: {name})")
    return Verdict(True, "each borrower got a connection of its own; at most max_size were open and idle ones "
                         "were reused; acquire(timeout=) timed out on time, while waiting and while connecting, "
                         "left every slot usable and never cut a block short; a waiter cancelled at the hand-over "
                         "lost nothing; a connection whose block raised or was cancelled was closed, not lent "
                         "again; close() closed them all.")
