import sys

import pytest

from asyncio_patterns.demos.condition.wakeups import (POP_EMPTY, RECHECK, cancelled_notify_demo, herd_demo,
                                                      herd_theory, stolen_item_demo)


def test_with_if_the_woken_consumer_finds_the_item_stolen():
    result = stolen_item_demo(use_while=False)
    assert result.outcomes == {"consumer A": "IndexError: pop from an empty deque", "consumer B": "got item 1"}
    marks = [(m.lane, m.name, round(m.time, 9)) for m in result.trace.marks]
    assert marks == [("producer", "notify()", 0.15), ("consumer A", POP_EMPTY, 0.16), ("producer", "notify()", 0.35)]


def test_with_while_the_woken_consumer_waits_for_the_next_item():
    result = stolen_item_demo(use_while=True)
    assert result.outcomes == {"consumer A": "got item 2", "consumer B": "got item 1"}
    rechecks = [round(m.time, 9) for m in result.trace.marks if m.name == RECHECK]
    assert rechecks == [0.16, 0.35]  # finds the deque empty, then item 2


def test_a_notify_to_a_waiter_cancelled_in_the_same_step_on_this_python():
    result = cancelled_notify_demo()
    assert result.other_woke == (sys.version_info >= (3, 13))  # gh-112202, fixed in 3.13
    assert repr(result).startswith(f"asyncio.Condition on Python {sys.version_info[0]}.{sys.version_info[1]}: ")


def test_stolen_item_demo_is_the_same_every_run():
    assert len({(repr(r), tuple(r.trace.spans)) for r in (stolen_item_demo() for _ in range(20))}) == 1


@pytest.mark.parametrize("n", [1, 2, 5, 16, 40])
def test_wakeups_match_theory(n):
    assert herd_demo(n, notify_all=False) == herd_theory(n, False) == n
    assert herd_demo(n, notify_all=True) == herd_theory(n, True) == n * (n + 1) // 2


def test_bad_waiters_get_a_clear_message():
    with pytest.raises(ValueError, match="waiters must be a whole number >= 1, got 0"):
        herd_demo(0)
