"""The plain records the archive takes and gives back, beside its tables: an article as the
pipeline hands it over (`ArticleRecord`), what saving it did (`Saved`), what the archive already
knows of a listed key (`KnownArticle`), an article's entity counts (`EntityRow`) and a source's
health as `monitor status` shows it (`SourceStatus`). They are frozen values, so a stage can hold
them without a session and tests can build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.store.warc import WarcRef


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
    warc: WarcRef | None = None  # its latest capture: an unchanged re-fetch is a revisit of it


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
