"""When a frontier URL whose fetch failed is tried again, or given up: the crawl stage's decider.

A page that failed for a reason that may pass (a timeout, a 5xx, a Cloudflare challenge, a 429) is
tried again after a capped exponential backoff, at the poll after that time, up to a budget of
attempts; a reason that will not pass by waiting (404 or 410, robots.txt says no, a redirect loop,
a body over the limit, an analysis over its time or memory limit) fails the URL at once. A failed
URL keeps its reason in the archive, where `monitor status` counts it; a feed that later dates it
anew puts it back in the queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.core.backoff import backoff_delay
from monitor.core.errors import (
    BodyTooLarge,
    FetchError,
    PrivateAddressRefused,
    RobotsDisallowed,
    TooManyRedirects,
)

MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(minutes=10)
LAST_RETRY = timedelta(hours=12)
_GONE = {404, 410, 451}
_NEVER_BETTER = (BodyTooLarge, PrivateAddressRefused, RobotsDisallowed, TooManyRedirects)


def retry_at(error: FetchError | None, attempts: int, now: datetime) -> datetime | None:
    """When to try a URL again after its `attempts`-th failure (this one counted), or None to
    give it up. `error` None is a failure of our own making (the analysis refused the page)."""
    if error is None or isinstance(error, _NEVER_BETTER) or error.status in _GONE:
        return None
    if attempts >= MAX_ATTEMPTS:
        return None
    wait = backoff_delay(attempts, base=FIRST_RETRY.total_seconds(), cap=LAST_RETRY.total_seconds())
    if error.retry_after:
        wait = max(wait, error.retry_after)
    return now + timedelta(seconds=wait)
