"""Lesson 09's demos: fake connections in virtual time, borrowers on a timeline, what a new
connection per request costs against the lab server, pool size against throughput and wait,
and aiohttp's own connection pool."""

from .fake import FakeConnection, FakeService
from .http import COST_MODES, CostRun, HttpConnection, QueueRun, connection_costs, connector_queue, pooled_run
from .sweep import cost_plot, little_throughput, little_wait, pool_sweep, queue_plot, sweep_with_real_point
from .watch import COLORS, STAGGERED, borrowers, pool_trace

__all__ = ["COLORS", "COST_MODES", "STAGGERED", "CostRun", "FakeConnection", "FakeService", "HttpConnection",
           "QueueRun", "borrowers", "connection_costs", "connector_queue", "cost_plot", "little_throughput",
           "little_wait", "pool_sweep", "pool_trace", "pooled_run", "queue_plot", "sweep_with_real_point"]
