"""The harness every checker runs on: one set of words for runs that did not finish,
for tasks left running and for seeds."""

import asyncio
import threading
import time
from pathlib import Path

import pytest

from asyncio_patterns.exercises._harness import (
    Outcome, Status, left_running, replay, run_guarded, still_running,
)


def test_each_way_a_run_ends_has_its_status():
    async def returns():
        await asyncio.sleep(1)
        return "done"

    async def raises():
        raise KeyError("k")

    async def waits_for_ever():
        await asyncio.Event().wait()

    async def sleeps_too_long():
        await asyncio.sleep(10_000)

    async def polls():
        while True:
            await asyncio.sleep(0)

    assert run_guarded(returns()) == Outcome(Status.OK, "done")
    assert run_guarded(raises()).status is Status.ERROR
    assert run_guarded(waits_for_ever()).status is Status.DEADLOCK
    assert run_guarded(sleeps_too_long(), virtual_limit=60).status is Status.TIMEOUT
    began = time.monotonic()
    assert run_guarded(polls(), real_limit=0.2).status is Status.HUNG
    assert time.monotonic() - began < 3
    assert not [t for t in threading.enumerate() if t.name == "exercise check"]  # the polling ended


@pytest.mark.parametrize("status, start", [
    (Status.DEADLOCK, "every task was waiting, with nothing left to wake them. Was it notified?"),
    (Status.TIMEOUT, "still running after 60 s of virtual time. Is a lock never released?"),
    (Status.HUNG, "the event loop was kept busy for 2 s of real time without letting time pass"),
])
def test_the_words_for_a_run_that_did_not_finish_are_shared_and_the_hint_is_the_checkers(status, start):
    outcome = Outcome(status, virtual_limit=60, real_limit=2)
    message = outcome.unfinished(deadlock="Was it notified?", timeout="Is a lock never released?")
    assert not outcome.finished and message.startswith(start)
    assert message.endswith("cannot be stopped from outside.") == (status is Status.HUNG)


def test_tasks_left_running_are_told_apart_by_whether_they_were_cancelled():
    async def main():
        forgotten = [asyncio.create_task(asyncio.sleep(1), name="worker") for _ in range(2)]
        await asyncio.sleep(0)
        first = left_running(still_running(), "f()")
        for task in forgotten:
            task.cancel()
        second = left_running(still_running(), "f()")
        await asyncio.gather(*forgotten, return_exceptions=True)
        return first, second, left_running(still_running(), "f()")

    forgotten, cancelled, none = run_guarded(main()).value
    assert forgotten.startswith("f() ended with 2 task(s) still running (worker x2): wait for every task")
    assert "(worker x2): they were cancelled but not awaited" in cancelled
    assert none == ""


def test_a_seed_is_named_with_the_call_that_replays_it():
    assert replay("check_bank", "Bank", 3) == "(seed 3; check_bank(Bank, seed=3) replays this round)"


def test_a_run_that_did_not_finish_says_where_the_learners_tasks_were_waiting():
    async def waits_for_a_signal():
        signal = asyncio.Event()
        await signal.wait()  # nobody sets it

    async def sleeps_too_long():
        await asyncio.sleep(10_000)  # longer than the limit

    async def blocks():
        await asyncio.sleep(1)
        time.sleep(0.5)  # holds the loop's thread

    def line(text):
        return next(i for i, source in enumerate(Path(__file__).read_text().splitlines(), 1) if text in source)

    deadlock = run_guarded(waits_for_a_signal())
    assert deadlock.stuck == (f"waits_for_a_signal() at line {line('nobody sets it')} "
                              "(`await signal.wait()  # nobody sets it`), in Event.wait()")
    assert deadlock.unfinished(deadlock="Was it set?").endswith(f"Was it set? Where the tasks were: {deadlock.stuck}.")
    timeout = run_guarded(sleeps_too_long(), virtual_limit=60)
    assert timeout.stuck.startswith(f"sleeps_too_long() at line {line('longer than the limit')} ")
    hung = run_guarded(blocks(), real_limit=0.2)
    assert hung.status is Status.HUNG
    assert hung.stuck == f"blocks() at line {line('holds the loop')} (`time.sleep(0.5)  # holds the loop's thread`), running"
    assert run_guarded(waits_for_a_signal()).stuck == deadlock.stuck  # the same words every run
