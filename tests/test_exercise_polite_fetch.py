"""The polite-fetch checker reads what the lab server saw; each limit left out is caught,
with the same verdict on a loaded machine as on an idle one.

These run in real time against a real server on 127.0.0.1: about 2 s for each paced run.
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


async def one_at_a_time(urls, max_in_flight, per_second):
    bucket, documents = TokenBucket(per_second), []
    async with aiohttp.ClientSession() as session:
        for url in urls:
            await bucket.acquire()
            documents.append(await get_json(session, url))
    return documents


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


WRONG = [
    (semaphore_only, "where at most 150 are allowed in any second: pace the start of every request"),
    (bursty_limiter, "with one shared limiter that begins empty, such as TokenBucket(150)"),
    (bucket_only, "requests in flight at once, but at most 8 are allowed: hold an asyncio.Semaphore(8)"),
    (one_at_a_time, "they were made one at a time. Start each as a task"),
    (session_per_request, "connections for 200 requests"),
    (reversed_order, "not in the order of urls"),
    (stub, "fetch_all() returned None"),
]


@pytest.mark.parametrize("fetch_all, hint", WRONG, ids=lambda p: getattr(p, "__name__", "hint"))
def test_each_missing_limit_or_mistake_fails_with_a_hint(fetch_all, hint):
    quicker = {"slow": 10} if fetch_all is one_at_a_time else {}  # 40 slow ones take 8 s one at a time
    verdict = check_polite_fetch(fetch_all, **quicker)
    assert not verdict.passed
    assert hint in verdict.message, verdict.message


def test_the_arrivals_are_counted_in_any_one_second_not_only_whole_seconds():
    from asyncio_patterns.exercises.polite_fetch import _busiest_second

    # 100 arrivals late in second 0 and 100 early in second 1: 100 in each whole second,
    # 200 within one second
    arrivals = [0.9 + i / 1000 for i in range(100)] + [1.0 + i / 1000 for i in range(100)]
    assert _busiest_second(arrivals) == (200, 0.9)
    assert _busiest_second([i * 0.0067 for i in range(300)])[0] == 150  # paced: 150 in any second
    assert _busiest_second([]) == (0, 0.0)


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
    ({"urls": 190, "per_second": 150}, r"urls - slow must be more than per_second \+ 1 \(151\), got 150"),
    ({"slow": 0}, "slow must be a whole number >= 1, got 0"),
    ({"latency": 0}, "latency must be a number of seconds > 0, got 0"),
])
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_polite_fetch(reference, **kwargs)


def test_the_hints_are_short():
    for fetch_all in (semaphore_only, bursty_limiter, one_at_a_time):
        message = check_polite_fetch(fetch_all, slow=10).message
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
