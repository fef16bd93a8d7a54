"""Every lesson's live panels, by notebook: what the instructors' guide lists, the tests
turn and ``make bench`` times. Each entry makes a fresh :class:`~asyncio_patterns.lab.panel.Panel`."""

from __future__ import annotations

from collections.abc import Callable

from ..lab.panel import Panel
from .batch.panels import chunks_panel
from .breaker.panels import outage_panel
from .condition.panels import stolen_item_panel
from .event.panels import start_panel
from .lock.panels import deadlock_panel, race_panel
from .loop.panels import blocking_panel
from .pool.panels import starvation_panel
from .queue.panels import backpressure_panel
from .retry.panels import herd_panel
from .semaphore.panels import slots_panel
from .shutdown.panels import shutdown_panel
from .timeout.panels import timeout_panel

PANELS: dict[str, list[Callable[[], Panel]]] = {
    "00_start_here": [blocking_panel],
    "01_queue_producer_consumer": [backpressure_panel],
    "02_semaphore_concurrency_limits": [slots_panel],
    "03_event_signaling": [start_panel],
    "04_lock_race_conditions": [race_panel, deadlock_panel],
    "05_condition_wait_notify": [stolen_item_panel],
    "06_retry_backoff": [herd_panel],
    "07_timeouts": [timeout_panel],
    "08_graceful_shutdown": [shutdown_panel],
    "09_connection_pool": [starvation_panel],
    "10_batch_processing": [chunks_panel],
    "11_error_handling_circuit_breaker": [outage_panel],
}
