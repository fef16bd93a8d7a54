import asyncio
import time

from asyncio_patterns.exercises.bank_transfer import check_bank


class RacyBank:
    """The exercise's starting point: a read, two awaits, a stale write."""

    def __init__(self, balances, ledger):
        self.balances = dict(balances)
        self.ledger = ledger

    async def transfer(self, src, dst, amount):
        balance = self.balances[src]
        if balance < amount:
            return False
        await self.ledger(f"debit {src} {amount}")
        self.balances[src] = balance - amount
        await self.ledger(f"credit {dst} {amount}")
        self.balances[dst] += amount
        return True


class RereadBank(RacyBank):
    """Re-reads before writing: no money created, but the balance check is stale."""

    async def transfer(self, src, dst, amount):
        if self.balances[src] < amount:
            return False
        await self.ledger(f"debit {src} {amount}")
        self.balances[src] -= amount
        await self.ledger(f"credit {dst} {amount}")
        self.balances[dst] += amount
        return True


class GlobalLockBank(RacyBank):
    def __init__(self, balances, ledger):
        super().__init__(balances, ledger)
        self.lock = asyncio.Lock()

    async def transfer(self, src, dst, amount):
        async with self.lock:
            return await super().transfer(src, dst, amount)


class OrderedLocksBank(RacyBank):
    def __init__(self, balances, ledger):
        super().__init__(balances, ledger)
        self.locks = {name: asyncio.Lock() for name in self.balances}

    def order(self, src, dst):
        return sorted((src, dst))

    async def transfer(self, src, dst, amount):
        first, second = self.order(src, dst)
        async with self.locks[first], self.locks[second]:
            return await super().transfer(src, dst, amount)


class UnorderedLocksBank(OrderedLocksBank):
    def order(self, src, dst):
        return src, dst  # a→b and b→a take the locks in opposite orders


class ClassLevelLockBank(RacyBank):
    lock = asyncio.Lock()  # shared by every Bank, bound to the first loop that uses it

    async def transfer(self, src, dst, amount):
        async with self.lock:
            return await super().transfer(src, dst, amount)


class SilentBank(GlobalLockBank):
    async def transfer(self, src, dst, amount):  # safe, but drops the ledger calls
        async with self.lock:
            if self.balances[src] < amount:
                return False
            self.balances[src] -= amount
            self.balances[dst] += amount
            return True


class LyingBank(GlobalLockBank):
    async def transfer(self, src, dst, amount):
        await super().transfer(src, dst, amount)
        return True


def test_the_starting_point_fails_because_money_is_created():
    verdict = check_bank(RacyBank)
    assert not verdict and "money was created" in verdict.message


def test_a_stale_balance_check_fails_with_an_overdraft():
    verdict = check_bank(RereadBank)
    assert not verdict and "overdrawn" in verdict.message


def test_a_deadlocking_answer_gets_a_failing_verdict_not_a_hang():
    began = time.perf_counter()
    verdict = check_bank(UnorderedLocksBank)
    assert time.perf_counter() - began < 5
    assert not verdict and "deadlocked" in verdict.message and "sorted((src, dst))" in verdict.message


def test_one_lock_for_the_bank_passes_with_a_note():
    verdict = check_bank(GlobalLockBank)
    assert verdict and "Only one transfer ran at a time" in verdict.message


def test_ordered_per_account_locks_pass_and_overlap():
    verdict = check_bank(OrderedLocksBank)
    assert verdict and "Up to 2 transfers" in verdict.message
    assert repr(verdict).startswith("Correct: ")


def test_other_wrong_answers_get_specific_hints():
    assert "not at class level" in check_bank(ClassLevelLockBank).message
    assert "keep both ledger calls" in check_bank(SilentBank).message
    assert "return True exactly when the money moved" in check_bank(LyingBank).message
    assert "pass the class itself" in check_bank(RacyBank({}, None)).message


def test_blocking_code_is_reported_not_waited_for():
    class BlockingBank(RacyBank):
        blocked = False

        async def transfer(self, src, dst, amount):
            if not BlockingBank.blocked:
                BlockingBank.blocked = True
                time.sleep(0.5)  # blocks the loop (once, so the background thread ends soon)
            return await super().transfer(src, dst, amount)

    verdict = check_bank(BlockingBank, real_limit=0.1)
    assert not verdict and "blocks the event loop" in verdict.message
    time.sleep(0.5)  # let the check's thread finish before the next test


def test_verdicts_are_the_same_every_run():
    assert len({check_bank(RacyBank).message for _ in range(5)}) == 1
