"""The archive's tables. Every change here comes with an alembic migration in `migrations/versions`
(a test compares these models with the migrated database).

All datetimes are stored in UTC (`UTCDateTime`) and come back aware; an article also keeps the UTC
offset its publication date was given in, so exports show the local time the site printed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the archive; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table(model: type[SQLModel]) -> Table:
    """A model's table, for the statements of the archive path: an INSERT, UPDATE or DELETE on
    the table skips the ORM's bulk paths, which cost as much again as the statement (ORM
    `update(Article)` 215 µs with its commit, on the table 150 µs; 32 band rows 486 against
    253 µs), and no object is loaded or flushed."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def _when(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class SourceState(SQLModel, table=True):
    """What the monitor knows of each source between polls: the scheduler reads it, polls write it."""

    __tablename__ = "source_state"

    name: str = Field(primary_key=True)
    next_check_at: datetime | None = _when()
    last_attempt_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    retry_after_until: datetime | None = _when()
    # The lease of the worker polling the source now: one poll of a source at a time, across
    # processes. A lease past `lease_until` is free again (its worker died).
    lease_owner: str | None = None
    lease_until: datetime | None = _when()


class BackfillState(SQLModel, table=True):
    """A backfill of one source's history (`monitor backfill`): where the walk back through its
    archive or listing pages has got to, so an interrupted run resumes there."""

    __tablename__ = "backfill_state"

    source: str = Field(primary_key=True)
    since: datetime = _when(nullable=False)  # walk back to articles published on or after this
    next_url: str | None = Field(default=None, sa_column=Column(Text))  # None once finished
    pages: int = 0  # listing or archive pages read
    found: int = 0  # article links found on them
    archived: int = 0  # of them newly archived
    oldest_seen: datetime | None = _when()  # the oldest date a page gave
    started_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)
    finished_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    retry_after_until: datetime | None = _when()  # the site asked us to wait (429, Retry-After)


class FrontierRow(SQLModel, table=True):
    """An article URL discovery found and the archive has not yet taken: the durable frontier.

    Discovery writes these before it saves a feed's validators, so a crash, a per-poll cap, a
    full disk or a 304 never loses a URL. A row leaves the frontier when its article is archived;
    after its retry budget it stays, `state` "failed", with the reason. A worker claims rows
    (`claimed_by`, `claimed_until`) before fetching them; a claim past `claimed_until`, or held
    by a process of this host that no longer runs, is free again."""

    __tablename__ = "frontier"
    __table_args__ = (
        UniqueConstraint("source", "key", name="uq_frontier_source_key"),
        Index("ix_frontier_source_state_due", "source", "state", "next_try_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    key: str  # the article's identity within the source, as in `article.key`
    url: str = Field(sa_column=Column(Text, nullable=False))  # canonical
    link: str | None = Field(default=None, sa_column=Column(Text))  # as published, fetched
    via: str  # "feed" | "sitemap" | "listing" | "backfill"
    title: str | None = Field(default=None, sa_column=Column(Text))
    summary: str | None = Field(default=None, sa_column=Column(Text))
    lang: str | None = None
    listed_at: datetime | None = _when()  # the date discovery gave
    listed_offset_min: int = 0  # the UTC offset it was given in (a feed-dated article keeps it)
    discovered_at: datetime = _when(nullable=False)
    state: str = "waiting"  # "waiting" | "failed"
    attempts: int = 0
    next_try_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    claimed_by: str | None = None  # monitor.core.workers.worker_name() of the fetching worker
    claimed_until: datetime | None = _when()


class HttpCache(SQLModel, table=True):
    """Conditional-GET validators per URL (feeds, sitemaps, listings)."""

    __tablename__ = "http_cache"

    url: str = Field(primary_key=True)
    etag: str | None = None
    last_modified: str | None = None
    checked_at: datetime | None = _when()


class RobotsFile(SQLModel, table=True):
    """robots.txt per origin, so a restart or another worker does not fetch it again."""

    __tablename__ = "robots_file"

    origin: str = Field(primary_key=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    fetched_at: datetime = _when(nullable=False)


class FetchLog(SQLModel, table=True):
    """Every HTTP request the monitor made, with its outcome."""

    __tablename__ = "fetch_log"
    __table_args__ = (Index("ix_fetch_log_source_at", "source", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    url: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str
    at: datetime = _when(nullable=False)
    status: int | None = None
    bytes: int = 0
    duration_ms: int = 0
    attempts: int = 1
    error_kind: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))


class PollLog(SQLModel, table=True):
    """One row per poll of a source: the SourceReport as stored."""

    __tablename__ = "poll_log"
    __table_args__ = (Index("ix_poll_log_source_started", "source", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    started_at: datetime = _when(nullable=False)
    finished_at: datetime | None = _when()
    ok: bool = True
    discovered: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    empty: int = 0
    duplicates: int = 0
    not_modified: int = 0
    errors: str | None = Field(default=None, sa_column=Column(Text))


ORIGINALS_INDEX_COLUMNS = ("id", "published_at", "lang", "source", "relevant", "duplicate_of")
SEARCH_FACTS_COLUMNS = (*ORIGINALS_INDEX_COLUMNS, "story_id")


class Article(SQLModel, table=True):
    """One archived article: its text, metadata and where its raw capture lies."""

    __tablename__ = "article"
    __table_args__ = (
        UniqueConstraint("source", "key", name="uq_article_source_key"),
        # What counting originals per period reads of each match (monitor.search.backend
        # `count_by_period`): covering, so the rows and their texts are never read; partial,
        # holding originals only, so no copy's long `duplicate_of` URL is ever a key.
        Index(
            "ix_article_originals",
            *ORIGINALS_INDEX_COLUMNS,
            sqlite_where=text("duplicate_of IS NULL"),
            postgresql_where=text("duplicate_of IS NULL"),
        ),
        # What a search on SQLite reads of each match it ranks (the boosts: relevance, copy; the
        # date it orders by), filters (date, language, source) or groups (story): covering and
        # keyed by id, so a match's row, whose text lies before those columns, is never read (at
        # 100,000 articles a word filtered by language and date 45.6 -> 20.1 ms, a frequent word
        # 12.8 -> 10.3 ms). PostgreSQL reads them from its index rows (`monitor.store.fulltext`).
        Index("ix_article_facts", *SEARCH_FACTS_COLUMNS).ddl_if(dialect="sqlite"),
        # The newest first, as a search without words lists them: without it PostgreSQL sorts
        # every row (SQLite reads `published_at`'s index backwards: NULLs sort last there).
        Index("ix_article_newest", text("published_at DESC NULLS LAST"), text("id DESC")).ddl_if(
            dialect="postgresql"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    key: str  # identity within the source: "id:4411239" or "url:<canonical url>"
    url: str = Field(sa_column=Column(Text, nullable=False, index=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    author: str | None = None
    lang: str | None = None
    # What the source says: the page, the feed or listing, or the seed manifest. None ("date
    # unknown") when none of them gives a date: the fetch time is no publication date.
    published_at: datetime | None = _when(index=True)
    published_offset_min: int = 0  # UTC offset the date was given in (Baku +240, Astana +300)
    date_source: str = "page"  # "page" | "feed" | "manifest" | "unknown"
    listed_at: datetime | None = _when()  # newest date a feed/listing gave for this article
    fetched_at: datetime = _when(nullable=False)
    first_seen_at: datetime = _when(nullable=False)
    last_seen_at: datetime = _when(nullable=False)
    content_hash: str = Field(index=True)
    extraction: str = "empty"  # "selectors" | "trafilatura" | "empty"
    http_status: int = 200
    revisions: int = 1
    warc_file: str | None = None  # relative to the WARC directory
    warc_offset: int | None = None
    warc_length: int | None = None
    # Set by dedupe: the copy this one repeats ("seed:<seed id>" or the first copy's canonical URL)
    # and how alike they are (0..1); None for an original.
    duplicate_of: str | None = Field(default=None, sa_column=Column(Text))
    similarity: float | None = None
    # Set by tagging (None until tagged): relevance to Azerbaijan–Kazakhstan relations, its score
    # and the reasons given, and the tagger version and rules digest that produced them.
    relevant: bool | None = Field(default=None, index=True)
    score: float | None = None
    reasons: str | None = Field(default=None, sa_column=Column(Text))  # JSON list of strings
    tagged_with: str | None = None  # "<tagger version>:<rules digest>"
    # The last stage the article has passed, in the order of monitor.core.stages.STAGES: a crash
    # between two stages leaves it here, and the next cycle finishes from this point.
    stage: str = Field(default="extracted", index=True)
    # Set by linking: the story (one real-world event, monitor.link) the article reports.
    story_id: int | None = Field(default=None, index=True)


class ArticleTopic(SQLModel, table=True):
    """The topics tagging gave an article (several may apply)."""

    __tablename__ = "article_topic"

    article_id: int = Field(foreign_key="article.id", primary_key=True)
    topic: str = Field(primary_key=True, index=True)


class ArticleEntity(SQLModel, table=True):
    """People, organisations, places, countries and projects found in an article, from the rules."""

    __tablename__ = "article_entity"

    article_id: int = Field(foreign_key="article.id", primary_key=True)
    kind: str = Field(primary_key=True)
    entity: str = Field(primary_key=True, index=True)  # the rules' id, e.g. "ilham-aliyev"
    name: str
    count: int = 1


class ArticleAlias(SQLModel, table=True):
    """Every key under which an article was discovered, so another URL of it is not fetched again."""

    __tablename__ = "article_alias"

    source: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)


class DedupeSketch(SQLModel, table=True):
    """What dedupe keeps of an article's text (monitor.dedupe.sketch.Sketch), so that lookups and a
    rebuilt index never read texts again. The band and fingerprint tables derive from it."""

    __tablename__ = "dedupe_sketch"

    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id"), primary_key=True, autoincrement=False)
    )
    reference: str = Field(sa_column=Column(Text, nullable=False))  # what its copies link to
    body_hash: str = Field(index=True)  # sha256 of the normalised body: exact copies
    words: int
    minhash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fingerprints: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # int32 LE, sorted
    version: int  # monitor.dedupe.sketch.SKETCH_VERSION it was made with


class DedupeBand(SQLModel, table=True):
    """LSH index: (band, hash of the band's MinHash rows) → article. Near copies share a band."""

    __tablename__ = "dedupe_band"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key is the only B-tree

    band: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    hash: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    article_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))


class DedupeFingerprint(SQLModel, table=True):
    """Containment index: winnowed shingle hash → article. Excerpts and pages around an archived
    text share many of its fingerprints."""

    __tablename__ = "dedupe_fingerprint"
    __table_args__ = {"sqlite_with_rowid": False}

    hash: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    article_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))


class Story(SQLModel, table=True):
    """One real-world event and the articles, from any site and language, that report it
    (`article.story_id`). Its title is not stored: it is the best member's, in the reader's
    language (monitor.link.members)."""

    __tablename__ = "story"

    id: int | None = Field(default=None, primary_key=True)
    first_at: datetime | None = _when(index=True)  # the earliest member's publication date
    last_at: datetime | None = _when(index=True)  # the latest member's
    articles: int = 1
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False, index=True)  # when a member last joined


class StorySignature(SQLModel, table=True):
    """What linking keeps of an article (monitor.link.decide.Signature and its vector), so that
    linking the next one reads no text. `model` names the embedding model and its version: a
    vector of another model is made again, never compared."""

    __tablename__ = "story_signature"

    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id"), primary_key=True, autoincrement=False)
    )
    model: str
    content_hash: str  # the article's text when it was read: a new text is read again
    at: datetime | None = _when(index=True)  # the publication date: candidates are a window of it
    lang: str | None = None
    words: int = 0
    names: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    numbers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float16, L2-normalised


class Delivery(SQLModel, table=True):
    """The outbox: one message owed to one channel, recorded with its rendered payload before it is
    sent, claimed by one worker, then marked. States and the crash rules: monitor/store/outbox.py."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("key", name="uq_delivery_key"),
        Index("ix_delivery_channel_state", "channel", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str  # "telegram" | "telegram-instant" | "email" | "file-telegram" | "file-email"
    key: str  # "telegram:2026-11-21T10:00+04:00#part1", "email:2026-W47": once per key, ever
    state: str = "pending"  # "pending" | "sending" | "sent" | "failed" | "unknown"
    attempts: int = 0
    next_attempt_at: datetime | None = _when()
    claim_token: str | None = None  # the worker that marked it sending
    claimed_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    remote_id: str | None = None  # Telegram message id, SMTP Message-ID, file path
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _when(nullable=False)
    sent_at: datetime | None = _when()


class DeliveryItem(SQLModel, table=True):
    """The articles a delivery covers, so "which articles were already posted" is a query."""

    __tablename__ = "delivery_item"

    delivery_id: int = Field(foreign_key="delivery.id", primary_key=True)
    article_id: int = Field(foreign_key="article.id", primary_key=True, index=True)


class SourceAlert(SQLModel, table=True):
    """The last alert state told to the operator, per source (so a restart neither repeats an
    alert nor forgets that a source was broken)."""

    __tablename__ = "source_alert"

    source: str = Field(primary_key=True)
    state: str  # "broken" | "ok"
    reason: str | None = None  # "failing" | "extraction" while broken
    changed_at: datetime = _when(nullable=False)  # broken: first bad poll; ok: the recovering one
    message: str = Field(sa_column=Column(Text, nullable=False))  # the plain text sent
