"""When each source is polled next, and the long-running loop that polls them (`monitor run`).

The scheduler only ticks; the database decides which sources are due (`SourceState.next_check_at`),
so a restart, or several workers, pick up where the last left off. `next_check_at` is the pure
decider: the source's interval with jitter, longer after failures (capped exponential backoff) and
never sooner than a site's Retry-After.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.errors import ConfigError
from monitor.sources import Source, enabled, load_sources

if TYPE_CHECKING:
    from monitor.pipeline import Deps

log = logging.getLogger(__name__)

TICK_SECONDS = 20
MAX_BACKOFF = timedelta(hours=6)
JITTER = 0.1


def next_check_at(
    source: Source,
    failures: int,
    retry_after: float | None,
    now: datetime,
    rng: Callable[[], float] = random.random,
) -> datetime:
    interval = source.interval
    if failures:
        interval = min(interval * (2 ** min(failures, 10)), max(MAX_BACKOFF, source.interval))
    if retry_after:
        interval = max(interval, timedelta(seconds=retry_after))
    jitter = interval * JITTER * (2 * rng() - 1)
    return now + interval + jitter


class Runner:
    """Polls every enabled source when it is due, until stopped; SIGHUP reloads sources.yaml."""

    def __init__(
        self, deps: Deps, sources: list[Source], clock: Callable[[], datetime] | None = None
    ):
        self.deps = deps
        self.sources = enabled(sources)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.running: dict[str, asyncio.Task[object]] = {}
        self.stopping = asyncio.Event()

    async def tick(self) -> None:
        from monitor.pipeline import poll_source

        by_name = {source.name: source for source in self.sources}
        for name in self.deps.store.due_sources(by_name, self.clock()):
            if name in self.running:
                continue  # one poll of a source at a time
            task = asyncio.create_task(poll_source(by_name[name], self.deps, self.clock()))
            self.running[name] = task
            task.add_done_callback(functools.partial(self._finished, name))

    def _finished(self, name: str, task: asyncio.Task[object]) -> None:
        self.running.pop(name, None)
        if not task.cancelled() and task.exception() is None:
            report = task.result()
            log.info("polled %s: %s", name, report)

    def reload(self) -> None:
        path = self.deps.settings.sources
        try:
            self.sources = enabled(load_sources(path))
        except ConfigError as exc:
            log.error("kept the old sources: %s", exc)
            return
        log.info("reloaded %s: %d enabled sources", path, len(self.sources))

    async def run(self) -> None:
        from monitor.pipeline import ensure_seeds

        ensure_seeds(self.deps, self.clock())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_SECONDS,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="tick",
        )
        scheduler.start()
        log.info("monitor running: %d enabled sources", len(self.sources))
        try:
            await self.stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            if self.running:
                log.info("waiting for %d polls in flight", len(self.running))
                _, pending = await asyncio.wait(list(self.running.values()), timeout=8)
                for task in pending:
                    task.cancel()
            log.info("monitor stopped")
