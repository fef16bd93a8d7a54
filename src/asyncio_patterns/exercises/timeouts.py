"""Check for lesson 07's exercise: a batch in which each fetch has its own deadline.

The learner writes ``async def fetch_all(fetch, keys, timeout)``: call ``await fetch(key)``
for every key at once and return one entry per key, in order: the result, or
``TimedOut(timeout)`` for a fetch that did not answer within ``timeout`` seconds (and is
cancelled). The whole call must take no longer than ``timeout``. Any other error from a fetch,
its own ``TimeoutError`` included, must reach the caller (raised, alone or in an ``ExceptionGroup``).

``check_fetch_all(fetch_all)`` runs it in virtual time on seeded rounds: long-tailed
latencies, fetches that never answer, results that are ``None``; then a round in which
one fetch fails quickly with a ``TimeoutError`` of its own, which must not be reported as
``TimedOut``. It watches every fetch (started, answered, cancelled, still running when
``fetch_all`` returned). Round N comes from seed N, and ``check_fetch_all(fetch_all, seed=N)``
replays it.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from dataclasses import dataclass, field

from ..patterns.timeouts import TimedOut
from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, describe_error, left_running, replay, run_guarded, still_running

__all__ = ["check_fetch_all"]

TIMEOUT = 1.0
KEYS = 10
ROUNDS = 4  # seeds 0..3 are ordinary rounds; seed ROUNDS is the round with the fetch's own TimeoutError
NEVER = 3600.0  # a fetch that never answers (within any sane deadline)
OWN_ERROR_AT = 0.1
VIRTUAL_LIMIT = 60.0  # virtual seconds per round; a correct answer takes TIMEOUT


class _OwnTimeout(TimeoutError):
    """A fetch's own time-out (a socket's, an inner deadline's): not the batch's deadline."""


@dataclass
class _Fetch:
    """One key's fetch, as the checker planned it and as it went."""

    latency: float
    value: object
    calls: int = 0
    state: str = "not called"  # "running", "answered", "cancelled", "failed"


@dataclass
class _Round:
    seed: int
    keys: list[str]
    fetches: dict[str, _Fetch]
    own_error: str | None = None  # the key whose fetch raises its own TimeoutError
    result: object = None
    error: BaseException | None = None
    elapsed: float = 0.0
    left_running: str = ""

    def expected(self) -> list[object]:
        return [f.value if f.latency < TIMEOUT else TimedOut(TIMEOUT) for f in (self.fetches[k] for k in self.keys)]


def _plan(seed: int) -> _Round:
    rng = random.Random(seed)
    keys = [f"k{seed}-{i}" for i in range(KEYS)]
    fetches = {}
    for i, key in enumerate(keys):
        latency = 0.1 + rng.expovariate(1 / 0.5)
        while abs(latency - TIMEOUT) < 0.05:  # no near-ties with the deadline
            latency = 0.1 + rng.expovariate(1 / 0.5)
        if i == seed % KEYS or rng.random() < 0.1:
            latency = NEVER
        value = None if i == (seed + 3) % KEYS or rng.random() < 0.2 else {"key": key, "n": i}
        fetches[key] = _Fetch(latency, value)
    fetches[keys[(seed + 3) % KEYS]].latency = 0.3  # a None that arrives in time, every round
    run = _Round(seed, keys, fetches)
    if seed == ROUNDS:
        run.own_error = keys[(seed + 5) % KEYS]
    return run


async def _run(fetch_all, run: _Round) -> _Round:
    loop = asyncio.get_running_loop()

    async def fetch(key: str) -> object:
        record = run.fetches.get(key)
        if record is None:
            raise KeyError(f"no such key: {key!r}")
        record.calls += 1
        record.state = "running"
        try:
            if key == run.own_error:
                await asyncio.sleep(OWN_ERROR_AT)
                record.state = "failed"
                raise _OwnTimeout("the fetch's own connection timed out")
            await asyncio.sleep(record.latency)
        except asyncio.CancelledError:
            record.state = "cancelled"
            raise
        record.state = "answered"
        return record.value

    try:
        run.result = await fetch_all(fetch, list(run.keys), TIMEOUT)
    except BaseException as error:  # the learner's function may raise anything
        if isinstance(error, asyncio.CancelledError) and asyncio.current_task().cancelling():
            raise
        run.error = error
    run.elapsed = loop.time()
    left = still_running()  # at once: a task cancelled but not awaited is still running here
    run.left_running = left_running(left, "fetch_all()")
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    return run


def _contains(error: BaseException, kind: type) -> bool:
    if isinstance(error, kind):
        return True
    return isinstance(error, BaseExceptionGroup) and any(_contains(e, kind) for e in error.exceptions)


def _judge(run: _Round) -> str | None:
    """What is wrong with one ordinary round (None: nothing)."""
    if run.error is not None:
        if _contains(run.error, TimeoutError):
            answered = sum(f.state == "answered" for f in run.fetches.values())
            return (f"fetch_all() raised TimeoutError, and the {answered} answers that had arrived were lost: "
                    "one deadline around the whole batch fails it as soon as one fetch is slow. Give each "
                    "fetch its own deadline (asyncio.timeout inside each task) and put TimedOut(timeout) "
                    "in its place")
        return f"fetch_all() raised {describe_error(run.error)}"
    repeated = [k for k in run.keys if run.fetches[k].calls > 1]
    if repeated:
        return f"fetch({repeated[0]!r}) was called {run.fetches[repeated[0]].calls} times: fetch each key exactly once"
    if not isinstance(run.result, (list, tuple)):
        return f"fetch_all() returned {type(run.result).__name__}: return a list, one entry per key, in the order of keys"
    result, expected = list(run.result), run.expected()
    if len(result) != len(expected):
        return f"fetch_all() returned {len(result)} entries for {len(expected)} keys: one entry per key"
    if run.elapsed > TIMEOUT + 1e-9:
        return (f"fetch_all() took {run.elapsed:.2f} s with a timeout of {TIMEOUT:g} s: start every fetch at once "
                "(a task each), so the whole batch ends when the deadline does")
    if result != expected and sorted(map(repr, result)) == sorted(map(repr, expected)):
        return "the entries are not in the order of keys: keep each result at its key's index"
    for key, got, want in zip(run.keys, result, expected):
        if got == want and type(got) is type(want):
            continue
        fetch = run.fetches[key]
        if isinstance(want, TimedOut):
            if got is None:
                return (f"fetch({key!r}) never answered and its entry is None, but None is also a real answer "
                        "(some fetches return it): put TimedOut(timeout) there, which no result can be mistaken for")
            return f"fetch({key!r}) never answered, and its entry is {got!r}: put TimedOut({TIMEOUT:g}) there"
        if isinstance(got, TimedOut):
            return (f"fetch({key!r}) answered at t={fetch.latency:.2f} s, within the {TIMEOUT:g} s timeout, "
                    "but its entry is TimedOut: each fetch has the whole timeout, counted from the start")
        return f"the entry for {key!r} is {got!r}, expected {want!r}"
    not_cancelled = [k for k in run.keys if run.fetches[k].latency >= TIMEOUT and run.fetches[k].state != "cancelled"]
    if run.left_running:
        return run.left_running
    if not_cancelled:
        return (f"fetch({not_cancelled[0]!r}) was still {run.fetches[not_cancelled[0]].state} when fetch_all() "
                "returned: cancel each fetch that runs out of time (asyncio.timeout does)")
    return None


def _judge_own_error(run: _Round) -> str | None:
    """The round where one fetch raises a TimeoutError of its own after OWN_ERROR_AT seconds."""
    key = run.own_error
    if run.error is not None:
        if _contains(run.error, _OwnTimeout):
            return run.left_running or None
        return f"fetch({key!r}) failed with its own TimeoutError, but fetch_all() raised {describe_error(run.error)}"
    if isinstance(run.result, (list, tuple)) and len(run.result) == len(run.keys):
        got = list(run.result)[run.keys.index(key)]
        if isinstance(got, TimedOut):
            return (f"fetch({key!r}) failed after {OWN_ERROR_AT:g} s with a TimeoutError of its own (a socket's "
                    f"timeout, say), and its entry is {got!r}, as if the {TIMEOUT:g} s deadline had passed. Only "
                    "your deadline's TimeoutError means TimedOut: keep the timeout object "
                    "(`deadline = asyncio.timeout(t)`) and check `deadline.expired()`, or let other errors propagate")
    return (f"fetch({key!r}) failed with its own TimeoutError after {OWN_ERROR_AT:g} s, and fetch_all() returned "
            "normally: an error other than your deadline must reach the caller. Catch only your deadline's "
            "TimeoutError (`if deadline.expired(): return TimedOut(timeout)`) and `raise` every other error")


def check_fetch_all(fetch_all, *, seed: int | None = None, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``fetch_all(fetch, keys, timeout)`` on the seeded rounds (or only the one ``seed`` names)."""
    if not callable(fetch_all):
        return not_a_function(fetch_all, "check_fetch_all(fetch_all)")
    if not inspect.iscoroutinefunction(fetch_all):
        return Verdict(False, "fetch_all must be an `async def` function taking (fetch, keys, timeout)")
    seeds = range(ROUNDS + 1) if seed is None else [seed]
    for round_seed in seeds:
        note = replay("check_fetch_all", getattr(fetch_all, "__name__", "fetch_all"), round_seed)
        outcome = run_guarded(_run(fetch_all, _plan(round_seed)), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if problem := outcome.not_judged(
                note=note,
                timeout="Some fetches never answer: does each one have its own deadline?",
                deadlock="Is something waiting that nothing will ever wake?"):
            return Verdict(False, problem)
        run = outcome.value
        problem = _judge_own_error(run) if run.own_error else _judge(run)
        if problem:
            return Verdict(False, f"{problem} {note}")
    if seed is not None:
        return Verdict(True, f"the round with seed {seed} kept every answer, marked every straggler and ended on time.")
    return Verdict(True, f"{ROUNDS} batches of {KEYS} fetches ended on time ({TIMEOUT:g} s), with every answer in "
                         "its place (None included), TimedOut for each fetch that did not answer, each of those "
                         "cancelled; and a fetch's own TimeoutError was not mistaken for the deadline.")
