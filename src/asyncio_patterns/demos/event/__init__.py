"""Lesson 03's demos: polling against an Event, a Barrier's rounds, an Event as a repeating
pulse, setting an Event from another thread or a signal handler, and the launch of workers
that wait for a start signal or poll for it (the live panel's)."""

from .start import StartResult, start_demo
from .threads import SIGNAL_MODES, WakeResult, signal_set_demo, thread_set_demo
from .waiting import BarrierResult, PulseResult, barrier_demo, polling_latency, polling_plot, pulse_demo

__all__ = ["SIGNAL_MODES", "BarrierResult", "PulseResult", "StartResult", "WakeResult", "barrier_demo", "polling_latency",
           "polling_plot", "pulse_demo", "signal_set_demo", "start_demo", "thread_set_demo"]
