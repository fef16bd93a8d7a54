"""Lesson 01's demos: backpressure through a bounded queue, on a timeline and as queue depth."""

from .backpressure import BackpressureResult, backpressure_demo

__all__ = ["BackpressureResult", "backpressure_demo"]
