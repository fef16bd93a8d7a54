"""Steps that held the event loop too long, as asyncio's debug mode reports them: run a
coroutine on a fresh loop in debug mode and collect the "Executing ... took ... seconds"
warnings that the loop logs for every step slower than ``slow_callback_duration``."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from ...lab.clock import run_real
from ...lab.stuck import shorten
from ...lab.validate import seconds

__all__ = ["SlowStep", "slow_steps"]


@dataclass(frozen=True)
class SlowStep:
    """One step of a task that held the loop ``took`` real seconds; ``then`` is where the task
    was when the step ended (the await it reached next, or "done")."""

    task: str
    took: float
    then: str

    def __str__(self) -> str:
        return f"{self.task}: one step held the loop for {self.took * 1000:.0f} ms of real time, then {self.then}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.steps: list[SlowStep] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not str(record.msg).startswith("Executing") or len(record.args or ()) != 2:
            return
        handle, took = record.args
        handle = shorten(str(handle))
        name = re.search(r"name='([^']*)'", handle)
        where = re.search(r"running at ([\w.]+:\d+)", handle)
        self.steps.append(SlowStep(name[1] if name else handle[:60], float(took),
                                   f"waited at {where[1]}" if where else "finished"))


async def _in_debug_mode(main: Coroutine[Any, Any, Any], threshold: float) -> Any:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    return await main


def slow_steps(main: Coroutine[Any, Any, Any], *, threshold: float = 0.1) -> list[SlowStep]:
    """Run ``main`` in real time, in debug mode, and return each step slower than
    ``threshold`` seconds, in the order they happened. ``main``'s result is not kept."""
    try:
        threshold = seconds("threshold", threshold)
    except ValueError:
        main.close()  # it will never run; closing it avoids a "never awaited" warning
        raise
    logger = logging.getLogger("asyncio")
    collect, propagate = _Collect(), logger.propagate
    logger.addHandler(collect)
    logger.propagate = False  # the warnings are collected here, not printed
    try:
        run_real(_in_debug_mode(main, threshold))
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    return collect.steps
