"""Check for lesson 05's exercise: an inventory whose ``take(units)`` waits for enough stock.

``check_inventory(Inventory)`` builds ``Inventory()`` (a ``stock`` attribute,
``async restock(units)`` and ``async take(units)``) and runs scenarios in virtual time:
a large take queued ahead of a small one (``notify()`` wakes the wrong one), two takers
waiting for one restock (an ``if`` lets both take), and random stress runs. It checks
that the stock never goes below zero, that a take returns as soon as there is enough
stock for it, and that everything finishes: a stuck taker is a failing verdict, not a hang.
Random run N comes from seed N: a failing one is named by its seed, and
``check_inventory(Inventory, seed=N)`` replays exactly that run.
"""

from __future__ import annotations

import asyncio
import inspect
import random

from . import Verdict
from ._harness import REAL_LIMIT, Outcome, describe_error, replay, run_guarded

__all__ = ["check_inventory"]

PROMPT = 0.001  # a take must return within this many virtual seconds of the restock that serves it


class _Failure(Exception):
    """A check failed; the message says what was seen."""


class _Scenario:
    """One run against a fresh inventory whose ``stock`` is watched on every write."""

    def __init__(self, inventory_class: type) -> None:
        self.negative: list[int] = []
        negative = self.negative

        class Watched(inventory_class):
            @property
            def stock(self) -> int:
                return self.__dict__.get("_checked_stock", 0)

            @stock.setter
            def stock(self, value: int) -> None:
                if value < 0:
                    negative.append(value)
                self.__dict__["_checked_stock"] = value

        Watched.__name__ = Watched.__qualname__ = inventory_class.__name__
        self.inventory = Watched()
        self.tasks: list[asyncio.Task] = []

    def take(self, units: int, name: str) -> asyncio.Task:
        task = asyncio.create_task(self.inventory.take(units), name=name)
        self.tasks.append(task)
        return task

    def check(self) -> None:
        if self.negative:
            raise _Failure(f"the stock went to {self.negative[0]}")
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()

    async def finish(self) -> None:
        """Cancel what is left, collect every task's outcome, then check."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.check()


_WRONG_WAITER = ("notify() wakes only the first waiter, which may be a bigger take that cannot proceed "
                 "and goes back to sleep; the take that could proceed is never told. Wake every waiter "
                 "with notify_all() and let each re-check its own need.")
_NOBODY_WOKEN = ("Nothing woke it: after changing the stock, restock() must notify the waiters, inside "
                 "`async with self.changed:`.")


async def _served_promptly(scenario: _Scenario, task: asyncio.Task, what: str, stuck_hint: str) -> None:
    await asyncio.sleep(PROMPT)
    scenario.check()
    if task.done():
        return
    await asyncio.sleep(1)
    scenario.check()
    if task.done():
        raise _Failure(f"{task.get_name()} returned, but only well after {what}: polling adds latency "
                       "and wakes for nothing. Wait on the condition and notify when the stock changes.")
    raise _Failure(f"{task.get_name()} was still waiting 1 s after {what}, with enough stock for it. {stuck_hint}")


async def _single_waiter(inventory_class: type) -> None:
    """One take(2) waits; restock(2) must let it through at once."""
    scenario = _Scenario(inventory_class)
    try:
        taker = scenario.take(2, "take(2)")
        await asyncio.sleep(0.1)
        await scenario.inventory.restock(2)
        await _served_promptly(scenario, taker, "restock(2) put 2 units in stock", _NOBODY_WOKEN)
    finally:
        await scenario.finish()


async def _wrong_waiter(inventory_class: type) -> None:
    """take(5) waits first, take(1) second; restock(1) must let take(1) through at once."""
    scenario = _Scenario(inventory_class)
    try:
        big = scenario.take(5, "take(5)")
        await asyncio.sleep(0.1)
        small = scenario.take(1, "take(1)")
        await asyncio.sleep(0.1)
        await scenario.inventory.restock(1)
        await _served_promptly(scenario, small, "restock(1) put 1 unit in stock", _WRONG_WAITER)
        await scenario.inventory.restock(5)
        await _served_promptly(scenario, big, "restock(5) made the stock 5", _WRONG_WAITER)
    finally:
        await scenario.finish()


async def _double_take(inventory_class: type) -> None:
    """Two take(3) wait; one restock(3) can serve only one of them, the next restock the other."""
    scenario = _Scenario(inventory_class)
    try:
        takers = [scenario.take(3, f"take(3) #{i}") for i in range(2)]
        await asyncio.sleep(0.1)
        await scenario.inventory.restock(3)
        await asyncio.sleep(0.5)
        scenario.check()
        await scenario.inventory.restock(3)
        await asyncio.sleep(PROMPT)
        scenario.check()
        if not all(t.done() for t in takers):
            raise _Failure("after restock(3) twice, a take(3) was still waiting with 3 units in stock. "
                           "Wake every waiter with notify_all() and let each re-check its own need.")
    finally:
        await scenario.finish()


async def _stress(inventory_class: type, seed: int) -> None:
    rng = random.Random(seed)
    scenario = _Scenario(inventory_class)
    wants = [rng.randint(1, 5) for _ in range(30)]
    supply = list(wants)
    rng.shuffle(supply)
    try:
        for i, units in enumerate(wants):
            if rng.random() < 0.3:
                await asyncio.sleep(0.01)
            scenario.take(units, f"take({units}) #{i}")
        for units in supply:
            await asyncio.sleep(rng.choice((0, 0.01, 0.03)))
            await scenario.inventory.restock(units)
        await asyncio.sleep(PROMPT)
        scenario.check()
        waiting = [t.get_name() for t in scenario.tasks if not t.done()]
        if waiting:
            raise _Failure(f"every unit needed was restocked, but {len(waiting)} take() calls were still "
                           f"waiting ({', '.join(waiting[:3])}). Wake every waiter with notify_all().")
        stock = scenario.inventory.stock
        if stock != 0:
            raise _Failure(f"after restocking {sum(supply)} units and taking {sum(wants)}, the stock is "
                           f"{stock}, not 0: take() and restock() must change the stock by exactly `units`.")
    finally:
        await scenario.finish()


_NEGATIVE_HINT = (". take() must wait until stock >= units, and check again after every wake-up: wait() "
                  "returning means only \"something changed\", not \"there is enough for you\" (another "
                  "taker may have woken for the same restock and taken it). Use `while self.stock < units: "
                  "await self.changed.wait()` or `await self.changed.wait_for(lambda: self.stock >= units)`.")


def check_inventory(inventory_class: type, *, real_limit: float = REAL_LIMIT, seed: int | None = None) -> Verdict:
    """Run the scenarios against ``inventory_class``; the first failure is the verdict.
    With ``seed``, only the random run of that seed."""
    if not inspect.isclass(inventory_class):
        return Verdict(False, "pass the class itself, check_inventory(Inventory), "
                              f"not {type(inventory_class).__name__}")
    for method in ("take", "restock"):
        if not inspect.iscoroutinefunction(getattr(inventory_class, method, None)):
            return Verdict(False, f"Inventory needs an `async def {method}(self, units)` method")
    def random_run(n: int):
        return (f"random run {replay('check_inventory', inventory_class.__name__, n)}",
                lambda: _stress(inventory_class, n))

    if seed is not None:
        scenarios = [random_run(seed)]
    else:
        scenarios = [("one take(2) waiting, then restock(2)", lambda: _single_waiter(inventory_class)),
                     ("take(5) waiting ahead of take(1), then restock(1)", lambda: _wrong_waiter(inventory_class)),
                     ("two take(3) waiting, then restock(3)", lambda: _double_take(inventory_class)),
                     *(random_run(n) for n in range(3))]
    for name, scenario in scenarios:
        outcome = run_guarded(scenario(), real_limit=real_limit)
        if not outcome.ok:
            return Verdict(False, f"{name}: {_explain(outcome)}")
    if seed is not None:
        return Verdict(True, f"the random run with seed {seed} kept the stock at zero or above and finished.")
    return Verdict(True, "the stock never went below zero, every take() returned as soon as there was "
                         "enough stock for it, and every scenario finished.")


def _explain(outcome: Outcome) -> str:
    if not outcome.finished:
        return outcome.unfinished(deadlock=_NOBODY_WOKEN, hung="In take(), wait on the condition instead: "
                                  "`await self.changed.wait_for(lambda: self.stock >= units)`.")
    error = outcome.value
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, _Failure):
        text = str(error)
        return text + (_NEGATIVE_HINT if text.startswith("the stock went to") else "")
    if isinstance(error, NotImplementedError):
        return "a method still raises NotImplementedError: write take() and restock()."
    if isinstance(error, RuntimeError) and "un-acquired lock" in str(error):
        return f"{describe_error(error)}: call wait() and notify() inside `async with self.changed:`."
    return f"raised {describe_error(error)}"
