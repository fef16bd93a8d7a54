"""Lesson 02's demos: requests through a semaphore, going in waves of ``limit``."""

from .slots import SlotsResult, slots_demo

__all__ = ["SlotsResult", "slots_demo"]
