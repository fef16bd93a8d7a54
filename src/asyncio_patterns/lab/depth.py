"""A queue that remembers how full it was, and a plot of that depth over time.

    queue = DepthQueue(maxsize=4)
    ... producers put, consumers get ...
    depth_plot({"maxsize=4": queue}, title="The backlog never exceeds 4")

``DepthQueue`` is an ``asyncio.Queue`` in every respect; it also appends a
``(loop time, items waiting)`` sample each time an item goes in or comes out, so the
backlog between a producer and its consumers can be drawn afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .validate import seconds, whole_number

__all__ = ["DepthQueue", "depth_plot"]


class DepthQueue(asyncio.Queue):
    """An ``asyncio.Queue`` that records ``(time, qsize())`` after every put and get.

    Times come from the running loop's clock (virtual under ``run_virtual``). Items put
    or taken while no loop is running (filling a queue before the run) are not sampled.
    Sampling happens in the ``_put`` and ``_get`` hooks, so every ``put``, ``get``, their
    ``_nowait`` forms and (from 3.13) ``shutdown(immediate=True)`` is seen.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(whole_number("maxsize", maxsize, minimum=0))  # 0: unbounded
        self.samples: list[tuple[float, int]] = []

    def _sample(self) -> None:
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            return
        self.samples.append((now, self.qsize()))

    # _put and _get are the hooks asyncio.Queue provides for subclasses (PriorityQueue and
    # LifoQueue override them too): every way an item goes in or comes out passes here.
    def _put(self, item: Any) -> None:
        super()._put(item)
        self._sample()

    def _get(self) -> Any:
        item = super()._get()
        self._sample()
        return item

    @property
    def max_depth(self) -> int:
        """The most items that were ever waiting at once (0 if nothing was sampled)."""
        return max((depth for _, depth in self.samples), default=0)


def depth_plot(
    queues: Mapping[str, DepthQueue],
    *,
    title: str,
    theory: Callable[[float], float] | None = None,
    theory_label: str = "theory",
    origin: float = 0.0,
    until: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Items waiting in each queue against time, one step line per queue.

    Every queue starts empty at loop time ``origin`` (0.0, the start of a ``run_virtual``
    run, unless given), drawn as time 0. The time axis ends at ``until`` (seconds since
    ``origin``; by default the last sample), each line holding its last depth to the end.
    ``theory``, a function of the time since ``origin``, is drawn dashed across the whole axis.
    """
    if not queues:
        raise ValueError("depth_plot needs at least one queue, e.g. {'maxsize=4': queue}")
    empty = [label for label, queue in queues.items() if not queue.samples]
    if empty:
        raise ValueError(f"no samples for {', '.join(empty)}: put items into the queue inside a run first")
    if until is not None:
        until = seconds("until", until, positive=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.4))
    end = 0.0
    for label, queue in queues.items():
        # A get and a put at the same instant would draw a spike of zero width: keep the
        # depth each instant ends with.
        at_end_of_instant = dict([(0.0, 0)] + [(t - origin, d) for t, d in queue.samples])
        if until is not None and until > max(at_end_of_instant):
            at_end_of_instant[until] = queue.samples[-1][1]  # hold the last depth to the axis' end
        ax.step(list(at_end_of_instant), list(at_end_of_instant.values()), where="post", label=label)
        end = max(end, max(at_end_of_instant))
    if until is not None:
        end = until
    if theory is not None:
        xs = [end * i / 200 for i in range(201)]
        ax.plot(xs, [theory(x) for x in xs], "k--", linewidth=1, label=theory_label)
    ax.set_xlim(0, end)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("items waiting in the queue")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax
