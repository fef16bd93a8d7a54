"""``asyncio-jobservice``: a small job service that shuts down gracefully on SIGTERM or Ctrl-C.

Jobs ``job-0``, ``job-1``, ... arrive one every ``--interval`` seconds (all at once with 0)
and wait in a queue for one of ``--workers`` workers; each job takes ``--work`` seconds.
When the input ends, the service finishes every job and exits. On the first SIGTERM or
SIGINT it shuts down:

1. stop accepting: no new job is taken in;
2. drain: the workers go on with the jobs already accepted for up to ``--drain`` seconds;
3. cancel what is still running, and wait for it;
4. close: check that no task is left, print the report, remove the signal handlers, exit 0.

A second signal cuts the drain short. From the first line of :func:`main` until the handlers
are in place, SIGTERM and SIGINT are blocked (held pending), so a signal in the service's first
moments stops it gracefully too, with its report. Every line of the log starts with the seconds since
the start (the service's own clock); the last line is one JSON object: ``accepted``,
``completed``, ``failed``, ``handed_back`` (the jobs not finished, reported back, never
dropped: ``handed_back_jobs`` names them), ``cancelled`` (of those, the ones stopped while
running), ``signals`` and ``shutdown_seconds`` (from the first signal to the report).

:func:`serve` is the service without the process around it, so the same code runs in
virtual time, where a signal is simulated with ``signals.receive(signal.SIGTERM)``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...lab.cli import Parser, number_type
from ...patterns.shutdown import ShutdownSignals, WorkerPool

__all__ = ["Config", "main", "serve"]

PROG = "asyncio-jobservice"


@dataclass(frozen=True)
class Config:
    """The service's knobs, as on its command line."""

    jobs: int = 12
    interval: float = 0.0
    workers: int = 3
    work: float = 0.4
    drain: float = 0.6


async def serve(config: Config, signals: ShutdownSignals, log: Callable[[str], None]) -> dict:
    """Run the service until its input ends or ``signals.requested`` is set; return the report."""
    loop = asyncio.get_running_loop()

    async def run_job(job: str) -> None:
        worker = asyncio.current_task().get_name()
        log(f"{worker} started {job}")
        try:
            await asyncio.sleep(config.work)  # the job's work: a request, a query, a computation
        except asyncio.CancelledError:
            log(f"{worker} cancelled {job}")
            raise
        log(f"{worker} completed {job}")

    async def accept(pool: WorkerPool[str]) -> None:
        if not config.interval:  # all at once
            for i in range(config.jobs):
                pool.submit(f"job-{i}")
            log(f"accepted {config.jobs} jobs: job-0 .. job-{config.jobs - 1}" if config.jobs else "no jobs")
        for i in range(config.jobs if config.interval else 0):
            if i:
                await asyncio.sleep(config.interval)
            pool.submit(f"job-{i}")
            log(f"accepted job-{i}")
        log("input ended: finishing the accepted jobs")

    async def finished(intake: asyncio.Task[None], pool: WorkerPool[str]) -> None:
        await intake
        await pool.join()

    signalled = asyncio.ensure_future(signals.requested.wait())
    async with WorkerPool(run_job, workers=config.workers) as pool:
        intake = asyncio.create_task(accept(pool), name="intake")
        done = asyncio.ensure_future(finished(intake, pool))
        await asyncio.wait([done, signalled], return_when=asyncio.FIRST_COMPLETED)
        for task in (done, intake):
            task.cancel()
        await asyncio.wait([done, intake])
        began = loop.time()
        if signalled.done():
            pool.close()  # 1. stop accepting
            log(f"{signals.received[0]}: stop accepting; {len(pool.running)} running, {pool.queued} queued; "
                f"draining for up to {config.drain:g} s")
        drained = await pool.drain(config.drain if signalled.done() else math.inf, hurry=signals.forced)  # 2.
        if not drained:
            why = "second signal" if signals.forced.is_set() else "drain deadline"
            log(f"{why}: cancelling {len(pool.running)} running, handing back {pool.queued} queued")
        elif signalled.done():
            log("drained: every accepted job ended")
        report = await pool.cancel()  # 3. cancel, and wait for the cancelled
    signalled.cancel()
    await asyncio.wait([signalled])
    if report.handed_back:
        log(f"handed back {len(report.handed_back)}: {' '.join(report.handed_back)}")
    return {
        "accepted": report.accepted, "completed": len(report.completed), "failed": len(report.failed),
        "handed_back": len(report.handed_back), "cancelled": report.cancelled,
        "handed_back_jobs": report.handed_back, "signals": list(signals.received),
        "shutdown_seconds": round(loop.time() - began, 3) if signals.received else None,
    }


def _parser() -> Parser:
    parser = Parser(prog=PROG, description=(
        "Run jobs on a pool of workers until the input ends or a signal comes. On SIGTERM or "
        "Ctrl-C: stop accepting, drain for up to --drain seconds, cancel the rest and hand it back, "
        "exit 0; a second signal cancels at once. The last line printed is a JSON report."))
    add = parser.add_argument
    add("--jobs", type=number_type(0, kind=int), default=Config.jobs, help="jobs to run (default: %(default)s)")
    add("--interval", type=number_type(0), default=Config.interval,
        help="seconds between two jobs' arrivals, 0 for all at once (default: %(default)s)")
    add("--workers", type=number_type(1, kind=int), default=Config.workers, help="jobs run at once (default: %(default)s)")
    add("--work", type=number_type(0), default=Config.work, help="seconds each job takes (default: %(default)s)")
    add("--drain", type=number_type(0, infinite=True), default=Config.drain,
        help="seconds the jobs in hand may take after the first signal, inf for no limit (default: %(default)s)")
    return parser


async def _run(config: Config) -> int:
    loop = asyncio.get_running_loop()
    start = loop.time()

    def log(text: str) -> None:
        print(f"{loop.time() - start:8.3f} {text}", flush=True)

    def on_signal(signum: signal.Signals, count: int) -> None:
        if count > 1:
            log(f"{signum.name} again: cutting the drain short")

    with ShutdownSignals(on_signal=on_signal) as signals:
        _unblock()  # a signal that came while they were blocked is delivered now, to the handlers
        if signals.uncatchable:
            log(f"note: this platform has no loop.add_signal_handler; {', '.join(signals.uncatchable)} "
                "ends the process at once, Ctrl-C still stops it gracefully")
        log(f"ready: {config.workers} workers, {config.jobs} jobs, {config.work:g} s of work each, "
            f"drain deadline {config.drain:g} s (pid {os.getpid()})")
        report = await serve(config, signals, log)
        left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        log(f"closed: {len(left)} tasks left; the report, then the signal handlers go")
        # Printed while the handlers are still installed, which is why no signal can end the
        # process between the work and its report; one that comes after the block ends it by
        # its default action, with nothing left to lose.
        print(json.dumps(report), flush=True)
    return 0


_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _block() -> set[signal.Signals] | None:
    """Hold SIGTERM and SIGINT back until the handlers are in place (where the platform can):
    one that comes in the service's first moments then stops it gracefully, with its report,
    instead of ending it by the default action. (During the interpreter's own start, before
    ``main`` runs, the default action still applies: nothing has been accepted by then.)
    Returns the mask it found, or None where signals cannot be blocked (Windows)."""
    if hasattr(signal, "pthread_sigmask"):
        return signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    return None


def _unblock() -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse the options, run the service, return the exit status."""
    found = _block()
    try:
        return _main(argv)
    finally:
        if found is not None:  # the mask as it was, for a caller that goes on
            signal.pthread_sigmask(signal.SIG_SETMASK, found)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    config = Config(jobs=args.jobs, interval=args.interval, workers=args.workers, work=args.work, drain=args.drain)
    try:
        return asyncio.run(_run(config))
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed, where signals cannot be blocked
        print(f"{PROG}: interrupted before it was ready", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
