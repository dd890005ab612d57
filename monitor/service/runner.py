"""The long-running loop of `monitor run`: polls every source when it is due, runs the digest
jobs on their schedule, and keeps the chat bot going beside them.

The scheduler only ticks; the database decides which sources are due (`SourceState.next_check_at`,
computed by `monitor.service.due`), so a restart, or several workers, pick up where the last left
off. The bot is handed in by the command line (`ChatBot`), which sits above the bot; the runner
only starts it and stops it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config.rules import Rules, load_rules
from monitor.config.sources import Source, enabled, load_sources
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import ConfigError
from monitor.core.records import SourceReport
from monitor.deliver.jobs import run_digest
from monitor.deliver.routing import Kind, labels_for
from monitor.service.advance import finish_stages
from monitor.service.health import (
    Send,
    admin_sender,
    check_sources,
    common_failure,
    failed_poll_line,
)
from monitor.service.pipeline import Deps, ensure_seeds, fetch_backlog, poll_source

# The Telegram bot as the runner keeps it: started with the runner's archive and the rules and
# sources of the moment (both change on SIGHUP), ended by cancelling it.
ChatBot = Callable[
    [Deps, Callable[[], Rules], Callable[[], list[Source]]], Coroutine[Any, Any, None]
]

log = logging.getLogger(__name__)

TICK_SECONDS = 20
STATISTICS_HOURS = 6  # between two refreshes of the archive's planner statistics; the first
# comes a STATISTICS_DELAY after the start, when a new archive holds its first polls' articles
STATISTICS_DELAY = timedelta(minutes=10)


class Runner:
    """Polls every enabled source when it is due, until stopped; SIGHUP reloads sources.yaml."""

    def __init__(
        self,
        deps: Deps,
        sources: list[Source],
        clock: Clock = utc_now,
        chat_bot: ChatBot | None = None,
    ):
        self.deps = deps
        self.chat_bot = chat_bot
        self.configured = list(sources)
        self.sources = enabled(sources)
        self.clock = clock
        self.running: dict[str, asyncio.Task[SourceReport]] = {}
        self.draining: dict[str, asyncio.Task[SourceReport]] = {}
        self.checks: set[asyncio.Future[None]] = set()
        self.health_lock = asyncio.Lock()
        self.alert: Send | None = None
        # The latest poll of each source, and when the log last said that all of them failed
        # the same way (said once per round of polls, not after every one).
        self.latest: dict[str, SourceReport] = {}
        self.all_failed_said_at: datetime | None = None
        self.stopping = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None

    async def tick(self) -> None:
        """Finish what a crash left half done, poll the sources that are due, and fetch from the
        frontier of sources whose backlog waits (another worker's discovery, or a poll's cap)."""
        store, now = self.deps.store, self.clock()
        await asyncio.to_thread(
            finish_stages, store, self.deps.rules, self.deps.aggregators, self.deps.linker
        )
        by_name = {source.name: source for source in self.sources}
        for name in await asyncio.to_thread(store.due_sources, by_name, now):
            if name in self.running or name in self.draining:
                continue  # one poll of a source at a time
            task = asyncio.create_task(poll_source(by_name[name], self.deps, self.clock()))
            self.running[name] = task
            task.add_done_callback(functools.partial(self._finished, name))
        for name in await asyncio.to_thread(store.sources_with_backlog, by_name, now):
            if name in self.running or name in self.draining:
                continue
            drain = asyncio.create_task(fetch_backlog(by_name[name], self.deps, self.clock()))
            self.draining[name] = drain
            drain.add_done_callback(functools.partial(self._drained, name))

    def _drained(self, name: str, task: asyncio.Task[SourceReport]) -> None:
        self.draining.pop(name, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("fetching the backlog of %s failed: %s", name, task.exception())
            return
        report = task.result()
        log.info("backlog of %s: %s", name, report.summary())
        if report.waiting:
            self.tick_soon()

    def tick_soon(self) -> None:
        """A backlog waits: tick now rather than at the next interval (the fetcher still keeps
        each host's pace)."""
        if self.scheduler is not None and not self.stopping.is_set():
            self.scheduler.modify_job("tick", next_run_time=utc_now())

    def _finished(self, name: str, task: asyncio.Task[SourceReport]) -> None:
        self.running.pop(name, None)
        if not task.cancelled() and task.exception() is None:
            report = task.result()
            if report.waiting:
                self.tick_soon()
            if report.busy:  # another worker has it: nothing happened here
                log.debug("%s: %s", name, report.summary())
                return
            check = asyncio.ensure_future(self.after_poll(report))
            self.checks.add(check)
            check.add_done_callback(self.checks.discard)

    async def after_poll(self, report: SourceReport) -> None:
        """Log the poll, count it and tell the operator when its source breaks or recovers."""
        try:
            self.log_outcome(report)
        except Exception:  # the log line reads the archive: a hiccup there must not stop alerts
            log.exception("could not log the poll of %s", report.source)
        if self.deps.metrics:
            self.deps.metrics.observe_report(report)
        async with self.health_lock:  # one checker at a time: no alert sent twice
            try:
                await check_sources(
                    self.deps.store, [report.source], self.deps.settings, self.clock(), self.alert
                )
            except Exception:  # an alert that cannot be sent must not stop the polling
                log.exception("health check of %s failed", report.source)

    def log_outcome(self, report: SourceReport) -> None:
        """INFO for a good poll; WARNING with the next try for a failed one; and one WARNING
        more once a round of polls has shown every enabled source failing for the same cause."""
        now = self.clock()
        if report.ok:
            log.info("polled %s: %s", report.source, report.summary())
            if self.all_failed_said_at is not None:
                log.info("%s polled fine: not every source is failing any more", report.source)
                self.all_failed_said_at = None
        else:
            state = self.deps.store.source_state(report.source)
            log.warning("%s", failed_poll_line(report, state.next_check_at, now))
        self.latest[report.source] = report
        names = [source.name for source in self.sources]
        common = common_failure(self.latest, names)
        said = self.all_failed_said_at
        if common is None or (
            said is not None and any(self.latest[name].started_at <= said for name in names)
        ):
            return  # not all failing, or said already and this round is not over
        next_checks = [self.deps.store.source_state(name).next_check_at for name in names]
        soonest = min((moment for moment in next_checks if moment is not None), default=None)
        then = (
            f"; the first retry at {soonest.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if soonest else ""
        )
        log.warning("%s (latest: %s)%s", common, report.errors[0][:300], then)
        self.all_failed_said_at = now

    async def refresh_statistics(self) -> None:
        """A maintenance job: the planner statistics of an SQLite archive (`Store`), in a thread."""
        try:
            await asyncio.to_thread(self.deps.store.refresh_statistics)
        except Exception:  # a locked or full archive: the next refresh will do
            log.warning("could not refresh the archive's planner statistics", exc_info=True)

    async def digest(self, kind: Kind) -> None:
        """A digest job: queue what is due in the outbox and send it (once, across restarts)."""
        labels = labels_for(self.configured, self.deps.rules)
        try:
            run = await run_digest(
                kind, self.deps.store, self.deps.settings, self.clock(), labels=labels
            )
        except Exception:  # a bug in one digest must not stop the polling
            log.exception("%s digest failed", kind)
            return
        for line in run.lines():
            (log.info if run.ok else log.warning)("%s digest: %s", kind, line)
        if self.deps.metrics:
            self.deps.metrics.observe_digest(run)

    def digest_triggers(self) -> list[tuple[Kind, CronTrigger | IntervalTrigger]]:
        """The digest jobs from settings; a bad cron field is a configuration error."""
        settings = self.deps.settings
        try:
            zone = ZoneInfo(settings.digest_timezone)
            jobs: list[tuple[Kind, CronTrigger | IntervalTrigger]] = [
                (
                    "telegram",
                    CronTrigger(hour=settings.telegram_digest_hours, minute=0, timezone=zone),
                ),
                (
                    "email",
                    CronTrigger(
                        day_of_week=settings.email_digest_day,
                        hour=settings.email_digest_hour,
                        minute=0,
                        timezone=zone,
                    ),
                ),
            ]
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"digest schedule settings: {exc}") from exc
        if settings.telegram_instant_score is not None:
            jobs.append(("instant", IntervalTrigger(minutes=5)))
        return jobs

    def reload(self) -> None:
        """SIGHUP: read sources.yaml and topics.yaml again; if either is invalid, keep both old
        ones (a half-applied configuration would be worse than the old one)."""
        settings = self.deps.settings
        try:
            configured = load_sources(settings.sources)
            rules = load_rules(settings.topics)
        except ConfigError as exc:
            log.error("kept the old sources and rules: %s", exc)
            return
        self.configured, self.sources = configured, enabled(configured)
        aggregators = frozenset(s.name for s in configured if s.aggregator)
        self.deps = replace(self.deps, rules=rules, aggregators=aggregators)
        log.info(
            "reloaded %s (%d enabled sources) and %s",
            settings.sources,
            len(self.sources),
            settings.topics,
        )
        if self.scheduler is not None:  # a source just added is due now, not at the next tick
            self.scheduler.modify_job("tick", next_run_time=utc_now())

    async def run(self) -> None:
        await asyncio.to_thread(ensure_seeds, self.deps, self.clock())
        self.alert = admin_sender(self.deps.settings)
        bot = None
        if self.chat_bot is not None:
            bot = asyncio.create_task(
                self.chat_bot(self.deps, lambda: self.deps.rules, lambda: self.configured)
            )
            bot.add_done_callback(_bot_ended)
        stop_metrics = None
        port = self.deps.settings.metrics_port
        if port is not None and self.deps.metrics:
            stop_metrics = self.deps.metrics.serve(port)
            log.info("metrics on http://127.0.0.1:%d/metrics", port)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        scheduler = self.scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_SECONDS,
            next_run_time=utc_now(),
            max_instances=1,
            coalesce=True,
            id="tick",
        )
        scheduler.add_job(
            self.refresh_statistics,
            "interval",
            hours=STATISTICS_HOURS,
            next_run_time=utc_now() + STATISTICS_DELAY,
            max_instances=1,
            coalesce=True,
            id="statistics",
        )
        for kind, trigger in self.digest_triggers():
            scheduler.add_job(
                self.digest,
                trigger,
                args=[kind],
                id=f"digest-{kind}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )
        scheduler.start()
        log.info("monitor running: %d enabled sources", len(self.sources))
        try:
            await self.stopping.wait()
        finally:
            if bot is not None:
                bot.cancel()
                await asyncio.gather(bot, return_exceptions=True)
            scheduler.shutdown(wait=False)
            in_flight = [*self.running.values(), *self.draining.values()]
            if in_flight:
                log.info("waiting for %d polls in flight", len(in_flight))
                _, pending = await asyncio.wait(in_flight, timeout=8)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            try:  # what this worker claimed and did not fetch, others may take at once
                await asyncio.to_thread(self.deps.store.release, self.deps.worker)
            except Exception:  # the archive went away: the claims lapse by themselves
                log.warning("could not release this worker's frontier claims", exc_info=True)
            if self.checks:
                await asyncio.wait(list(self.checks), timeout=1)
            if stop_metrics:
                stop_metrics()
            log.info("monitor stopped")


def _bot_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("bot stopped, polling goes on without it: %s", task.exception())
