"""The pieces the course's console scripts share (``asyncio-labserver``, ``asyncio-jobservice``):
a parser whose errors are one line with exit status 2, and numbers checked against a range.

    parser = Parser(prog="asyncio-labserver", description="...")
    parser.add_argument("--port", type=number_type(0, 65535, int), default=8080)

A bad option prints ``asyncio-labserver: error: argument --port: must be between 0 and
65535, got 70000 (see --help)`` on stderr, and nothing else.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["Parser", "number_type"]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, without the usage block, exit status 2,
    and whose help is plain text on every Python (3.14's argparse colours it where the
    environment asks for colour, as a Jupyter kernel's ``FORCE_COLOR`` does for its children)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if sys.version_info >= (3, 14):
            kwargs.setdefault("color", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def number_type(low: float, high: float = math.inf, kind: type = float, *,
                infinite: bool = False) -> Callable[[str], float]:
    """An argparse ``type=``: the text as ``kind`` (float or int), between ``low`` and ``high``;
    ``inf`` only with ``infinite=True`` (a number of seconds that is infinite waits for ever)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
        span = f">= {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        if math.isinf(value) and not infinite and low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a finite number {span}, got {text}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {span}, got {text}")
        return value

    return parse
