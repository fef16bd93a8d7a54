"""The polite-fetch checker reads the lab server's counters; each limit left out is caught.

These run in real time against a real server on 127.0.0.1: about 1.5 s for each paced run.
"""

import asyncio
import json
import threading
import time
import urllib.request

import aiohttp
import pytest
from aiolimiter import AsyncLimiter

from asyncio_patterns import TokenBucket
from asyncio_patterns.exercises.polite_fetch import check_polite_fetch


async def get_json(session, url):
    async with session.get(url) as response:
        return await response.json()


async def reference(urls, max_in_flight, per_second):
    bucket, todo, documents = TokenBucket(per_second), iter(enumerate(urls)), [None] * len(urls)
    async with aiohttp.ClientSession() as session:
        async def worker():
            for i, url in todo:
                await bucket.acquire()
                documents[i] = await get_json(session, url)

        async with asyncio.TaskGroup() as group:
            for _ in range(max_in_flight):
                group.create_task(worker())
    return documents


async def semaphore_only(urls, max_in_flight, per_second):
    limit = asyncio.Semaphore(max_in_flight)
    async with aiohttp.ClientSession() as session:
        async def one(url):
            async with limit:
                return await get_json(session, url)

        return await asyncio.gather(*(one(url) for url in urls))


async def bucket_only(urls, max_in_flight, per_second):
    bucket = TokenBucket(per_second)
    async with aiohttp.ClientSession() as session:
        async def one(url):
            await bucket.acquire()
            return await get_json(session, url)

        return await asyncio.gather(*(one(url) for url in urls))


async def bursty_limiter(urls, max_in_flight, per_second):
    limit, limiter = asyncio.Semaphore(max_in_flight), AsyncLimiter(per_second, 1)
    async with aiohttp.ClientSession() as session:
        async def one(url):
            async with limit, limiter:
                return await get_json(session, url)

        return await asyncio.gather(*(one(url) for url in urls))


async def session_per_request(urls, max_in_flight, per_second):
    limit, bucket = asyncio.Semaphore(max_in_flight), TokenBucket(per_second)

    async def one(url):
        async with limit:
            await bucket.acquire()
            async with aiohttp.ClientSession() as session:
                return await get_json(session, url)

    return await asyncio.gather(*(one(url) for url in urls))


async def reversed_order(urls, max_in_flight, per_second):
    return list(reversed(await reference(urls, max_in_flight, per_second)))


async def stub(urls, max_in_flight, per_second):
    ...


def check_threads():
    return [t for t in threading.enumerate() if t.name in ("lab server", "check_polite_fetch: fetch_all")]


def test_reference_passes():
    verdict = check_polite_fetch(reference)
    assert verdict.passed, verdict.message
    assert verdict.message == ("all 200 URLs fetched once each and in order; the server never saw more "
                               "than 8 in flight, nor more than 150 arrive in any second.")
    assert check_threads() == []  # the server's thread and the learner's both ended


def server_for(fetch_all) -> dict:
    """The checker's server for a wrong answer. With the default server a semaphore alone sends
    about 190 requests a second, close enough to the 150 allowed that a slow or loaded machine
    can stay under it (seen once in a CI rehearsal); a server four times as fast lets it send
    about 800, so the answers that do not pace their starts are caught however slow the client."""
    return {"latency": 0.002, "jitter": 0.008} if fetch_all in (semaphore_only, bursty_limiter) else {}


@pytest.mark.parametrize("fetch_all, hint", [
    (semaphore_only, "but at most 150 are allowed in any second: pace the start of every request"),
    (bursty_limiter, "with one shared limiter that begins empty, such as TokenBucket(150)"),
    (session_per_request, "connections for 200 requests"),
    (reversed_order, "not in the order of urls"),
    (stub, "fetch_all() returned None"),
], ids=lambda p: getattr(p, "__name__", "hint"))
def test_each_missing_limit_or_mistake_fails_with_a_hint(fetch_all, hint):
    verdict = check_polite_fetch(fetch_all, **server_for(fetch_all))
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_a_rate_limiter_alone_lets_requests_pile_up_in_flight():
    # With the default jitter the pile-up peaks at about 10 in flight, close enough to 8 that a
    # loaded machine, which sends fewer requests a second, can stay under it; a longer tail cannot.
    verdict = check_polite_fetch(bucket_only, jitter=0.1)
    assert not verdict.passed
    assert "requests in flight at once, but at most 8 are allowed" in verdict.message, verdict.message


def test_a_hang_becomes_a_verdict():
    async def hangs(urls, max_in_flight, per_second):
        await asyncio.Event().wait()

    verdict = check_polite_fetch(hangs, timeout=0.2)
    assert not verdict.passed and "did not finish within 0.2 s" in verdict.message


FROZEN_HINT = "the event loop froze for over 1 s at `"
SHARED_SESSION_HINT = "`await session.get(url)` on one shared aiohttp.ClientSession"


def test_a_blocking_http_client_is_answered_and_named():
    async def blocking(urls, max_in_flight, per_second):
        documents = []
        for url in urls:
            with urllib.request.urlopen(url) as response:  # no timeout: blocks the loop until answered
                documents.append(json.load(response))
        return documents

    began = time.monotonic()
    verdict = check_polite_fetch(blocking)
    assert time.monotonic() - began < 5
    assert not verdict.passed
    line = "with urllib.request.urlopen(url) as response:  # no timeout: blocks the loop until answered"
    assert f"{FROZEN_HINT}{line}` while the server received" in verdict.message, verdict.message
    assert "a blocking HTTP call stops every task" in verdict.message and SHARED_SESSION_HINT in verdict.message
    assert check_threads() == []  # once the server stopped, the blocked client failed and ended


@pytest.mark.parametrize("block", ["sleep", "spin", "count"])
def test_a_loop_frozen_for_good_ends_in_a_verdict_well_before_the_timeout(block):
    # a loop that never awaits is named by its first line, wherever in its body it was
    release = threading.Event()

    async def frozen(urls, max_in_flight, per_second):
        if block == "sleep":
            release.wait()  # time.sleep(1e9), but the test can end it
        elif block == "spin":
            while not release.is_set():  # a loop that never awaits
                pass
        else:
            count = 0
            while not release.is_set():  # a loop that never awaits
                count += 1
                count %= 7

    began = time.monotonic()
    try:
        verdict = check_polite_fetch(frozen, timeout=60)
    finally:
        release.set()
    assert time.monotonic() - began < 10
    line = "release.wait()  # time.sleep(1e9), but the test can end it" if block == "sleep" else "while not release.is_set():  # a loop that never awaits"
    assert not verdict.passed, verdict.message
    assert verdict.message.startswith(f"the event loop froze for over 1 s at `{line}`, before any request "
                                      "reached the server: a blocking call"), verdict.message
    for thread in check_threads():
        thread.join(5)


def test_code_that_swallows_the_timeout_still_ends_in_a_verdict():
    release = threading.Event()

    async def stubborn(urls, max_in_flight, per_second):
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass

    began = time.monotonic()
    try:
        verdict = check_polite_fetch(stubborn, timeout=0.2)
    finally:
        release.set()
    assert time.monotonic() - began < 10
    assert not verdict.passed and "did not finish within 0.2 s" in verdict.message, verdict.message
    for thread in check_threads():
        thread.join(5)


def test_a_plain_function_or_a_coroutine_is_refused():
    assert "not a coroutine: define it with `async def" in check_polite_fetch(lambda *args: []).message
    assert "not a coroutine made by calling it" in check_polite_fetch(stub([], 1, 1)).message


@pytest.mark.parametrize("kwargs, message", [
    ({"urls": 0}, "urls must be a whole number >= 1, got 0"),
    ({"max_in_flight": 1.5}, "max_in_flight must be a whole number >= 1, got 1.5"),
    ({"per_second": 0}, "per_second must be a number > 0, got 0"),
    ({"urls": 100, "per_second": 150}, "urls must be more than per_second"),
])
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_polite_fetch(reference, **kwargs)


def test_the_hints_are_short():
    for fetch_all in (semaphore_only, bursty_limiter):
        message = check_polite_fetch(fetch_all, **server_for(fetch_all)).message
        assert len(message) < 200 and message.count(":") == 1, message


def test_ctrl_c_while_checking_stops_both_loops(ctrl_c_raises):
    import os
    import signal

    async def slow(urls, max_in_flight, per_second):
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            await asyncio.sleep(20)
        finally:
            timer.cancel()

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        check_polite_fetch(slow)
    assert time.monotonic() - began < 5
    assert check_threads() == []


def test_a_typo_inside_a_task_group_is_named_not_its_group():
    async def typo(urls, max_in_flight, per_second):
        async def one(url):
            return await get_json(sesion, url)  # a NameError in a task of the group

        async with asyncio.TaskGroup() as group:
            group.create_task(one(urls[0]))
        return []

    verdict = check_polite_fetch(typo)
    assert not verdict.passed
    assert verdict.message == ("fetch_all() raised NameError: name 'sesion' is not defined "
                               "(the server received 0 requests)"), verdict.message
