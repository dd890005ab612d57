"""The one wall clock, and the type of the clocks that are passed in instead of it.

Pure deciders take `now` as an argument; the edges that need the time (the runner, the fetcher,
the delivery jobs, the bot, the web pages) take a `Clock` so that a test can stop time, and
default to `utc_now`. Times are always timezone-aware UTC: a naive datetime compared with a stored
one is a bug that shows only across a daylight-saving change. (Durations are measured with
`time.monotonic`, which no wall-clock change can move; that is a different kind of clock.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)
