import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from asyncio_patterns.demos.lock.contention import contention_plot, contention_sweep, contention_theory


def test_theory_is_littles_law_capped_by_the_locks():
    assert contention_theory(1, critical=0.005, outside=0.02) == pytest.approx(40)
    assert contention_theory(64, critical=0.005, outside=0.02) == pytest.approx(200)
    assert contention_theory(64, critical=0.005, outside=0.02, locks=8) == pytest.approx(1600)
    assert contention_theory(4, critical=0, outside=0.02) == pytest.approx(200)


def test_measured_throughput_follows_theory_and_never_beats_it():
    sweep = contention_sweep([1, 2, 4, 8, 16, 64], critical=0.005)
    for measured, bound in zip(sweep.throughputs, sweep.theory()):
        assert measured <= bound * 1.0001
        assert measured >= bound * 0.9
    assert round(sweep.throughputs[-1]) == 196


def test_finer_locks_lift_the_cap():
    coarse = contention_sweep([32], critical=0.005, locks=1)
    fine = contention_sweep([32], critical=0.005, locks=8)
    assert fine.throughputs[0] > 5 * coarse.throughputs[0]


def test_a_sweep_is_the_same_every_run():
    assert repr(contention_sweep([2, 8], critical=0.01)) == repr(contention_sweep([2, 8], critical=0.01))


def test_bad_input_gets_a_clear_message():
    for tasks in ([], 8, "8"):
        with pytest.raises(ValueError, match=r"tasks must be a non-empty list of whole numbers, e\.g\. \[1, 2, 4, 8\]"):
            contention_sweep(tasks, critical=0.01)
    assert contention_sweep(range(1, 3), critical=0.01).tasks == (1, 2)
    with pytest.raises(ValueError, match="tasks must be a whole number >= 1, got 0"):
        contention_sweep([0], critical=0.01)
    with pytest.raises(ValueError, match="critical must be"):
        contention_sweep([1], critical=-0.01)
    with pytest.raises(ValueError, match="sweeps is empty"):
        contention_plot({}, title="x")


def test_plot_draws_one_measured_and_one_dashed_line_per_sweep():
    ax = contention_plot({"one": contention_sweep([1, 4], critical=0.01)}, title="t")
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert styles == ["-", "--"]
    plt.close(ax.figure)
