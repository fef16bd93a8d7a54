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
        if src == dst:
            return False  # nothing to move
        first, second = self.order(src, dst)
        async with self.locks[first], self.locks[second]:
            return await super().transfer(src, dst, amount)


class LessonBank(RereadBank):
    """The lesson's solution before it handled src == dst (RereadBank's body under two locks
    taken in sorted order): transfer("a", "a", x) takes the lock of a twice."""

    def __init__(self, balances, ledger):
        super().__init__(balances, ledger)
        self.locks = {name: asyncio.Lock() for name in self.balances}

    async def transfer(self, src, dst, amount):
        first, second = sorted((src, dst))
        async with self.locks[first], self.locks[second]:
            return await super().transfer(src, dst, amount)


class FixedLessonBank(LessonBank):
    async def transfer(self, src, dst, amount):
        if src == dst:
            return self.balances[src] >= amount  # nothing moves; say whether it could have
        return await super().transfer(src, dst, amount)


class RefusingBank(LessonBank):
    async def transfer(self, src, dst, amount):
        if src == dst:
            raise ValueError(f"cannot transfer from {src} to itself")
        return await super().transfer(src, dst, amount)


class DoublingSelfTransferBank(GlobalLockBank):
    async def transfer(self, src, dst, amount):
        if src == dst:
            self.balances[src] += amount
            return True
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
    assert not verdict and "kept busy for 0.1 s of real time" in verdict.message
    assert "(seed 0; check_bank(BlockingBank, seed=0) replays this round)" in verdict.message
    time.sleep(0.5)  # let the check's thread finish before the next test


def test_verdicts_are_the_same_every_run():
    assert len({check_bank(RacyBank).message for _ in range(5)}) == 1


def test_a_transfer_to_the_same_account_gets_a_verdict_not_a_hang():
    began = time.perf_counter()
    verdict = check_bank(LessonBank)
    assert time.perf_counter() - began < 5
    assert not verdict
    assert verdict.message.startswith("transfer('a', 'a', 30) never returned")
    assert "Handle src == dst" in verdict.message


def test_a_transfer_to_the_same_account_may_return_or_be_refused_but_moves_nothing():
    assert check_bank(FixedLessonBank)
    assert check_bank(RefusingBank)
    assert check_bank(GlobalLockBank)  # one lock, taken once: the money goes out and comes back
    verdict = check_bank(DoublingSelfTransferBank)
    assert not verdict and "transfer('a', 'a', 30) changed the balances" in verdict.message


def test_a_failing_round_names_its_seed_and_the_seed_replays_it():
    verdict = check_bank(RacyBank)
    assert "(seed 0; check_bank(RacyBank, seed=0) replays this round)" in verdict.message
    replayed = check_bank(RacyBank, seed=0)
    assert replayed.message == verdict.message
    other = check_bank(RacyBank, seed=3)
    assert "(seed 3; check_bank(RacyBank, seed=3) replays this round)" in other.message
    assert other.message != verdict.message  # another seed, other delays, another total


def test_a_seed_that_passes_says_which_round_it_ran():
    verdict = check_bank(OrderedLocksBank, seed=3)
    assert verdict and verdict.message == "the round with seed 3 conserved money, overdrew no account and finished."


def test_a_deadlock_names_its_seed_too():
    verdict = check_bank(UnorderedLocksBank)
    assert "(seed 0; check_bank(UnorderedLocksBank, seed=0) replays this round)" in verdict.message
    assert "every task was waiting, with nothing left to wake them" in verdict.message
