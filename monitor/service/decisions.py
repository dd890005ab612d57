"""What a poll decides, pure (no I/O, no clock): which discovered candidates go on the frontier,
which claimed rows are archived already, and the archive row of an extracted page. The pipeline
(`monitor.service.pipeline`) asks, and does what they say."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from monitor.config.sources import Source
from monitor.core.records import Candidate, ExtractedArticle, Page
from monitor.crawl.urls import article_key, canonical_url, same_site
from monitor.store import ArticleRecord, KnownArticle
from monitor.store.warc import WarcRef
from monitor.text.normalise import content_hash


@dataclass(frozen=True)
class Plan:
    """What step 2 decided: candidates to enqueue (newest first), archived articles seen again."""

    enqueue: list[tuple[str, Candidate]]  # (key, candidate)
    seen_ids: list[int]


def is_taken(taken: set[str], id_pattern: str | None, link: str) -> bool:
    """Whether a link found in a sitemap is an article the archive holds (`taken`: their keys)."""
    return article_key(canonical_url(link), id_pattern) in taken


def newer(old: Candidate | None, new: Candidate) -> Candidate:
    """Of two sightings of one article keep the newer date (an updated story), and any title."""
    if old is None:
        return new
    if new.published_at and (old.published_at is None or new.published_at > old.published_at):
        return replace(new, title=new.title or old.title, summary=new.summary or old.summary)
    return replace(old, title=old.title or new.title, summary=old.summary or new.summary)


def decide(candidates: dict[str, Candidate], known: dict[str, KnownArticle]) -> Plan:
    """Step 2 (pure): enqueue what is new, and what a feed dates later than before."""
    to_enqueue, seen = [], []
    for key, candidate in candidates.items():
        archived = known.get(key)
        if archived is None or dated_later(candidate.published_at, archived):
            to_enqueue.append((key, candidate))  # e.g. AZERTAC "YENİLƏNİB": same id, newer date
        else:
            seen.append(archived.id)
    return Plan(enqueue=to_enqueue, seen_ids=seen)


def dated_later(listed_at: datetime | None, archived: KnownArticle) -> bool:
    """Whether a listing dates an archived article later than the archive does: updated."""
    return bool(listed_at and archived.listed_at and listed_at > archived.listed_at)


def build_record(
    source: Source,
    key: str,
    candidate: Candidate,
    page: Page,
    extracted: ExtractedArticle,
    ref: WarcRef | None,
    hashed: tuple[str, str] | None = None,
) -> ArticleRecord:
    """Pure: the archive row for an extracted page, with its date and identity settled.
    `hashed`: a title and the content hash of it and the page's text, made off the event loop
    (the analysis): taken when the record's title is that one, else the hash is made here."""
    url = canonical_url(page.final_url)
    if extracted.canonical_url and same_site(extracted.canonical_url, source.homepage):
        url = canonical_url(extracted.canonical_url, base=page.final_url)
    aliases = (
        key,
        article_key(url, source.id_pattern),
        article_key(candidate.url, source.id_pattern),
    )
    published: datetime | None
    if extracted.published_at:
        published, date_source = extracted.published_at, "page"
    elif candidate.published_at:
        published, date_source = candidate.published_at, "feed"
    else:  # the fetch time is not a publication date: say it is unknown
        published, date_source = None, "unknown"
    title = extracted.title or candidate.title or url
    return ArticleRecord(
        source=source.name,
        key=key,
        aliases=tuple(dict.fromkeys(aliases)),
        url=url,
        title=title,
        text=extracted.text,
        author=extracted.author,
        lang=extracted.lang or source.language,
        published_at=published,
        date_source=date_source,
        listed_at=candidate.published_at,
        fetched_at=page.fetched_at,
        content_hash=hashed[1]
        if hashed and hashed[0] == title
        else content_hash(title, extracted.text),
        extraction=extracted.method,
        http_status=page.status,
        warc=ref,
    )
