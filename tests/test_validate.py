import re

import pytest

from asyncio_patterns.lab.validate import nonempty_list, seconds, whole_number


def test_whole_numbers_pass_through():
    assert whole_number("tasks", 3) == 3
    assert whole_number("locks", 2, minimum=2) == 2


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3", None])
def test_anything_else_names_the_argument_and_the_rule(value):
    with pytest.raises(ValueError, match=rf"^tasks must be a whole number >= 1, got {value!r}$"):
        whole_number("tasks", value)


def test_seconds_may_be_zero_unless_positive_is_asked_for():
    assert seconds("delay", 0) == 0.0 and isinstance(seconds("delay", 1), float)
    with pytest.raises(ValueError, match=r"^timeout must be a number of seconds > 0, got 0$"):
        seconds("timeout", 0, positive=True)


@pytest.mark.parametrize("value", [-0.1, "1", None, False, float("nan")])
def test_bad_seconds_say_what_to_pass(value):
    with pytest.raises(ValueError, match=r"^delay must be a number of seconds >= 0, got "):
        seconds("delay", value)


def test_nonempty_list_takes_any_iterable_once():
    assert nonempty_list("sizes", (n for n in (1, 4)), "sizes, e.g. [1, 4]") == [1, 4]


@pytest.mark.parametrize("value", [[], "14", 3, None])
def test_an_empty_or_wrong_list_says_what_to_pass(value):
    with pytest.raises(ValueError, match="^" + re.escape(f"sizes must be a non-empty list of sizes, e.g. [1, 4], got {value!r}") + "$"):
        nonempty_list("sizes", value, "sizes, e.g. [1, 4]")


def test_a_positive_number_refuses_zero():
    from asyncio_patterns.lab.validate import number

    assert number("per_second", 0.5, positive=True) == 0.5
    with pytest.raises(ValueError, match=r"^per_second must be a number > 0, got 0$"):
        number("per_second", 0, positive=True)
    with pytest.raises(ValueError, match=r"^share must be a number > 0 and <= 1, got 0$"):
        number("share", 0, high=1, positive=True)
