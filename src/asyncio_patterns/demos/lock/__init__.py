"""Lesson 04's demos: the lost-update race (tasks and threads), lock contention, the
hand-over race of ``wait_for(lock.acquire())``, and the two-lock deadlock."""

from .contention import ContentionSweep, contention_plot, contention_sweep, contention_theory
from .deadlock import DeadlockResult, deadlock_demo
from .handover import HandoverResult, handover_race
from .race import RaceResult, ThreadRaceResult, first_lanes, race_demo, thread_race

__all__ = ["ContentionSweep", "DeadlockResult", "HandoverResult", "RaceResult", "ThreadRaceResult",
           "contention_plot", "contention_sweep", "contention_theory", "deadlock_demo", "first_lanes",
           "handover_race", "race_demo", "thread_race"]
