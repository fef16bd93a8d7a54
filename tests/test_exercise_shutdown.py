"""The shutdown exercise's checker: the reference stop() passes, realistic wrong ones get a hint."""

import asyncio
import sys

import pytest

from asyncio_patterns.exercises.shutdown import check_stop


class Pool:
    """The pool as the lesson gives it; each test adds a stop()."""

    def __init__(self, handle, workers):
        self.handle = handle
        self.queue = asyncio.Queue()
        self.accepting = True
        self.running = {}  # worker task -> the job it is running
        self.completed, self.handed_back = [], []
        self.tasks = [asyncio.create_task(self.work(), name=f"worker-{i}") for i in range(workers)]

    def submit(self, job):
        if not self.accepting:
            raise RuntimeError("the pool is stopping")
        self.queue.put_nowait(job)

    async def work(self):
        while True:
            job = await self.queue.get()
            self.running[asyncio.current_task()] = job
            try:
                await self.handle(job)
                self.completed.append(job)
            finally:
                del self.running[asyncio.current_task()]
                self.queue.task_done()


class Steps(Pool):
    """The steps of a stop(), for the answers below to combine, right and wrong."""

    async def drain(self, deadline):
        try:
            async with asyncio.timeout(deadline):
                await self.queue.join()
        except TimeoutError:
            pass

    async def cancel(self, *, note_running=True, wait=True):
        if note_running:
            self.handed_back += self.running.values()
        for task in self.tasks:
            task.cancel()
        if wait:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def take_queued(self):
        while not self.queue.empty():
            self.handed_back.append(self.queue.get_nowait())


class Reference(Steps):
    async def stop(self, deadline):
        self.accepting = False
        try:
            await self.drain(deadline)
        finally:  # even when stop() itself is cancelled: every job placed before the next await
            self.handed_back += self.running.values()
            self.take_queued()
            for task in self.tasks:
                task.cancel()
        await asyncio.wait(self.tasks)  # a cancel of stop() ends this wait, not the workers' clean-up


class WithWaitFor(Pool):
    async def stop(self, deadline):
        self.accepting = False
        try:
            await asyncio.wait_for(self.queue.join(), deadline)
        except TimeoutError:
            pass
        finally:
            self.handed_back += self.running.values()
            while not self.queue.empty():
                self.handed_back.append(self.queue.get_nowait())
            for task in self.tasks:
                task.cancel()
        await asyncio.wait(self.tasks)


@pytest.mark.parametrize("answer", [Reference, WithWaitFor], ids=lambda a: a.__name__)
def test_the_references_pass(answer):
    verdict = check_stop(answer)
    assert verdict.passed, verdict.message
    assert "cancelled at each of its waits" in verdict.message
    assert check_stop(answer, seed=3).passed


class ThePattern(Steps):
    """The lesson's pattern (cell 3): right until stop() itself is cancelled."""

    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        await self.cancel()
        self.take_queued()


def test_the_lessons_pattern_passes_the_plain_rounds_and_fails_the_cancelled_ones():
    for seed in range(6):
        if seed not in (2, 3, 4, 5):
            assert check_stop(ThePattern, seed=seed).passed
    verdict = check_stop(ThePattern)
    assert not verdict.passed
    assert "stop(0.57) was cancelled during the drain (at its wait number 1)" in verdict.message
    assert "the workers were still running" in verdict.message


class UncaughtWaitFor(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await asyncio.wait_for(self.queue.join(), deadline)
        await self.cancel()
        self.take_queued()


class GatherWithoutReturnExceptions(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        self.handed_back += self.running.values()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks)
        self.take_queued()


class ShutsTheQueueDownAtOnce(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        self.queue.shutdown(immediate=True)
        await self.cancel()


class SwallowsItsCancel(Steps):
    async def stop(self, deadline):
        self.accepting = False
        try:
            await self.drain(deadline)
        except asyncio.CancelledError:
            pass
        self.handed_back += self.running.values()
        self.take_queued()
        for task in self.tasks:
            task.cancel()
        await asyncio.wait(self.tasks)


class NoFinally(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        self.handed_back += self.running.values()
        self.take_queued()
        for task in self.tasks:
            task.cancel()
        await asyncio.wait(self.tasks)


class GathersInTheEnd(Steps):
    async def stop(self, deadline):
        self.accepting = False
        try:
            await self.drain(deadline)
        finally:
            self.handed_back += self.running.values()
            self.take_queued()
            for task in self.tasks:
                task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class TakesTheQueueAfterTheCancel(Steps):
    async def stop(self, deadline):
        self.accepting = False
        try:
            await self.drain(deadline)
        finally:
            self.handed_back += self.running.values()
            for task in self.tasks:
                task.cancel()
            await asyncio.wait(self.tasks)
            self.take_queued()


@pytest.mark.parametrize("answer, hint", [
    (UncaughtWaitFor, "the deadline passing is how the drain ends, not an error. Catch it"),
    (GatherWithoutReturnExceptions, "though nobody cancelled stop(): awaiting a cancelled worker raises"),
    pytest.param(ShutsTheQueueDownAtOnce, "no longer in self.queue: it was discarded (`Queue.shutdown(immediate=True)`",
                 marks=pytest.mark.skipif(sys.version_info < (3, 13), reason="Queue.shutdown is new in 3.13")),
    (SwallowsItsCancel, "returned as if nothing had happened"),
    (NoFinally, "the workers were still running"),
    (GathersInTheEnd, "clean-up (its rollback after the cancel) was cut short"),
    (TakesTheQueueAfterTheCancel, "still in self.queue, because the cancel came before"),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_wrong_answers_about_errors_and_cancels_get_a_hint_that_names_the_remedy(answer, hint):
    verdict = check_stop(answer)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message
    assert "seed=" in verdict.message


class CancelsAtOnce(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.cancel()
        self.take_queued()


class NoDeadline(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.queue.join()
        await self.cancel()


class DoesNotAwait(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        await self.cancel(wait=False)
        self.take_queued()


class ForgetsTheQueue(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        await self.cancel()


class ForgetsTheRunning(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await self.drain(deadline)
        await self.cancel(note_running=False)
        self.take_queued()


class SleepsTheDeadline(Steps):
    async def stop(self, deadline):
        self.accepting = False
        await asyncio.sleep(deadline)
        await self.cancel()
        self.take_queued()


class KeepsAccepting(Reference):
    async def stop(self, deadline):
        await asyncio.sleep(0)
        await super().stop(deadline)


class WaitsForTheWorkers(Pool):
    async def stop(self, deadline):
        self.accepting = False
        await asyncio.gather(*self.tasks)


@pytest.mark.parametrize("answer, hint", [
    (CancelsAtOnce, "though it would have finished"),
    (NoDeadline, "for at most `deadline` seconds"),
    (DoesNotAwait, "cancelled but not awaited"),
    (ForgetsTheQueue, "still in self.queue"),
    (ForgetsTheRunning, "cancelled while running and is not in self.handed_back"),
    (SleepsTheDeadline, "not for the deadline itself"),
    (KeepsAccepting, "submitted just after stop() began was accepted"),
    (WaitsForTheWorkers, "loop for ever"),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_wrong_answers_get_a_hint(answer, hint):
    verdict = check_stop(answer)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message
    assert "seed=" in verdict.message


def test_not_a_class_or_no_async_stop():
    assert "not an instance" in check_stop(lambda: None).message
    assert "async def stop" in check_stop(Pool).message
    assert "pass your function itself" in check_stop(Reference.stop(None, 1)).message
