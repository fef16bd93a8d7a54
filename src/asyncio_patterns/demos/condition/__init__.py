"""Lesson 05's demos: the stolen item (``if`` against ``while``), the thundering herd of
``notify_all``, and a producer and consumer through a Condition-built buffer and a Queue."""

from .handoff import handoff_demo, handoff_rate
from .wakeups import StolenItemResult, herd_demo, herd_theory, stolen_item_demo

__all__ = ["StolenItemResult", "handoff_demo", "handoff_rate", "herd_demo", "herd_theory", "stolen_item_demo"]
