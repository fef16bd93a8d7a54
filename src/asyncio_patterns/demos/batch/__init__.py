"""Lesson 10's demos: chunked gather against a sliding window against a pool of workers on
long-tailed latencies (timelines and a sweep of the spread), and the memory and task count
of a task per item against ``bounded_map`` on a long async iterator."""

from .strategies import (COLORS, STRATEGIES, SpreadSweep, chunked_gather, chunked_theory, draw_latencies,
                         harmonic, semaphore_window, spread_plot, spread_sweep, strategy_trace, worker_pool)
from .stream import StreamCensus, numbered, stream_census, stream_plot, task_per_item

__all__ = ["COLORS", "STRATEGIES", "SpreadSweep", "StreamCensus", "chunked_gather", "chunked_theory",
           "draw_latencies", "harmonic", "numbered", "semaphore_window", "spread_plot", "spread_sweep",
           "stream_census", "stream_plot", "strategy_trace", "task_per_item", "worker_pool"]
