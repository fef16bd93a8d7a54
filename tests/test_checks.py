import pytest

from asyncio_patterns.checks import seconds, whole_number


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
