"""The durable frontier and the stage rows: what discovery found and the archive has not yet taken,
and which archived articles still wait at a stage.

Every operation is one short transaction. `enqueue` writes a page's article URLs and only then its
conditional-GET validators, in the same transaction, so a 304 can never hide a URL that was not
stored. `claim` hands a worker the next rows of a source (newest listed first) with `FOR UPDATE
SKIP LOCKED` on PostgreSQL, so workers on several machines never take one row twice; SQLite has
one writer at a time and the claim is a single UPDATE. What to retry and when is the crawl stage's
decision (monitor.crawl.frontier); these methods only record it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, func, update
from sqlmodel import col, select

from monitor.core.records import Candidate, Validators
from monitor.core.stages import LAST
from monitor.store.article_rows import stage_passed
from monitor.store.db import Sessions
from monitor.store.tables import Article, ArticleAlias, FrontierRow, HttpCache, table


@dataclass(frozen=True)
class Discovered:
    """One article URL as discovery hands it to the frontier: its identity within the source and
    what the feed, sitemap or listing said of it."""

    key: str
    candidate: Candidate


@dataclass(frozen=True)
class Claimed:
    """A frontier row a worker has claimed, to fetch: what discovery said of it, and how often
    its fetch failed before."""

    id: int
    source: str
    found: Discovered
    attempts: int

    @property
    def key(self) -> str:
        return self.found.key


@dataclass(frozen=True)
class Backlog:
    """A source's frontier as `monitor status` shows it."""

    waiting: int
    failed: int
    oldest_at: datetime | None  # when the oldest waiting URL was discovered
    oldest_url: str | None


# `stage_of`'s statement, made once: every stage of every page asks it
_STAGE_OF = select(table(Article).c.stage).where(table(Article).c.id == bindparam("article_id"))


class FrontierRows(Sessions):
    """The `Store`'s frontier and article-stage rows."""

    def enqueue(
        self,
        source: str,
        found: Sequence[Discovered],
        now: datetime,
        validators: tuple[str, Validators] | None = None,
    ) -> int:
        """Add what discovery found to the frontier (a URL already waiting keeps its row and
        takes the newer date; a failed one that a feed now dates later waits again), then save
        the page's validators: one transaction. Returns how many rows were added."""
        added = 0
        with self.session() as s:
            keys = [entry.key for entry in found]
            have: dict[str, FrontierRow] = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = select(FrontierRow).where(
                    FrontierRow.source == source, col(FrontierRow.key).in_(chunk)
                )
                have.update((row.key, row) for row in s.exec(query))
            for entry in found:
                row = have.get(entry.key)
                if row is None:
                    row = FrontierRow(
                        source=source,
                        key=entry.key,
                        url=entry.candidate.url,
                        via=entry.candidate.via,
                        discovered_at=now,
                    )
                    _write(row, entry.candidate)
                    have[entry.key] = row
                    added += 1
                elif (listed := entry.candidate.published_at) and (
                    row.listed_at is None or listed > row.listed_at
                ):
                    _write(row, replace(entry.candidate, title=entry.candidate.title or row.title))
                    if row.state == "failed":
                        row.state, row.attempts, row.next_try_at = "waiting", 0, None
                s.add(row)
            if validators is not None:
                url, given = validators
                s.merge(
                    HttpCache(
                        url=url, etag=given.etag, last_modified=given.last_modified, checked_at=now
                    )
                )
            s.commit()
        return added

    def claim(
        self,
        source: str,
        worker: str,
        limit: int,
        now: datetime,
        hold_for: timedelta,
        is_dead: Callable[[str], bool],
    ) -> list[Claimed]:
        """Claim up to `limit` waiting rows of `source` that are due and not held by a live
        worker, newest listed first; a claim of a worker `is_dead` says is gone is void."""
        if limit <= 0:
            return []
        until = now + hold_for
        with self.session() as s:
            holders = s.exec(
                select(FrontierRow.claimed_by)
                .where(FrontierRow.source == source, col(FrontierRow.claimed_until) > now)
                .distinct()
            )
            dead = [holder for holder in holders if holder and holder != worker and is_dead(holder)]
            if dead:
                s.execute(
                    update(FrontierRow)
                    .where(col(FrontierRow.claimed_by).in_(dead))
                    .values(claimed_by=None, claimed_until=None)
                )
            free = (
                select(FrontierRow.id)
                .where(
                    FrontierRow.source == source,
                    FrontierRow.state == "waiting",
                    (col(FrontierRow.next_try_at).is_(None))
                    | (col(FrontierRow.next_try_at) <= now),
                    (col(FrontierRow.claimed_until).is_(None))
                    | (col(FrontierRow.claimed_until) <= now),
                )
                .order_by(col(FrontierRow.listed_at).desc().nulls_last(), col(FrontierRow.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            # the ids this statement claimed, not every row this worker holds: a poll claims its
            # next rows while the last ones are still in flight
            taken = (
                s.execute(
                    update(FrontierRow)
                    .where(col(FrontierRow.id).in_(free.scalar_subquery()))
                    .values(claimed_by=worker, claimed_until=until)
                    .returning(col(FrontierRow.id))
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            s.commit()
            if not taken:
                return []
            rows = s.exec(
                select(FrontierRow)
                .where(col(FrontierRow.id).in_(taken))
                .order_by(col(FrontierRow.listed_at).desc().nulls_last(), col(FrontierRow.id))
            )
            return [_claimed(row) for row in rows]

    def retry_later(self, row_id: int, reason: str, at: datetime | None) -> None:
        """Record a failed fetch of a claimed row: due again at `at`, or failed for good (its
        reason kept) when `at` is None. The claim is released either way."""
        with self.session() as s:
            row = s.get(FrontierRow, row_id)
            if row is None:  # archived meanwhile by another worker
                return
            row.attempts += 1
            row.last_error = reason
            row.next_try_at = at
            row.state = "waiting" if at is not None else "failed"
            row.claimed_by = row.claimed_until = None
            s.add(row)
            s.commit()

    def forget(self, row_ids: Iterable[int]) -> None:
        """Take rows off the frontier: their article is already archived (seen again)."""
        ids = list(row_ids)
        if not ids:
            return
        with self.session() as s:
            for start in range(0, len(ids), 500):
                for row in s.exec(
                    select(FrontierRow).where(col(FrontierRow.id).in_(ids[start : start + 500]))
                ):
                    s.delete(row)
            s.commit()

    def release(self, worker: str) -> None:
        """Give back every claim of `worker` (a clean stop): others may take the rows at once."""
        with self.session() as s:
            s.execute(
                update(FrontierRow)
                .where(col(FrontierRow.claimed_by) == worker)
                .values(claimed_by=None, claimed_until=None)
            )
            s.commit()

    def backlog(self, sources: Iterable[str]) -> dict[str, Backlog]:
        """Waiting and failed rows per source, and the oldest waiting URL."""
        names = list(sources)
        found = {name: Backlog(0, 0, None, None) for name in names}
        with self.session() as s:
            counts = s.exec(
                select(FrontierRow.source, FrontierRow.state, func.count())
                .where(col(FrontierRow.source).in_(names))
                .group_by(FrontierRow.source, FrontierRow.state)
            )
            tally: dict[str, dict[str, int]] = {}
            for name, state, count in counts:
                tally.setdefault(name, {})[state] = count
            for name, states in tally.items():
                oldest = s.exec(
                    select(FrontierRow.discovered_at, FrontierRow.url)
                    .where(FrontierRow.source == name, FrontierRow.state == "waiting")
                    .order_by(col(FrontierRow.discovered_at), col(FrontierRow.id))
                    .limit(1)
                ).first()
                found[name] = Backlog(
                    states.get("waiting", 0),
                    states.get("failed", 0),
                    oldest[0] if oldest else None,
                    oldest[1] if oldest else None,
                )
        return found

    def known_keys(self, source: str) -> set[str]:
        """Every key of `source` the archive has or its frontier holds: what discovery of a large
        sitemap passes over, so its cap counts only URLs not yet taken."""
        with self.session() as s:
            keys = set(s.exec(select(ArticleAlias.key).where(ArticleAlias.source == source)))
            keys.update(s.exec(select(FrontierRow.key).where(FrontierRow.source == source)))
            return keys

    def frontier_rows(
        self, sources: Iterable[str] | None, state: str, limit: int
    ) -> list[FrontierRow]:
        """Rows in `state` ("waiting" or "failed"), oldest discovered first, for `monitor
        frontier`."""
        with self.session() as s:
            query = select(FrontierRow).where(FrontierRow.state == state)
            if sources is not None:
                query = query.where(col(FrontierRow.source).in_(list(sources)))
            query = query.order_by(col(FrontierRow.discovered_at), col(FrontierRow.id)).limit(limit)
            return list(s.exec(query))

    def sources_with_backlog(self, names: Iterable[str], now: datetime) -> list[str]:
        """The sources among `names` with waiting rows due now and not claimed."""
        with self.session() as s:
            return list(
                s.exec(
                    select(FrontierRow.source)
                    .where(
                        col(FrontierRow.source).in_(list(names)),
                        FrontierRow.state == "waiting",
                        (col(FrontierRow.next_try_at).is_(None))
                        | (col(FrontierRow.next_try_at) <= now),
                        (col(FrontierRow.claimed_until).is_(None))
                        | (col(FrontierRow.claimed_until) <= now),
                    )
                    .distinct()
                )
            )

    # stages
    def mark_stage(self, article_id: int, stage: str) -> None:
        """Record that an article has passed `stage` (never moves it back)."""
        with self.session() as s:
            s.execute(stage_passed(article_id, stage))
            s.commit()

    def stage_of(self, article_id: int) -> str | None:
        """The last stage an article has passed; None when there is no such article. One column:
        the stages' caller decides what to run from it, before reading anything else."""
        with self.session() as s:
            found = s.execute(_STAGE_OF, {"article_id": article_id}).first()
            return None if found is None else str(found.stage)

    def unfinished(self, after: int, limit: int) -> list[tuple[int, str]]:
        """Articles that have not passed every stage, by id: (id, the last stage passed)."""
        with self.session() as s:
            rows = s.exec(
                select(Article.id, Article.stage)
                .where(Article.stage != LAST, col(Article.id) > after)
                .order_by(col(Article.id))
                .limit(limit)
            )
            return [(article_id or 0, stage) for article_id, stage in rows]

    def waiting_by_stage(self) -> dict[str, int]:
        """How many articles have passed each stage short of the last (they wait at the next)."""
        with self.session() as s:
            rows = s.exec(
                select(Article.stage, func.count())
                .where(Article.stage != LAST)
                .group_by(Article.stage)
            )
            return {stage: count for stage, count in rows}


def _write(row: FrontierRow, candidate: Candidate) -> None:
    """Put what discovery said of an article on its row (the date with the offset it came in)."""
    row.url, row.link, row.via = candidate.url, candidate.link, candidate.via
    row.title, row.summary, row.lang = candidate.title, candidate.summary, candidate.lang
    row.listed_at = candidate.published_at
    row.listed_offset_min = _offset_min(candidate.published_at)


def _claimed(row: FrontierRow) -> Claimed:
    listed_at = row.listed_at
    if listed_at is not None:  # in the zone the feed gave it in, as discovery handed it over
        listed_at = listed_at.astimezone(timezone(timedelta(minutes=row.listed_offset_min)))
    candidate = Candidate(
        url=row.url,
        via=row.via,
        title=row.title,
        published_at=listed_at,
        summary=row.summary,
        lang=row.lang,
        link=row.link,
    )
    return Claimed(row.id or 0, row.source, Discovered(row.key, candidate), row.attempts)


def _offset_min(moment: datetime | None) -> int:
    offset = moment.utcoffset() if moment else None
    return round(offset.total_seconds() / 60) if offset else 0
