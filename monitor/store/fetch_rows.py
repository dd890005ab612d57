"""What the fetcher keeps in the archive between runs: robots.txt bodies (the store is the
fetcher's `RobotsCache`), the validators of each URL for conditional GET, and the fetch log, one
row per logical fetch with its status, size, duration, attempts and error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import col, select

from monitor.core.records import FetchOutcome, Validators, copied
from monitor.store.db import Sessions
from monitor.store.tables import FetchLog, HttpCache, RobotsFile, table


class FetchRows(Sessions):
    """The `Store`'s robots.txt, conditional-GET and fetch-log rows."""

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
        duration_ms = round(outcome.duration * 1000)
        row = copied(FetchLog, outcome, id=None, duration_ms=duration_ms)
        with self.session() as s:  # a statement: one a fetch, no object for a flush to track
            s.execute(insert(table(FetchLog)), row.model_dump(exclude={"id"}))
            s.commit()

    def fetch_log(self, source: str | None = None, limit: int = 50) -> list[FetchLog]:
        with self.session() as s:
            query = select(FetchLog).order_by(col(FetchLog.id).desc()).limit(limit)
            if source:
                query = query.where(FetchLog.source == source)
            return list(s.exec(query))
