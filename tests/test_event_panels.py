import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.event.panels import start_figure
from asyncio_patterns.demos.event.start import start_demo


def rounded(times):
    return [round(t, 6) for t in times]


def test_with_start_wait_every_worker_starts_at_the_set():
    result = start_demo(workers=5, setup=0.3)
    assert rounded(result.arrived) == [0.05, 0.1, 0.15, 0.2, 0.25]
    assert rounded(result.started) == [0.3] * 5
    assert (result.checks, result.passed_through) == (0, 0)


def test_a_poller_starts_at_its_first_check_after_the_set():
    result = start_demo(workers=5, setup=0.3, poll=0.07)
    # worker i checks at 0.05 (i + 1) + 0.07 k: the first check at or after 0.3
    assert rounded(result.started) == [0.33, 0.31, 0.36, 0.34, 0.32]
    assert result.checks == 4 + 3 + 3 + 2 + 1
    assert all(late <= 0.07 for late in result.late)
    assert repr(result) == ("5 workers, polling every 70 ms: started up to 60 ms after start.set(), "
                            "13 checks found the flag down")


def test_workers_that_arrive_after_the_set_do_not_wait():
    result = start_demo(workers=8, setup=0.3, poll=0.07)
    assert result.passed_through == 2  # workers 6 and 7; worker 5 arrives with the set
    assert rounded(result.started[5:]) == [0.3, 0.35, 0.4]


@pytest.mark.parametrize(("knobs", "title"), [
    ({}, "start.wait(): every waiting worker starts the instant start.set() is called"),
    ({"poll_ms": 200}, "Polling every 200 ms: up to 150 ms late, 6 checks in vain"),
    ({"poll_ms": 15}, "Polling every 15 ms: up to 10 ms late, 52 checks in vain"),
    ({"workers": 8}, "start.wait(): every waiting worker starts the instant start.set() is called; "
                     "2 arrive after set() and pass straight through"),
    ({"setup": 0.1}, "start.wait(): every waiting worker starts the instant start.set() is called; "
                     "3 arrive after set() and pass straight through"),
])
def test_the_panel_title_says_when_the_workers_start(knobs, title):
    fig = start_figure(**knobs)
    assert fig.axes[0].get_title() == title
    plt.close(fig)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(workers=0), "workers must be a whole number >= 1, got 0"),
    (dict(setup=-1), "setup must be a number of seconds >= 0, got -1"),
    (dict(poll=-0.1), "poll must be a number of seconds >= 0, got -0.1"),
])
def test_bad_arguments_get_one_line_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        start_demo(**kwargs)
    assert str(error.value) == message
