"""Capped exponential backoff: how long to wait after the n-th failure in a row.

One pure function for every place that backs off: the fetcher between retries of one request,
the runner before polling a failing source again, and the outbox before resending a delivery.
Only the fetcher retries in a loop; the runner and the outbox write the next due time into the
archive, where a restart or another worker finds it, so a retry library's loop (stamina, tenacity)
would serve one of the three and still leave the formula written out in the other two.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# Past this many doublings any base exceeds any cap we use; more would overflow a float.
_MAX_DOUBLINGS = 60


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the `attempt`-th failure in a row: base, 2·base, 4·base ... at most
    `cap`. `jitter` stretches each wait by a random share of up to that fraction (never shortens
    it: a site that throttles lets a retry through only after the full wait), so that clients
    failing together do not retry together; `rng` draws it, in [0, 1)."""
    delay = base * 2 ** min(max(0, attempt - 1), _MAX_DOUBLINGS)
    if jitter:
        delay *= 1.0 + jitter * rng()
    return min(cap, delay)
