import asyncio
import time

from asyncio_patterns.exercises.inventory import check_inventory


class IfNotify:
    """The exercise's starting point: `if` and `notify()`."""

    def __init__(self):
        self.stock = 0
        self.changed = asyncio.Condition()

    async def restock(self, units):
        async with self.changed:
            self.stock += units
            self.changed.notify()

    async def take(self, units):
        async with self.changed:
            if self.stock < units:
                await self.changed.wait()
            self.stock -= units


class WhileNotify(IfNotify):
    async def take(self, units):
        async with self.changed:
            while self.stock < units:
                await self.changed.wait()
            self.stock -= units


class IfNotifyAll(IfNotify):
    async def restock(self, units):
        async with self.changed:
            self.stock += units
            self.changed.notify_all()


class Correct(WhileNotify, IfNotifyAll):
    pass


class WaitFor(IfNotifyAll):
    async def take(self, units):
        async with self.changed:
            await self.changed.wait_for(lambda: self.stock >= units)
            self.stock -= units


class NoWaiting(Correct):
    async def take(self, units):
        self.stock -= units


class Polling(Correct):
    async def take(self, units):
        while self.stock < units:
            await asyncio.sleep(0.05)
        self.stock -= units


class NotifyOutsideTheLock(Correct):
    async def restock(self, units):
        self.stock += units
        self.changed.notify_all()


class NeverNotifies(Correct):
    async def restock(self, units):
        self.stock += units


class Stub:
    def __init__(self):
        self.stock = 0

    async def restock(self, units):
        raise NotImplementedError

    async def take(self, units):
        raise NotImplementedError


def test_the_starting_point_fails_on_negative_stock():
    verdict = check_inventory(IfNotify)
    assert not verdict and "the stock went to -4" in verdict.message and "wait_for" in verdict.message


def test_while_with_notify_leaves_a_taker_asleep():
    verdict = check_inventory(WhileNotify)
    assert not verdict and "take(1) was still waiting" in verdict.message and "notify_all()" in verdict.message


def test_if_with_notify_all_lets_two_takers_take():
    verdict = check_inventory(IfNotifyAll)
    assert not verdict and "went to -" in verdict.message


def test_correct_answers_pass():
    assert check_inventory(Correct)
    assert repr(check_inventory(WaitFor)).startswith("Correct: ")


def test_other_wrong_answers_get_specific_hints():
    assert "the stock went to -2" in check_inventory(NoWaiting).message
    assert "polling" in check_inventory(Polling).message
    assert "inside `async with self.changed:`" in check_inventory(NotifyOutsideTheLock).message
    assert "Nothing woke it" in check_inventory(NeverNotifies).message
    assert "NotImplementedError" in check_inventory(Stub).message
    assert "pass the class itself" in check_inventory(Correct()).message


def test_a_busy_wait_is_reported_not_waited_for():
    class BusyWait(Correct):
        async def take(self, units):
            deadline = time.monotonic() + 0.5
            while self.stock < units and time.monotonic() < deadline:
                pass  # never awaits: the loop cannot run restock()
            self.stock -= units

    verdict = check_inventory(BusyWait, real_limit=0.1)
    assert not verdict and "kept busy for 0.1 s of real time" in verdict.message
    assert "`await self.changed.wait_for(lambda: self.stock >= units)`" in verdict.message
    time.sleep(0.6)  # let the check's thread finish


def test_verdicts_are_the_same_every_run():
    assert len({check_inventory(WhileNotify).message for _ in range(5)}) == 1


class MiscountsFours(Correct):
    """Right in the fixed scenarios, wrong in a random run: restock(4) adds one unit too many."""

    async def restock(self, units):
        await super().restock(units + (units == 4))


def test_a_failing_random_run_names_its_seed_and_the_seed_replays_it():
    verdict = check_inventory(MiscountsFours)
    assert not verdict
    assert verdict.message.startswith("random run (seed 0; check_inventory(MiscountsFours, seed=0) replays this round): ")
    assert check_inventory(MiscountsFours, seed=0).message == verdict.message
    assert "(seed 2; check_inventory(MiscountsFours, seed=2)" in check_inventory(MiscountsFours, seed=2).message


def test_a_seed_that_passes_says_which_run_it_replayed():
    verdict = check_inventory(Correct, seed=2)
    assert verdict and "the random run with seed 2" in verdict.message
