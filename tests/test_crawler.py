"""The capstone's crawler: its accounting, its three stops, each switch, its config checks."""

import asyncio
import contextlib
import inspect
import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns import LabServer, run_real  # noqa: E402
from asyncio_patterns.demos.crawler import (SCENARIO, SWITCHES, CrawlConfig, crawl, crawl_lab,  # noqa: E402
                                            dashboard, early_503s, late_503s, make_handler, row, runs_plot,
                                            straggler_cut, trial_bound, what_held)

from asyncio_patterns.demos.crawler import reference  # noqa: E402

FULL = CrawlConfig()
NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "12_capstone_resilient_crawler.ipynb"
OUTAGE = SCENARIO["outages"][0]


@pytest.fixture(scope="module")
def runs():
    """One real crawl with every pattern on, one with each switched off, and one per kind of stop."""
    async def all_runs():
        found = {"all": await crawl_lab(FULL)}
        for pattern in SWITCHES:
            found[pattern] = await crawl_lab(FULL.without(pattern))
        for stop in ("drain", "cancel", "abandon"):
            found[stop] = await crawl_lab(CrawlConfig(stop_at=0.8, stop=stop), urls=90)
        return found
    return run_real(all_runs())


def accounted(record):
    return len(record.done) + len(record.failed) + len(record.handed_back) + record.lost == len(record.urls)


def test_every_url_ends_done_with_every_pattern_on(runs):
    record = runs["all"]
    assert (len(record.done), len(record.failed), len(record.handed_back), record.lost) == (60, 0, 0, 0)
    assert str(record) == "60 URLs: 60 done, 0 failed after retries, 0 handed back, 0 lost"
    assert record.server.rate_limited == 0  # no window saw more than the server's limit
    assert record.max_in_flight() <= FULL.workers and record.server.max_in_flight <= FULL.workers
    assert record.states[0][1] == "open" and record.states[-1][1] == "closed"
    assert OUTAGE[0] <= record.opened_at() < OUTAGE[1]


def test_after_the_breaker_opened_only_its_trials_meet_the_outage(runs):
    record = runs["all"]
    opened = record.opened_at()
    trials = [r for r in record.requests if r.start > opened and r.start < OUTAGE[1]]
    assert late_503s(record) <= trial_bound(FULL, OUTAGE) == 2
    assert len(trials) <= trial_bound(FULL, OUTAGE) + 1  # the trial after the outage closes it
    assert sum(r.outcome == "503" for r in record.requests if r.start <= opened) >= FULL.failure_threshold


def test_what_held_prints_bounds_that_hold(runs):
    assert what_held(runs["all"], OUTAGE) == [
        "requests in flight at once, crawler and server: <= 16",
        "429s: 0",
        "the breaker opened in the outage: yes; at the end it was closed",
        "failures (503s, timeouts) before it opened: >= 5",
        "requests sent while it was open: 0",
        "503s to requests sent after it opened: <= 2",
    ]
    assert early_503s(runs["all"]) + late_503s(runs["all"]) <= runs["all"].count("503")
    assert early_503s(runs["breaker"]) == runs["breaker"].count("503")


def test_a_drain_throws_no_answer_away_and_hands_back_the_rest(runs):
    record = runs["drain"]
    assert record.lost == 0 and record.handed_back and accounted(record)
    assert record.stopped_at >= OUTAGE[1]  # the stop comes after the outage
    assert record.thrown_away == 0 and record.count("cut") == 0
    assert not [r for r in record.requests if r.start > record.stopped_at]  # the intake closed at the stop
    assert record.wall < record.stopped_at + FULL.grace  # it moved on once no request was in flight


def test_cancelling_at_once_throws_answers_away_but_loses_no_url(runs):
    record = runs["cancel"]
    assert record.lost == 0 and record.handed_back and accounted(record)
    assert record.thrown_away > 0 and record.count("cut") >= record.thrown_away


def test_abandoning_the_workers_loses_urls(runs):
    record = runs["abandon"]
    assert record.lost > 0 and not record.handed_back and accounted(record)
    assert record.thrown_away > 0


def test_each_switch_turns_its_pattern_off(runs):
    assert runs["rate"].server.rate_limited > 0
    assert not runs["breaker"].states and not runs["breaker"].rejected
    assert late_503s(runs["breaker"]) > trial_bound(FULL, OUTAGE)
    assert not runs["retry"].retries and runs["retry"].failed
    assert runs["timeout"].slowest() > straggler_cut(FULL, 0.41) > runs["all"].slowest()
    assert runs["reuse"].server.connections_opened == runs["reuse"].server.requests
    assert 2 * runs["all"].server.connections_opened < runs["all"].server.requests
    for pattern in SWITCHES:
        assert runs[pattern].thrown_away == 0 and runs[pattern].lost == 0 and accounted(runs[pattern])


def test_the_row_and_the_plots(runs):
    cut = straggler_cut(FULL, 0.41)
    line = row("none", runs["all"], bound=2, cut=cut)
    assert line.cells() == ("none", "60", "0", "0", "0", "0", "0", "<= 2", "reused", f"< {cut:.2f} s")
    assert row("stop", runs["abandon"], bound=2, cut=cut).lost == "> 0"
    assert row("stop", runs["cancel"], bound=2, cut=cut).thrown_away == "> 0"
    dashboard(runs["all"], title="t")
    runs_plot(runs, title="t")
    plt.close("all")


def test_a_stop_before_the_first_request_hands_every_url_back():
    async def run():
        async with LabServer(latency=0.01) as server:
            return await crawl(server, ["/items/1", "/items/2"], CrawlConfig(stop_at=0.0, rate=1.0, burst=1))
    record = run_real(run())
    assert record.lost == 0 and len(record.done) + len(record.handed_back) == 2


def test_a_404_fails_after_one_request():
    async def run():
        async with LabServer(latency=0.01) as server:
            return await crawl(server, ["/items/1", "/nothing/here"], CrawlConfig())
    record = run_real(run())
    assert record.done == [record.urls[0]] and [url for url, _ in record.failed] == [record.urls[1]]
    assert sorted(r.outcome for r in record.requests) == ["404", "ok"]  # the 404 was not retried


def test_the_notebooks_reference_is_the_packages():
    source = Path(inspect.getsourcefile(reference)).read_text()
    reference_code = source[source.index("class ServerError"):].rstrip()
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    hidden = ["".join(c["source"]) for c in cells if c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert [cell.rstrip() for cell in hidden] == [reference_code]


def test_the_learners_handler_is_the_one_that_runs():
    made = []

    def handler(kit):
        made.append(kit)
        inner = make_handler(kit)

        async def handle(url):
            await asyncio.sleep(0)
            return await inner(url)
        return handle

    async def run():
        async with LabServer(latency=0.01) as server:
            return await crawl(server, ["/items/1"], CrawlConfig(), handler)
    record = run_real(run())
    assert len(made) == 1 and made[0].timeout == FULL.timeout and len(record.done) == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"workers": 0}, "workers must be a whole number >= 1, got 0"),
    ({"rate": 0}, "rate must be a number > 0, got 0"),
    ({"burst": 1.5}, "burst must be a whole number >= 1, got 1.5"),
    ({"timeout": 0}, "timeout must be a number of seconds > 0, got 0"),
    ({"attempts": 0}, "attempts must be a whole number >= 1, got 0"),
    ({"base": 0.2, "cap": 0.1}, "cap must be a number of seconds >= base (0.2), got 0.1"),
    ({"reset_timeout": -1}, "reset_timeout must be a number of seconds > 0, got -1"),
    ({"deadline": 0}, "deadline must be a number of seconds > 0, got 0"),
    ({"stop_at": -1}, "stop_at must be a number of seconds >= 0, got -1"),
    ({"stop": "graceful"}, "stop must be one of 'drain', 'cancel', 'abandon', got 'graceful'"),
    ({"grace": -0.1}, "grace must be a number of seconds >= 0, got -0.1"),
])
def test_bad_config_says_what_to_change(change, message):
    with pytest.raises(ValueError) as raised:
        CrawlConfig(**change)
    assert str(raised.value) == message and "\n" not in message


def test_without_names_the_switches():
    assert FULL.without("rate").rate is None and FULL.without("retry").attempts == 1
    with pytest.raises(ValueError, match="pattern must be one of 'rate', 'breaker'"):
        FULL.without("cache")


def stopped_in_virtual_time(stop):
    """Four slow pages (1 s each) on two workers, a stop at 1.5 s: the second pair is in flight."""
    from asyncio_patterns.demos.crawler import CrawlRecord, RecordingSession, run_crawl
    from asyncio_patterns.exercises.crawler import Action, ScriptedServer
    from asyncio_patterns.lab.clock import run_virtual

    config = CrawlConfig(workers=2, rate=None, timeout=2.0, stop_at=1.5, stop=stop, grace=3.0)

    async def run():
        loop = asyncio.get_running_loop()
        server = ScriptedServer(lambda path, n, now: Action(200, 1.0))
        record = CrawlRecord(config, [f"/items/{i}" for i in range(6)])
        session = lambda s: RecordingSession(lambda: contextlib.nullcontext(server), record, loop.time, s)  # noqa: E731
        await run_crawl(make_handler, record, config, session, loop.time)
        return record, server, loop.time()
    return run_virtual(run())


def test_a_drain_lets_the_requests_in_flight_end_and_sends_no_new_one():
    record, server, ended = stopped_in_virtual_time("drain")
    assert record.done == ["/items/0", "/items/1", "/items/2", "/items/3"]  # the pair in flight at the stop ended
    assert record.handed_back == ["/items/4", "/items/5"] and not record.failed and record.lost == 0
    assert len(server.served) == 4 and not any(s.cut for s in server.served) and ended == 2.0


def test_cancelling_at_once_cuts_the_requests_in_flight_and_hands_their_urls_back():
    record, server, ended = stopped_in_virtual_time("cancel")
    assert record.done == ["/items/0", "/items/1"] and sorted(record.handed_back) == [f"/items/{i}" for i in (2, 3, 4, 5)]
    assert [s.path for s in server.served if s.cut] == ["/items/2", "/items/3"] and ended == 1.5


def test_abandoning_the_workers_loses_the_urls_in_flight_and_queued():
    record, server, ended = stopped_in_virtual_time("abandon")
    assert record.done == ["/items/0", "/items/1"] and not record.handed_back and record.lost == 4
    assert [s.path for s in server.served if s.cut] == ["/items/2", "/items/3"]
