"""Lesson 14's demos: programs that hang or stall, run in a process of their own and read from
outside (``python -m asyncio pstree``, a task dump on SIGUSR1, the sampling profiler's stack
dump), the warnings dangling tasks leave, the steps debug mode reports as slow, and the picture
of a hang: where every task waited beside the timeline of the same run."""

from .outside import Program, dangling_warnings, pstree, stack_dump, stuck_program, task_dump
from .slow import SlowStep, slow_steps

__all__ = ["Program", "SlowStep", "dangling_warnings", "pstree", "slow_steps", "stack_dump", "stuck_figure",
           "stuck_program", "task_dump"]


def __getattr__(name: str):
    if name == "stuck_figure":  # matplotlib takes most of a second to import
        from .figure import stuck_figure

        return stuck_figure
    raise AttributeError(name)
