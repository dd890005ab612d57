"""What a polite crawler owes each host, apart from the request itself: at most a few requests in
flight and their starts spaced apart (`HostGate`), and robots.txt obeyed (`RobotsGate`), read once
per origin and trusted for `robots_ttl`, from memory, else from the archive (`RobotsCache`), else
from the site. The fetcher holds one gate per host and one `RobotsGate`; robots.txt itself is
downloaded through the fetcher, so it passes every rule a page does and lands in the fetch log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

from monitor.core.clock import Clock
from monitor.core.errors import FetchError, TooManyRedirects
from monitor.core.records import Page
from monitor.crawl.robots import RobotsPolicy, parse_robots, policy_for_failure, robots_url


class RobotsCache(Protocol):
    """Where robots.txt bodies outlive one Fetcher (the store implements it)."""

    def load_robots(self, origin: str) -> tuple[str, datetime] | None: ...

    def save_robots(self, origin: str, body: str, fetched_at: datetime) -> None: ...


class HostGate:
    """At most `concurrency` requests in flight to one host, and starts at least `interval` apart.

    Spacing is measured between request starts, not ends, because that is what a site's rate
    limiter sees; AZERTAC's Cloudflare needs ≥1.2 s between page fetches.
    """

    def __init__(
        self, concurrency: int, interval: float, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._in_flight = asyncio.Semaphore(max(1, concurrency))
        self._spacing = asyncio.Lock()
        self._interval = interval
        self._sleep = sleep
        self._last_start: float | None = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._in_flight:
            async with self._spacing:
                if self._last_start is not None:
                    wait = self._last_start + self._interval - time.monotonic()
                    if wait > 0:
                        await self._sleep(wait)
                self._last_start = time.monotonic()
            yield


class RobotsGate:
    """The robots.txt policy of each origin; `download(url, source)` fetches a robots.txt."""

    def __init__(
        self,
        ttl: float,
        cache: RobotsCache | None,
        download: Callable[[str, str], Awaitable[Page]],
        now: Clock,
    ) -> None:
        self._ttl = ttl
        self._robots_cache = cache
        self._download = download
        self._now = now
        self._robots: dict[str, tuple[RobotsPolicy, datetime]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def policy(self, origin: str, source: str) -> RobotsPolicy:
        """From memory, else the RobotsCache, else the site; one download per origin at a time."""
        async with self._robots_locks.setdefault(origin, asyncio.Lock()):
            now = self._now()
            remembered = self._robots.get(origin)
            if remembered is not None and self._robots_fresh(remembered[1], now):
                return remembered[0]
            cached = (  # the store's, read in a thread: the loop never waits on the archive
                await asyncio.to_thread(self._robots_cache.load_robots, origin)
                if self._robots_cache
                else None
            )
            if cached is not None and self._robots_fresh(cached[1], now):
                policy, fetched_at = parse_robots(cached[0]), cached[1]
            else:
                policy, fetched_at = await self._download_robots(origin, source), now
            self._robots[origin] = (policy, fetched_at)
            return policy

    def _robots_fresh(self, fetched_at: datetime, now: datetime) -> bool:
        return (now - fetched_at).total_seconds() < self._ttl

    async def _download_robots(self, origin: str, source: str) -> RobotsPolicy:
        fetched_at = self._now()
        try:
            page = await self._download(robots_url(origin), source)
        except TooManyRedirects:
            body = ""  # RFC 9309 §2.3.1.2: too many redirects may count as "unavailable"
        except FetchError as error:
            policy = policy_for_failure(error.status, str(error))
            if not policy.allow_everything:
                return policy  # not cached: the next Fetcher should try again
            body = ""
        else:
            body = page.body.decode("utf-8", errors="replace")  # RFC 9309: robots.txt is UTF-8
        if self._robots_cache is not None:
            await asyncio.to_thread(self._robots_cache.save_robots, origin, body, fetched_at)
        return parse_robots(body)
