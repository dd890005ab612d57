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
from monitor.store import SourceStatus, Store, outbox, queries
from monitor.store.outbox import Problem

DUPLICATES_WINDOW = timedelta(days=1)
PROBLEMS_SHOWN = 20  # failed and unknown deliveries listed, newest first


@dataclass(frozen=True)
class SourceHealth:
    """One source in the report: its stored status, its health in words and its recent copies."""

    row: SourceStatus  # last attempt and success, next check, counts, errors
    enabled: bool
    rank: int  # sorts the worst first: 0 failing, 1 extraction failing, 2 never polled, 3 ok
    health: str  # "ok", "never polled", "EXTRACTION FAILING", "FAILING (3 in a row)"
    duplicates_24h: int  # of the items first seen in the last 24 hours, copies of earlier ones

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


def status_report(store: Store, sources: Sequence[Source], now: datetime) -> StatusReport:
    """The report at `now` for these sources (disabled ones included, marked so)."""
    rows = store.status([source.name for source in sources], now)
    copies = queries.duplicates_by_source(store, now - DUPLICATES_WINDOW)
    return StatusReport(
        at=now,
        sources=tuple(
            source_health(
                row, enabled=source.enabled, duplicates_24h=copies.get(row.name, (0, 0))[1]
            )
            for source, row in zip(sources, rows, strict=True)
        ),
        outbox=outbox.outbox_counts(store),
        problems=tuple(outbox.outbox_problems(store, limit=PROBLEMS_SHOWN)),
    )


def source_health(
    row: SourceStatus, *, enabled: bool = True, duplicates_24h: int = 0
) -> SourceHealth:
    rank, health = health_of(row)
    return SourceHealth(row, enabled, rank, health, duplicates_24h)


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
