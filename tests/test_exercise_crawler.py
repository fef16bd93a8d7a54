"""The crawler checker passes the reference handler and names what each wrong one got wrong."""

import asyncio

import aiohttp
import pytest

from asyncio_patterns import CircuitOpen
from asyncio_patterns.demos.crawler import RateLimited, ServerError, make_handler
from asyncio_patterns.exercises.crawler import check_crawler


def answer(*, retried=(ServerError, RateLimited, aiohttp.ClientConnectionError, TimeoutError),
           counted=(ServerError, aiohttp.ClientConnectionError, TimeoutError), retry_after=True, timeout="inside",
           on_rejection="wait", raise_for_4xx=True, swallow=False, token="before"):
    """A handler maker that makes every decision right except the ones switched off.
    ``timeout``: "inside" the breaker's call, "around" it, or "none"; ``on_rejection``:
    "wait" and fetch again, "raise" (the URL fails) or "return" (counted done)."""
    def check(response):
        if response.status == 429:
            raise RateLimited(float(response.headers.get("Retry-After", "1")))
        if response.status >= 500:
            raise ServerError(response.status)
        if raise_for_4xx:
            response.raise_for_status()

    def make(kit):
        breaker = kit.breaker(failures=counted)

        async def attempt(url):
            if token == "after":
                await kit.bucket.acquire()
            if timeout == "inside":
                async with asyncio.timeout(kit.timeout), kit.session.get(url) as response:
                    await response.read()
                    check(response)
            else:
                async with kit.session.get(url) as response:
                    await response.read()
                    check(response)

        async def guarded(url):
            if token == "before":
                await kit.bucket.acquire()
            if timeout == "around":
                async with asyncio.timeout(kit.timeout):
                    return await breaker.call(attempt, url)
            return await breaker.call(attempt, url)

        hook = (lambda error: getattr(error, "retry_after", None)) if retry_after else None
        fetch = kit.retry(on=retried, retry_after=hook)(guarded)

        async def handle(url):
            while True:
                try:
                    return await fetch(url)
                except CircuitOpen as refused:
                    if on_rejection == "raise":
                        raise
                    if on_rejection == "return":
                        return None
                    if on_rejection == "sleep retry_after":
                        await asyncio.sleep(refused.retry_after)  # None while a half-open trial is in flight
                        continue
                    await asyncio.sleep(refused.retry_after or kit.config.reset_timeout)
                except Exception:
                    if swallow:
                        return None  # "log it and go on"
                    raise
        return handle
    return make


def test_the_reference_passes():
    verdict = check_crawler(make_handler)
    assert verdict.passed, verdict.message


def test_the_reference_written_here_passes():
    verdict = check_crawler(answer())
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(("wrong", "named", "hint"), [
    (dict(retried=(ServerError, RateLimited, aiohttp.ClientError, TimeoutError)),
     "answered 404 and was requested 6 times", "name aiohttp.ClientConnectionError"),
    (dict(swallow=True), "/missing/1 answered 404 and was counted done", "a handler that catches it and returns"),
    (dict(raise_for_4xx=False), "answered 404 and was counted done", "raise_for_status"),
    (dict(retry_after=False), "the next request for /items/1 came", "retry_after=lambda error"),
    (dict(timeout="none"), "was held 30 s", "asyncio.timeout(kit.timeout)"),
    (dict(timeout="around"), "while it was down", "inside the function the breaker calls"),
    (dict(on_rejection="raise"), "failed with CircuitOpen", "catch CircuitOpen"),
    (dict(on_rejection="return"), "counted done, but the server never answered it", "after a CircuitOpen fetch again"),
    (dict(counted=(aiohttp.ClientConnectionError, TimeoutError)), "received", "Name your ServerError"),
    (dict(retried=(RateLimited, aiohttp.ClientConnectionError, TimeoutError)), "failed after", "name ServerError"),
    (dict(retried=(ServerError, RateLimited, TimeoutError)), "failed after", "aiohttp.ClientConnectionError"),
    (dict(retried=(ServerError, aiohttp.ClientConnectionError, TimeoutError)), "/items/1 failed", "429"),
    (dict(token="after"), "sent while the breaker was open", "Take the token before breaker.call()"),
    (dict(on_rejection="sleep retry_after"), "an error in the handler's own code",
     "`refused.retry_after or kit.config.reset_timeout`"),
])
def test_a_wrong_handler_is_named(wrong, named, hint):
    verdict = check_crawler(answer(**wrong))
    assert not verdict.passed
    assert named in verdict.message and hint in verdict.message, verdict.message


def tutorial(kit):
    """The lesson's starting version, as most tutorials write it."""
    breaker = kit.breaker(failures=(aiohttp.ClientError,))

    async def attempt(url):
        async with kit.session.get(url) as response:
            response.raise_for_status()
            return await response.read()

    @kit.retry(on=(aiohttp.ClientError, TimeoutError))
    async def fetch(url):
        await kit.bucket.acquire()
        async with asyncio.timeout(kit.timeout):
            return await breaker.call(attempt, url)

    return fetch


def test_the_lessons_starting_version_is_told_about_the_404():
    verdict = check_crawler(tutorial)
    assert not verdict.passed and "answered 404 and was requested 5 times" in verdict.message


def sync_handle(kit):
    def handle(url):
        return None
    return handle


async def async_maker(kit):
    return make_handler(kit)


def awaits_the_get(kit):
    async def handle(url):
        response = await kit.session.get(url)
        return response.status
    return handle


@pytest.mark.parametrize(("given", "named"), [
    (sync_handle, "It sent no request: make_handler(kit) must return an `async def handle(url)`"),
    (awaits_the_get, "`async with kit.session.get(url) as response:`"),
    (async_maker, "define it with `def`"),
    (42, "pass your function itself"),
])
def test_a_handler_of_the_wrong_shape_is_told_what_shape(given, named):
    verdict = check_crawler(given)
    assert not verdict.passed and named in verdict.message, verdict.message


def test_a_handler_that_blocks_is_a_verdict_not_a_hang():
    def blocking(kit):
        async def handle(url):
            import time
            time.sleep(0.2)
        return handle
    verdict = check_crawler(blocking, real_limit=1.0)
    assert not verdict.passed and "time.sleep" in verdict.message


def test_a_slow_machine_changes_no_verdict():
    """Each request costs 5 ms of real CPU here; the check runs in virtual time, so the
    reference still passes and a wrong answer gets the same hint."""
    import time

    def slowed(make):
        def maker(kit):
            handle = make(kit)

            async def slow(url):
                began = time.perf_counter()
                while time.perf_counter() - began < 0.005:
                    pass
                return await handle(url)
            return slow
        return maker

    assert check_crawler(slowed(make_handler)).passed
    assert check_crawler(slowed(answer(timeout="around"))).message == check_crawler(answer(timeout="around")).message
