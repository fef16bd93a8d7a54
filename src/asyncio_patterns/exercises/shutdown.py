"""Check for lesson 08's exercise: a worker pool's ``stop(deadline)``, drain then cancel.

The learner completes ``class Pool`` (``Pool(handle, workers)``: ``submit(job)``, worker
tasks in ``self.tasks``, jobs in ``self.queue``, the running ones in ``self.running``,
finished ones appended to ``self.completed``) with ``async def stop(self, deadline)``:
stop accepting at once; let the workers go on with the jobs accepted (running and queued)
until none is left or ``deadline`` seconds have passed; then cancel what still runs, wait
for it, and put every job not completed in ``self.handed_back``.

``check_stop(Pool)`` runs seeded rounds in virtual time: jobs of random lengths arrive,
``stop`` is called at a seeded moment with a seeded deadline, and a job is submitted just
after it. It watches every job (started, completed, cancelled) and names the first
promise broken: a job accepted after stop began, a job lost or handed back twice, a stop
that overran its deadline or gave up before it, a job cancelled although it would have
finished in time, or a task left running. Round N comes from seed N, and
``check_stop(Pool, seed=N)`` replays it.
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
EPSILON = 1e-6
OVERRUN = 60.0  # virtual seconds past the deadline after which a stop is reported as never ending
VIRTUAL_LIMIT = 600.0


@dataclass
class _Job:
    work: float
    state: str = "queued"  # "running", "completed", "cancelled"
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
    build_error: str = ""


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


async def _run(Pool: type, plan: _Plan) -> _Round:
    loop = asyncio.get_running_loop()
    run = _Round(plan)

    async def handle(job: str) -> None:
        record = plan.jobs[job]
        record.state, record.started = "running", loop.time()
        try:
            await asyncio.sleep(record.work)
        except asyncio.CancelledError:
            record.state, record.ended = "cancelled", loop.time()
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

    run.began = loop.time()
    loop.call_soon(submit_late)
    await attempt(run.stop, pool.stop, plan.deadline, timeout=plan.deadline + OVERRUN, name="stop()")
    run.returned = loop.time()
    run.completed = getattr(pool, "completed", None)
    run.handed_back = getattr(pool, "handed_back", None)
    left = still_running()
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    return run


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
        return f"stop({plan.deadline:g}) raised {describe_error(stop.error)}"
    if run.late_accepted:
        return ("a job submitted just after stop() began was accepted: stop accepting first, before stop() "
                "awaits anything (`self.accepting = False` as its first line)")
    if took > plan.deadline + EPSILON:
        return (f"stop({plan.deadline:g}) took {took:.3f} s: a job may take longer than the deadline, so wait "
                "for the queue to empty for at most `deadline` seconds (`async with asyncio.timeout(deadline):` "
                "around `await self.queue.join()`), then cancel what is left")
    if stop.left_running:
        return stop.left_running
    completed, handed_back = run.completed, run.handed_back
    if not isinstance(handed_back, list):
        return "after stop(), self.handed_back must be a list of the jobs not completed"
    accepted = list(run.submitted)
    twice = sorted({j for j in handed_back if handed_back.count(j) > 1} | (set(handed_back) & set(completed)))
    if twice:
        job = twice[0]
        where = "twice in self.handed_back" if handed_back.count(job) > 1 else "both completed and handed back"
        return f"{job} is {where}: each job must end in exactly one place"
    wrongly = [j for j in handed_back if plan.jobs.get(j) and plan.jobs[j].state == "completed"]
    if wrongly:
        return f"{wrongly[0]} was handed back, but it had completed: hand back only the jobs not completed"
    lost = [j for j in accepted if j not in completed and j not in handed_back]
    if lost:
        job = plan.jobs[lost[0]]
        if job.state == "cancelled":
            return (f"{len(lost)} accepted job(s) were lost, e.g. {lost[0]}: it was cancelled while running and "
                    "is not in self.handed_back. Before cancelling the workers, note the jobs they are running "
                    "(`self.running.values()`) and hand those back")
        if job.state == "queued":
            return (f"{len(lost)} accepted job(s) were lost, e.g. {lost[0]}: it never started and is still in "
                    "self.queue. After the workers are stopped, take what is left out of the queue "
                    "(`get_nowait()` until it is empty) and hand it back")
        return f"{len(lost)} accepted job(s) were lost, e.g. {lost[0]} ({job.state})"
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


def check_stop(Pool: type, *, seed: int | None = None, real_limit: float = REAL_LIMIT) -> Verdict:
    """Run ``Pool``'s ``stop`` on the seeded rounds (or only the one ``seed`` names)."""
    if not callable(Pool):
        return not_a_function(Pool, "check_stop(Pool)")
    if not inspect.isclass(Pool):
        return Verdict(False, "pass the class itself, check_stop(Pool), not an instance or a function")
    if not inspect.iscoroutinefunction(getattr(Pool, "stop", None)):
        return Verdict(False, "Pool needs an `async def stop(self, deadline):` method")
    seeds = range(ROUNDS) if seed is None else [seed]
    for round_seed in seeds:
        note = replay("check_stop", getattr(Pool, "__name__", "Pool"), round_seed)
        plan = _plan(round_seed)
        outcome = run_guarded(_run(Pool, plan), virtual_limit=VIRTUAL_LIMIT, real_limit=real_limit)
        if problem := outcome.not_judged(
                note=note,
                deadlock="Does stop() wait for something nothing will ever finish?",
                timeout="Does stop() end?"):
            return Verdict(False, problem)
        problem = _judge(outcome.value)
        if problem:
            return Verdict(False, f"{problem} {note}")
    if seed is not None:
        return Verdict(True, f"the round with seed {seed}: nothing lost, the deadline held, no task left running.")
    return Verdict(True, f"{ROUNDS} rounds, stopped at seeded moments: no job accepted after stop() began, every "
                         "accepted job completed or handed back exactly once, nothing cancelled that would have "
                         "finished in time, every stop within its deadline, and no task left running.")
