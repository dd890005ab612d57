"""When a failed fetch is worth another attempt, and after how long. Timeouts, broken
connections, 5xx, 429 and challenge pages may pass; anything else is final. A Retry-After the
server sends is obeyed when it is no longer than we are willing to wait (longer is the
scheduler's business), otherwise the wait is capped exponential backoff, jittered only upwards.
Pure functions: the fetcher sleeps, these only decide.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from monitor.config.settings import Settings
from monitor.core.backoff import backoff_delay
from monitor.core.errors import (
    ChallengePage,
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
)


def retry_delay(
    error: FetchError, attempt: int, settings: Settings, rng: Callable[[], float]
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now."""
    if not is_retryable(error) or attempt > settings.retries:
        return None
    retry_after = error.retry_after
    if retry_after is not None:
        # A wait longer than we are willing to spend is the scheduler's business.
        return retry_after if retry_after <= settings.retry_max_delay else None
    # Jitter only upwards: AZERTAC's Cloudflare let retries through only after several seconds.
    return backoff_delay(
        attempt,
        base=settings.retry_base_delay,
        cap=settings.retry_max_delay,
        jitter=0.5,
        rng=rng,
    )


def is_retryable(error: FetchError) -> bool:
    if isinstance(error, FetchTimeout | ConnectionFailed | ChallengePage):
        return True
    status = error.status if isinstance(error, HTTPStatusError) else None
    return status is not None and (status == 429 or status >= 500)


def retry_after_header_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`; it may be a number of seconds or an HTTP-date."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():  # RFC 9110: delay-seconds = 1*DIGIT
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
