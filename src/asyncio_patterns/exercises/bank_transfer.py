"""Check for lesson 04's exercise: make a bank's transfers safe under concurrency.

``check_bank(Bank)`` builds ``Bank(balances=..., ledger=...)`` and runs rounds of many
concurrent ``transfer(src, dst, amount)`` calls, with a ledger that answers after a
random delay, so the tasks interleave differently every round. It checks that money is
neither created nor destroyed, no account is ever overdrawn, every transfer reports
truthfully whether it happened, and that the run finishes: a deadlock gives a failing
verdict, not a hung kernel. Then it transfers from an account to itself, which must
finish and move nothing. Round N's delays come from seed N: a failing round is named by
its seed, and ``check_bank(Bank, seed=N)`` replays exactly that round.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re
from dataclasses import dataclass, field

from . import Verdict
from ._harness import REAL_LIMIT, Outcome, Status, describe_error, replay, run_guarded

__all__ = ["check_bank"]

ACCOUNTS = ("a", "b", "c", "d")
DELAYS = (0.0, 0.001, 0.002, 0.005, 0.01)
SELF_TRANSFER = ("a", "a", 30)


@dataclass
class _Round:
    """What one round of concurrent transfers did."""

    start: dict[str, int]
    plan: list[tuple[str, str, int, float]]  # (src, dst, amount, arrival) of each transfer
    results: list[object] = field(default_factory=list)  # what each transfer returned
    entries: list[str] = field(default_factory=list)  # every ledger entry, in order
    overdrawn: list[str] = field(default_factory=list)  # "a at -20", seen after each ledger call
    peak: int = 0  # the most ledger calls at once
    balances: dict[str, int] = field(default_factory=dict)  # at the end


async def _transfers(bank_class: type, plan: list[tuple[str, str, int, float]], delay) -> _Round:
    """Run the transfers of ``plan`` concurrently; the ledger waits ``delay()`` seconds."""
    run = _Round(start={name: 100 for name in ACCOUNTS}, plan=plan)
    active = 0

    async def ledger(entry: str) -> None:
        nonlocal active
        run.entries.append(entry)
        active += 1
        run.peak = max(run.peak, active)
        try:
            await asyncio.sleep(delay())
        finally:
            active -= 1
        run.overdrawn += [f"{name} at {balance}" for name, balance in bank.balances.items() if balance < 0]

    bank = bank_class(balances=dict(run.start), ledger=ledger)

    async def one(src: str, dst: str, amount: int, arrive: float) -> object:
        await asyncio.sleep(arrive)
        return await bank.transfer(src, dst, amount)

    tasks = [asyncio.create_task(one(*p), name=f"transfer {p[0]}→{p[1]} #{i}") for i, p in enumerate(plan)]
    run.results = await asyncio.gather(*tasks)
    run.balances = dict(bank.balances)
    return run


async def _random_round(bank_class: type, seed: int, transfers: int) -> _Round:
    rng = random.Random(seed)
    plan = []
    for _ in range(transfers):
        src, dst = rng.sample(ACCOUNTS, 2)
        plan.append((src, dst, rng.randint(1, 60), rng.choice(DELAYS)))
    return await _transfers(bank_class, plan, lambda: rng.choice(DELAYS))


async def _self_transfer(bank_class: type) -> _Round | ValueError:
    """One transfer from an account to itself, or the ValueError that refused it."""
    try:
        return await _transfers(bank_class, [(*SELF_TRANSFER, 0.0)], lambda: 0.001)
    except ValueError as refused:  # refusing it is a fine answer too
        return refused


def check_bank(bank_class: type, *, rounds: int = 5, transfers: int = 200, real_limit: float = REAL_LIMIT,
               seed: int | None = None) -> Verdict:
    """Run ``rounds`` rounds of ``transfers`` concurrent transfers against ``bank_class``,
    then a transfer from an account to itself; with ``seed``, only that round."""
    if not inspect.isclass(bank_class):
        return Verdict(False, f"pass the class itself, check_bank(Bank), not {type(bank_class).__name__}")
    if not inspect.iscoroutinefunction(getattr(bank_class, "transfer", None)):
        return Verdict(False, "Bank needs an `async def transfer(self, src, dst, amount)` method")
    peak = 0
    for round_seed in range(rounds) if seed is None else [seed]:
        note = replay("check_bank", bank_class.__name__, round_seed)
        outcome = run_guarded(_random_round(bank_class, round_seed, transfers), real_limit=real_limit)
        verdict = _judge_outcome(outcome, note) if not outcome.ok else _judge(outcome.value, note)
        if verdict is not None:
            return verdict
        peak = max(peak, outcome.value.peak)
    if seed is not None:
        return Verdict(True, f"the round with seed {seed} conserved money, overdrew no account and finished.")
    verdict = _judge_self_transfer(run_guarded(_self_transfer(bank_class), real_limit=real_limit))
    if verdict is not None:
        return verdict
    note = (f" Up to {peak} transfers talked to the ledger at once: transfers between different "
            "accounts overlap." if peak > 1 else
            " Only one transfer ran at a time: one bank-wide lock is safe, but one lock per "
            "account, taken in sorted order, lets a→b and c→d run together.")
    return Verdict(True, f"{rounds} rounds of {transfers} concurrent transfers with random delays: "
                         f"money conserved, no account overdrawn, no deadlock.{note}")


def _judge_outcome(outcome: Outcome, note: str) -> Verdict | None:
    """The verdict for a round that did not finish or raised."""
    if outcome.status is Status.ERROR:
        error = describe_error(outcome.value)
        hint = ""
        if "different event loop" in error or "bound to a different" in error:
            hint = " Create the locks in __init__ (one set per Bank), not at class level."
        elif isinstance(outcome.value, TypeError) and "argument" in error:
            hint = " Keep the signatures Bank(balances, ledger) and transfer(src, dst, amount)."
        return Verdict(False, f"a round raised {error} {note}.{hint}")
    return Verdict(False, f"the transfers did not finish {note}: " + outcome.unfinished(
        deadlock=_deadlock_hint(str(outcome.value)),
        timeout="Is a task waiting for a lock that is never released?"))


def _deadlock_hint(message: str) -> str:
    directions = sorted(set(re.findall(r"transfer (\w→\w) #\d+", message)))
    waiting = f" ({', '.join(directions)} were waiting)" if directions else ""
    return (f"The transfers deadlocked{waiting}: each held one account's lock and waited for another's "
            "that a second transfer held (a→b takes a then waits for b while b→a takes b then waits "
            "for a). Take the two locks in one global order, e.g. `first, second = sorted((src, dst))`.")


def _judge(run: _Round, note: str) -> Verdict | None:
    start, end = run.start, run.balances
    total_before, total_after = sum(start.values()), sum(end.values())
    if total_after != total_before:
        return Verdict(False, f"money was {'created' if total_after > total_before else 'destroyed'}: the "
                              f"total went from {total_before} to {total_after} {note}. Two transfers "
                              "from one account read its balance before either wrote it back; hold that "
                              "account's lock from the read to the write.")
    if run.overdrawn:
        return Verdict(False, f"an account was overdrawn, {run.overdrawn[0]} {note}: a transfer "
                              "checked the balance, awaited, and another transfer spent the money meanwhile. "
                              "Hold the lock from the check to the debit.")
    expected = dict(start)
    moved = 0
    for (src, dst, amount, _), result in zip(run.plan, run.results):
        if result not in (True, False):
            return Verdict(False, f"transfer() returned {result!r} {note}; return True when the money moved "
                                  "and False when the balance was too low")
        if result:
            expected[src] -= amount
            expected[dst] += amount
            moved += 1
    if expected != end:
        return Verdict(False, f"the balances {end} do not match the transfers that returned True "
                              f"({expected}) {note}: return True exactly when the money moved.")
    if len(run.entries) != 2 * moved:
        return Verdict(False, f"the ledger recorded {len(run.entries)} entries for {moved} transfers {note}: "
                              "keep both ledger calls (one debit and one credit per transfer that moves money).")
    return None


def _judge_self_transfer(outcome: Outcome) -> Verdict | None:
    src, dst, amount = SELF_TRANSFER
    call = f"transfer({src!r}, {dst!r}, {amount})"
    if outcome.status is Status.DEADLOCK:
        return Verdict(False, f"{call} never returned: it waited for the lock of {src!r}, which it held "
                              "itself (asyncio.Lock is not reentrant, so taking one lock twice waits for "
                              "ever). Handle src == dst before taking any lock: there is nothing to move.")
    if not outcome.finished:
        return Verdict(False, f"{call} did not finish: " + outcome.unfinished())
    if outcome.status is Status.ERROR:
        return Verdict(False, f"{call} raised {describe_error(outcome.value)}: a transfer from an account "
                              "to itself moves nothing; return False (or raise ValueError to refuse it)")
    run = outcome.value
    if isinstance(run, ValueError):
        return None
    if run.balances != run.start:
        return Verdict(False, f"{call} changed the balances from {run.start} to {run.balances}: a transfer "
                              "from an account to itself moves nothing")
    if run.results[0] not in (True, False):
        return Verdict(False, f"{call} returned {run.results[0]!r}; return True or False")
    return None
