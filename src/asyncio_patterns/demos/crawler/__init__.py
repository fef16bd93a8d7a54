"""The capstone's crawler: the course's patterns together against a real lab server.

:func:`crawl` fetches a list of paths with a pool of workers fed one URL per free worker,
each running the handler that ``make_handler(kit)`` builds from a :class:`Kit` (a token
bucket, a circuit breaker, retry, a timeout per request, one pooled ``aiohttp`` session);
:mod:`.reference` is the reference handler. :class:`CrawlConfig` switches each pattern
off on its own and says what a stop does; :class:`CrawlRecord` is what a run did;
:func:`dashboard` draws it.
"""

from .config import STOPS, SWITCHES, CrawlConfig
from .crawler import crawl, run_crawl
from .kit import Kit, RecordingSession, Stop, make_kit
from .lab import SCENARIO, Row, crawl_lab, early_503s, late_503s, row, straggler_cut, trial_bound, what_held
from .plots import ERROR_COLORS, dashboard, runs_plot
from .record import CrawlRecord, Request
from .reference import BREAKER_FAILURES, RETRIED, RateLimited, ServerError, check_status, make_handler

__all__ = ["BREAKER_FAILURES", "ERROR_COLORS", "RETRIED", "SCENARIO", "STOPS", "SWITCHES", "CrawlConfig",
           "CrawlRecord", "Kit", "RateLimited", "RecordingSession", "Request", "Row", "ServerError", "Stop",
           "check_status", "crawl", "crawl_lab", "dashboard", "early_503s", "late_503s", "make_handler", "make_kit", "row",
           "run_crawl", "runs_plot", "straggler_cut", "trial_bound", "what_held"]
