import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asyncio_patterns.lab.arrivals import rate_over_time, rate_panels, rate_plot  # noqa: E402


def test_counts_per_window_as_a_rate():
    starts, rates = rate_over_time([0.0, 0.05, 0.1, 0.25], width=0.1)
    assert starts == pytest.approx([0.0, 0.1, 0.2])
    assert rates == pytest.approx([20.0, 10.0, 10.0])


def test_an_event_on_an_edge_belongs_to_the_window_it_opens():
    _, rates = rate_over_time([0.1 * 3], width=0.1, start=0.0, end=0.4)  # 0.30000000000000004
    assert rates == pytest.approx([0, 0, 0, 10.0])


def test_events_outside_the_range_are_not_counted():
    starts, rates = rate_over_time([-1.0, 0.5, 5.0], width=1.0, start=0.0, end=2.0)
    assert starts == [0.0, 1.0] and rates == [1.0, 0.0]


def test_no_events_gives_one_empty_window():
    assert rate_over_time([], width=0.5) == ([0.0], [0.0])


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 0}, "width must be a number of seconds > 0, got 0"),
    ({"width": "0.1"}, "width must be a number of seconds > 0, got '0.1'"),
    ({"start": 2.0, "end": 1.0}, "end must not be before start"),
])
def test_bad_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rate_over_time([0.0], **kwargs)


@pytest.mark.parametrize("times", [0.5, "0.5"], ids=["float", "str"])
def test_times_must_be_a_list(times):
    with pytest.raises(ValueError, match=r"times must be a list of event times in seconds, e\.g\. \[0\.0, 0\.05, 0\.1\]"):
        rate_over_time(times)


def test_rate_plot_draws_each_series_and_the_limit_dashed():
    ax = rate_plot({"a": [0.0, 0.1, 0.2], "b": [0.0, 1.0]}, width=0.5, limit=4, title="t")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "rate limit"]
    assert lines[-1].get_linestyle() == "--"
    assert max(lines[0].get_ydata()) == 6.0  # three starts in the first 0.5 s window
    plt.close("all")


@pytest.mark.parametrize("plot", [rate_plot, rate_panels])
def test_rate_plots_need_a_series(plot):
    with pytest.raises(ValueError, match="at least one series"):
        plot({}, title="t")
    assert plt.get_fignums() == [], "an error must not leave an empty figure behind"


def test_rate_panels_draw_each_series_in_its_own_panel_on_one_clock():
    """Two series at the same rate would hide each other on one axes; here each has a panel,
    with its own colour and the limit, and both count from the first event of either."""
    panels = rate_panels({"a": [1.0, 1.5], "b": [2.0, 2.5]}, width=0.5, limit=2, limit_label="2/s", title="t")
    assert len(panels) == 2 and panels[0].get_shared_x_axes().joined(panels[0], panels[1])
    (a, limit_a), (b, limit_b) = (panel.get_lines() for panel in panels)
    assert [a.get_label(), b.get_label(), limit_b.get_label()] == ["a", "b", "2/s"]
    assert a.get_color() != b.get_color() and limit_a.get_linestyle() == "--"
    assert a.get_xdata()[0] == 0 and max(a.get_ydata()) == 2.0  # a's first start at t = 0
    assert list(b.get_ydata()[:2]) == [0.0, 0.0]  # b starts 1 s after a: the same clock
    assert panels[0].figure.get_suptitle() == "t"
    plt.close("all")
