"""A token bucket: at most ``rate`` operations per second on average, bursts up to ``burst``.

Tokens drip in continuously at ``rate`` per second up to ``burst``; each operation takes
one. A semaphore caps how many operations run *at once*; a token bucket caps how many
*start per second*. The two answer different questions and are often used together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Rate limiter. ``await bucket.acquire()`` waits for a token; waiters are served FIFO.

    ``full=True`` starts with ``burst`` tokens (the first burst goes through at once);
    ``full=False`` starts empty, so even the first operations are paced.
    The clock is the running loop's (virtual or real) unless ``clock`` is given.
    """

    def __init__(self, rate: float, *, burst: int = 1, full: bool = True, clock: Callable[[], float] | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 operations per second, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be a whole number >= 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst) if full else 0.0
        self._updated: float | None = None
        self._lock = asyncio.Lock()  # keeps waiters in arrival order

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def _refill(self) -> None:
        now = self._now()
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        self._refill()
        return self._tokens

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
