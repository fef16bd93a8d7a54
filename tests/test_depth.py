import asyncio

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns import run_virtual  # noqa: E402
from asyncio_patterns.lab.depth import DepthQueue, depth_plot  # noqa: E402


async def fast_producer_slow_consumer(queue, n=5):
    async def consumer():
        while True:
            await queue.get()
            await asyncio.sleep(1)
            queue.task_done()

    worker = asyncio.create_task(consumer())
    for i in range(n):
        await queue.put(i)
    await queue.join()
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)


def test_every_put_and_get_is_sampled_with_the_loop_time():
    queue = DepthQueue(2)
    run_virtual(fast_producer_slow_consumer(queue))
    assert queue.samples[:4] == [(0.0, 1), (0.0, 2), (0.0, 1), (0.0, 2)]
    assert queue.samples[-1] == (4.0, 0)
    assert len(queue.samples) == 10 and queue.max_depth == 2


def test_unbounded_queue_holds_the_whole_backlog():
    queue = DepthQueue()
    run_virtual(fast_producer_slow_consumer(queue, n=6))
    assert queue.max_depth == 6  # the consumer had not run yet when the last item went in


def test_items_put_outside_a_loop_are_not_sampled_but_still_queued():
    queue = DepthQueue()
    queue.put_nowait("early")
    assert queue.samples == [] and queue.max_depth == 0

    async def take():
        return await queue.get()

    assert run_virtual(take()) == "early"
    assert queue.samples == [(0.0, 0)]


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_bad_maxsize_says_what_to_change(bad):
    with pytest.raises(ValueError, match=rf"^maxsize must be a whole number >= 0, got {bad!r}$"):
        DepthQueue(bad)


def test_depth_plot_draws_one_line_per_queue_without_zero_width_spikes():
    queue = DepthQueue(2)
    run_virtual(fast_producer_slow_consumer(queue))
    ax = depth_plot({"maxsize=2": queue}, title="t", theory=lambda t: 1.0, theory_label="flat")
    step, theory = ax.get_lines()
    times = list(step.get_xdata())
    assert times == sorted(set(times))  # one point per instant: a get and put at once draws no spike
    assert step.get_label() == "maxsize=2" and theory.get_linestyle() == "--"
    assert ax.get_title() == "t"
    plt.close("all")


def test_depth_plot_rejects_nothing_to_draw():
    with pytest.raises(ValueError, match="at least one queue"):
        depth_plot({}, title="t")
    with pytest.raises(ValueError, match="no samples for empty"):
        depth_plot({"empty": DepthQueue()}, title="t")


def test_depth_plot_until_extends_the_axis_and_holds_each_last_depth():
    queue = DepthQueue(2)
    run_virtual(fast_producer_slow_consumer(queue))  # last sample (4.0, 0)
    ax = depth_plot({"maxsize=2": queue}, title="t", theory=lambda t: 0.0, until=6.0)
    step, theory = ax.get_lines()
    assert list(step.get_xdata())[-2:] == [4.0, 6.0] and list(step.get_ydata())[-1] == 0
    assert ax.get_xlim() == (0.0, 6.0) and max(theory.get_xdata()) == 6.0
    plt.close("all")


@pytest.mark.parametrize("bad", [0, -1.0, "6"])
def test_depth_plot_until_must_be_positive_seconds(bad):
    queue = DepthQueue()
    run_virtual(fast_producer_slow_consumer(queue, n=1))
    with pytest.raises(ValueError, match="until must be a number of seconds > 0, got"):
        depth_plot({"q": queue}, title="t", until=bad)
    plt.close("all")


@pytest.mark.skipif(not hasattr(asyncio.Queue, "shutdown"), reason="Queue.shutdown() is new in Python 3.13")
def test_items_dropped_by_an_immediate_shutdown_are_sampled_too():
    queue = DepthQueue()

    async def fill_then_drop():
        for i in range(3):
            queue.put_nowait(i)
        queue.shutdown(immediate=True)

    run_virtual(fill_then_drop())
    assert [depth for _, depth in queue.samples] == [1, 2, 3, 2, 1, 0]
