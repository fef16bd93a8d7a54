"""Argument checks shared by the helpers: a bad value raises ``ValueError`` with one line
that names the argument, says what it must be and shows what was given."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["nonempty_list", "number", "seconds", "whole_number"]


def whole_number(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an ``int`` (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def seconds(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a float if it is a number of seconds >= 0 (> 0 with ``positive=True``)."""
    bound = "> 0" if positive else ">= 0"
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not (value > 0 if positive else value >= 0)):
        raise ValueError(f"{name} must be a number of seconds {bound}, got {value!r}")
    return float(value)


def number(name: str, value: object, *, low: float = 0.0, high: float = math.inf, positive: bool = False) -> float:
    """``value`` if it is a number (not a bool) between ``low`` and ``high``, inclusive;
    with ``positive=True`` it must also be above 0 (a rate, say)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high
            or (positive and not value > 0)):
        if positive and low <= 0:
            span = "> 0" if high == math.inf else f"> 0 and <= {high:g}"
        else:
            span = f">= {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise ValueError(f"{name} must be a number {span}, got {value!r}")
    return value


def nonempty_list(name: str, value: object, of: str) -> list:
    """``value`` as a list if it is a non-empty iterable other than a string.

    ``of`` describes the items with an example, e.g. ``"seconds, e.g. [0.01, 0.1]"``.
    """
    items = None if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) else list(value)
    if not items:
        raise ValueError(f"{name} must be a non-empty list of {of}, got {value!r}")
    return items
