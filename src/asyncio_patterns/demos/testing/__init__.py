"""Lesson 13's demos: small buggy shapes for the fault harness, and the same suite timed three ways."""

from .shapes import SCENARIOS, Connection, Connections, Workers, counter_race

__all__ = ["SCENARIOS", "Connection", "Connections", "Workers", "counter_race"]
