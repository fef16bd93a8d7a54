"""Lesson 00's demos: one blocking call freezes every task on the loop, in virtual time."""

from .blocking import BEAT_EVERY, BlockingResult, blocking_demo, hold_the_loop

__all__ = ["BEAT_EVERY", "BlockingResult", "blocking_demo", "hold_the_loop"]
