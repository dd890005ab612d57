"""The archive: one `Store` facade over the database, used by every stage that keeps state.

All writes go through this class; each method is one short transaction and is idempotent, so two
workers (or a retried job) writing the same article or poll report converge on one row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.core.records import FetchOutcome, SourceReport, Validators
from monitor.store.db import Access, migrate, open_engine, require_writable
from monitor.store.tables import (
    Article,
    ArticleAlias,
    ArticleEntity,
    ArticleTopic,
    FetchLog,
    HttpCache,
    PollLog,
    RobotsFile,
    SourceState,
)
from monitor.store.warc import WarcRef

__all__ = [
    "Article",
    "ArticleRecord",
    "EntityRow",
    "KnownArticle",
    "Saved",
    "SourceStatus",
    "Store",
]


@dataclass(frozen=True)
class ArticleRecord:
    """An article as the pipeline hands it to the archive."""

    source: str
    key: str
    aliases: tuple[str, ...]  # every key it was found under, `key` included
    url: str
    title: str
    text: str
    author: str | None
    lang: str | None
    published_at: datetime | None  # None: no date from the source ("unknown")
    date_source: str
    listed_at: datetime | None
    fetched_at: datetime
    content_hash: str
    extraction: str
    http_status: int
    warc: WarcRef | None


@dataclass(frozen=True)
class EntityRow:
    kind: str  # "country" | "person" | "place" | "org" | "project"
    entity: str  # the rules' id
    name: str
    count: int


@dataclass(frozen=True)
class Saved:
    outcome: str  # "new" | "updated" | "unchanged"
    article_id: int


@dataclass(frozen=True)
class KnownArticle:
    id: int
    listed_at: datetime | None
    content_hash: str


@dataclass(frozen=True)
class SourceStatus:
    name: str
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    articles: int
    new_24h: int
    fetched_7d: int
    empty_7d: int
    recent_errors: list[str]

    @property
    def empty_share(self) -> float:
        return self.empty_7d / self.fetched_7d if self.fetched_7d else 0.0


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, access: Access = "create") -> Store:
        """The archive at `url`, its schema brought up to date. A writing `access` ("create",
        the default, or "write") first proves that the archive takes writes, so a read-only or
        full one stops a command before it starts; "read" and "write" never create an archive
        (see `Access`). Each failure is one of the archive errors of `monitor.core.errors`."""
        engine = open_engine(url, access)
        try:
            migrate(engine)
            if access != "read":
                require_writable(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # robots.txt (the fetcher's RobotsCache)
    def load_robots(self, origin: str) -> tuple[str, datetime] | None:
        with self.session() as s:
            row = s.get(RobotsFile, origin)
            return (row.body, row.fetched_at) if row else None

    def save_robots(self, origin: str, body: str, fetched_at: datetime) -> None:
        with self.session() as s:
            s.merge(RobotsFile(origin=origin, body=body, fetched_at=fetched_at))
            s.commit()

    # conditional GET
    def validators(self, url: str) -> Validators | None:
        with self.session() as s:
            row = s.get(HttpCache, url)
            return Validators(row.etag, row.last_modified) if row else None

    def save_validators(self, url: str, validators: Validators, at: datetime) -> None:
        with self.session() as s:
            s.merge(
                HttpCache(
                    url=url,
                    etag=validators.etag,
                    last_modified=validators.last_modified,
                    checked_at=at,
                )
            )
            s.commit()

    # logs
    def log_fetch(self, outcome: FetchOutcome) -> None:
        with self.session() as s:
            s.add(
                FetchLog(
                    source=outcome.source,
                    url=outcome.url,
                    purpose=outcome.purpose,
                    at=outcome.at,
                    status=outcome.status,
                    bytes=outcome.bytes,
                    duration_ms=round(outcome.duration * 1000),
                    attempts=outcome.attempts,
                    error_kind=outcome.error_kind,
                    error=outcome.error,
                )
            )
            s.commit()

    def fetch_log(self, source: str | None = None, limit: int = 50) -> list[FetchLog]:
        with self.session() as s:
            query = select(FetchLog).order_by(col(FetchLog.id).desc()).limit(limit)
            if source:
                query = query.where(FetchLog.source == source)
            return list(s.exec(query))

    def record_poll(self, report: SourceReport, next_check_at: datetime) -> None:
        """Store a poll's report and move the source's state on, in one transaction."""
        finished = report.finished_at or report.started_at
        with self.session() as s:
            s.add(
                PollLog(
                    source=report.source,
                    started_at=report.started_at,
                    finished_at=finished,
                    ok=report.ok,
                    discovered=report.discovered,
                    new=report.new,
                    updated=report.updated,
                    unchanged=report.unchanged,
                    empty=report.empty,
                    duplicates=report.duplicates,
                    not_modified=report.not_modified,
                    errors="\n".join(report.errors) or None,
                )
            )
            state = s.get(SourceState, report.source) or SourceState(name=report.source)
            state.last_attempt_at = report.started_at
            state.next_check_at = next_check_at
            if report.ok:
                state.last_success_at = finished
                state.consecutive_failures = 0
                state.last_error = None
            else:
                state.consecutive_failures += 1
                state.last_error = report.errors[0]
            state.retry_after_until = (
                finished + timedelta(seconds=report.retry_after) if report.retry_after else None
            )
            s.add(state)
            s.commit()

    def source_state(self, name: str) -> SourceState:
        with self.session() as s:
            return s.get(SourceState, name) or SourceState(name=name)

    def due_sources(self, names: Iterable[str], now: datetime) -> list[str]:
        """The names whose next check has come (or that were never polled)."""
        names = list(names)
        with self.session() as s:
            rows = {
                row.name: row
                for row in s.exec(select(SourceState).where(col(SourceState.name).in_(names)))
            }
        due = []
        for name in names:
            row = rows.get(name)
            if row is None or row.next_check_at is None or row.next_check_at <= now:
                due.append(name)
        return due

    def take_lease(
        self,
        name: str,
        owner: str,
        now: datetime,
        ttl: timedelta,
        replacing: str | None = None,
    ) -> str | None:
        """Take (or extend) the source's poll lease for `owner`, unless another worker holds a
        live one (`replacing` names a holder known to be dead). Returns None when taken, else the
        holder. One UPDATE decides, so two workers racing for it cannot both win."""
        with self.session() as s:
            if s.get(SourceState, name) is None:
                s.add(SourceState(name=name))
                try:
                    s.commit()
                except IntegrityError:  # another worker made the row first: fine
                    s.rollback()
            free = or_(
                col(SourceState.lease_owner).is_(None),
                col(SourceState.lease_owner).in_([owner, replacing or owner]),
                col(SourceState.lease_until) <= now,
            )
            taken = s.execute(
                update(SourceState)
                .where(col(SourceState.name) == name, free)
                .values(lease_owner=owner, lease_until=now + ttl)
            )
            s.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return None
            holder = s.exec(
                select(SourceState.lease_owner).where(col(SourceState.name) == name)
            ).first()
            return holder or "another worker"

    def drop_lease(self, name: str, owner: str) -> None:
        """Give the lease back (only if `owner` still holds it)."""
        with self.session() as s:
            s.execute(
                update(SourceState)
                .where(col(SourceState.name) == name, col(SourceState.lease_owner) == owner)
                .values(lease_owner=None, lease_until=None)
            )
            s.commit()

    # articles
    def known_articles(self, source: str, keys: Iterable[str]) -> dict[str, KnownArticle]:
        keys = list(set(keys))
        found: dict[str, KnownArticle] = {}
        with self.session() as s:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = (
                    select(ArticleAlias.key, Article.id, Article.listed_at, Article.content_hash)
                    .join(Article, col(Article.id) == ArticleAlias.article_id)
                    .where(ArticleAlias.source == source, col(ArticleAlias.key).in_(chunk))
                )
                for key, article_id, listed_at, digest in s.exec(query):
                    found[key] = KnownArticle(article_id or 0, listed_at, digest)
        return found

    def touch_articles(self, ids: Iterable[int], seen_at: datetime) -> None:
        ids = list(ids)
        if not ids:
            return
        with self.session() as s:
            for article in s.exec(select(Article).where(col(Article.id).in_(ids))):
                article.last_seen_at = max(article.last_seen_at, seen_at)
                s.add(article)
            s.commit()

    def save_article(self, record: ArticleRecord) -> Saved:
        """Insert or update; says which ("new", "updated", "unchanged") and the row's id.
        Safe to repeat."""
        for _ in range(2):
            try:
                return self._save_article_once(record)
            except IntegrityError:
                continue  # another writer inserted it first: the second pass updates it
        return self._save_article_once(record)

    def _save_article_once(self, record: ArticleRecord) -> Saved:
        with self.session() as s:
            existing = s.exec(
                select(Article)
                .join(ArticleAlias, col(Article.id) == ArticleAlias.article_id)
                .where(
                    ArticleAlias.source == record.source,
                    col(ArticleAlias.key).in_(record.aliases),
                )
            ).first()
            if existing is None:
                article = Article(
                    source=record.source,
                    key=record.key,
                    first_seen_at=record.fetched_at,
                    last_seen_at=record.fetched_at,
                    **_article_fields(record),
                )
                s.add(article)
                s.flush()
                outcome = "new"
            else:
                article = existing
                article.last_seen_at = max(article.last_seen_at, record.fetched_at)
                if record.listed_at and (
                    article.listed_at is None or record.listed_at > article.listed_at
                ):
                    article.listed_at = record.listed_at
                if article.content_hash != record.content_hash:
                    fields = _article_fields(record)
                    fields.pop("listed_at")
                    if record.published_at is None:  # a date the source once gave stays
                        for name in ("published_at", "published_offset_min", "date_source"):
                            fields.pop(name)
                    for name, value in fields.items():
                        setattr(article, name, value)
                    article.revisions += 1
                    outcome = "updated"
                else:
                    outcome = "unchanged"
                s.add(article)
            assert article.id is not None
            have = set(
                s.exec(select(ArticleAlias.key).where(ArticleAlias.article_id == article.id))
            )
            for key in dict.fromkeys(record.aliases):
                if key not in have:
                    s.add(ArticleAlias(source=record.source, key=key, article_id=article.id))
            if outcome != "unchanged":
                from monitor.store.fulltext import index_article

                index_article(s, article)  # the full-text index, in the same transaction
            s.commit()
            return Saved(outcome, article.id)

    def articles(
        self,
        *,
        since: datetime | None = None,
        sources: list[str] | None = None,
        where: Sequence[Any] = (),
        batch: int = 500,
    ) -> Iterator[Article]:
        """Articles oldest first, read in batches so an export of years stays small in memory;
        `where` adds conditions on `Article` (the search filters, for export)."""
        last_id = 0
        while True:
            with self.session() as s:
                query = select(Article).where(col(Article.id) > last_id, *where)
                if since:
                    query = query.where(col(Article.published_at) >= since)
                if sources:
                    query = query.where(col(Article.source).in_(sources))
                rows = list(s.exec(query.order_by(col(Article.id)).limit(batch)))
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id or last_id

    def article(self, article_id: int) -> Article | None:
        with self.session() as s:
            return s.get(Article, article_id)

    def replace_extraction(self, article_id: int, **fields: object) -> None:
        with self.session() as s:
            article = s.get(Article, article_id)
            if article is None:
                return
            for name, value in fields.items():
                setattr(article, name, value)
            s.add(article)
            if {"title", "text", "lang"} & fields.keys():
                from monitor.store.fulltext import index_article

                index_article(s, article)  # the full-text index, in the same transaction
            s.commit()

    def save_tagging(
        self,
        article_id: int,
        *,
        relevant: bool,
        score: float,
        reasons: Sequence[str],
        topics: Sequence[str],
        entities: Sequence[EntityRow],
        tagged_with: str,
    ) -> None:
        """Replace an article's tags in one transaction (a retag leaves no stale topic behind)."""
        with self.session() as s:
            article = s.get(Article, article_id)
            if article is None:
                return
            article.relevant, article.score = relevant, score
            article.reasons = json.dumps(list(reasons), ensure_ascii=False)
            article.tagged_with = tagged_with
            s.add(article)
            s.execute(delete(ArticleTopic).where(col(ArticleTopic.article_id) == article_id))
            s.execute(delete(ArticleEntity).where(col(ArticleEntity.article_id) == article_id))
            s.add_all(ArticleTopic(article_id=article_id, topic=t) for t in dict.fromkeys(topics))
            s.add_all(
                ArticleEntity(
                    article_id=article_id, kind=e.kind, entity=e.entity, name=e.name, count=e.count
                )
                for e in {(e.kind, e.entity): e for e in entities}.values()
            )
            s.commit()

    def tags_for(self, ids: Sequence[int]) -> dict[int, tuple[list[str], list[EntityRow]]]:
        """Topics and entities of the given articles, in two queries."""
        found: dict[int, tuple[list[str], list[EntityRow]]] = {i: ([], []) for i in ids}
        with self.session() as s:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                topics = select(ArticleTopic).where(col(ArticleTopic.article_id).in_(chunk))
                for topic in s.exec(topics.order_by(col(ArticleTopic.topic))):
                    found[topic.article_id][0].append(topic.topic)
                entities = select(ArticleEntity).where(col(ArticleEntity.article_id).in_(chunk))
                for e in s.exec(entities.order_by(col(ArticleEntity.count).desc())):
                    found[e.article_id][1].append(EntityRow(e.kind, e.entity, e.name, e.count))
        return found

    def count_articles(self, source: str | None = None) -> int:
        with self.session() as s:
            query = select(func.count()).select_from(Article)
            if source:
                query = query.where(Article.source == source)
            return int(s.exec(query).one())

    def status(self, names: Iterable[str], now: datetime) -> list[SourceStatus]:
        day, week = now - timedelta(days=1), now - timedelta(days=7)
        rows = []
        with self.session() as s:
            for name in names:
                state = s.get(SourceState, name) or SourceState(name=name)

                def count(*conditions: Any, name: str = name) -> int:
                    query = select(func.count()).select_from(Article)
                    query = query.where(Article.source == name, *conditions)
                    return int(s.exec(query).one())

                errors = s.exec(
                    select(FetchLog)
                    .where(FetchLog.source == name, col(FetchLog.error_kind).is_not(None))
                    .where(col(FetchLog.at) >= week)
                    .order_by(col(FetchLog.id).desc())
                    .limit(5)
                )
                rows.append(
                    SourceStatus(
                        name=name,
                        last_attempt_at=state.last_attempt_at,
                        last_success_at=state.last_success_at,
                        next_check_at=state.next_check_at,
                        consecutive_failures=state.consecutive_failures,
                        last_error=state.last_error,
                        articles=count(),
                        new_24h=count(col(Article.first_seen_at) >= day),
                        fetched_7d=count(col(Article.fetched_at) >= week),
                        empty_7d=count(
                            col(Article.fetched_at) >= week, Article.extraction == "empty"
                        ),
                        recent_errors=[
                            f"{e.at:%Y-%m-%d %H:%M} {e.purpose} {e.error_kind}: {e.error}"
                            for e in errors
                        ],
                    )
                )
        return rows


def _article_fields(record: ArticleRecord) -> dict[str, Any]:
    offset = record.published_at.utcoffset() if record.published_at else None
    return {
        "url": record.url,
        "title": record.title,
        "text": record.text,
        "author": record.author,
        "lang": record.lang,
        "published_at": record.published_at,
        "published_offset_min": int(offset.total_seconds() // 60) if offset else 0,
        "date_source": record.date_source,
        "listed_at": record.listed_at,
        "fetched_at": record.fetched_at,
        "content_hash": record.content_hash,
        "extraction": record.extraction,
        "http_status": record.http_status,
        "warc_file": record.warc.file if record.warc else None,
        "warc_offset": record.warc.offset if record.warc else None,
        "warc_length": record.warc.length if record.warc else None,
    }
