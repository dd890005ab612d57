"""The archive as JSON Lines or CSV, for other tools. Rows are streamed in batches, never held
all at once; each batch's topics and entities come in two queries."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

from monitor.search.backend import filter_conditions
from monitor.search.query import SearchFilters
from monitor.store import Article, Store

FIELDS = (
    "id",
    "url",
    "source",
    "lang",
    "title",
    "published_at",
    "date_source",
    "author",
    "text",
    "fetched_at",
    "first_seen_at",
    "last_seen_at",
    "content_hash",
    "duplicate_of",
    "similarity",
    "story",
    "relevant",
    "score",
    "topics",
    "entities",
    "extraction",
    "revisions",
    "warc_file",
    "warc_offset",
    "warc_length",
)


def export_rows(
    store: Store,
    *,
    since: datetime | None = None,
    sources: list[str] | None = None,
    batch: int = 500,
    filters: SearchFilters | None = None,
) -> Iterator[dict[str, Any]]:
    """Every article passing the filters (those of search; `since` and `sources` narrow them
    further), oldest first, as a row with its topics and entities."""
    filters = filters or SearchFilters()
    if since:
        filters = replace(filters, since=since)
    if sources:
        filters = replace(filters, sources=tuple(sources))
    pending: list[Article] = []
    for article in store.articles(where=filter_conditions(filters), batch=batch):
        pending.append(article)
        if len(pending) == batch:
            yield from _with_tags(store, pending)
            pending = []
    yield from _with_tags(store, pending)


def _with_tags(store: Store, articles: list[Article]) -> Iterator[dict[str, Any]]:
    tags = store.tags_for([a.id for a in articles if a.id is not None])
    for article in articles:
        topics, entities = tags.get(article.id or 0, ([], []))
        row = article_row(article)
        row["topics"] = topics
        row["entities"] = [
            {"kind": e.kind, "id": e.entity, "name": e.name, "count": e.count} for e in entities
        ]
        yield row


def article_row(article: Article) -> dict[str, Any]:
    """One article as plain values; dates in ISO 8601 with the offset the site gave."""
    local = timezone(timedelta(minutes=article.published_offset_min))
    row: dict[str, Any] = {name: getattr(article, name, None) for name in FIELDS}
    row["story"] = article.story_id  # equal values: one event (monitor.link)
    published = article.published_at
    row["published_at"] = published.astimezone(local).isoformat() if published else None
    for name in ("fetched_at", "first_seen_at", "last_seen_at"):
        row[name] = getattr(article, name).isoformat()
    return row


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """CSV for spreadsheets: topics joined with ';', entities as their names joined with ';'."""
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        flat = dict(row)
        flat["topics"] = ";".join(row.get("topics") or [])
        flat["entities"] = ";".join(e["name"] for e in row.get("entities") or [])
        writer.writerow(flat)
        count += 1
    return count


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
