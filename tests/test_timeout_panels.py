import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.timeout import ExpTail, timeout_sweep
from asyncio_patterns.demos.timeout.panels import timeout_figure, timeout_panel, timeout_title


def test_the_panel_starts_at_the_lessons_scenario():
    panel = timeout_panel()
    assert panel.values == {"timeout_ms": 200, "jitter_ms": 60, "requests": 1000}
    assert list(panel.choices["timeout_ms"]) == [20 * k for k in range(1, 21)]  # the lesson's sweep


@pytest.mark.parametrize(("timeout", "jitter", "n", "title"), [
    (0.2, 0.06, 1000, "Timeout 200 ms: 95.3% of 1000 requests answered (theory 95.0%), "
                      "76.5 ms per request (theory 77.0 ms)"),
    (0.04, 0.12, 100, "Timeout 40 ms: 7.0% of 100 requests answered (theory 15.4%), "
                      "39.2 ms per request (theory 38.4 ms)"),
])
def test_the_title_is_the_runs_point_beside_theory(timeout, jitter, n, title):
    tail = ExpTail(0.02, jitter)
    point, = timeout_sweep([timeout], latency=0.02, jitter=jitter, n=n)
    assert timeout_title(point, tail) == title


def test_the_point_is_the_one_in_the_lessons_sweep():
    sweep = timeout_sweep([0.02 * k for k in range(1, 21)], latency=0.02, jitter=0.06, n=1000)
    alone, = timeout_sweep([0.2], latency=0.02, jitter=0.06, n=1000)
    # the same seeded requests for every timeout (the virtual clock's sums differ in the last digit)
    assert (sweep[9].timeout, sweep[9].succeeded) == (alone.timeout, alone.succeeded) == (0.2, 953)
    assert sweep[9].mean_time == pytest.approx(alone.mean_time, abs=1e-12)


def test_the_theory_spans_every_timeout_the_slider_offers():
    fig = timeout_figure(timeout_ms=20)
    success = fig.axes[0].get_lines()[1]  # measured point, then the theory
    assert success.get_xdata()[-1] == pytest.approx(400)
    plt.close(fig)


def test_the_largest_timeout_is_drawn_whole():
    fig = timeout_figure(timeout_ms=400)
    limits = [ax.get_xlim() for ax in fig.axes]
    plt.close(fig)
    # a marker at 400 ms is about 10 pixels wide: the axis goes past it, not to it
    assert all(left == 0 and right > 400 * 1.03 for left, right in limits), limits
