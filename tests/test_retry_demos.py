"""Lesson 06's demos: the traced outage and the thundering-herd simulation."""

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns.demos.retry import (STRATEGIES, herd, herd_calls_plot, herd_load_plot,  # noqa: E402
                                          herd_savings, herd_summary, herd_table, no_backoff_calls, outage_trace)


def test_outage_trace_without_jitter_keeps_the_clients_in_step():
    trace = outage_trace("none", clients=4, outage=0.5, base=0.05)
    assert trace.lanes() == [f"client {i}" for i in range(4)]
    starts = {lane: [s.start for s in trace.spans if s.lane == lane and s.name != "waiting"] for lane in trace.lanes()}
    assert len({tuple(v) for v in starts.values()}) == 1  # every client calls at the same instants
    assert starts["client 0"] == pytest.approx([0.0, 0.06, 0.17, 0.38, 0.79])  # waits 0.05, 0.1, 0.2, 0.4
    ok = [s for s in trace.spans if s.name == "call ok"]
    assert len(ok) == 4 and all(s.start >= 0.5 for s in ok)


def test_outage_trace_with_jitter_spreads_the_clients():
    trace = outage_trace("full", clients=4)
    second_calls = {[s.start for s in trace.spans if s.lane == lane and s.name != "waiting"][1] for lane in trace.lanes()}
    assert len(second_calls) == 4
    assert outage_trace("full", clients=4).spans == trace.spans  # seeded: the same every run


def test_herd_every_client_writes_once_and_the_last_write_of_each_succeeds():
    run = herd("full jitter", clients=20, seed=3)
    assert run.calls >= 20 and run.collisions == run.calls - 20
    assert list(run.writes) == sorted(run.writes) and run.finished > run.writes[-1]
    assert herd("full jitter", clients=20, seed=3) == run


def test_one_client_never_collides():
    for strategy in STRATEGIES:
        assert herd(strategy, clients=1).calls == 1


def test_jitter_halves_the_writes_of_a_herd_and_stays_under_the_lock_step_bound():
    summaries = herd_summary(list(STRATEGIES), [30], seeds=3)
    calls = {s: summaries[s, 30].calls for s in STRATEGIES}
    assert calls["no backoff"] <= no_backoff_calls(30)
    assert calls["exponential"] <= no_backoff_calls(30)
    for jittered in ("full jitter", "equal jitter", "decorrelated jitter"):
        assert calls[jittered] < 0.75 * calls["no backoff"]
        assert calls[jittered] < 0.75 * calls["exponential"]
    assert summaries["exponential", 30].finished > 3 * summaries["full jitter", 30].finished
    table = herd_table(summaries, 30)
    assert table.splitlines()[0].split()[:2] == ["strategy", "writes"] and "(3 seeded runs each, 30 clients)" in table


def test_herd_savings_are_computed_from_the_means_and_name_the_fewest():
    summaries = herd_summary(["no backoff", "exponential", "full jitter"], [5, 10], seeds=2)
    lines = herd_savings(summaries).splitlines()
    assert lines[0].split()[-4:] == ["5", "clients", "10", "clients"]
    for line, strategy in zip(lines[1:3], ["exponential", "full jitter"]):
        saved = [round(1 - summaries[strategy, n].calls / summaries["no backoff", n].calls, 2) or 0.0 for n in (5, 10)]
        assert line.split()[-2:] == [f"{share:.0%}" for share in saved]
    fewest = min(summaries, key=lambda key: (key[1], summaries[key].calls))
    assert lines[3].startswith(f"fewest writes: 5 clients, {fewest[0]} ({summaries[fewest].calls:.0f});")
    with pytest.raises(ValueError, match="baseline must be one of the summarised strategies"):
        herd_savings(summaries, baseline="decorrelated jitter")


def test_no_backoff_calls_is_the_round_by_round_sum():
    assert no_backoff_calls(1) == 1 and no_backoff_calls(4) == 4 + 3 + 2 + 1 and no_backoff_calls(50) == 1275


def test_bad_arguments_say_what_to_change():
    with pytest.raises(ValueError, match="strategy must be one of 'no backoff'"):
        herd("linear")
    with pytest.raises(ValueError, match="clients must be a whole number >= 1"):
        herd("full jitter", clients=0)


def test_plots_draw():
    runs = [herd(s, clients=10) for s in ("no backoff", "full jitter")]
    axes = herd_load_plot(runs, title="t")
    assert len(axes) == 2
    left, right = herd_calls_plot(herd_summary(["full jitter"], [5, 10], seeds=2), title="t")
    assert left.get_ylabel().startswith("writes")
    plt.close("all")
