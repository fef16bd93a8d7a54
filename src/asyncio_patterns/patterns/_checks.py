"""The argument checks the patterns share: a bad value raises ``ValueError`` with one line that
names the argument, says what it must be and shows what was given.

Standard library only, like every pattern: copying a pattern into a project means copying this
small file beside it. (The lab bench has its own, ``lab/validate.py``, since the patterns import
nothing from the rest of the package.)
"""

from __future__ import annotations

__all__ = ["seconds", "whole_number"]


def whole_number(name: str, value: object, *, hint: str = "") -> int:
    """``value`` if it is an ``int`` (not a bool) of at least 1; ``hint`` follows the bound."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1{hint}, got {value!r}")
    return value


def seconds(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a float if it is a number of seconds >= 0 (> 0 with ``positive=True``)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not (value > 0 if positive else value >= 0)):
        raise ValueError(f"{name} must be a number of seconds {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)
