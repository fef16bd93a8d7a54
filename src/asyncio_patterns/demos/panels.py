"""Every lesson's live panels, by notebook: what the instructors' guide lists, the tests
turn and ``make bench`` times. Each entry makes a fresh :class:`~asyncio_patterns.lab.panel.Panel`."""

from __future__ import annotations

from collections.abc import Callable

from ..lab.panel import Panel
from .lock.panels import deadlock_panel, race_panel

PANELS: dict[str, list[Callable[[], Panel]]] = {
    # 00_start_here
    # 01_queue_producer_consumer
    # 02_semaphore_concurrency_limits
    # 03_event_signaling
    "04_lock_race_conditions": [race_panel, deadlock_panel],
    # 05_condition_wait_notify
    # 06_retry_backoff
    # 07_timeouts
    # 08_graceful_shutdown
    # 09_connection_pool
    # 10_batch_processing
    # 11_error_handling_circuit_breaker
}
