"""Pool keeps its promise whatever lands at whatever await: every connection opened is closed
or still in the pool's hands (idle, or waiting for the next close()), never more than
max_size lent at once, no waiter left behind, no lend from a closing pool, and every cancel
and error reaches the task it was meant for.

Three scenarios in virtual time (borrowing with a failed block and a failed check; closing
while one borrower is in its block, one is connecting and two connections are idle; closing
with a waiter) are tried by the fault harness (:mod:`asyncio_patterns.lab.faults`): the owner
and each borrower are targets, cancelled at each await they suspend at; each call of
connect(), check() or close() is a call that may fail. The defects each first found have a
test of their own below."""

import asyncio
from dataclasses import dataclass, field

import pytest

from asyncio_patterns import Pool, PoolClosed, run_virtual
from asyncio_patterns.demos.pool import FakeConnection, FakeService
from asyncio_patterns.lab.faults import InjectedError, Probe, Scenario, explore

CONNECT = 0.1
CLOSE = 0.05


class Service(FakeService):
    """Fake connections whose close takes ``close_cost`` s. With a probe, each connect, check and
    close is a call that may fail (raise :class:`InjectedError`): a connect once its wait is over,
    a close before it closed anything. ``tidying`` turns the failures off."""

    def __init__(self, probe=None, close_cost=CLOSE):
        super().__init__(connect_cost=CONNECT)
        self.close_cost = close_cost
        self.close_failed: list[FakeConnection] = []
        self.tidying = False
        self._may_fail = {what: probe.dependency(lambda: None, name=what) if probe else (lambda: None)
                          for what in ("connect", "check", "close")}

    def _call(self, what):
        if not self.tidying:
            self._may_fail[what]()

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
        except InjectedError:
            self.close_failed.append(conn)
            raise
        conn.closed = True


class Watch:
    """What a scenario records: lends, the most lent at once, lends after close() began, and
    how each borrower ended ("cancelled": the cancel was meant for it)."""

    def __init__(self):
        self.lent = self.most_lent = 0
        self.lent_while_closing = []
        self.tasks = []
        self.outcomes = {}
        self.notes = []  # notes added to the borrowers' errors

    def borrower(self, probe, pool, name, start, hold, *, fails=False, breaks=False, spawn=asyncio.create_task):
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
            except (ConnectionError, PoolClosed, InjectedError) as error:
                self.outcomes[name] = type(error).__name__
                self.notes += getattr(error, "__notes__", [])
                return
            self.outcomes[name] = "done"

        async def target():
            if isinstance(await probe.target(borrow()), asyncio.CancelledError):
                self.outcomes[name] = "cancelled"

        task = spawn(target(), name=name)
        self.tasks.append(task)
        return task


async def borrowing(pool, watch, probe):
    """A's block fails; B breaks its connection; C waits for A's slot; D is lent B's broken
    connection, which fails check(); the owner leaves `async with` with two idle."""
    async with pool:
        async with asyncio.TaskGroup() as group:
            watch.borrower(probe, pool, "A", 0.0, 0.3, fails=True, spawn=group.create_task)
            watch.borrower(probe, pool, "B", 0.0, 0.5, breaks=True, spawn=group.create_task)
            watch.borrower(probe, pool, "C", 0.2, 0.02, spawn=group.create_task)
            watch.borrower(probe, pool, "D", 1.5, 0.3, spawn=group.create_task)


async def closing_busy(pool, watch, probe):
    """close() while X is in its block, M is connecting, and I and J are idle."""
    async with pool:
        watch.borrower(probe, pool, "X", 0.0, 3.0)
        watch.borrower(probe, pool, "I", 0.0, 0.9)
        watch.borrower(probe, pool, "J", 0.0, 0.92)
        watch.borrower(probe, pool, "M", 0.95, 0.1)
        await asyncio.sleep(1.03)
        await pool.close(timeout=5.0)


async def closing_with_a_waiter(pool, watch, probe):
    """close() while X holds the only connection and W waits for it."""
    async with pool:
        watch.borrower(probe, pool, "X", 0.0, 1.0)
        watch.borrower(probe, pool, "W", 0.1, 0.1)
        await asyncio.sleep(0.5)
        await pool.close(timeout=5.0)


SCENARIOS = {
    "borrowing": (borrowing, 2),
    "closing_busy": (closing_busy, 4),
    "closing_with_a_waiter": (closing_with_a_waiter, 1),
}


@dataclass
class Seen:
    """What a run left, before anyone tidied up, and after a second close()."""

    outcome: object = None  # the owner's
    outcomes: dict = field(default_factory=dict)  # the borrowers'
    discarded: int = 0
    injected: object = None  # the fault, if it was placed before the tidying
    broken: list = field(default_factory=list)


def pool_scenario(name):
    build, size = SCENARIOS[name]

    async def run(probe):
        service, watch = Service(probe), Watch()
        pool = Pool(service.connect, service.aclose, max_size=size, check=service.check)
        try:
            outcome = await probe.target(build(pool, watch, probe))  # the owner
        except Exception as error:  # noqa: BLE001 - what reached the owner is judged below
            outcome = error
        await asyncio.gather(*watch.tasks, return_exceptions=True)
        seen = Seen(outcome, dict(watch.outcomes), pool.discarded, probe.injected)
        broken = seen.broken
        # The promises, before anyone tidies up:
        held = set(map(id, pool._idle))
        left = [c for c in service.still_open if id(c) not in held and c not in service.close_failed]
        if left:
            broken.append(f"open and forgotten by the pool: {left}")
        if pool._closing and [c for c in service.still_open if c not in service.close_failed]:
            broken.append("a closed pool left one open")  # close() ran, however it ended
        if pool.in_use or pool._waiters:
            broken.append("a waiter or a borrowed slot left")
        if watch.most_lent > size:
            broken.append(f"{watch.most_lent} lent at once, max_size {size}")
        if service.shared:
            broken.append(f"lent to two at once: {service.shared}")
        if watch.lent_while_closing:
            broken.append(f"lent by a closing pool: {watch.lent_while_closing}")
        if probe.injected is not None and probe.injected.kind == "cancel" and not (
                isinstance(outcome, asyncio.CancelledError) or "cancelled" in watch.outcomes.values()):
            broken.append("the cancel did not reach its task")
        if probe.injected is not None and probe.injected.kind == "raise":
            said = list(watch.outcomes.values()) + [type(outcome).__name__] + watch.notes
            if not (any("Injected" in one for one in said) or isinstance(outcome, BaseExceptionGroup)):
                broken.append(f"the injected error reached nobody: {watch.outcomes}, {outcome!r}")
        # ... and a second close() finishes the job.
        service.tidying = True
        await pool.close()
        if [c for c in service.still_open if c not in service.close_failed]:
            broken.append("a second close() left one open")
        if pool.size or pool.idle:
            broken.append(f"a second close() left size {pool.size}, idle {pool.idle}")
        return seen

    def check(seen):
        owner = [] if seen.injected is not None or seen.outcome is None else [f"the owner ended with {seen.outcome!r}"]
        return seen.broken + owner

    return Scenario(f"Pool: {name}", run, check)


def test_the_scenarios_do_what_they_say_untouched():
    expected = {
        "borrowing": ({"A": "ConnectionResetError", "B": "done", "C": "done", "D": "done"}, 2),  # A's block, D's check
        "closing_busy": ({"X": "done", "I": "done", "J": "done", "M": "PoolClosed"}, 0),
        "closing_with_a_waiter": ({"X": "done", "W": "PoolClosed"}, 0),
    }
    for name in SCENARIOS:
        seen = run_virtual(pool_scenario(name).run(Probe(None, None)))
        assert (seen.outcome, seen.broken) == (None, [])
        assert (seen.outcomes, seen.discarded) == expected[name]


# Each borrower sleeps until its start, then waits, connects, checks, queries or closes; the
# owner waits for its borrowers and closes: the times the owner and the borrowers suspend, and
# the calls of connect, check and close, in each scenario untouched.
MOMENTS = {"borrowing": (18, 9), "closing_busy": (17, 8), "closing_with_a_waiter": (8, 2)}
SEEDS = [None, 0, 1]  # asyncio's own order, and two shuffles of the borrowers that start together


def test_the_sweep_tries_every_await_of_every_task_and_every_call():
    for name in SCENARIOS:
        probe = Probe(None, None)
        run_virtual(pool_scenario(name).run(probe))
        assert (probe.suspensions, probe.calls) == MOMENTS[name]
    assert sum(awaits + calls for awaits, calls in MOMENTS.values()) == 43 + 19


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_cancel_at_every_await_or_an_error_from_every_call_keeps_every_promise(name):
    report = explore(pool_scenario(name), seeds=SEEDS)
    assert report.moments == len(SEEDS) * sum(MOMENTS[name]), str(report)
    assert report.ok, str(report)


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
    service = Service()

    async def close_fails(conn):
        await asyncio.sleep(CLOSE)
        raise ConnectionAbortedError("close failed")

    async def main():
        pool = Pool(service.connect, close_fails, max_size=1)
        with pytest.raises(ConnectionResetError) as caught:
            async with pool.acquire():
                raise ConnectionResetError("the server hung up")
        async with pool.acquire() as conn:  # the slot was freed anyway
            return caught.value.__notes__, conn.number

    notes, number = run_virtual(main())
    assert notes == ["closing its connection failed too: ConnectionAbortedError('close failed')"] and number == 2
