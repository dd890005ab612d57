"""When a source is due again: the pure decider the runner and the pipeline share.

The database keeps each source's `next_check_at`; this module computes it after a poll: the
source's interval with jitter, longer after failures (capped exponential backoff, from
`monitor.core.backoff`), never sooner than a site's Retry-After, and, while healthy, not before the
feeds' Cache-Control max-age runs out (up to a cap: a busy feed rolls its items over in hours).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from monitor.config.sources import Source
from monitor.core.backoff import backoff_delay

MAX_BACKOFF = timedelta(hours=6)
JITTER = 0.1
# A feed's Cache-Control max-age delays its next check by at most this much: a busy feed rolls
# its items over in hours, so obeying a CDN's day-long max-age would lose articles for good.
MAX_FRESH = timedelta(hours=1)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


def next_check_at(
    source: Source,
    failures: int,
    retry_after: float | None,
    now: datetime,
    rng: Callable[[], float] = random.random,
    fresh_for: float | None = None,
) -> datetime:
    """The source's next check: its interval with jitter; after failures the interval doubles
    each time up to MAX_BACKOFF; never before a Retry-After, nor (while healthy) before the
    feeds' Cache-Control max-age runs out, which counts up to MAX_FRESH."""
    interval = source.interval
    if failures:
        cap = max(MAX_BACKOFF, source.interval)
        # The first failure already waits twice the interval: the backoff starts one step past it.
        seconds = backoff_delay(
            failures, base=2 * interval.total_seconds(), cap=cap.total_seconds()
        )
        interval = timedelta(seconds=seconds)
    elif fresh_for:
        interval = max(interval, min(timedelta(seconds=fresh_for), MAX_FRESH))
    if retry_after:
        interval = max(interval, timedelta(seconds=retry_after))
    jitter = interval * JITTER * (2 * rng() - 1)
    return now + interval + jitter


def fresh_for(cache_control: str | None) -> float | None:
    """Seconds a response may be reused, from its Cache-Control header (None: no promise)."""
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else None
