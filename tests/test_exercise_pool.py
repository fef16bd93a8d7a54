"""The pool checker passes correct answers and names what each wrong one got wrong."""

import asyncio
import collections
import contextlib

import pytest

from asyncio_patterns import Pool
from asyncio_patterns.exercises.pool import check_pool


def answer(*, shared_state=False, limit=True, reuse=True, on_error="close", release_on_connect_failure=True,
           close_idle=True, timeout_covers="getting", release="finally", catch=BaseException):
    """A ConnectionPool that keeps every rule except the ones switched off.

    ``timeout_covers``: "getting" (the slot and the connect), "everything" (the block too),
    "connect" (not the wait for a slot), "wait" (not the connect) or "nothing". ``release``: the slot is released in
    "finally", or only "after success". ``catch``: what the block's error handler catches."""
    class ConnectionPool:
        def __init__(self, connect, close, max_size):
            self.connect, self.close_connection = connect, close
            self.slots = asyncio.Semaphore(max_size if limit else 1000)
            self.idle = []

        @contextlib.asynccontextmanager
        async def acquire(self, timeout=None):
            if timeout_covers == "everything":
                async with asyncio.timeout(timeout):
                    async with self._get(None) as conn:
                        yield conn
            else:
                async with self._get(timeout) as conn:
                    yield conn

        @contextlib.asynccontextmanager
        async def _get(self, timeout):
            async with asyncio.timeout(timeout if timeout_covers in ("getting", "everything", "wait") else None):
                await self.slots.acquire()
            try:
                async with asyncio.timeout(timeout if timeout_covers not in ("nothing", "wait") else None):
                    conn = self.idle.pop() if self.idle and reuse else await self.connect()
            except BaseException:
                if release_on_connect_failure:
                    self.slots.release()
                raise
            if shared_state:
                self.current = conn
            try:
                yield conn
            except catch:
                if on_error == "close":
                    await self.close_connection(self.current if shared_state else conn)
                elif on_error == "reuse":
                    self.idle.append(conn)
                raise  # on_error == "drop": neither closed nor given back
            else:
                self.idle.append(self.current if shared_state else conn)
                if release == "after success":
                    self.slots.release()
            finally:
                if release == "finally":
                    self.slots.release()

        async def close(self):
            while close_idle and self.idle:
                await self.close_connection(self.idle.pop())

    return ConnectionPool


class WholeBlockTimeout:
    """The exercise's reference, with `asyncio.timeout(timeout)` around the whole acquire,
    `yield` included: the limit meant for getting a connection cuts the borrower's work off."""

    def __init__(self, connect, close, max_size):
        self.connect, self.close_connection = connect, close
        self.slots = asyncio.Semaphore(max_size)
        self.idle = []

    @contextlib.asynccontextmanager
    async def acquire(self, timeout=None):
        async with asyncio.timeout(timeout):
            await self.slots.acquire()
            try:
                conn = self.idle.pop() if self.idle else await self.connect()
            except BaseException:
                self.slots.release()
                raise
            try:
                yield conn
            except BaseException:
                await self.close_connection(conn)
                raise
            else:
                self.idle.append(conn)
            finally:
                self.slots.release()

    async def close(self):
        while self.idle:
            await self.close_connection(self.idle.pop())


class Tutorial:
    """The starting code of the exercise: the borrowed connection lives on the pool."""

    def __init__(self, connect, close, max_size):
        self.connect, self.close_connection = connect, close
        self.slots = asyncio.Semaphore(max_size)
        self.idle = []

    def acquire(self, timeout=None):
        self.timeout = timeout
        return self

    async def __aenter__(self):
        async with asyncio.timeout(self.timeout):
            await self.slots.acquire()
            self.current = self.idle.pop() if self.idle else await self.connect()
        return self.current

    async def __aexit__(self, *exc_info):
        self.idle.append(self.current)
        self.slots.release()

    async def close(self):
        pass


class ForgetsTheHandOver:
    """Hands a returned connection straight to the first waiter; a waiter cancelled just
    after that forgets what it was given."""

    def __init__(self, connect, close, max_size):
        self.connect, self.close_connection, self.free = connect, close, max_size
        self.idle, self.waiters = [], collections.deque()

    @contextlib.asynccontextmanager
    async def acquire(self, timeout=None):
        async with asyncio.timeout(timeout):
            if self.idle:
                conn = self.idle.pop()
            elif self.free:
                self.free -= 1
                try:
                    conn = await self.connect()
                except BaseException:
                    self.free += 1
                    raise
            else:
                waiter = asyncio.get_running_loop().create_future()
                self.waiters.append(waiter)
                try:
                    conn = await waiter
                except BaseException:
                    if waiter in self.waiters:
                        self.waiters.remove(waiter)
                    raise  # a connection already handed to this waiter is lost here
        try:
            yield conn
        except BaseException:
            await self.close_connection(conn)
            self.free += 1
            raise
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    async def close(self):
        while self.idle:
            await self.close_connection(self.idle.pop())


class WithThePackage:
    def __init__(self, connect, close, max_size):
        self.pool = Pool(connect, close, max_size=max_size)

    def acquire(self, timeout=None):
        return self.pool.acquire(timeout=timeout)

    async def close(self):
        await self.pool.close()


@pytest.mark.parametrize("ConnectionPool", [answer(), WithThePackage], ids=["reference", "package"])
def test_correct_answers_pass(ConnectionPool):
    verdict = check_pool(ConnectionPool)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("wrong, hint", [
    (Tutorial, "handed to a second task"),
    (answer(shared_state=True), "handed to a second task"),
    (answer(limit=False), "connections were open at once"),
    (answer(reuse=False), "opened 5 connections instead of 1"),
    (answer(on_error="reuse"), "lent that same broken connection"),
    (answer(on_error="drop"), "never closed"),
    (answer(release_on_connect_failure=False), "lost the slot"),
    (answer(close_idle=False), "still open"),
    (answer(timeout_covers="nothing"), "got a connection"),
    (answer(timeout_covers="connect"), "must cover the wait for a free slot as well as connect()"),
    (answer(timeout_covers="wait"), "must cover opening a connection as well as waiting for one"),
    (answer(timeout_covers="everything"), "End `async with asyncio.timeout(timeout):` before `yield conn`"),
    (WholeBlockTimeout, "End `async with asyncio.timeout(timeout):` before `yield conn`"),
    (answer(release="after success"), "in a `finally:` around `yield conn`"),
    (answer(catch=Exception), "Catch BaseException around `yield conn`"),
    (ForgetsTheHandOver, "handed to it, and the connection was lost"),
], ids=["tutorial", "shared-state", "no-limit", "no-reuse", "reuses-broken", "drops-unclosed",
        "leaks-slot-on-timeout", "close-leaves-idle", "no-timeout", "no-timeout-on-the-wait", "no-timeout-on-connect",
        "timeout-over-the-block", "timeout-over-the-block-reference", "slot-freed-on-success-only",
        "catches-exception-only", "forgets-hand-over"])
def test_wrong_answers_get_a_hint(wrong, hint):
    verdict = check_pool(wrong)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_not_a_class_or_missing_methods():
    assert "pass your class itself" in check_pool(answer()(None, None, 1)).message

    class NoClose:
        def acquire(self, timeout=None):
            return self

    assert "async def close(self)" in check_pool(NoClose).message
    assert "acquire(self, timeout=None)" in check_pool(type("Empty", (), {})).message


def test_a_pool_that_hangs_gets_a_verdict():
    class Hangs(answer()):
        def acquire(self, timeout=None):
            @contextlib.asynccontextmanager
            async def forever():
                await asyncio.Event().wait()
                yield None
            return forever()

    verdict = check_pool(Hangs)
    assert not verdict.passed and "still waiting" in verdict.message
