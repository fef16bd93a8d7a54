"""Lesson 06's demos: clients retrying through an outage, traced, and the thundering herd
of optimistic-concurrency writes to one row under five backoff strategies."""

from .herd import (STRATEGIES, Conflict, HerdRun, HerdSummary, herd, herd_calls_plot, herd_load_plot,
                   herd_savings, herd_summary, herd_table, no_backoff_calls)
from .watch import COLORS, Unavailable, outage_trace

__all__ = ["COLORS", "STRATEGIES", "Conflict", "HerdRun", "HerdSummary", "Unavailable", "herd", "herd_calls_plot",
           "herd_load_plot", "herd_savings", "herd_summary", "herd_table", "no_backoff_calls", "outage_trace"]
