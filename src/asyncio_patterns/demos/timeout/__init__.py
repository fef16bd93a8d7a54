"""Lesson 07's demos: per-task deadlines in a batch, what a timeout does to the work it
abandons, and where to set a timeout (and when to hedge) from a measured latency."""

from .abandon import BatchResult, SwallowResult, batch_demo, swallow_demo
from .hedging import HedgeRun, hedge_plot, hedge_run, hedge_sweep, hedge_sweep_plot, hedged_quantile, hedged_survival
from .latency import ExpTail, StalledTail, TimeoutPoint, cdf_plot, real_latencies, real_timeout_points, timeout_plot, timeout_sweep

__all__ = ["BatchResult", "ExpTail", "HedgeRun", "StalledTail", "SwallowResult", "TimeoutPoint", "batch_demo", "cdf_plot",
           "hedge_plot", "hedge_run", "hedge_sweep", "hedge_sweep_plot", "hedged_quantile", "hedged_survival",
           "real_latencies", "real_timeout_points", "swallow_demo", "timeout_plot", "timeout_sweep"]
