import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns import Deadlock
from asyncio_patterns.demos.event.waiting import (PROCESSING, barrier_demo, polling_latency, polling_plot,
                                        pulse_demo)


def test_a_set_clear_pulse_is_lost_while_the_consumer_is_busy():
    result = pulse_demo(signals=4, interval=0.1, work=0.15, consumer_clears=False)
    assert (result.wakeups, result.last_update_seen) == (2, 3)
    assert result.trace.marks[-1].name == "gave up after 0.5 s"


def test_when_the_consumer_clears_no_update_is_lost():
    result = pulse_demo(signals=4, interval=0.1, work=0.15, consumer_clears=True)
    assert result.last_update_seen == 4
    assert result.trace.total(PROCESSING) == pytest.approx(0.15 * result.wakeups)


def test_pulse_demo_is_the_same_every_run():
    assert len({repr(pulse_demo()) for _ in range(20)}) == 1


def test_barrier_releases_every_round_when_the_last_party_arrives():
    result = barrier_demo(parties=3, rounds=2)
    assert set(result.outcomes.values()) == {"finished 2 rounds"}
    trips = [m.time for m in result.trace.marks]
    assert trips == pytest.approx([0.3, 0.65])
    working = sorted({round(s.start, 9) for s in result.trace.spans if s.name == "working"})
    assert working == pytest.approx([0.3, 0.65])


def test_a_party_that_never_arrives_strands_the_rest_unless_it_aborts():
    # The message names every waiting task for what it does, no internal coroutine name.
    with pytest.raises(Deadlock, match=r"3 task\(s\) waiting \(coordinator, party 0, party 1\)"):
        barrier_demo(parties=3, fail=True, abort=False)
    result = barrier_demo(parties=3, fail=True, abort=True)
    assert result.outcomes["party 2"] == "crashed while preparing"
    assert result.outcomes["party 0"].startswith("BrokenBarrierError")


def test_polling_is_half_an_interval_late_and_event_wait_is_not():
    (event_delay, event_checks), (poll_delay, poll_checks) = polling_latency([0, 0.1], trials=400)
    assert event_delay == pytest.approx(0, abs=1e-9) and event_checks == 0
    assert poll_delay == pytest.approx(0.05, abs=0.01)
    assert poll_checks == pytest.approx(0.5 / 0.1 + 0.5, abs=0.5)
    assert polling_latency([0.05], trials=50) == polling_latency([0.05], trials=50)


def test_polling_plot_draws_theory_dashed():
    intervals = [0, 0.01, 0.1]
    left, right = polling_plot(intervals, polling_latency(intervals, trials=20), title="t")
    assert "--" in [line.get_linestyle() for line in left.get_lines()]
    plt.close(left.figure)


def test_polling_plot_shows_event_wait_above_the_axis_and_plain_tick_labels():
    intervals = [0, 0.01, 0.02, 0.05, 0.1, 0.2]
    left, right = polling_plot(intervals, polling_latency(intervals, trials=20), title="t")
    wait = {line.get_label(): line for line in left.get_lines()}["event.wait(): measured"]
    assert list(wait.get_ydata()) == pytest.approx([0, 0], abs=1e-9)
    assert left.get_ylim()[0] < 0, "the line at 0 ms clears the x axis"
    left.figure.canvas.draw()
    shown = [t.get_text() for ax in (left, right) for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_ticklabels(which="both") if t.get_text()]
    assert not any("times" in text or "^" in text for text in shown), shown
    assert [t.get_text() for t in left.get_xticklabels()] == ["10", "20", "50", "100", "200"]
    plt.close(left.figure)


@pytest.mark.parametrize("call, message", [
    (lambda: pulse_demo(signals=0), "signals must be a whole number >= 1, got 0"),
    (lambda: pulse_demo(work=-1), "work must be a number of seconds >= 0, got -1"),
    (lambda: barrier_demo(parties=0), "parties must be a whole number >= 1, got 0"),
    (lambda: polling_latency([-0.1]), "interval must be a number of seconds >= 0, got -0.1"),
    (lambda: polling_latency(0.1), r"intervals must be a non-empty list of seconds, e\.g\. \[0\.01, 0\.1\], got 0\.1"),
    (lambda: polling_latency([]), r"intervals must be a non-empty list of seconds, e\.g\. \[0\.01, 0\.1\], got \[\]"),
    (lambda: polling_plot([], [], title="t"), "intervals must be a non-empty list of seconds"),
    (lambda: polling_plot([0.1], [], title="t"), "need one result per interval, got 0 for 1"),
])
def test_bad_knobs_get_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
