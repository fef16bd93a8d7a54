"""The capstone's crawler: its accounting, its stop, each switch, its config checks."""

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns import LabServer, run_real  # noqa: E402
from asyncio_patterns.demos.crawler import (SCENARIO, SWITCHES, CrawlConfig, breaker_bound, crawl,  # noqa: E402
                                            crawl_lab, dashboard, row, runs_plot, straggler_cut)

FULL = CrawlConfig()


@pytest.fixture(scope="module")
def runs():
    """One real crawl with every pattern on, one with each switched off, and two stopped mid-run."""
    async def all_runs():
        found = {"all": await crawl_lab(FULL)}
        for pattern in SWITCHES:
            found[pattern] = await crawl_lab(FULL.without(pattern), urls=60 if pattern != "graceful stop" else 30)
        found["stopped"] = await crawl_lab(CrawlConfig(stop_at=0.2))
        found["stopped abruptly"] = await crawl_lab(CrawlConfig(stop_at=0.2, graceful_stop=False))
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
    assert record.count("503") <= breaker_bound(FULL, SCENARIO["outages"][0])
    assert record.states[0][1] == "open" and record.states[-1][1] == "closed"


def test_a_graceful_stop_mid_run_loses_no_url(runs):
    record = runs["stopped"]
    assert record.lost == 0 and record.handed_back and accounted(record)
    assert record.wall < 0.5


def test_without_a_graceful_stop_urls_are_lost(runs):
    record = runs["stopped abruptly"]
    assert record.lost > 0 and not record.handed_back and accounted(record)


def test_each_switch_turns_its_pattern_off(runs):
    assert runs["rate"].server.rate_limited > 0
    assert not runs["breaker"].states and not runs["breaker"].rejected
    assert not runs["breaker"].count("503") <= breaker_bound(FULL, SCENARIO["outages"][0])
    assert not runs["retry"].retries and runs["retry"].failed
    assert runs["timeout"].slowest() > straggler_cut(FULL, 0.41) > runs["all"].slowest()
    assert runs["reuse"].server.connections_opened == runs["reuse"].server.requests
    assert 2 * runs["all"].server.connections_opened < runs["all"].server.requests
    # Without the graceful stop and with no stop coming, nothing is lost: every URL is done or
    # failed after its retries (on a slow machine a URL can spend its six tries on timeouts).
    unstopped = runs["graceful stop"]
    assert accounted(unstopped) and unstopped.lost == 0 and not unstopped.handed_back
    assert len(unstopped.done) + len(unstopped.failed) == 30 and unstopped.done


def test_the_row_and_the_plots(runs):
    cut = straggler_cut(FULL, 0.41)
    line = row("none", runs["all"], bound=breaker_bound(FULL, (0.3, 0.6)), cut=cut)
    assert line.cells() == ("none", "60", "0", "0", "0", "0", "<= 23", "reused", f"< {cut:.2f} s")
    assert row("stop", runs["stopped abruptly"], bound=23, cut=cut).lost == "> 0"
    dashboard(runs["all"], title="t")
    runs_plot(runs, title="t")
    plt.close("all")


def test_a_stop_before_the_first_request_hands_every_url_back():
    async def run():
        async with LabServer(latency=0.01) as server:
            return await crawl(server, ["/items/1", "/items/2"], CrawlConfig(stop_at=0.0, rate=1.0, burst=1))
    record = run_real(run())
    assert record.lost == 0 and len(record.done) + len(record.handed_back) == 2


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
])
def test_bad_config_says_what_to_change(change, message):
    with pytest.raises(ValueError) as raised:
        CrawlConfig(**change)
    assert str(raised.value) == message and "\n" not in message


def test_without_names_the_switches():
    assert FULL.without("rate").rate is None and FULL.without("retry").attempts == 1
    with pytest.raises(ValueError, match="pattern must be one of 'rate', 'breaker'"):
        FULL.without("cache")
