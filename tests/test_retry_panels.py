import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.retry import STRATEGIES, herd
from asyncio_patterns.demos.retry.panels import herd_figure, herd_panel, herd_title


def test_the_panel_starts_at_the_lessons_scenario():
    panel = herd_panel()
    assert panel.values == {"strategy": "exponential", "clients": 50, "seed": 0}
    assert list(panel.choices["strategy"]) == list(STRATEGIES)


@pytest.mark.parametrize(("strategy", "clients", "title"), [
    ("exponential", 50, "exponential, 50 clients: 612 writes for 50 updates (562 collided), all done at 35.63 s"),
    ("no backoff", 50, "no backoff, 50 clients: 702 writes for 50 updates (652 collided), all done at 1.09 s"),
    ("full jitter", 50, "full jitter, 50 clients: 370 writes for 50 updates (320 collided), all done at 3.75 s"),
])
def test_the_title_counts_the_run(strategy, clients, title):
    assert herd_title(herd(strategy, clients=clients)) == title


@pytest.mark.parametrize(("strategy", "shown"), [("exponential", 1.02 * 35.63), ("full jitter", 5.0)])
def test_the_picture_reaches_the_end_of_a_long_run(strategy, shown):
    fig = herd_figure(strategy)
    left, right = fig.axes[0].get_xlim()
    plt.close(fig)
    assert left == 0 and right == pytest.approx(shown, abs=0.01)
