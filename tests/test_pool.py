"""Pool: each task its own connection, a size limit, LIFO reuse, fair waiting, exact
timeouts that leave the pool intact (even at the hand-over instant), broken connections
closed, and a close() that waits for borrowed ones. All in virtual time."""

import asyncio

import pytest

from asyncio_patterns import Pool, PoolClosed, run_virtual
from asyncio_patterns.demos.pool import FakeService


def now():
    return asyncio.get_running_loop().time()


def test_each_task_gets_its_own_connection_and_the_size_limit_holds():
    service = FakeService(connect_cost=0.1)

    async def main():
        async with Pool(service.connect, service.close, max_size=3) as pool:
            most = 0

            async def borrower(i):
                nonlocal most
                await asyncio.sleep(i * 0.05)
                async with pool.acquire() as conn:
                    most = max(most, pool.in_use)
                    await conn.query(0.3)

            async with asyncio.TaskGroup() as group:
                for i in range(10):
                    group.create_task(borrower(i))
            return most, pool.size, pool.idle, pool.opened

    assert run_virtual(main()) == (3, 3, 3, 3)
    assert service.shared == [] and len(service.connections) == 3 and service.still_open == []


def test_reuse_is_last_in_first_out():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=3)
        async with pool.acquire() as a, pool.acquire() as b:
            pass  # given back b, then a: a is on top
        async with pool.acquire() as again:
            return [a.number, b.number], again.number

    assert run_virtual(main()) == ([1, 2], 1)


def test_waiters_are_served_first_come_first_served():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=1)
        order = []

        async def borrower(name, start):
            await asyncio.sleep(start)
            async with pool.acquire() as conn:
                order.append((name, now()))
                await conn.query(1.0)

        async with asyncio.TaskGroup() as group:
            for i, name in enumerate("abcd"):
                group.create_task(borrower(name, i * 0.1))
        return order

    assert run_virtual(main()) == [("a", 0.0), ("b", 1.0), ("c", 2.0), ("d", 3.0)]


def test_acquire_timeout_is_exact_and_leaves_the_pool_intact():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=1, timeout=0.5)
        async with pool.acquire() as conn:
            with pytest.raises(TimeoutError):
                async with pool.acquire():
                    pass
            timed_out_at = now()
            await conn.query(0.1)
        assert (pool.size, pool.idle, pool.waiting) == (1, 1, 0)
        async with pool.acquire(timeout=0) as again:  # an idle connection needs no wait at all
            return timed_out_at, again is conn

    assert run_virtual(main()) == (0.5, True)


def test_a_waiter_cancelled_at_the_hand_over_instant_passes_the_connection_on():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=1)
        holder_done = asyncio.Event()
        got = []

        async def waiter(name):
            async with pool.acquire() as conn:
                got.append((name, conn.number, now()))

        async with pool.acquire():
            first = asyncio.create_task(waiter("first"))
            second = asyncio.create_task(waiter("second"))
            await asyncio.sleep(1.0)
            assert pool.waiting == 2
            holder_done.set()
        # The block's end handed the connection to `first`, which has not run yet: cancel it now.
        first.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
        return first.cancelled(), got, pool.size, pool.idle, pool.in_use

    cancelled, got, size, idle, in_use = run_virtual(main())
    assert cancelled and got == [("second", 1, 1.0)]
    assert (size, idle, in_use) == (1, 1, 0)
    assert len(service.connections) == 1


def test_a_timeout_at_the_hand_over_instant_loses_nothing():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=1)

        async def late():
            try:
                async with pool.acquire(timeout=1.0):
                    return "got it"
            except TimeoutError:
                return "timed out"

        async with pool.acquire() as conn:
            task = asyncio.create_task(late())
            await conn.query(1.0)  # given back at exactly 1.0 s, when the waiter's timeout fires
        outcome = await task
        return outcome, pool.size, pool.idle

    outcome, size, idle = run_virtual(main())
    assert outcome in ("got it", "timed out") and (size, idle) == (1, 1)


def test_a_timeout_during_a_slow_connect_frees_the_slot():
    service = FakeService(connect_cost=1.0)

    async def main():
        pool = Pool(service.connect, service.close, max_size=2)
        for _ in range(5):
            with pytest.raises(TimeoutError):
                async with pool.acquire(timeout=0.5):
                    pass
        assert pool.size == 0
        async with pool.acquire(timeout=2.0) as conn:
            return conn.number, now()

    assert run_virtual(main()) == (1, 3.5)


def test_a_failed_connect_frees_the_slot_for_a_waiter():
    service = FakeService(connect_cost=0.1, failing_connects=1)

    async def main():
        pool = Pool(service.connect, service.close, max_size=1)

        async def borrow():
            async with pool.acquire() as conn:
                return conn.number

        results = await asyncio.gather(borrow(), borrow(), return_exceptions=True)
        return [type(r).__name__ if isinstance(r, BaseException) else r for r in results], pool.size

    assert run_virtual(main()) == (["ConnectionRefusedError", 1], 1)


@pytest.mark.parametrize("ending", ["error", "cancelled"])
def test_a_connection_whose_block_failed_is_closed_not_reused(ending):
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=1)

        async def use():
            async with pool.acquire() as conn:
                if ending == "error":
                    raise ConnectionResetError("the server hung up")
                await asyncio.sleep(10)

        task = asyncio.create_task(use())
        await asyncio.sleep(1)
        if ending == "cancelled":
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with pool.acquire() as conn:
            return conn.number, service.connections[0].closed, pool.discarded

    assert run_virtual(main()) == (2, True, 1)


def test_check_replaces_a_connection_closed_while_idle():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=2, check=lambda conn: not conn.broken)
        async with pool.acquire() as conn:
            pass
        conn.broken = True  # the server hung up while it sat idle
        async with pool.acquire() as fresh:
            return fresh.number, conn.closed, pool.size, pool.discarded

    assert run_virtual(main()) == (2, True, 1, 1)


def test_close_waits_for_borrowed_connections_and_refuses_new_acquires():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=2)
        async with pool.acquire():
            pass  # one idle connection

        async def borrower():
            async with pool.acquire() as conn:
                await conn.query(2.0)

        async def waiter():
            await asyncio.sleep(0.5)
            async with pool.acquire():
                pass

        tasks = [asyncio.create_task(borrower()), asyncio.create_task(borrower())]
        late = asyncio.create_task(waiter())
        await asyncio.sleep(1.0)
        await pool.close(timeout=5.0)
        closed_at = now()
        with pytest.raises(PoolClosed):
            async with pool.acquire():
                pass
        results = await asyncio.gather(*tasks, late, return_exceptions=True)
        return closed_at, [type(r).__name__ if r else None for r in results], pool.size

    closed_at, results, size = run_virtual(main())
    assert closed_at == 2.0 and results == [None, None, "PoolClosed"] and size == 0
    assert service.still_open == []


def test_close_with_a_timeout_says_how_many_are_still_borrowed():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=2)

        async def borrower():
            async with pool.acquire() as conn:
                await conn.query(10.0)

        task = asyncio.create_task(borrower())
        await asyncio.sleep(1.0)  # it is inside its block now
        with pytest.raises(TimeoutError, match=r"1 connection\(s\) still borrowed after 1 s"):
            await pool.close(timeout=1.0)
        await task
        return now(), pool.size, service.still_open

    assert run_virtual(main()) == (10.0, 0, [])


def test_an_async_close_function_is_awaited():
    closed = []

    async def connect():
        return object()

    async def close(conn):
        await asyncio.sleep(0.25)
        closed.append(conn)

    async def main():
        async with Pool(connect, close, max_size=1) as pool:
            async with pool.acquire() as conn:
                pass
        return now(), closed == [conn]

    assert run_virtual(main()) == (0.25, True)


def test_repr_says_what_the_pool_holds():
    service = FakeService()

    async def main():
        pool = Pool(service.connect, service.close, max_size=4)
        async with pool.acquire():
            inside = repr(pool)
        await pool.close()
        return inside, repr(pool)

    assert run_virtual(main()) == ("<Pool 1/4 connections: 1 in use, 0 idle, 0 waiting>",
                                   "<Pool 0/4 connections: closed>")


@pytest.mark.parametrize("kwargs, message", [
    ({"max_size": 0}, "max_size must be a whole number >= 1, got 0"),
    ({"max_size": 2.5}, "max_size must be a whole number >= 1, got 2.5"),
    ({"timeout": -1}, "timeout must be a number of seconds >= 0, got -1"),
])
def test_bad_settings_say_what_to_change(kwargs, message):
    service = FakeService()
    with pytest.raises(ValueError, match=message):
        Pool(service.connect, service.close, **kwargs)
