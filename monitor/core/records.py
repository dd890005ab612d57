"""Plain frozen records passed between the pipeline stages.

Stages never share mutable state: fetch returns a `Page`, discovery returns `Candidate`s, extraction
returns an `ExtractedArticle`, and the pipeline returns a `SourceReport` per source and poll.
A record that shows another one (a search hit of an archived article, the poll log's row of a
report) is made by `copied`, which names only the fields the two do not share.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from time import monotonic
from typing import Any, TypeVar, cast

R = TypeVar("R")


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered per URL for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True)
class Page:
    """One successful HTTP exchange (2xx or 304), body already decoded from its content-encoding."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: tuple[tuple[str, str], ...]  # as received, content-encoding already undone
    body: bytes  # b"" for a 304
    text: str  # body decoded with the detected charset; "" for a 304 or a binary body
    encoding: str | None
    content_type: str  # media type, lower case, without parameters ("text/html")
    fetched_at: datetime
    elapsed: float  # seconds, all attempts included
    attempts: int
    validators: Validators
    http_version: str = "HTTP/1.1"
    reason: str = "OK"
    # The exchange as it went over the wire, kept for the WARC capture (`monitor.store.warc`): an
    # archivist wants the bytes the site sent, not our decoding of them. Pages built without a
    # wire (tests, the seed corpus) leave them empty and are archived from the decoded body.
    request_line: str = ""  # "GET /path?query HTTP/1.1", as sent for the final URL
    request_headers: tuple[tuple[str, str], ...] = ()  # as sent, conditional ones included
    raw_headers: tuple[tuple[str, str], ...] = ()  # as received, Content-Encoding included
    raw_body: bytes | None = None  # still content-encoded; at most the body cap
    truncated: bool = False  # the wire body ran past the cap, so `raw_body` is only its start

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class Candidate:
    """An article URL found by discovery, with whatever the feed, sitemap or listing said of it."""

    url: str  # canonical URL: the article's identity
    via: str  # "feed" | "sitemap" | "listing"
    title: str | None = None
    published_at: datetime | None = None  # aware
    summary: str | None = None  # feed description or content, when it carries text
    lang: str | None = None
    link: str | None = None  # the absolute address as published, fetched instead of `url`
    # (canonical URLs drop trailing slashes and tracking parameters; some sites would answer
    # the canonical form with a redirect, so the page is asked for as the site linked it)

    @property
    def fetch_url(self) -> str:
        return self.link or self.url


@dataclass(frozen=True)
class ExtractedArticle:
    """What extraction found in one article page."""

    title: str
    text: str  # paragraphs separated by a blank line
    published_at: datetime | None  # aware; None when the page gives no date
    author: str | None
    lang: str | None
    canonical_url: str | None
    method: str  # "selectors" | "trafilatura" | "empty"

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()


@dataclass(frozen=True)
class FetchOutcome:
    """One line of the fetch log: every request the monitor made, good or bad."""

    source: str
    url: str
    purpose: str  # "robots" | "feed" | "sitemap" | "listing" | "article"
    at: datetime
    status: int | None
    bytes: int
    duration: float
    attempts: int
    error_kind: str | None = None
    error: str | None = None


@dataclass
class SourceReport:
    """What one poll of one source did. Built up by the pipeline, then stored and printed."""

    source: str
    started_at: datetime
    finished_at: datetime | None = None
    discovered: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    empty: int = 0
    duplicates: int = 0  # of the new and updated articles, copies of an archived text
    relevant: int = 0  # of the new and updated articles, relevant by the rules
    not_modified: int = 0
    errors: list[str] = field(default_factory=list)
    new_titles: list[str] = field(default_factory=list)
    retry_after: float | None = None
    # Seconds the discovery documents said they stay fresh (Cache-Control max-age): the least of
    # them, None when any of them gave none. The next check is not sooner (up to a cap).
    fresh_for: float | None = None
    # Set instead of polling when another worker holds the source's lease: its owner.
    busy: str | None = None
    waiting: int = 0  # article URLs left in the source's frontier for the next poll
    left_out: int = 0  # sitemap URLs past the per-poll cap (the oldest), not taken this time
    # Seconds each step of archiving a page took (fetch, analyse, capture, store, then the
    # stages: dedupe, tag, link), summed over the poll's pages: where a poll's time goes. Wall
    # time of each page's step, so waits for a lock or a core are in it, and the steps of pages
    # archived at once overlap (their sum exceeds the poll's duration).
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, since: float) -> float:
        """Add the time from `since` (a `time.monotonic()` reading) to `stage`; returns the
        clock's reading now, where the next step starts."""
        now = monotonic()
        self.add_times({stage: now - since})
        return now

    def add_times(self, seconds: dict[str, float]) -> None:
        for stage, spent in seconds.items():
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + spent

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line for logs and the terminal."""
        if self.busy:
            return f"skipped: {self.busy} is polling it"
        line = (
            f"{self.discovered} found, {self.new} new, {self.updated} updated, "
            f"{self.unchanged} already archived, {self.not_modified} not modified, "
            f"{self.duplicates} duplicates, {self.relevant} relevant, "
            f"{self.empty} empty extractions"
        )
        if self.waiting:
            line += f", {self.waiting} waiting for the next poll"
        if self.left_out:
            line += f", {self.left_out} older sitemap URLs left out"
        if self.errors:
            line += f"; {len(self.errors)} error(s), first: {self.errors[0]}"
        return line


@dataclass(frozen=True)
class Version:
    """Another account of a story, linked beside the one a digest shows: another site's, or the
    same site's in another language."""

    article_id: int
    source: str
    source_title: str
    lang: str  # "" when unknown
    url: str
    published_at: datetime | None  # aware; None: date unknown
    new: bool = False  # came after the story was posted: what its second post is for


@dataclass(frozen=True)
class DigestItem:
    """One story as the digests show it: the title, link and lead of the member that speaks for
    it (monitor.link.members.best_member), its other versions, and how widely it was told. An
    article no story holds yet (linking waits for its model) is a story of one."""

    article_id: int  # the member shown
    source: str
    source_title: str
    title: str
    url: str
    published_at: datetime | None  # aware, in the site's offset; None: date unknown
    lang: str
    topics: tuple[str, ...]  # of all its members that may be shown
    snippet: str
    score: float  # the best of its members'
    story_id: int | None = None
    versions: tuple[Version, ...] = ()
    sites: int = 1
    languages: int = 1
    news: tuple[int, ...] = ()  # the members not posted before that bring it to this digest
    covers: tuple[int, ...] = ()  # every member the entry links: what its delivery holds
    new_languages: tuple[str, ...] = ()  # posted before, and back for these languages

    @property
    def item_ids(self) -> tuple[int, ...]:
        """The articles a delivery of this entry records as delivered."""
        return self.covers or (self.article_id,)


@dataclass(frozen=True)
class WeeklySummary:
    """What the weekly email says: counts, the top stories per topic, relevant items per day."""

    week_start: date  # Monday, in the digest time zone
    week_end: date  # Sunday
    zone: str
    archived: int  # articles first seen in the week
    relevant: int  # of them relevant and not duplicates
    by_source: dict[str, int]  # relevant per source title
    by_lang: dict[str, int]
    by_topic: dict[str, int]
    per_day: tuple[tuple[date, int], ...]  # relevant items per day, all seven days
    top_by_topic: dict[str, tuple[DigestItem, ...]]  # stories, the widest told first
    stories: int = 0  # the events the relevant items report
    # relevant items per language in this week and the eight before, oldest first (Monday, counts)
    lang_weeks: tuple[tuple[date, dict[str, int]], ...] = ()


def copied(record_type: type[R], source: object, /, **given: Any) -> R:
    """A `record_type` (a dataclass, or a pydantic model such as an archive table) whose fields
    are `source`'s attributes of the same names, but for those `given`. Written field by field,
    each such record would repeat the other's list of fields, and a field added to both would
    need one more line in every place; a field `source` lacks must be given (AttributeError)."""
    if is_dataclass(record_type):
        names = [f.name for f in fields(record_type) if f.init]
    else:
        names = list(cast(Any, record_type).model_fields)
    taken = {name: getattr(source, name) for name in names if name not in given}
    return record_type(**taken, **given)
