"""Check for lesson 08's exercise: a worker pool's ``stop(deadline)`` that loses nothing,
even when the task running it is cancelled.

The learner completes ``class Pool`` (``Pool(handle, workers)``: ``submit(job)``, worker
tasks in ``self.tasks``, jobs in ``self.queue``, the running ones in ``self.running``,
finished ones appended to ``self.completed``) with ``async def stop(self, deadline)``:
stop accepting at once; let the workers go on with the jobs accepted (running and queued)
until none is left or ``deadline`` seconds have passed; then cancel what still runs, wait
for it, and put every job not completed in ``self.handed_back``. And if the task running
``stop()`` is itself cancelled at any of its awaits (an outer timeout, a second Ctrl-C),
``stop()`` raises ``CancelledError`` and still loses nothing: the workers are cancelled,
each accepted job ends in ``self.completed`` or ``self.handed_back``, and the cancelled
jobs' clean-up (a rollback in their ``except CancelledError``) is not cut short.

``check_stop(Pool)`` runs seeded rounds in virtual time: jobs of random lengths arrive,
``stop`` is called at a seeded moment with a seeded deadline, and a job is submitted just
after it. It watches every job (started, completed, cancelled) and names the first
promise broken: a job accepted after stop began, a job lost or handed back twice, a stop
that overran its deadline or gave up before it, a job cancelled although it would have
finished in time, or a task left running. Then, in the rounds that stop mid-work, the jobs
roll back for a while when cancelled, and ``stop()`` is cancelled at each of its awaits in
turn (counted in a run without the cancel), and once in the middle of the rollbacks. Round N comes from seed N, and
``check_stop(Pool, seed=N)`` replays it, with its cancels.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from dataclasses import dataclass, field

from . import Verdict, not_a_function
from ._harness import REAL_LIMIT, Attempt, attempt, describe_error, replay, run_guarded, still_running

__all__ = ["check_stop"]

ROUNDS = 6
CANCEL_SEEDS = (2, 3, 4, 5)  # the rounds that stop mid-work: their stop() is also cancelled at each await
ROLLBACK = 0.25  # virtual seconds a job cancelled in a cancel round takes to roll back
MAX_SUSPENSIONS = 40  # a stop() that awaits more often is cancelled at its first 40 only
EPSILON = 1e-6
OVERRUN = 60.0  # virtual seconds past the deadline after which a stop is reported as never ending
SETTLE = 30.0  # virtual seconds the check waits after a cancelled stop() for the workers to end
VIRTUAL_LIMIT = 600.0


@dataclass
class _Job:
    work: float
    state: str = "queued"  # "running", "completed", "cancelled" (then "rolled back" or "cut short")
    started: float | None = None
    ended: float | None = None


@dataclass
class _Plan:
    seed: int
    workers: int
    arrivals: list[tuple[float, str]]  # (time, job) in order
    stop_at: float
    deadline: float
    jobs: dict[str, _Job] = field(default_factory=dict)


@dataclass
class _Round:
    plan: _Plan
    stop: Attempt = field(default_factory=Attempt)
    submitted: list[str] = field(default_factory=list)
    late_accepted: bool = False
    late_error: str = ""
    began: float = 0.0
    returned: float = 0.0
    completed: object = None
    handed_back: object = None
    still_queued: list = field(default_factory=list)  # what was left in self.queue at the end
    build_error: str = ""
    suspensions: int = 0  # how many times stop() waited
    cancel_at: int | None = None  # stop() was cancelled at this wait (1 for the first; 0: at a time)
    cancelled_during: str = ""  # the job states when that cancel landed, in words
    left_after: str = ""  # tasks still running SETTLE s after a cancelled stop()


class _Suspensions:
    """Await ``coro`` in the current task, counting the times it waits; at the ``cancel_at``-th,
    cancel the task: what an outer timeout or a second Ctrl-C does at that moment."""

    def __init__(self, coro, cancel_at: int | None, on_cancel) -> None:
        self.coro, self.cancel_at, self.on_cancel, self.count = coro, cancel_at, on_cancel, 0

    def __await__(self):
        inner, value, error = self.coro.__await__(), None, None
        while True:
            try:
                yielded = inner.throw(error) if error is not None else inner.send(value)
            except StopIteration as done:
                return done.value
            self.count += 1
            if self.count == self.cancel_at:
                self.on_cancel()
                asyncio.current_task().cancel()
            try:
                value, error = (yield yielded), None
            except BaseException as raised:  # passed on into the learner's coroutine
                value, error = None, raised


def _plan(seed: int) -> _Plan:
    rng = random.Random(seed)
    workers = rng.randint(2, 4)
    count = rng.randint(8, 16)
    jobs = {f"job-{i}": _Job(round(rng.uniform(0.1, 0.9), 2) + 0.0013 * (i + 1)) for i in range(count)}
    arrivals, t = [], 0.0
    for name in jobs:
        arrivals.append((t, name))
        t += 0.0 if seed % 2 else round(rng.uniform(0.0, 0.15), 3)
    total = sum(j.work for j in jobs.values())
    if seed == 0:  # the deadline leaves time to finish everything: drain, and return as soon as done
        stop_at, deadline = 0.3 + 0.0007, round(total + 1.0, 1)
    elif seed == 1:  # everything has finished before stop is called: stop at once
        stop_at, deadline = total + 1.0007, 0.5
    else:
        stop_at = round(rng.uniform(0.1, total / workers / 2), 3) + 0.0007
        deadline = round(rng.uniform(0.2, 1.0), 2)
    return _Plan(seed, workers, arrivals, stop_at, deadline, jobs)


def _queue_contents(pool: object) -> list:
    """What is left in the learner's queue (taken out: stop() has ended by now)."""
    queue, left = getattr(pool, "queue", None), []
    while queue is not None and len(left) < 1000:
        try:
            left.append(queue.get_nowait())
        except Exception:  # QueueEmpty, QueueShutDown, or not a queue at all
            break
    return left


async def _run(Pool: type, plan: _Plan, *, cancel_at: int | None = None, cancel_after: float | None = None,
               rollback: float = 0.0) -> _Round:
    """One round; stop() cancelled at its ``cancel_at``-th wait, or ``cancel_after`` s after it began."""
    loop = asyncio.get_running_loop()
    run = _Round(plan, cancel_at=cancel_at if cancel_after is None else 0)

    async def handle(job: str) -> None:
        record = plan.jobs[job]
        record.state, record.started = "running", loop.time()
        try:
            await asyncio.sleep(record.work)
        except asyncio.CancelledError:
            record.state, record.ended = "cancelled", loop.time()
            if rollback:
                try:
                    await asyncio.sleep(rollback)  # the clean-up: undo the half-done work
                except asyncio.CancelledError:
                    record.state = "cut short"
                    raise
                record.state = "rolled back"
            raise
        record.state, record.ended = "completed", loop.time()

    try:
        pool = Pool(handle, plan.workers)
    except Exception as error:
        run.build_error = describe_error(error)
        return run
    for at, job in plan.arrivals:
        if at >= plan.stop_at:
            break
        await asyncio.sleep(at - loop.time())
        pool.submit(job)
        run.submitted.append(job)
    await asyncio.sleep(plan.stop_at - loop.time())

    def submit_late() -> None:  # runs as soon as stop() first waits for something
        plan.jobs["late"] = _Job(0.01)
        try:
            pool.submit("late")
        except Exception as error:
            run.late_error = describe_error(error)
        else:
            run.late_accepted = True
            run.submitted.append("late")

    def on_cancel() -> None:
        workers = [t for t in getattr(pool, "tasks", ()) if isinstance(t, asyncio.Task)]
        if any(t.done() or t.cancelling() for t in workers):
            run.cancelled_during = "while it waited for the cancelled workers"
        else:
            run.cancelled_during = "during the drain"

    run.began = loop.time()
    loop.call_soon(submit_late)
    me, stopping = asyncio.current_task(), [True]
    if cancel_after is not None:
        loop.call_later(cancel_after, lambda: stopping[0] and (on_cancel(), me.cancel()))
    counted: list[_Suspensions] = []

    def stop(deadline: float):
        running = pool.stop(deadline)
        if not inspect.isawaitable(running):
            return running
        counted.append(_Suspensions(running, cancel_at, on_cancel))
        return counted[0]

    await attempt(run.stop, stop, plan.deadline, timeout=plan.deadline + OVERRUN, name="stop()")
    stopping[0] = False
    run.returned = loop.time()
    run.suspensions = counted[0].count if counted else 0
    if run.cancel_at is not None:
        while asyncio.current_task().cancelling():  # our own cancel, delivered (or swallowed)
            asyncio.current_task().uncancel()
        left = still_running()
        if left:
            await asyncio.wait(left, timeout=SETTLE)
        left = still_running()
        if left:
            run.left_after = ", ".join(sorted(task.get_name() for task in left))
    run.completed = getattr(pool, "completed", None)
    run.handed_back = getattr(pool, "handed_back", None)
    run.still_queued = _queue_contents(pool)
    left = still_running()
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    return run


def _lost(run: _Round) -> str | None:
    """Each accepted job in exactly one of completed and handed_back: the words if not."""
    plan, completed, handed_back = run.plan, run.completed, run.handed_back
    if not isinstance(handed_back, list):
        return "after stop(), self.handed_back must be a list of the jobs not completed"
    twice = sorted({j for j in handed_back if handed_back.count(j) > 1} | (set(handed_back) & set(completed)))
    if twice:
        job = twice[0]
        where = "twice in self.handed_back" if handed_back.count(job) > 1 else "both completed and handed back"
        return f"{job} is {where}: each job must end in exactly one place"
    wrongly = [j for j in handed_back if plan.jobs.get(j) and plan.jobs[j].state == "completed"]
    if wrongly:
        return f"{wrongly[0]} was handed back, but it had completed: hand back only the jobs not completed"
    lost = [j for j in run.submitted if j not in completed and j not in handed_back]
    if not lost:
        return None
    job, when = plan.jobs[lost[0]], ""
    if run.cancel_at is not None:
        when = f" when stop() was cancelled {run.cancelled_during} (an outer timeout, a second Ctrl-C)"
    if job.state in ("cancelled", "rolled back", "cut short"):
        return (f"{len(lost)} accepted job(s) were lost{when}, e.g. {lost[0]}: it was cancelled while running and "
                "is not in self.handed_back. Before cancelling the workers, note the jobs they are running "
                "(`self.running.values()`) and hand those back")
    if job.state == "queued":
        if lost[0] not in run.still_queued:
            return (f"{len(lost)} accepted job(s) were lost{when}, e.g. {lost[0]}: it never started, and it is no "
                    "longer in self.queue: it was discarded (`Queue.shutdown(immediate=True)` drops what is queued). "
                    "Take the queued jobs out first (`get_nowait()` until the queue is empty) and hand them back")
        if run.cancel_at is not None:
            return (f"{len(lost)} accepted job(s) were lost{when}, e.g. {lost[0]}: it never started and is still in "
                    "self.queue, because the cancel came before the line that takes the queue out. Take the queued "
                    "jobs out and hand them back before stop() awaits anything after the drain (in a `finally:` "
                    "around the drain, then cancel the workers), not after awaiting the workers")
        return (f"{len(lost)} accepted job(s) were lost, e.g. {lost[0]}: it never started and is still in "
                "self.queue. After the workers are stopped, take what is left out of the queue "
                "(`get_nowait()` until it is empty) and hand it back")
    return f"{len(lost)} accepted job(s) were lost{when}, e.g. {lost[0]} ({job.state})"


def _error_hint(error: BaseException, deadline: float) -> str:
    """What a stop() that raised should do instead."""
    said = f"stop({deadline:g}) raised {describe_error(error)}"
    if isinstance(error, TimeoutError):
        return (f"{said}: the deadline passing is how the drain ends, not an error. Catch it around the drain "
                "(`except TimeoutError: pass`, as `asyncio.wait_for` and `asyncio.timeout` both raise it) and go "
                "on to cancel what is left")
    if isinstance(error, asyncio.CancelledError):
        return (f"{said} though nobody cancelled stop(): awaiting a cancelled worker raises its CancelledError. "
                "Wait for the cancelled workers with `asyncio.wait(self.tasks)` or "
                "`asyncio.gather(*self.tasks, return_exceptions=True)`")
    return said


def _judge(run: _Round) -> str | None:
    plan, stop = run.plan, run.stop
    took = run.returned - run.began
    if run.build_error:
        return f"Pool(handle, {plan.workers}) raised {run.build_error}: keep __init__ as it was given"
    if stop.not_awaitable:
        return f"pool.stop(deadline) returned a {stop.not_awaitable}, not a coroutine: define it with `async def stop(self, deadline):`"
    if stop.timed_out:
        return (f"stop({plan.deadline:g}) was still running {OVERRUN:g} s after its deadline. The workers loop "
                "for ever (`while True`), so waiting for them to end never ends: after the drain, cancel them, "
                "then await them")
    if stop.error is not None:
        return _error_hint(stop.error, plan.deadline)
    if run.late_accepted:
        return ("a job submitted just after stop() began was accepted: stop accepting first, before stop() "
                "awaits anything (`self.accepting = False` as its first line)")
    if took > plan.deadline + EPSILON:
        return (f"stop({plan.deadline:g}) took {took:.3f} s: a job may take longer than the deadline, so wait "
                "for the queue to empty for at most `deadline` seconds (`async with asyncio.timeout(deadline):` "
                "around `await self.queue.join()`), then cancel what is left")
    if stop.left_running:
        return stop.left_running
    if problem := _lost(run):
        return problem
    accepted, handed_back = list(run.submitted), run.handed_back
    end = run.began + plan.deadline
    early = [j for j in accepted if plan.jobs[j].state == "cancelled"
             and plan.jobs[j].started + plan.jobs[j].work <= end - EPSILON]
    if early:
        job = plan.jobs[early[0]]
        return (f"{early[0]} was cancelled at {job.ended - run.began:.3f} s into stop({plan.deadline:g}), though it "
                f"would have finished at {job.started + job.work - run.began:.3f} s, within the deadline: drain "
                "first (wait for the queue to empty, up to the deadline), cancel only what is left then")
    if handed_back and took < plan.deadline - EPSILON:
        return (f"stop({plan.deadline:g}) returned after {took:.3f} s and handed back {len(handed_back)} job(s): "
                "the workers could have gone on with them until the deadline. Wait for `self.queue.join()` "
                "(with the deadline as its limit), not only for the jobs that were running")
    if not handed_back:
        last = max([plan.jobs[j].ended for j in accepted if plan.jobs[j].ended is not None], default=run.began)
        if run.returned > max(last, run.began) + EPSILON:
            return (f"every job had ended {max(0.0, last - run.began):.3f} s into stop({plan.deadline:g}), but stop() "
                    f"returned only after {took:.3f} s: wait for the queue to empty with the deadline as a limit, "
                    "not for the deadline itself")
    return None


def _judge_cancelled(run: _Round) -> str | None:
    """The promises of a stop() cancelled at its ``cancel_at``-th wait."""
    plan, stop = run.plan, run.stop
    moment = (f"stop({plan.deadline:g}) was cancelled {run.cancelled_during} "
              + (f"(at its wait number {run.cancel_at})" if run.cancel_at else
                 f"({run.plan.deadline + ROLLBACK / 2:g} s after it began)"))
    if run.build_error or stop.not_awaitable:
        return _judge(run)
    if stop.timed_out:
        return (f"{moment}, and was still running {OVERRUN:g} s later: a cancelled stop() must end, raising "
                "CancelledError")
    if stop.error is None:
        return (f"{moment}, but returned as if nothing had happened: whoever cancelled it (an outer timeout, "
                "asyncio.run on a second Ctrl-C) waits for that CancelledError. Do the clean-up in `finally:`, "
                "and do not catch CancelledError (or re-raise it)")
    if not isinstance(stop.error, asyncio.CancelledError):
        return f"{moment}, and raised {describe_error(stop.error)} instead of CancelledError"
    if run.left_after:
        return (f"{moment}, and {SETTLE:g} s later the workers were still running ({run.left_after}): a cancel "
                "during the drain must still cancel them (whoever cancelled stop() wants the pool stopped, not "
                "left running). Put the hand-back and the `task.cancel()` calls in a `finally:` around the drain")
    cut = [j for j in run.submitted if plan.jobs[j].state == "cut short"]
    if cut:
        return (f"{moment}, and {cut[0]}'s clean-up (its rollback after the cancel) was cut short: "
                "`asyncio.gather` cancels what it gathers when the task awaiting it is cancelled, so the workers "
                "were cancelled a second time. Wait for them with `asyncio.wait(self.tasks)`, which leaves "
                "them to finish")
    return _lost(run)


def check_stop(Pool: type, *, seed: int | None = None, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``Pool``'s ``stop`` on the seeded rounds (or only the one ``seed`` names)."""
    if not callable(Pool):
        return not_a_function(Pool, "check_stop(Pool)")
    if not inspect.isclass(Pool):
        return Verdict(False, "pass the class itself, check_stop(Pool), not an instance or a function")
    if not inspect.iscoroutinefunction(getattr(Pool, "stop", None)):
        return Verdict(False, "Pool needs an `async def stop(self, deadline):` method")
    seeds = range(ROUNDS) if seed is None else [seed]
    hints = {"deadlock": "Does stop() wait for something nothing will ever finish?", "timeout": "Does stop() end?"}
    cancels = 0
    for round_seed in seeds:  # first as the lesson's pattern runs it, then with stop() itself cancelled
        note = replay("check_stop", getattr(Pool, "__name__", "Pool"), round_seed)
        outcome = run_guarded(_run(Pool, _plan(round_seed)), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if problem := outcome.not_judged(note=note, **hints):
            return Verdict(False, problem)
        if problem := _judge(outcome.value):
            return Verdict(False, f"{problem} {note}")
    for round_seed in (s for s in seeds if s in CANCEL_SEEDS):
        note = replay("check_stop", getattr(Pool, "__name__", "Pool"), round_seed)
        counting = run_guarded(_run(Pool, _plan(round_seed), rollback=ROLLBACK),
                               virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if problem := counting.not_judged(note=note, **hints):
            return Verdict(False, problem)
        for moment in range(1, min(counting.value.suspensions, MAX_SUSPENSIONS) + 1):
            outcome = run_guarded(_run(Pool, _plan(round_seed), cancel_at=moment, rollback=ROLLBACK),
                                  virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
            if problem := outcome.not_judged(note=note, **hints):
                return Verdict(False, problem)
            if problem := _judge_cancelled(outcome.value):
                return Verdict(False, f"{problem} {note}")
            cancels += 1
        # and in the middle of the cancelled jobs' rollback, which a cancel at a wait's start cannot reach
        outcome = run_guarded(_run(Pool, _plan(round_seed), cancel_after=_plan(round_seed).deadline + ROLLBACK / 2,
                                   rollback=ROLLBACK), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if problem := outcome.not_judged(note=note, **hints):
            return Verdict(False, problem)
        if outcome.value.cancelled_during and (problem := _judge_cancelled(outcome.value)):
            return Verdict(False, f"{problem} {note}")
        cancels += bool(outcome.value.cancelled_during)
    if seed is not None:
        return Verdict(True, f"the round with seed {seed}: nothing lost, the deadline held, no task left running"
                             + (f", and stop() cancelled at each of its {cancels} waits lost nothing." if cancels else "."))
    return Verdict(True, f"{ROUNDS} rounds, stopped at seeded moments: no job accepted after stop() began, every "
                         "accepted job completed or handed back exactly once, nothing cancelled that would have "
                         "finished in time, every stop within its deadline, and no task left running. And stop() "
                         f"cancelled at each of its waits and amid the rollbacks ({cancels} cancels in {len(CANCEL_SEEDS)} rounds): "
                         "CancelledError raised, nothing lost, no clean-up cut short.")
