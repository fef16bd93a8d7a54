"""The capstone's crawler: the course's patterns together against a real lab server.

:func:`crawl` fetches a list of paths with a pool of workers, a token bucket, a timeout
per request, retries with backoff that honour ``Retry-After``, a circuit breaker, one
pooled ``aiohttp`` session and a graceful stop; :class:`CrawlConfig` switches each off on
its own; :class:`CrawlRecord` is what a run did; :func:`dashboard` draws it.
"""

from .config import SWITCHES, CrawlConfig
from .crawler import BREAKER_FAILURES, RETRIED, RateLimited, ServerError, check_status, crawl
from .lab import SCENARIO, Row, breaker_bound, crawl_lab, row, straggler_cut
from .plots import ERROR_COLORS, dashboard, runs_plot
from .record import CrawlRecord, Request

__all__ = ["BREAKER_FAILURES", "ERROR_COLORS", "RETRIED", "SCENARIO", "SWITCHES", "CrawlConfig", "CrawlRecord",
           "RateLimited", "Request", "Row", "ServerError", "breaker_bound", "check_status", "crawl", "crawl_lab", "dashboard", "row",
           "runs_plot", "straggler_cut"]
