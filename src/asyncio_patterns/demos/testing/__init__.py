"""Lesson 13's demos: small buggy shapes and their scenarios for the fault harness (``shapes``),
every pattern's promise as a scenario (``scenarios``, also the bench's table 6), and a pytest
suite run from a notebook on three clocks (``suite``)."""

from .shapes import SHAPES, Connection, Connections, Workers, counter_race

__all__ = ["SHAPES", "Connection", "Connections", "Workers", "counter_race"]
