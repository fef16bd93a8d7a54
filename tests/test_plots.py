"""timeline and sweep_plot draw what their docstrings say, from real virtual-time runs.

- timeline: one lane per task in order of first activity, top to bottom; one bar per span,
  in its lane, at its time counted from the first event; one colour per span name
  (``colors`` overrides it) and each name once in the legend; marks as dashed vertical
  lines; the unit on the x axis; the title;
- sweep_plot: measured throughput (left) and p50/p95 latency in ms (right), units in the
  axis labels, theory lines dashed with a label each, a log x axis only when asked and
  labelled 1, 2, 4 (not 2^0), the title;
- bad input raises a ValueError saying what to change, and leaves no figure behind.
"""

import asyncio

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgba

from asyncio_patterns import Trace, run_virtual, sweep, sweep_plot, timeline

matplotlib.use("Agg")  # draw in memory: no window, no display needed

LEVELS = [1, 2, 4]
START = 5.0  # the traced run starts late, so timelines must count from the first event


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def trace() -> Trace:
    """Two workers that each wait, then work, twice; "slow" is started first."""
    trace = Trace()

    async def worker(wait):
        for _ in range(2):
            with trace.span("waiting"):
                await asyncio.sleep(wait)
            with trace.span("working"):
                await asyncio.sleep(1)
        trace.mark("done")

    async def main():
        await asyncio.sleep(START)
        async with asyncio.TaskGroup() as group:
            group.create_task(worker(2), name="slow")
            group.create_task(worker(1), name="fast")

    run_virtual(main())
    return trace


@pytest.fixture(scope="module")
def results():
    """A sweep over LEVELS of 8 jobs: every fourth job takes 0.3 s, the others 0.1 s."""

    async def job(n):
        await asyncio.sleep(0.3 if n % 4 == 0 else 0.1)

    return run_virtual(sweep(job, LEVELS, jobs=8))


def lane_labels(ax) -> list[str]:
    return [label.get_text() for label in ax.get_yticklabels()]


def bars(ax) -> dict[tuple[str, float, float], tuple[float, ...]]:
    """{(lane, x, width): RGBA colour} for every bar drawn."""
    lanes = lane_labels(ax)
    found = {}
    for collection in ax.collections:
        for path in collection.get_paths():
            (x0, y0), (x1, y1) = path.get_extents().get_points()
            lane = lanes[round((y0 + y1) / 2)]
            bar = lane, round(x0, 9), round(x1 - x0, 9)
            assert bar not in found, f"two bars drawn for {bar}"
            found[bar] = tuple(collection.get_facecolor()[0])
    return found


def lines_by_label(ax) -> dict[str, plt.Line2D]:
    return {line.get_label(): line for line in ax.get_lines()}


# timeline


def test_timeline_has_one_lane_per_task_in_order_of_first_activity(trace):
    ax = timeline(trace, title="The slow worker waits longer")
    assert lane_labels(ax) == ["slow", "fast"]  # not alphabetical, not in order of finishing
    assert ax.yaxis_inverted(), "the first lane is drawn on top"
    assert ax.get_title() == "The slow worker waits longer"


def test_timeline_draws_each_span_in_its_lane_from_the_first_event(trace):
    ax = timeline(trace, title="t")
    # (lane, start, duration) in seconds after the first event at t=START
    expected = {
        ("slow", 0, 2), ("slow", 2, 1), ("slow", 3, 2), ("slow", 5, 1),
        ("fast", 0, 1), ("fast", 1, 1), ("fast", 2, 1), ("fast", 3, 1),
    }
    assert set(bars(ax)) == expected
    assert len(bars(ax)) == len(trace.spans) == len(expected)
    assert len(ax.collections) == len(trace.names()), "one collection per span name (fast to draw)"
    assert ax.get_xlabel() == "time (s)"


def test_timeline_in_milliseconds_scales_bars_marks_and_label(trace):
    ax = timeline(trace, title="t", unit="ms")
    assert ("slow", 3000, 2000) in bars(ax)
    assert sorted(line.get_xdata()[0] for line in ax.get_lines()) == [4000, 6000]
    assert ax.get_xlabel() == "time (ms)"


def test_timeline_colours_every_span_of_a_name_alike(trace):
    ax = timeline(trace, title="t", colors={"working": "tab:red"})
    name_at = {(s.lane, s.start - START, s.duration): s.name for s in trace.spans}
    colours: dict[str, set] = {}
    for key, colour in bars(ax).items():
        colours.setdefault(name_at[key], set()).add(colour)
    assert {name: len(found) for name, found in colours.items()} == {"waiting": 1, "working": 1}
    assert colours["working"] == {to_rgba("tab:red")}
    assert colours["waiting"] != colours["working"]

    legend = ax.get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["waiting", "working", "done"], "every span name once, then the marks"
    patches = dict(zip(labels, legend.legend_handles))
    for name in ("waiting", "working"):
        assert {tuple(patches[name].get_facecolor())} == colours[name]


def test_timeline_draws_marks_as_dashed_vertical_lines(trace):
    ax = timeline(trace, title="t")
    marks = ax.get_lines()
    assert sorted(line.get_xdata()[0] for line in marks) == [4, 6]  # fast, then slow, is done
    assert all(line.get_xdata()[0] == line.get_xdata()[1] for line in marks), "vertical"
    assert {line.get_linestyle() for line in marks} == {"--"}


def test_timeline_draws_on_the_axes_it_is_given(trace):
    _, given = plt.subplots()
    assert timeline(trace, title="t", ax=given) is given
    assert len(plt.get_fignums()) == 1 and len(bars(given)) == len(trace.spans)


# sweep_plot


def test_sweep_plot_draws_measured_throughput_and_latency(results):
    left, right = sweep_plot(LEVELS, results, xlabel="concurrency", title="More workers, more throughput")
    measured = lines_by_label(left)["measured"]
    assert list(measured.get_xdata()) == LEVELS
    assert list(measured.get_ydata()) == pytest.approx([r.throughput for r in results])
    assert list(measured.get_ydata()) == sorted(measured.get_ydata()), "throughput grows with concurrency"
    latency = lines_by_label(right)
    assert list(latency["p50"].get_ydata()) == pytest.approx([100, 100, 100])  # milliseconds
    assert list(latency["p95"].get_ydata()) == pytest.approx([300, 300, 300])
    assert left.figure.get_suptitle() == "More workers, more throughput"


def test_sweep_plot_labels_carry_units(results):
    left, right = sweep_plot(LEVELS, results, xlabel="concurrency", title="t")
    assert "jobs/s" in left.get_ylabel() and "(ms)" in right.get_ylabel()
    assert left.get_xlabel() == right.get_xlabel() == "concurrency"


def test_sweep_plot_draws_theory_dashed(results):
    left, right = sweep_plot(
        LEVELS, results, xlabel="c", title="t",
        theory=lambda c: c / 0.1, theory_label="c / 0.1 s",
        latency_theory=[0.1, 0.1, 0.1], latency_theory_label="0.1 s per job",
    )
    throughput_theory, latency_theory = lines_by_label(left)["c / 0.1 s"], lines_by_label(right)["0.1 s per job"]
    assert list(throughput_theory.get_ydata()) == pytest.approx([10, 20, 40])
    assert list(latency_theory.get_ydata()) == pytest.approx([100, 100, 100])  # seconds drawn as ms
    assert throughput_theory.get_linestyle() == latency_theory.get_linestyle() == "--"
    assert lines_by_label(left)["measured"].get_linestyle() == "-"


def test_sweep_plot_uses_a_log_x_axis_only_when_asked(results):
    assert {ax.get_xscale() for ax in sweep_plot(LEVELS, results, xlabel="c", title="t")} == {"linear"}
    assert {ax.get_xscale() for ax in sweep_plot(LEVELS, results, xlabel="c", title="t", logx=True)} == {"log"}


def test_sweep_plot_labels_latency_theory_apart_from_throughput_theory(results):
    """The latency line is not labelled with the throughput formula; without its own label it says "theory"."""
    left, right = sweep_plot(LEVELS, results, xlabel="c", title="t", theory=[10, 20, 40],
                             theory_label="c / 0.1 s", latency_theory=[0.1, 0.1, 0.1])
    assert "c / 0.1 s" in lines_by_label(left) and "c / 0.1 s" not in lines_by_label(right)
    assert "theory" in lines_by_label(right)
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["p50", "p95", "theory"]


def test_sweep_plot_log_axis_reads_in_plain_numbers(results):
    left, right = sweep_plot(LEVELS, results, xlabel="c", title="t", logx=True)
    left.figure.canvas.draw()
    for ax in (left, right):
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert {"1", "2", "4"} <= set(shown), shown
        assert not any("^" in text or "{" in text for text in shown), shown


# bad input

BAD_CALLS = {
    "empty trace": (lambda trace, results: timeline(Trace(), title="t"), "trace is empty: record spans"),
    "unknown unit": (lambda trace, results: timeline(trace, title="t", unit="us"), r"unit must be one of \['ms', 's'\], got 'us'"),
    "fewer results than xs": (
        lambda trace, results: sweep_plot(LEVELS, results[:2], xlabel="c", title="t"),
        "need one measurement per x value, got 2 for 3",
    ),
    "no xs": (lambda trace, results: sweep_plot([], [], xlabel="c", title="t"), "nothing to plot: pass at least one x value"),
    "x = 0 on a log axis": (
        lambda trace, results: sweep_plot([0, 1, 2], results, xlabel="c", title="t", logx=True),
        r"logx needs every x value > 0, got 0; drop that point or use logx=False",
    ),
    "theory of the wrong length": (
        lambda trace, results: sweep_plot(LEVELS, results, xlabel="c", title="t", theory=[1, 2]),
        "theory has 2 values for 3 x values",
    ),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_says_what_to_change_and_leaves_no_figure(case, trace, results):
    call, message = BAD_CALLS[case]
    with pytest.raises(ValueError, match=message):
        call(trace, results)
    assert plt.get_fignums() == [], "an error must not leave an empty figure behind"


def test_timeline_takes_the_trace_own_colours_and_an_argument_wins(trace):
    trace.colors["waiting"] = "tab:grey"
    name_at = {(s.lane, s.start - START, s.duration): s.name for s in trace.spans}

    def colours_of(ax):
        return {name_at[key]: colour for key, colour in bars(ax).items()}

    assert colours_of(timeline(trace, title="t"))["waiting"] == to_rgba("tab:grey")
    assert colours_of(timeline(trace, title="t", colors={"waiting": "tab:red"}))["waiting"] == to_rgba("tab:red")
