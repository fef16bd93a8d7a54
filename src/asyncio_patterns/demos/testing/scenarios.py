"""Every pattern's docstring promise as a scenario for the fault harness (:mod:`asyncio_patterns.lab.faults`).

Each scenario drives one pattern with fake dependencies (fast, in virtual time), marks the
task whose every await is tried (``probe.target``) and the calls that may fail
(``probe.dependency``), and checks the promise its docstring makes. ``SCENARIOS`` lists them
all; ``tools/bench.py`` prints the table, ``tests/test_pattern_faults.py`` runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from ...lab.faults import InjectedError, Probe, Scenario
from ...patterns import (BoundedBuffer, CircuitBreaker, CircuitOpen, Pool, PoolClosed, TokenBucket,
                         WorkerPool, bounded_map, gather_with_timeouts, hedged, locked, retry)

__all__ = ["SCENARIOS"]


# -- WorkerPool: every accepted job completed, failed or handed back, also when stop() is cancelled

def _worker_pool(deadline: float) -> Scenario:
    async def run(probe: Probe):
        async def handle(job: int) -> None:
            try:
                await asyncio.sleep(0.3 + 0.1 * job)
            finally:
                await asyncio.sleep(0.05)  # a clean-up that takes a while

        async with WorkerPool(probe.dependency(handle, name="handle"), workers=2) as pool:
            for job in range(6):
                pool.submit(job)
            await asyncio.sleep(0.2)
            await probe.target(pool.stop(deadline=deadline))
        return pool.report

    def check(report) -> list[str]:
        return [f"{report.lost} of {report.accepted} accepted jobs lost"] if report.lost else []

    return Scenario(f"WorkerPool.stop(deadline={deadline:g})", run, check)


# -- Pool: every connection opened is closed or idle at close; in use never above max_size; no waiter left

@dataclass(eq=False)
class _Conn:
    number: int
    closed: bool = False


@dataclass
class _Server:
    """Counts what the pool did to the fake server."""

    opened: list[_Conn] = field(default_factory=list)
    open_now: int = 0
    most_open: int = 0


def _pool_scenario(name: str, target: str, *, check_conn: bool = False, idle_at_close: bool = False) -> Scenario:
    async def run(probe: Probe):
        server = _Server()

        async def connect() -> _Conn:
            await asyncio.sleep(0.01)
            conn = _Conn(len(server.opened))
            server.opened.append(conn)
            server.open_now += 1
            server.most_open = max(server.most_open, server.open_now)
            return conn

        async def goodbye(conn: _Conn) -> None:
            await asyncio.sleep(0.01)

        polite = probe.dependency(goodbye, name="goodbye")

        async def close(conn: _Conn) -> None:
            conn.closed = True  # the socket closes at once; the goodbye may fail or be cut short
            server.open_now -= 1
            await polite(conn)

        pool = Pool(probe.dependency(connect, name="connect"), close, max_size=2, timeout=5.0,
                    check=probe.dependency(lambda conn: True, name="check") if check_conn else None)

        async def borrow(hold: float) -> None:
            with contextlib.suppress(PoolClosed, TimeoutError, Exception):
                async with pool.acquire() as conn:
                    await asyncio.sleep(hold)

        async with asyncio.TaskGroup() as group:
            for hold in (0.1, 0.1):
                group.create_task(borrow(hold))
            await asyncio.sleep(0.2)  # two idle connections now
            if not idle_at_close:
                for hold in (0.3, 0.1, 0.1):
                    group.create_task(borrow(hold))  # the third waits for a connection
                await asyncio.sleep(0.05)
            if target == "close":
                await probe.target(pool.close(timeout=1.0))
            else:
                await probe.target(borrow(0.2))
        if target != "close":
            with contextlib.suppress(Exception):
                await pool.close(timeout=1.0)  # the owner closes it in the end, whatever happened
        else:
            await asyncio.sleep(1.0)  # the borrowers give theirs back; the pool is not closed twice
        return pool, server

    def check(state) -> list[str]:
        pool, server = state
        broken = []
        leaked = [conn.number for conn in server.opened if not conn.closed]
        if leaked:
            broken.append(f"connection(s) {leaked} never closed")
        if server.most_open > pool.max_size:
            broken.append(f"{server.most_open} connections open at once, max_size {pool.max_size}")
        if pool.waiting:
            broken.append(f"{pool.waiting} waiter(s) left")
        return broken

    return Scenario(name, run, check)


# -- bounded_map: no task left; a result or an error for each item

def _bounded_map() -> Scenario:
    async def run(probe: Probe):
        results = []

        async def work(item: int) -> int:
            await asyncio.sleep(0.1 * (item % 3 + 1))
            return item * item

        async def consume() -> None:
            async with contextlib.aclosing(bounded_map(probe.dependency(work, name="work"), range(6),
                                                       concurrency=2)) as each:
                async for done in each:
                    results.append(done)

        outcome = await probe.target(consume())
        return results, isinstance(outcome, asyncio.CancelledError)

    def check(state) -> list[str]:
        results, cancelled = state
        indexes = sorted(done.index for done in results)
        if cancelled:
            return [] if len(set(indexes)) == len(indexes) else [f"an item yielded twice: {indexes}"]
        return [] if indexes == list(range(6)) else [f"items yielded {indexes}, not one each of 0..5"]

    return Scenario("bounded_map", run, check)


# -- retry: a cancel is never retried and ends it at once; nothing sleeps after the last attempt

def _retry(succeeds_at: int) -> Scenario:
    async def run(probe: Probe):
        loop = asyncio.get_running_loop()
        calls: list[float] = []

        async def flaky() -> str:
            calls.append(loop.time())
            await asyncio.sleep(0.1)
            if len(calls) < succeeds_at:
                raise ConnectionError("refused")
            return "ok"

        fetch = retry(on=ConnectionError, attempts=3, base=0.2, jitter="none")(probe.dependency(flaky, name="flaky"))
        began = loop.time()
        outcome = await probe.target(_catch(fetch(), ConnectionError))  # gave up: the real error
        return calls, outcome, loop.time() - began, probe.injected

    def check(state) -> list[str]:
        calls, outcome, took, injected = state
        broken = []
        if injected is not None and injected.kind == "cancel":
            if not isinstance(outcome, asyncio.CancelledError):
                broken.append(f"cancelled, yet it ended with {outcome!r}")
            if any(t > injected.time for t in calls):
                broken.append("a call was made after the cancel")
        attempts = getattr(outcome, "retry_attempts", None)
        if isinstance(outcome, ConnectionError) and attempts and abs(took - attempts[-1].end) > 1e-9:
            broken.append(f"gave up {took - attempts[-1].end:g} s after the last attempt ended")
        if len(calls) > 3:
            broken.append(f"{len(calls)} calls, attempts=3")
        return broken

    return Scenario(f"retry ({'gives up' if succeeds_at > 3 else 'succeeds at call 3'})", run, check)


async def _catch(awaitable, errors):
    try:
        return await awaitable
    except errors as error:
        return error


# -- CircuitBreaker: the trial slot is always freed; the counts add up

def _breaker() -> Scenario:
    async def run(probe: Probe):
        breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1.0, failures=ConnectionError)

        async def fails() -> None:
            await asyncio.sleep(0.01)
            raise ConnectionError("down")

        async def answers() -> str:
            await asyncio.sleep(0.1)
            return "up"

        await _catch(breaker.call(fails), ConnectionError)  # opens it
        await asyncio.sleep(1.0)
        await probe.target(_catch(breaker.call(probe.dependency(answers, name="answers")), (ConnectionError, CircuitOpen)))
        await asyncio.sleep(1.0)  # if the trial failed, it reopened: wait it out
        later = await _catch(breaker.call(answers), CircuitOpen)
        return breaker, later

    def check(state) -> list[str]:
        breaker, later = state
        stats, broken = breaker.stats, []
        if isinstance(later, CircuitOpen):
            broken.append(f"a call after the trial was rejected: {later} (the trial slot was never freed)")
        if stats.calls != stats.succeeded + stats.failed + stats.ignored + stats.rejected:
            broken.append(f"counts do not add up: {stats}")
        return broken

    return Scenario("CircuitBreaker", run, check)


# -- hedged and gather_with_timeouts: no copy left running (the harness checks it after every run)

def _hedged() -> Scenario:
    async def run(probe: Probe):
        latencies = iter([0.3, 0.05])

        async def request() -> float:
            latency = next(latencies)
            await asyncio.sleep(latency)
            return latency

        # a copy that fails first passes its error on: that is hedged's promise, not a broken one
        return await probe.target(_catch(hedged(probe.dependency(request, name="request"), after=0.1), InjectedError))

    return Scenario("hedged", run)


def _gather_with_timeouts() -> Scenario:
    async def run(probe: Probe):
        async def work(seconds: float) -> float:
            await asyncio.sleep(seconds)
            return seconds

        slow = probe.dependency(work, name="work")
        return await probe.target(_catch(gather_with_timeouts([slow(0.1), slow(0.5), slow(0.2)], 0.3), ExceptionGroup))

    def check(outcome) -> list[str]:
        if isinstance(outcome, list) and len(outcome) != 3:
            return [f"{len(outcome)} answers for 3 awaitables"]
        return []

    return Scenario("gather_with_timeouts", run, check)


# -- BoundedBuffer: no item lost or duplicated

def _buffer(target: str) -> Scenario:
    async def run(probe: Probe):
        buffer: BoundedBuffer[int] = BoundedBuffer(2)
        put, got = [], []

        async def produce(items) -> None:
            for item in items:
                await buffer.put(item)
                put.append(item)

        async def consume(n: int) -> None:
            for _ in range(n):
                try:
                    async with asyncio.timeout(1.0):  # nothing more to come
                        got.append(await buffer.get())
                except TimeoutError:
                    return
                await asyncio.sleep(0.01)

        producers = [asyncio.create_task(produce(range(0, 4)))]
        if target == "put":
            consumer = asyncio.create_task(consume(8))
            await probe.target(produce(range(10, 14)))
        else:
            producers.append(asyncio.create_task(produce(range(10, 14))))
            consumer = asyncio.create_task(consume(3))
            await probe.target(consume(3))
        await consumer
        while True:  # take whatever else was put; a lost item shows as a wait that times out
            try:
                async with asyncio.timeout(1.0):
                    got.append(await buffer.get())
            except TimeoutError:
                break
        for producer in producers:
            await producer  # a producer stuck on a lost wake-up is left running, and reported
        return put, got

    def check(state) -> list[str]:
        put, got = state
        broken = []
        if len(set(got)) != len(got):
            broken.append(f"an item came out twice: {got}")
        if set(put) - set(got):
            broken.append(f"item(s) {sorted(set(put) - set(got))} put and never got")
        if set(got) - set(put):
            broken.append(f"item(s) {sorted(set(got) - set(put))} got but never put")
        return broken

    return Scenario(f"BoundedBuffer ({target} tried)", run, check)


# -- TokenBucket: never more than its rate allows; a cancelled acquire takes no token

def _token_bucket() -> Scenario:
    rate, burst = 10.0, 2

    async def run(probe: Probe):
        bucket = TokenBucket(rate, burst=burst)
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def operation() -> None:
            await bucket.acquire()
            starts.append(loop.time())

        async def operations(n: int) -> None:
            for _ in range(n):
                await operation()

        async with asyncio.TaskGroup() as group:
            for _ in range(3):
                group.create_task(operation())
            await asyncio.sleep(0)  # they take the burst, and the third waits for a token
            await probe.target(operations(3))  # waits behind it, then for each of its own
            for _ in range(2):
                group.create_task(operation())
        return starts

    def check(starts: list[float]) -> list[str]:
        for i, first in enumerate(starts):
            for j in range(i, len(starts)):
                allowed = burst + (starts[j] - first) * rate + 1e-9
                if j - i + 1 > allowed:
                    return [f"{j - i + 1} operations started in {starts[j] - first:g} s: more than the rate allows"]
        return []

    return Scenario("TokenBucket", run, check)


# -- locked: the lock is always released; never held by two

def _locked() -> Scenario:
    async def run(probe: Probe):
        lock = asyncio.Lock()
        inside, overlaps = [0], []

        async def critical(hold: float, timeout: float | None) -> None:
            with contextlib.suppress(TimeoutError):
                async with locked(lock, timeout=timeout):
                    inside[0] += 1
                    if inside[0] > 1:
                        overlaps.append(asyncio.get_running_loop().time())
                    try:
                        await asyncio.sleep(hold)
                    finally:
                        inside[0] -= 1

        async with asyncio.TaskGroup() as group:
            group.create_task(critical(0.2, None))
            await asyncio.sleep(0)
            group.create_task(critical(0.1, 0.1))  # times out
            await probe.target(critical(0.1, 1.0))
            group.create_task(critical(0.1, 1.0))
        return lock, overlaps

    def check(state) -> list[str]:
        lock, overlaps = state
        broken = [f"two holders at t={overlaps[0]:g}"] if overlaps else []
        return broken + (["the lock is still held after every task ended"] if lock.locked() else [])

    return Scenario("locked", run, check)


SCENARIOS = {
    "WorkerPool": [_worker_pool(0.5), _worker_pool(5.0)],
    "Pool": [_pool_scenario("Pool.close", "close"), _pool_scenario("Pool.close (idle)", "close", idle_at_close=True),
             _pool_scenario("Pool.acquire", "borrow"),
             _pool_scenario("Pool with check()", "borrow", check_conn=True)],
    "bounded_map": [_bounded_map()],
    "retry": [_retry(succeeds_at=3), _retry(succeeds_at=9)],
    "CircuitBreaker": [_breaker()],
    "hedged": [_hedged()],
    "gather_with_timeouts": [_gather_with_timeouts()],
    "BoundedBuffer": [_buffer("get"), _buffer("put")],
    "TokenBucket": [_token_bucket()],
    "locked": [_locked()],
}
