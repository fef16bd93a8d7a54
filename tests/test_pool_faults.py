"""Pool keeps its promise whatever lands at whatever await: every connection opened is closed
or still in the pool's hands (idle, or waiting for the next close()), never more than
max_size lent at once, no waiter left behind, no lend from a closing pool, and every cancel
and error reaches the task it was meant for.

Three scenarios in virtual time (borrowing with a failed block and a failed check; closing
while one borrower is in its block, one is connecting and two connections are idle; closing
with a waiter) are run once to count the moments each task suspends, then once per moment
with that task cancelled there; and once per call of connect(), check() or close() with
that call raising. The defects each first found have a test of their own below."""

import asyncio
import types
from collections import Counter

import pytest

from asyncio_patterns import Pool, PoolClosed, run_virtual
from asyncio_patterns.demos.pool import FakeConnection, FakeService

CONNECT = 0.1
CLOSE = 0.05


class Injected(ConnectionError):
    """The error a dependency call was made to raise."""


class Service(FakeService):
    """Fake connections whose close takes ``CLOSE`` s; call number ``fail_call`` of connect,
    check or close raises :class:`Injected` (a close that raises has closed nothing)."""

    def __init__(self, fail_call=None, close_cost=CLOSE):
        super().__init__(connect_cost=CONNECT)
        self.fail_call, self.close_cost = fail_call, close_cost
        self.calls = 0
        self.close_failed: list[FakeConnection] = []

    def _call(self, what):
        self.calls += 1
        if self.calls == self.fail_call:
            raise Injected(f"{what} failed (call {self.calls})")

    async def connect(self):
        await asyncio.sleep(self.connect_cost)
        self._call("connect")
        conn = FakeConnection(len(self.connections) + 1, self)
        self.connections.append(conn)
        return conn

    def check(self, conn):
        self._call("check")
        return not conn.broken

    async def aclose(self, conn):
        await asyncio.sleep(self.close_cost)
        try:
            self._call("close")
        except Injected:
            self.close_failed.append(conn)
            raise
        conn.closed = True


class Moments:
    """Counts the times each watched coroutine suspends, and cancels its task at ``cancel_at``,
    a (name, n) pair: the n-th suspension of the coroutine watched as ``name``."""

    def __init__(self, cancel_at=None):
        self.counts = Counter()
        self.cancel_at = cancel_at
        self.cancelled_task = None

    async def watch(self, name, coro):
        return await self._drive(name, coro)

    @types.coroutine
    def _drive(self, name, coro):
        value, error = None, None
        while True:
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            self.counts[name] += 1
            if (name, self.counts[name]) == self.cancel_at:
                # The task is between yielding and suspending: the cancel lands on this very await.
                self.cancelled_task = asyncio.current_task()
                self.cancelled_task.cancel()
            value = error = None
            try:
                value = yield yielded
            except BaseException as thrown:
                error = thrown


class Watch:
    """What a scenario records: lends, the most lent at once, lends after close() began."""

    def __init__(self):
        self.lent = self.most_lent = 0
        self.lent_while_closing = []
        self.tasks = []
        self.outcomes = {}
        self.notes = []  # notes added to the borrowers' errors

    def borrower(self, moments, pool, name, start, hold, *, fails=False, breaks=False, spawn=asyncio.create_task):
        async def borrow():
            await asyncio.sleep(start)
            try:
                async with pool.acquire() as conn:
                    if pool._closing:
                        self.lent_while_closing.append((name, conn))
                    self.lent += 1
                    self.most_lent = max(self.most_lent, self.lent)
                    try:
                        await conn.query(hold)
                        if fails:
                            raise ConnectionResetError("the server hung up mid-request")
                        conn.broken = breaks  # hung up after the answer: check() finds it
                    finally:
                        self.lent -= 1
            except (ConnectionError, PoolClosed) as error:
                self.outcomes[name] = type(error).__name__
                self.notes += getattr(error, "__notes__", [])
                return
            self.outcomes[name] = "done"

        task = spawn(moments.watch(name, borrow()), name=name)
        self.tasks.append(task)
        return task


async def borrowing(pool, watch, moments):
    """A's block fails; B breaks its connection; C waits for A's slot; D is lent B's broken
    connection, which fails check(); the owner leaves `async with` with two idle."""
    async with pool:
        async with asyncio.TaskGroup() as group:
            watch.borrower(moments, pool, "A", 0.0, 0.3, fails=True, spawn=group.create_task)
            watch.borrower(moments, pool, "B", 0.0, 0.5, breaks=True, spawn=group.create_task)
            watch.borrower(moments, pool, "C", 0.2, 0.02, spawn=group.create_task)
            watch.borrower(moments, pool, "D", 1.5, 0.3, spawn=group.create_task)


async def closing_busy(pool, watch, moments):
    """close() while X is in its block, M is connecting, and I and J are idle."""
    async with pool:
        watch.borrower(moments, pool, "X", 0.0, 3.0)
        watch.borrower(moments, pool, "I", 0.0, 0.9)
        watch.borrower(moments, pool, "J", 0.0, 0.92)
        watch.borrower(moments, pool, "M", 0.95, 0.1)
        await asyncio.sleep(1.03)
        await pool.close(timeout=5.0)


async def closing_with_a_waiter(pool, watch, moments):
    """close() while X holds the only connection and W waits for it."""
    async with pool:
        watch.borrower(moments, pool, "X", 0.0, 1.0)
        watch.borrower(moments, pool, "W", 0.1, 0.1)
        await asyncio.sleep(0.5)
        await pool.close(timeout=5.0)


SCENARIOS = {
    "borrowing": (borrowing, 2, ["owner", "A", "B", "C", "D"]),
    "closing_busy": (closing_busy, 4, ["owner", "X", "I", "J", "M"]),
    "closing_with_a_waiter": (closing_with_a_waiter, 1, ["owner", "X", "W"]),
}


def run(scenario, *, cancel_at=None, fail_call=None):
    """Run a scenario; check every promise; return the suspension counts and the calls made."""
    build, size, _ = SCENARIOS[scenario]
    service = Service(fail_call=fail_call)
    moments = Moments(cancel_at)
    watch = Watch()
    unhandled = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: unhandled.append(context))
        pool = Pool(service.connect, service.aclose, max_size=size, check=service.check)
        owner = asyncio.create_task(moments.watch("owner", build(pool, watch, moments)), name="owner")
        outcome = (await asyncio.gather(owner, return_exceptions=True))[0]
        await asyncio.gather(*watch.tasks, return_exceptions=True)
        # The promises, before anyone tidies up:
        held = set(map(id, pool._idle))
        left = [c for c in service.still_open if id(c) not in held and c not in service.close_failed]
        assert left == [], f"open and forgotten by the pool: {left}"
        if pool._closing:  # close() ran, however it ended (a cancel lets every close finish first)
            assert [c for c in service.still_open if c not in service.close_failed] == [], "a closed pool left one open"
        assert pool.in_use == 0 and not pool._waiters, "a waiter or a borrowed slot left"
        assert watch.most_lent <= size and service.shared == []
        assert watch.lent_while_closing == [], "lent by a closing pool"
        if moments.cancelled_task is not None:
            assert moments.cancelled_task.cancelled(), "the cancel did not reach its task"
        if fail_call is not None and service.calls >= fail_call:
            seen = list(watch.outcomes.values()) + [type(outcome).__name__] + watch.notes
            assert any("Injected" in said for said in seen) or isinstance(outcome, BaseExceptionGroup), \
                f"the injected error reached nobody: {watch.outcomes}, {outcome!r}"
        # ... and a second close() finishes the job.
        service.fail_call = None
        await pool.close()
        assert [c for c in service.still_open if c not in service.close_failed] == []
        assert pool.size == 0 and pool.idle == 0
        return outcome, pool.discarded

    outcome, discarded = run_virtual(main())
    if fail_call is None and moments.cancelled_task is None:
        assert outcome is None, outcome
    assert unhandled == [], unhandled
    return moments.counts, service.calls, watch.outcomes, discarded


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_scenarios_do_what_they_say_untouched(scenario):
    counts, calls, outcomes, discarded = run(scenario)
    expected = {
        "borrowing": ({"A": "ConnectionResetError", "B": "done", "C": "done", "D": "done"}, 2),  # A's block, D's check
        "closing_busy": ({"X": "done", "I": "done", "J": "done", "M": "PoolClosed"}, 0),
        "closing_with_a_waiter": ({"X": "done", "W": "PoolClosed"}, 0),
    }[scenario]
    assert (outcomes, discarded) == expected


# Each borrower sleeps until its start, then waits, connects, checks, queries or closes; the
# owner waits for its borrowers and closes: the times each task suspends, and the calls of
# connect, check and close, in each scenario untouched (the first test below counts them).
MOMENTS = {
    "borrowing": {"owner": 3, "A": 4, "B": 3, "C": 4, "D": 4},
    "closing_busy": {"owner": 4, "X": 4, "I": 3, "J": 3, "M": 3},
    "closing_with_a_waiter": {"owner": 2, "X": 4, "W": 2},
}
CALLS = {"borrowing": 9, "closing_busy": 8, "closing_with_a_waiter": 2}
CANCELS = [(scenario, (name, n)) for scenario, counts in MOMENTS.items()
           for name, count in counts.items() for n in range(1, count + 1)]
ERRORS = [(scenario, call) for scenario, calls in CALLS.items() for call in range(1, calls + 1)]


def test_the_sweep_tries_every_await_of_every_task_and_every_call():
    for scenario in SCENARIOS:
        counts, calls, _, _ = run(scenario)
        assert (dict(counts), calls) == (MOMENTS[scenario], CALLS[scenario])
    assert (len(CANCELS), len(ERRORS)) == (43, 19)


@pytest.mark.parametrize("scenario, moment", CANCELS, ids=[f"{s}-{m[0]}-{m[1]}" for s, m in CANCELS])
def test_a_cancel_at_every_await_keeps_every_promise(scenario, moment):
    run(scenario, cancel_at=moment)


@pytest.mark.parametrize("scenario, call", ERRORS, ids=[f"{s}-call-{c}" for s, c in ERRORS])
def test_an_error_from_every_dependency_call_keeps_every_promise(scenario, call):
    run(scenario, fail_call=call)


# -- each defect the sweep found, on its own ----------------------------------------------


def test_a_check_that_raises_closes_the_connection_and_frees_its_slot():
    service = FakeService()
    raising = set()

    def check(conn):
        if conn.number in raising:
            raise ConnectionResetError("ping failed")
        return True

    async def main():
        pool = Pool(service.connect, service.close, max_size=2, check=check)
        async with pool.acquire(), pool.acquire():
            pass  # conn 1 and conn 2 idle, conn 1 on top
        raising.add(1)
        with pytest.raises(ConnectionResetError, match="ping failed"):
            async with pool.acquire():
                pass
        async with pool.acquire() as a, pool.acquire() as b:
            most_open = len(service.still_open)
            return sorted([a.number, b.number]), most_open, service.connections[0].closed

    assert run_virtual(main()) == ([2, 3], 2, True)


def test_a_cancel_while_a_failed_block_closes_its_connection_loses_nothing():
    service = Service(close_cost=0.5)

    async def main():
        pool = Pool(service.connect, service.aclose, max_size=1)

        async def fails():
            async with pool.acquire():
                raise ConnectionResetError("the server hung up")

        task = asyncio.create_task(fails())
        await asyncio.sleep(CONNECT + 0.2)  # its close is under way
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with pool.acquire() as conn:  # its slot is free
            number = conn.number
        await pool.close()
        return task.cancelled(), number, service.still_open

    assert run_virtual(main()) == (True, 2, [])


def test_a_cancel_while_closing_a_connection_that_failed_its_check_loses_nothing():
    service = Service(close_cost=0.5)

    async def main():
        pool = Pool(service.connect, service.aclose, max_size=1, check=service.check)
        async with pool.acquire() as conn:
            conn.broken = True
        with pytest.raises(TimeoutError):
            async with pool.acquire(timeout=0.2):  # times out while closing the broken one
                pass
        size = pool.size
        await pool.close()
        return size, service.still_open

    assert run_virtual(main()) == (0, [])


def test_a_cancel_during_close_closes_every_connection_before_it_is_raised():
    service = Service(close_cost=0.1)

    async def main():
        pool = Pool(service.connect, service.aclose, max_size=3)
        async with pool.acquire(), pool.acquire(), pool.acquire():
            pass
        began = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.15):  # lands in the second close
                await pool.close()
        raised_after = asyncio.get_running_loop().time() - began
        return [c.number for c in service.connections if c.closed], service.still_open, round(raised_after, 3)

    assert run_virtual(main()) == ([1, 2, 3], [], 0.3)


def test_an_owner_cancelled_while_leaving_async_with_leaves_nothing_forgotten():
    service = Service(close_cost=0.1)

    async def main():
        pool = Pool(service.connect, service.aclose, max_size=2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2 * CONNECT + 0.05):
                async with pool:
                    async with pool.acquire(), pool.acquire():  # connected one after the other
                        pass  # the timeout fires in __aexit__, closing the first of the two
        return service.still_open  # no second close() needed

    assert run_virtual(main()) == []


def test_a_borrower_connecting_when_close_starts_gets_pool_closed_not_a_connection():
    service = FakeService(connect_cost=1.0)

    async def main():
        pool = Pool(service.connect, service.close, max_size=2)

        async def borrow():
            async with pool.acquire() as conn:
                return conn

        task = asyncio.create_task(borrow())
        await asyncio.sleep(0.5)
        await pool.close()
        with pytest.raises(PoolClosed, match="closed while this task got a connection"):
            await task
        return len(service.connections), service.still_open, pool.size

    assert run_virtual(main()) == (1, [], 0)


def test_a_close_that_fails_after_a_failed_block_keeps_the_blocks_error():
    service = Service(fail_call=2)  # connect is call 1, the close call 2

    async def main():
        pool = Pool(service.connect, service.aclose, max_size=1)
        with pytest.raises(ConnectionResetError) as caught:
            async with pool.acquire():
                raise ConnectionResetError("the server hung up")
        async with pool.acquire() as conn:  # the slot was freed anyway
            return caught.value.__notes__, conn.number

    notes, number = run_virtual(main())
    assert notes == ["closing its connection failed too: Injected('close failed (call 2)')"] and number == 2
