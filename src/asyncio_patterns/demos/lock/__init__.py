"""Lesson 04's demos: the lost-update race (tasks and threads), lock contention, the
hand-over instant of an acquire run in a task of its own (``wait_for`` up to Python 3.11),
and the two-lock deadlock."""

from .contention import ContentionSweep, contention_plot, contention_sweep, contention_theory
from .deadlock import DeadlockResult, deadlock_demo
from .handover import HandoverResult, handover_race, in_own_task
from .race import RaceResult, ThreadRaceResult, first_lanes, race_demo, thread_race

__all__ = ["ContentionSweep", "DeadlockResult", "HandoverResult", "RaceResult", "ThreadRaceResult",
           "contention_plot", "contention_sweep", "contention_theory", "deadlock_demo", "first_lanes",
           "handover_race", "in_own_task", "race_demo", "thread_race"]
