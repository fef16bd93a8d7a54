"""Lesson 05's demos: the stolen item (``if`` against ``while``), the thundering herd of
``notify_all``, a notification lost to a cancellation, and a producer and consumer through a
Condition-built buffer and a Queue."""

from .handoff import handoff_demo, handoff_rate
from .wakeups import (CancelledNotifyResult, StolenItemResult, cancelled_notify_demo, herd_demo, herd_theory,
                      stolen_item_demo)

__all__ = ["CancelledNotifyResult", "StolenItemResult", "cancelled_notify_demo", "handoff_demo", "handoff_rate",
           "herd_demo", "herd_theory", "stolen_item_demo"]
