"""Lesson 11's demos: the tutorial breaker's three defects, clients calling a real lab
server through an outage with and without a breaker, and when a count-based and a
rate-based breaker trip."""

from .naive import ClockDemo, NaiveBreaker, clock_demo, half_open_stampede, rejected_coroutines
from .outage import OUTCOME_COLORS, STATE_COLORS, OutageRun, load_plot, load_theory, outage_run, outage_timeline
from .trips import (PATTERNS, TripRun, burst, first_trip, random_failures, steady, trip_probability, trip_run,
                    trip_share, trips_plot)

__all__ = ["OUTCOME_COLORS", "PATTERNS", "STATE_COLORS", "ClockDemo", "NaiveBreaker", "OutageRun", "TripRun",
           "burst", "clock_demo", "first_trip", "half_open_stampede", "load_plot", "load_theory", "outage_run",
           "outage_timeline", "random_failures", "rejected_coroutines", "steady", "trip_probability", "trip_run",
           "trip_share", "trips_plot"]
