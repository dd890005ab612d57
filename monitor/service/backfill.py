"""Backfill: walk back through a source's numbered listing pages to a date, so that a new
deployment starts with history (`monitor backfill --source NAME --since DATE`).

    1. begin      find or start the source's walk in `backfill_state` (resume, restart, refuse)
    2. wait       `backfill_delay` since the last listing page, and any Retry-After the site gave
    3. read       the next listing page (robots.txt and the per-host delay apply, as for any fetch)
    4. choose     its article links dated on or after `since` (links without a date are kept)
    5. archive    them through the pipeline's own steps (`archive_candidates`): known ones cost
                  nothing, new ones are fetched, extracted, stored, deduped and tagged
    6. record     the page as read and the next page's URL, in one compare-and-set UPDATE
    7. stop       when every dated link is older than `since`, the page has no article links, or
                  `max_pages` are read (the walk is finished); or on a failed listing fetch or a
                  rate limit (the walk is stopped, and the next run resumes at that page)

Progress lives in the database, never in the process: the row moves on only after a page's
articles are archived, so a run that dies mid-page reads that page again (one listing fetch) and
finds its archived articles known. The UPDATE names the page it read; if another worker or a
`--restart` moved the row meanwhile, this run stops instead of overwriting it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.config.sources import Source
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import ConfigError, FetchError, HTTPStatusError, ParseError
from monitor.core.records import Candidate, SourceReport
from monitor.crawl.discover import discover
from monitor.crawl.urls import article_key
from monitor.service.lease import Lease
from monitor.service.pipeline import Deps, archive_candidates, ensure_seeds
from monitor.store import Store
from monitor.store.backfill_rows import (
    advance_backfill_row,
    backfill_row,
    insert_backfill_row,
    note_backfill_error,
    note_backfill_wait,
    replace_backfill_row,
)
from monitor.store.tables import BackfillState

log = logging.getLogger(__name__)
LEASE_WAIT = 5.0  # seconds between looks at a lease a regular poll holds


def parse_since(value: str, source: Source) -> datetime:
    """`2026-11-01` is midnight of that day in the source's time zone (the day as the site
    dates it); a date and time without an offset is local to the site too."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"--since: {value!r} is not a date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=source.zone)


def require_backfill(source: Source) -> None:
    if source.backfill is None:
        raise ConfigError(
            f"source {source.name!r} has no backfill block; add one to its entry in sources.yaml,"
            " e.g. backfill: {pages: 'https://example.kz/news/?page={page}', first_page: 1}"
        )


@dataclass(frozen=True)
class PageResult:
    """What one listing page gave."""

    number: int
    url: str
    links: int  # article links on the page
    in_range: int  # of them dated on or after `since`, or undated
    new: int
    updated: int
    oldest: datetime | None
    errors: tuple[str, ...] = ()

    def line(self) -> str:
        oldest = f", oldest {self.oldest.isoformat(timespec='minutes')}" if self.oldest else ""
        text = (
            f"page {self.number} {self.url}: {self.links} links, {self.in_range} in range, "
            f"{self.new} new, {self.updated} updated{oldest}"
        )
        return text + "".join(f"\n  ! {error}" for error in self.errors)


@dataclass
class BackfillRun:
    """The outcome of one `monitor backfill` run, with the walk's totals after it."""

    source: str
    since: datetime
    started: str  # "new" | "resumed" | "restarted" | "finished before"
    outcome: str = "stopped"  # "finished" | "stopped" (resume later) | "superseded"
    reason: str = ""
    pages: list[PageResult] = field(default_factory=list)
    total_pages: int = 0
    total_found: int = 0
    total_archived: int = 0
    oldest_seen: datetime | None = None
    next_url: str | None = None
    retry_after_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "finished"

    def summary(self) -> str:
        oldest = self.oldest_seen.isoformat(timespec="minutes") if self.oldest_seen else "none"
        line = (
            f"{self.source}: backfill back to {self.since.isoformat(timespec='minutes')} "
            f"{self.outcome}: {self.reason}. {len(self.pages)} pages this run; in all "
            f"{self.total_pages} pages, {self.total_found} links, "
            f"{self.total_archived} archived, oldest seen {oldest}"
        )
        if self.next_url and not self.ok:
            line += f"; resumes at {self.next_url}"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "since": self.since.isoformat(),
            "started": self.started,
            "outcome": self.outcome,
            "reason": self.reason,
            "pages_this_run": [page.number for page in self.pages],
            "archived_this_run": sum(page.new for page in self.pages),
            "pages": self.total_pages,
            "found": self.total_found,
            "archived": self.total_archived,
            "oldest_seen": self.oldest_seen.isoformat() if self.oldest_seen else None,
            "next_url": self.next_url,
            "retry_after_until": (
                self.retry_after_until.isoformat() if self.retry_after_until else None
            ),
        }


# --- 1. the walk's row ----------------------------------------------------------------------


def _fresh_row(source: Source, since: datetime, now: datetime) -> BackfillState:
    assert source.backfill is not None
    return BackfillState(
        source=source.name,
        since=since,
        next_url=source.backfill.page_url(source.backfill.first_page),
        started_at=now,
        updated_at=now,
    )


def begin(
    store: Store, source: Source, since: datetime | None, *, restart: bool, now: datetime
) -> tuple[BackfillState, str]:
    """The row to walk on and how it was reached. An unfinished walk resumes when `since` is
    left out or the same; a different `since` is refused (ConfigError) unless `restart`, so a
    typo cannot throw away a long walk. A finished walk with a different `since` starts anew."""
    require_backfill(source)
    row = backfill_row(store, source.name)
    if row is not None and restart:
        return replace_backfill_row(store, _fresh_row(source, since or row.since, now)), "restarted"
    if row is None:
        if since is None:
            raise ConfigError(f"--since is needed: {source.name} has no backfill to resume")
        return insert_backfill_row(store, _fresh_row(source, since, now)), "new"
    if since is None or since == row.since:
        return row, "finished before" if row.finished_at else "resumed"
    if row.finished_at is not None:
        return replace_backfill_row(store, _fresh_row(source, since, now)), "new"
    raise ConfigError(
        f"{source.name}: an unfinished backfill back to {row.since.isoformat()} is at "
        f"{row.next_url} ({row.pages} pages read); run it again with that --since (or none) to "
        f"resume it, or add --restart to start over back to {since.isoformat()}"
    )


# --- 2-7. the walk --------------------------------------------------------------------------


async def run_backfill(
    source: Source,
    since: datetime | None,
    deps: Deps,
    *,
    restart: bool = False,
    on_page: Callable[[PageResult], None] | None = None,
    now: Clock = utc_now,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> BackfillRun:
    """Walk `source` back to `since` from where its recorded walk stands (see the module doc)."""
    row, started = begin(deps.store, source, since, restart=restart, now=now())
    run = BackfillRun(source=source.name, since=row.since, started=started)
    if row.finished_at is not None:
        run.outcome = "finished"
        run.reason = f"already finished at {row.finished_at:%Y-%m-%d %H:%M} UTC"
        return _with_totals(run, row)
    if row.retry_after_until and row.retry_after_until > now():
        run.reason = f"the site asked to wait until {row.retry_after_until:%Y-%m-%d %H:%M:%S} UTC"
        return _with_totals(run, row)
    ensure_seeds(deps, now())
    last_start: float | None = None
    if row.pages:  # a resumed walk: the last page may have been read a moment ago
        waited = (now() - row.updated_at).total_seconds()
        await sleep(
            min(deps.settings.backfill_delay, max(0.0, deps.settings.backfill_delay - waited))
        )
    while run.outcome == "stopped" and not run.reason:
        if last_start is not None:
            await sleep(max(0.0, last_start + deps.settings.backfill_delay - clock()))
        last_start = clock()
        await _walk_one_page(source, row, deps, run, now, on_page)
    return _with_totals(run, row)


async def _walk_one_page(
    source: Source,
    row: BackfillState,
    deps: Deps,
    run: BackfillRun,
    now: Clock,
    on_page: Callable[[PageResult], None] | None,
) -> None:
    """Read the page at `row.next_url`, archive what is in range, record it; sets `run.reason`
    (and `run.outcome`) when the walk ends or must stop here."""
    assert source.backfill is not None and row.next_url is not None
    url, number = row.next_url, source.backfill.first_page + row.pages
    candidates, problem = await _read_listing(source, url, deps, row, now())
    if problem is not None:
        run.reason = problem
        return
    chosen, oldest, beyond = _choose(candidates, row.since, source.id_pattern)
    report = SourceReport(source=source.name, started_at=now())
    while True:  # the source's lease, so that a regular poll never runs beside this page
        async with Lease(deps.store, source.name, deps.worker).held() as holder:
            if holder is None:
                await archive_candidates(source, chosen, deps, report, now(), cap=len(chosen))
                break
        log.info("backfill of %s waits: %s is polling it", source.name, holder)
        await asyncio.sleep(LEASE_WAIT)
    page = PageResult(
        number,
        url,
        len(candidates),
        len(chosen),
        report.new,
        report.updated,
        oldest,
        tuple(report.errors),
    )
    run.pages.append(page)
    if on_page:
        on_page(page)
    if report.retry_after:  # an article page said "slow down": read this page again later
        _record_wait(deps.store, row, url, report.retry_after, "an article page", now())
        run.reason = f"rate limited on an article of page {number}; resume later"
        return
    done = _end_reason(candidates, beyond, row.pages + 1, source.backfill.max_pages)
    moved = advance_backfill_row(
        deps.store,
        row,
        url,
        next_url=None if done else source.backfill.page_url(number + 1),
        pages=row.pages + 1,
        found=row.found + len(candidates),
        archived=row.archived + report.new,
        oldest_seen=_earliest(oldest, row.oldest_seen),
        updated_at=now(),
        finished_at=now() if done else None,
        last_error="; ".join(report.errors[:3]) or None,
        retry_after_until=None,
    )
    if not moved:
        run.outcome, run.reason = "superseded", "another run moved this backfill on; stopped"
    elif done:
        run.outcome, run.reason = "finished", done


async def _read_listing(
    source: Source, url: str, deps: Deps, row: BackfillState, now: datetime
) -> tuple[list[Candidate], str | None]:
    """The page's article links, or why the walk stops here. A page past the end (404, or no
    links the selector picks) yields no links: that ends the walk, not an error."""
    try:
        page = await deps.fetcher.get(url, source=source.name, purpose="backfill")
    except FetchError as exc:
        if isinstance(exc, HTTPStatusError) and exc.status == 404 and row.pages > 0:
            return [], None
        if exc.retry_after is not None or exc.status == 429:
            return [], _record_wait(deps.store, row, url, exc.retry_after, str(exc), now)
        _record_error(deps.store, row, url, f"{exc.kind}: {exc}", now)
        return [], f"listing page failed ({exc.kind}: {exc}); run again to resume"
    try:
        found = discover(
            "listing",
            page.body,
            page.text,
            page.final_url,
            source,
            selector=source.backfill_selector,
        )
    except ParseError as exc:
        if row.pages == 0:  # the very first page: the selector is wrong, not the walk over
            _record_error(deps.store, row, url, str(exc), now)
            return [], f"{exc}; check the backfill selector"
        log.info("backfill of %s ends: %s", source.name, exc)
        return [], None
    return found.candidates, None


def _choose(
    candidates: list[Candidate], since: datetime, id_pattern: str | None
) -> tuple[dict[str, Candidate], datetime | None, bool]:
    """The links to archive (by article key), the page's oldest date, and whether every dated
    link is older than `since` (then nothing is chosen: undated links there are old too)."""
    dated = [c.published_at for c in candidates if c.published_at is not None]
    oldest = min(dated) if dated else None
    beyond = bool(dated) and max(dated) < since
    chosen: dict[str, Candidate] = {}
    for candidate in [] if beyond else candidates:
        if candidate.published_at is None or candidate.published_at >= since:
            chosen.setdefault(article_key(candidate.url, id_pattern), candidate)
    return chosen, oldest, beyond


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def _end_reason(candidates: list[Candidate], beyond: bool, pages: int, max_pages: int) -> str:
    if not candidates:
        return "reached a page without article links"
    if beyond:
        return "reached a page older than the date asked for"
    if pages >= max_pages:
        return f"read max_pages ({max_pages}) pages"
    return ""


def _record_wait(
    store: Store, row: BackfillState, url: str, seconds: float | None, what: str, now: datetime
) -> str:
    until = now + timedelta(seconds=seconds) if seconds else None
    wait = f"; the site asked to wait {seconds:g} s" if seconds else ""
    message = f"rate limited at {url}: {what}{wait}"
    note_backfill_wait(store, row.source, now, message, until)
    row.retry_after_until = until
    return f"{message}; run again later to resume"


def _record_error(store: Store, row: BackfillState, url: str, message: str, now: datetime) -> None:
    note_backfill_error(store, row.source, now, message)


def _with_totals(run: BackfillRun, row: BackfillState) -> BackfillRun:
    run.total_pages, run.total_found, run.total_archived = row.pages, row.found, row.archived
    run.oldest_seen, run.next_url = row.oldest_seen, row.next_url
    run.retry_after_until = row.retry_after_until
    return run
