"""A token bucket: at most ``rate`` operations per second on average, bursts up to ``burst``.

Tokens drip in continuously at ``rate`` per second up to ``burst``; each operation takes
one. A semaphore caps how many operations run *at once*; a token bucket caps how many
*start per second*. The two answer different questions and are often used together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ._checks import whole_number

__all__ = ["TokenBucket"]


class TokenBucket:
    """Rate limiter. ``await bucket.acquire()`` waits for a token; waiters are served FIFO.

    ``full=True`` starts with ``burst`` tokens (the first burst goes through at once);
    ``full=False`` starts empty, so even the first operations are paced. Tokens drip in
    from the bucket's first use.

    Time is read from one clock: ``clock()`` if it is given, otherwise the running event
    loop's ``time()``, virtual under ``run_virtual`` and real under ``run_real``. The
    bucket belongs to the loop that uses it; used under a new loop (another run), it
    keeps the tokens it had at its last use and counts time on the new loop's clock from
    its first use there: time between two runs adds no tokens, since two loops' clocks
    cannot be compared (a virtual one starts again at 0). ``acquire``, ``try_acquire``
    and ``wait_time`` need a running loop unless ``clock`` is given.

    Reading ``tokens`` (or the ``repr``) changes nothing; outside a running loop it is
    the level at the last use. A cancelled ``acquire`` takes no token and lets the next
    waiter go. Not thread-safe, like the rest of asyncio.
    """

    def __init__(self, rate: float, *, burst: int = 1, full: bool = True, clock: Callable[[], float] | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 operations per second, got {rate!r}")
        whole_number("burst", burst)
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop whose clock _updated is on
        self._tokens = float(burst) if full else 0.0
        self._updated: float | None = None  # when _tokens was counted; None before the first use
        self._lock = asyncio.Lock()  # keeps waiters in arrival order

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new run: keep the tokens, start counting on its clock
            self._loop, self._updated, self._lock = loop, None, asyncio.Lock()
        return loop.time()

    def _level(self, now: float) -> float:
        if self._updated is None:
            return self._tokens
        return min(self.burst, self._tokens + (now - self._updated) * self.rate)

    def _refill(self) -> None:
        now = self._now()
        self._tokens = self._level(now)
        self._updated = now

    @property
    def tokens(self) -> float:
        """Tokens available now; reading it changes nothing."""
        if self._clock is not None:
            return self._level(self._clock())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._tokens
        return self._level(loop.time()) if loop is self._loop else self._tokens

    def try_acquire(self) -> bool:
        """Take a token if one is available now; never waits."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until a token will be available (0 if one is available now)."""
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate)

    async def acquire(self) -> None:
        """Wait until a token is available, then take it."""
        self._now()  # under a new loop, a new lock first: the old one belongs to the old loop
        async with self._lock:
            while not self.try_acquire():
                await asyncio.sleep(self.wait_time())

    async def __aenter__(self) -> TokenBucket:
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, burst={self.burst}, tokens={self.tokens:.2f})"
