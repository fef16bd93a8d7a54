import pytest

from asyncio_patterns.demos.condition import stolen_item_demo
from asyncio_patterns.demos.condition.panels import stolen_item_panel, stolen_item_title


def test_the_panel_starts_at_the_lessons_scenario():
    panel = stolen_item_panel()
    assert panel.values == {"consumers": 2, "use_while": False, "notify_all": False}
    assert stolen_item_title(stolen_item_demo()) == (
        "if: 1 woken consumer found the item taken and raised IndexError; 1 item left in the deque")


@pytest.mark.parametrize(("consumers", "title"), [
    (3, "if: 1 woken consumer found the item taken and raised IndexError; 1 item left in the deque"),
    (6, "if: 3 woken consumers found the item taken and raised IndexError; 3 items left in the deque"),
])
def test_with_if_each_waiting_consumer_loses_its_item_to_a_newcomer(consumers, title):
    result = stolen_item_demo(consumers=consumers)
    assert stolen_item_title(result) == title
    waiting = consumers // 2
    assert len(result.left) == waiting == result.empty_wakeups


@pytest.mark.parametrize(("consumers", "notify_all", "title"), [
    (2, False, "while: 1 wake-up found the deque empty and waited again; all 2 consumers got an item"),
    (5, False, "while: 3 wake-ups found the deque empty and waited again; all 5 consumers got an item"),
    (6, True, "while: 12 wake-ups found the deque empty and waited again; all 6 consumers got an item"),
])
def test_with_while_every_consumer_gets_an_item(consumers, notify_all, title):
    result = stolen_item_demo(use_while=True, consumers=consumers, notify_all=notify_all)
    assert stolen_item_title(result) == title
    assert result.left == ()
    assert sorted(result.outcomes.values()) == sorted(f"got item {n}" for n in range(1, consumers + 1))


@pytest.mark.parametrize("consumers", range(2, 9))
def test_empty_wake_ups_match_the_count(consumers):
    waiting, newcomers = consumers // 2, consumers - consumers // 2
    # notify(): one waiter per newcomer's round finds the deque empty. notify_all(): every
    # waiter in those rounds, then all but the one served in each of the last rounds.
    assert stolen_item_demo(use_while=True, consumers=consumers).empty_wakeups == newcomers
    assert (stolen_item_demo(use_while=True, consumers=consumers, notify_all=True).empty_wakeups
            == waiting * newcomers + waiting * (waiting - 1) // 2)


def test_bad_consumers_get_a_clear_message():
    with pytest.raises(ValueError, match=r"^consumers must be a whole number >= 2, got 1$"):
        stolen_item_demo(consumers=1)
