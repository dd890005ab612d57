"""The archive as JSON Lines or CSV, for other tools. Rows are streamed, never held all at once."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import timedelta, timezone
from typing import Any, TextIO

from monitor.store import Article

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
    "extraction",
    "revisions",
    "warc_file",
    "warc_offset",
    "warc_length",
)


def article_row(article: Article) -> dict[str, Any]:
    """One article as plain values; dates in ISO 8601 with the offset the site gave."""
    local = timezone(timedelta(minutes=article.published_offset_min))
    row: dict[str, Any] = {name: getattr(article, name) for name in FIELDS}
    row["published_at"] = article.published_at.astimezone(local).isoformat()
    for name in ("fetched_at", "first_seen_at", "last_seen_at"):
        row[name] = getattr(article, name).isoformat()
    return row


def write_jsonl(articles: Iterable[Article], out: TextIO) -> int:
    count = 0
    for article in articles:
        out.write(json.dumps(article_row(article), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(articles: Iterable[Article], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for article in articles:
        writer.writerow(article_row(article))
        count += 1
    return count


WRITERS = {"jsonl": write_jsonl, "csv": write_csv}
