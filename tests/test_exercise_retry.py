"""The retry checker passes a correct answer and names what each wrong one got wrong."""

import asyncio
import random

import pytest

from asyncio_patterns import retry
from asyncio_patterns.exercises.retry import TransientError, check_retries


def answer(*, retried=(TransientError,), jitter=True, cap=True, retry_after=True, call_deadline=True,
           wait_deadline=True, wait_after_last=False, exhausted="raise"):
    """A call_with_retries that keeps every rule except the ones switched off."""
    async def call_with_retries(call, *, attempts, base, cap_, deadline):
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + deadline
        for attempt in range(1, attempts + 1):
            try:
                async with asyncio.timeout_at(give_up_at if call_deadline else None):
                    return await call()
            except retried as error:
                failed = error
                exponential = base * 2 ** (attempt - 1)
                exponential = min(cap_, exponential) if cap else exponential
                wait = random.uniform(0, exponential) if jitter else exponential
                if retry_after and getattr(error, "retry_after", None) is not None:
                    wait = max(wait, error.retry_after)
                last = attempt == attempts
                if last and exhausted == "raise" and not wait_after_last:
                    raise
                if wait_deadline and loop.time() + wait >= give_up_at:
                    raise
                if last and exhausted == "return None":
                    return None
            await asyncio.sleep(wait)
            if last:
                raise failed

    async def with_keywords(call, *, attempts, base, cap, deadline):
        return await call_with_retries(call, attempts=attempts, base=base, cap_=cap, deadline=deadline)
    return with_keywords


reference = answer()


async def with_the_package(call, *, attempts, base, cap, deadline):
    retried = retry(on=TransientError, attempts=attempts, base=base, cap=cap, deadline=deadline,
                    retry_after=lambda error: error.retry_after)(call)
    return await retried()


async def stub(call, *, attempts, base, cap, deadline):
    return await call()


async def tutorial(call, *, attempts, base, cap, deadline):
    """The common decorator's loop: every Exception, no jitter, no cap, no deadline."""
    last = None
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as error:
            last = error
            if attempt < attempts - 1:
                await asyncio.sleep(base * 2 ** attempt)
    raise last


def blocking(call, *, attempts, base, cap, deadline):
    return None


@pytest.mark.parametrize("correct", [reference, with_the_package], ids=["loop", "the package's retry"])
def test_correct_answers_pass(correct):
    verdict = check_retries(correct)
    assert verdict.passed, verdict.message


WRONG = {
    "stub": (stub, "raised TransientError: service unavailable after 1 call(s)"),
    "tutorial": (tutorial, "0.1 s every time. Without jitter"),
    "no jitter": (answer(jitter=False), "was 0.1 s every time. Without jitter"),
    "no cap": (answer(cap=False), "with cap=0.3 no wait may be longer than 0.3 s"),
    "retries bugs": (answer(retried=Exception), "the KeyError was retried (4 calls)"),
    "waits after the last": (answer(wait_after_last=True, wait_deadline=False), "after the last call failed it waited"),
    "returns None": (answer(exhausted="return None", wait_deadline=False), "it returned None after all 6 calls failed"),
    "ignores Retry-After": (answer(retry_after=False), "The server asked for 2 s (error.retry_after)"),
    "no deadline": (answer(call_deadline=False, wait_deadline=False), "A wait that ends past the deadline is not worth"),
    "deadline between calls only": (answer(call_deadline=False), "The deadline covers the calls too"),
    "retries cancellation": (answer(retried=(TransientError, asyncio.CancelledError)),
                             "`except BaseException` and a bare `except:` catch CancelledError"),
    "not async": (blocking, "define it with `async def"),
    "not a function": (42, "pass your function itself"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_answers_get_a_hint(name):
    wrong, hint = WRONG[name]
    verdict = check_retries(wrong)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_a_hang_is_a_verdict_not_a_hung_check():
    async def polls(call, *, attempts, base, cap, deadline):
        while True:
            await asyncio.sleep(0)

    verdict = check_retries(polls, real_limit=0.5)
    assert not verdict.passed and "real time" in verdict.message, verdict.message
