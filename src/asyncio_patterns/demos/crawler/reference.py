"""The reference handler: the crawler's decisions, made as the capstone explains them.

Which answers are errors: a 429 is :class:`RateLimited` (carrying its ``Retry-After``), a
5xx :class:`ServerError`, another 4xx aiohttp's ``ClientResponseError`` (the request itself
is wrong: sending it again gets the same answer). What is retried: a 5xx, a 429 (waiting
at least its ``Retry-After``), a timeout, a connection error; never another 4xx. What the
breaker counts: a 5xx, a timeout, a connection error; not a 429 ("slower", not "down"). The
order, from the outside in: retry, then a token (before the breaker, so that a call it
admits is sent at once), then the breaker, then the timeout (inside the breaker, so a
request that hangs is a failure it counts), then the request. A rejection by the breaker
is not the URL's failure: the handler waits until a trial may go and starts again.
"""

from __future__ import annotations

import asyncio

import aiohttp

from ...patterns.breaker import CircuitOpen

__all__ = ["BREAKER_FAILURES", "RETRIED", "RateLimited", "ServerError", "check_status", "make_handler"]


class ServerError(Exception):
    """A 5xx answer: the server failed (500) or is down (503)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class RateLimited(Exception):
    """A 429 answer; ``retry_after`` is its ``Retry-After`` header, in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"HTTP 429, Retry-After: {retry_after:g}")
        self.retry_after = retry_after


def check_status(response: aiohttp.ClientResponse) -> str:
    """"ok" for a 2xx; raises RateLimited for a 429, ServerError for a 5xx, and aiohttp's
    ClientResponseError for another 4xx."""
    if response.status == 429:
        raise RateLimited(float(response.headers.get("Retry-After", "1")))
    if response.status >= 500:
        raise ServerError(response.status)
    response.raise_for_status()
    return "ok"


# aiohttp.ClientResponseError (a 404) is an aiohttp.ClientError too: name the connection errors only.
RETRIED = (ServerError, RateLimited, aiohttp.ClientConnectionError, TimeoutError)
BREAKER_FAILURES = (ServerError, aiohttp.ClientConnectionError, TimeoutError)


def make_handler(kit):
    breaker = kit.breaker(failures=BREAKER_FAILURES)

    async def attempt(url):
        async with asyncio.timeout(kit.timeout), kit.session.get(url) as response:
            await response.read()
            return check_status(response)

    async def guarded(url):
        await kit.bucket.acquire()  # every attempt takes a token, before the breaker
        return await breaker.call(attempt, url)

    fetch = kit.retry(on=RETRIED, retry_after=lambda error: getattr(error, "retry_after", None))(guarded)

    async def handle(url):
        while True:
            try:
                return await fetch(url)
            except CircuitOpen as refused:  # not the URL's failure: wait for a trial, start again
                await asyncio.sleep(refused.retry_after or kit.config.reset_timeout)

    return handle
