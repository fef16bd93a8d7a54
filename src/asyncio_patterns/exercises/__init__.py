"""Automatic checks for the lessons' exercises, one module per exercise.

A check never raises for a wrong answer: it returns a :class:`Verdict` that says what is
wrong and hints at the fix, so a notebook cell can end with ``check_...(your_code)``.
Checks run the learner's code under a timeout, so a hang becomes a verdict too.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

__all__ = ["Verdict", "not_a_function"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``passed`` and a message (a hint when not passed)."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("Correct: " if self.passed else "Not yet: ") + self.message


def not_a_function(given: object, call: str) -> Verdict:
    """The verdict for passing something other than a function, e.g. ``check_x(x())``."""
    if inspect.iscoroutine(given):
        given.close()  # never to be run: closing it avoids a "never awaited" warning
        return Verdict(False, f"pass your function itself, {call}, not a coroutine made by calling it")
    return Verdict(False, f"pass your function itself, {call}, not a {type(given).__name__}")
