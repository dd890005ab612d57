"""The one status report: how every source and the outbox are doing, built once for `monitor
status`, the web page's /sources and the bot's /status, which only render it.

`status_report` reads the archive (per source: its stored state and counts, the copies among its
new items of the last 24 hours; the outbox's counts and problems) and returns a `StatusReport`.
The words every reader shares are decided here too: a source's health (`health_of`: "ok",
"FAILING (3 in a row)", ...) and the outbox lines (`outbox_lines`), so the three places cannot
tell the operator three different things.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config.sources import Source
from monitor.core.stages import waiting_at
from monitor.store import Backlog, SourceStatus, Store, outbox, queries
from monitor.store.outbox import Problem

DUPLICATES_WINDOW = timedelta(days=1)
PROBLEMS_SHOWN = 20
NO_BACKLOG = Backlog(0, 0, None, None)  # failed and unknown deliveries listed, newest first


@dataclass(frozen=True)
class SourceHealth:
    """One source in the report: its stored status, its health in words and its recent copies."""

    row: SourceStatus  # last attempt and success, next check, counts, errors
    enabled: bool
    rank: int  # sorts the worst first: 0 failing, 1 extraction failing, 2 never polled, 3 ok
    health: str  # "ok", "never polled", "EXTRACTION FAILING", "FAILING (3 in a row)"
    duplicates_24h: int  # of the items first seen in the last 24 hours, copies of earlier ones
    backlog: Backlog = NO_BACKLOG  # its frontier: waiting and failed URLs

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def failing(self) -> bool:
        return self.rank < 2


@dataclass(frozen=True)
class StatusReport:
    at: datetime
    sources: tuple[SourceHealth, ...]  # in the order of sources.yaml
    outbox: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # channel → state → n
    problems: tuple[Problem, ...] = ()  # failed and unknown deliveries, newest first
    # articles short of the last stage, by the stage they wait at ("deduped": 3 wait for dedupe)
    stages: Mapping[str, int] = field(default_factory=dict)


def status_report(store: Store, sources: Sequence[Source], now: datetime) -> StatusReport:
    """The report at `now` for these sources (disabled ones included, marked so)."""
    names = [source.name for source in sources]
    rows = store.status(names, now)
    copies = queries.duplicates_by_source(store, now - DUPLICATES_WINDOW)
    backlogs = store.backlog(names)
    waiting: dict[str, int] = {}
    for stage, count in store.waiting_by_stage().items():
        wants = waiting_at(stage)
        if wants:
            waiting[wants] = waiting.get(wants, 0) + count
    return StatusReport(
        at=now,
        sources=tuple(
            source_health(
                row,
                enabled=source.enabled,
                duplicates_24h=copies.get(row.name, (0, 0))[1],
                backlog=backlogs[row.name],
            )
            for source, row in zip(sources, rows, strict=True)
        ),
        outbox=outbox.outbox_counts(store),
        problems=tuple(outbox.outbox_problems(store, limit=PROBLEMS_SHOWN)),
        stages=waiting,
    )


def source_health(
    row: SourceStatus,
    *,
    enabled: bool = True,
    duplicates_24h: int = 0,
    backlog: Backlog = NO_BACKLOG,
) -> SourceHealth:
    rank, health = health_of(row)
    return SourceHealth(row, enabled, rank, health, duplicates_24h, backlog)


def backlog_line(backlog: Backlog) -> str | None:
    """ "frontier: 370 waiting (oldest found 2026-12-04 10:00Z: <url>), 2 failed"; None when
    the source's frontier is empty."""
    if not backlog.waiting and not backlog.failed:
        return None
    line = f"frontier: {backlog.waiting} waiting"
    if backlog.oldest_at is not None:
        line += f" (oldest found {backlog.oldest_at:%Y-%m-%d %H:%M}Z: {backlog.oldest_url})"
    if backlog.failed:
        line += f", {backlog.failed} given up (`monitor frontier --failed` says why)"
    return line


def stages_line(report: StatusReport) -> str:
    """ "stages: all articles passed every stage" or "stages: 3 wait for dedupe, 5 for tagging"."""
    if not report.stages:
        return "stages: every archived article has passed every stage"
    names = {"deduped": "dedupe", "tagged": "tagging", "linked": "linking"}
    parts = [f"{n} wait for {names.get(stage, stage)}" for stage, n in report.stages.items()]
    return "stages: " + ", ".join(parts)


def health_of(row: SourceStatus) -> tuple[int, str]:
    """(rank, label) of one source: failing polls first, then extraction that comes out empty
    for half the pages of the last 7 days (the site's markup changed), then never polled."""
    if row.consecutive_failures:
        return 0, f"FAILING ({row.consecutive_failures} in a row)"
    if row.fetched_7d and row.empty_share >= 0.5:
        return 1, "EXTRACTION FAILING"
    if row.last_attempt_at is None:
        return 2, "never polled"
    return 3, "ok"


def outbox_lines(report: StatusReport) -> list[str]:
    """Deliveries per channel and state on one line, then each problem on its own."""
    summary = "; ".join(
        f"{channel} " + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        for channel, states in sorted(report.outbox.items())
    )
    return [f"outbox: {summary or 'empty'}"] + ["  " + problem_line(p) for p in report.problems]


def problem_line(problem: Problem) -> str:
    """ "#7 unknown telegram:…#part1 (3 items, 1 attempts, 2026-11-21 06:00Z): <last error>"."""
    when = f"{problem.claimed_at or problem.created_at:%Y-%m-%d %H:%M}Z"
    return (
        f"#{problem.id} {problem.state} {problem.key} ({problem.items} items,"
        f" {problem.attempts} attempts, {when}): {problem.last_error or '-'}"
    )
