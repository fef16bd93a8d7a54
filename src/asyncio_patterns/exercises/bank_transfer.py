"""Check for lesson 04's exercise: make a bank's transfers safe under concurrency.

``check_bank(Bank)`` builds ``Bank(balances=..., ledger=...)`` and runs rounds of many
concurrent ``transfer(src, dst, amount)`` calls, with a ledger that answers after a
random (seeded) delay, so the tasks interleave differently every round. It checks that
money is neither created nor destroyed, no account is ever overdrawn, every transfer
reports truthfully whether it happened, and that the run finishes: a deadlock gives a
failing verdict, not a hung kernel.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re

from . import Verdict
from ._harness import VIRTUAL_LIMIT, describe_error, run_guarded

__all__ = ["check_bank"]

ACCOUNTS = ("a", "b", "c", "d")
DELAYS = (0.0, 0.001, 0.002, 0.005, 0.01)


async def _round(bank_class: type, seed: int, transfers: int) -> dict:
    rng = random.Random(seed)
    start = {name: 100 for name in ACCOUNTS}
    entries: list[str] = []
    overdrawn: list[str] = []
    active = peak = 0
    bank = None

    async def ledger(entry: str) -> None:
        nonlocal active, peak
        entries.append(entry)
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(rng.choice(DELAYS))
        finally:
            active -= 1
        for name, balance in bank.balances.items():
            if balance < 0:
                overdrawn.append(f"{name} at {balance}")

    bank = bank_class(balances=dict(start), ledger=ledger)
    plan = []
    for _ in range(transfers):
        src, dst = rng.sample(ACCOUNTS, 2)
        plan.append((src, dst, rng.randint(1, 60), rng.choice(DELAYS)))

    async def one(src: str, dst: str, amount: int, arrive: float) -> object:
        await asyncio.sleep(arrive)
        return await bank.transfer(src, dst, amount)

    tasks = [asyncio.create_task(one(*p), name=f"transfer {p[0]}→{p[1]} #{i}") for i, p in enumerate(plan)]
    results = await asyncio.gather(*tasks)
    return {"start": start, "plan": plan, "results": results, "entries": entries,
            "overdrawn": overdrawn, "peak": peak, "balances": dict(bank.balances)}


def _deadlock_hint(message: str) -> str:
    directions = sorted(set(re.findall(r"transfer (\w→\w) #\d+", message)))
    example = f" (transfers {', '.join(directions)} were all waiting)" if directions else ""
    return ("the transfers deadlocked" + example + ": each held one account's lock and waited for "
            "another's that a second transfer held (a→b takes a then waits for b while b→a takes b "
            "then waits for a). Take the two locks in one global order, e.g. "
            "`first, second = sorted((src, dst))`.")


def check_bank(bank_class: type, *, rounds: int = 5, transfers: int = 200, real_limit: float = 5.0) -> Verdict:
    """Run ``rounds`` rounds of ``transfers`` concurrent transfers against ``bank_class``."""
    if not inspect.isclass(bank_class):
        return Verdict(False, f"pass the class itself, check_bank(Bank), not {type(bank_class).__name__}")
    if not inspect.iscoroutinefunction(getattr(bank_class, "transfer", None)):
        return Verdict(False, "Bank needs an `async def transfer(self, src, dst, amount)` method")
    peak = 0
    for seed in range(rounds):
        outcome = run_guarded(_round(bank_class, seed, transfers), real_limit=real_limit)
        if outcome.status == "deadlock":
            return Verdict(False, _deadlock_hint(str(outcome.value)))
        if outcome.status == "timeout":
            return Verdict(False, f"the transfers had not finished after {VIRTUAL_LIMIT:g} s of virtual time; "
                                  "is a task waiting for a lock that is never released?")
        if outcome.status == "hung":
            return Verdict(False, f"the check stopped after {real_limit:g} s of real time: something blocks the "
                                  "event loop (time.sleep, or a loop that never awaits). If the notebook stays slow, "
                                  "restart the kernel.")
        if outcome.status == "error":
            error = describe_error(outcome.value)
            hint = ""
            if "different event loop" in error or "bound to a different" in error:
                hint = " Create the locks in __init__ (one set per Bank), not at class level."
            elif isinstance(outcome.value, TypeError) and "argument" in error:
                hint = " Keep the signatures Bank(balances, ledger) and transfer(src, dst, amount)."
            return Verdict(False, f"a round raised {error}.{hint}")
        run = outcome.value
        verdict = _judge(run, seed)
        if verdict is not None:
            return verdict
        peak = max(peak, run["peak"])
    note = (f" Up to {peak} transfers talked to the ledger at once: transfers between different "
            "accounts overlap." if peak > 1 else
            " Only one transfer ran at a time: one bank-wide lock is safe, but one lock per "
            "account, taken in sorted order, lets a→b and c→d run together.")
    return Verdict(True, f"{rounds} rounds of {transfers} concurrent transfers with random delays: "
                         f"money conserved, no account overdrawn, no deadlock.{note}")


def _judge(run: dict, seed: int) -> Verdict | None:
    start, end = run["start"], run["balances"]
    total_before, total_after = sum(start.values()), sum(end.values())
    if total_after != total_before:
        return Verdict(False, f"money was {'created' if total_after > total_before else 'destroyed'}: the "
                              f"total went from {total_before} to {total_after} (round {seed}). Two transfers "
                              "from one account read its balance before either wrote it back; hold that "
                              "account's lock from the read to the write.")
    if run["overdrawn"]:
        return Verdict(False, f"an account was overdrawn ({run['overdrawn'][0]}, round {seed}): a transfer "
                              "checked the balance, awaited, and another transfer spent the money meanwhile. "
                              "Hold the lock from the check to the debit.")
    expected = dict(start)
    moved = 0
    for (src, dst, amount, _), result in zip(run["plan"], run["results"]):
        if result not in (True, False):
            return Verdict(False, f"transfer() returned {result!r}; return True when the money moved and "
                                  "False when the balance was too low")
        if result:
            expected[src] -= amount
            expected[dst] += amount
            moved += 1
    if expected != end:
        return Verdict(False, f"the balances {end} do not match the transfers that returned True "
                              f"({expected}, round {seed}): return True exactly when the money moved.")
    if len(run["entries"]) != 2 * moved:
        return Verdict(False, f"the ledger recorded {len(run['entries'])} entries for {moved} transfers: keep "
                              "both ledger calls (one debit and one credit per transfer that moves money).")
    return None
