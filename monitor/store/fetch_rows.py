"""What the fetcher keeps in the archive between runs: robots.txt bodies (the store is the
fetcher's `RobotsCache`), the validators of each URL for conditional GET, and the fetch log, one
row per logical fetch with its status, size, duration, attempts and error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import col, select

from monitor.core.records import FetchOutcome, Validators
from monitor.store.db import Sessions
from monitor.store.tables import FetchLog, HttpCache, RobotsFile, table

# what a fetch log row takes as it is from a fetch's outcome (the duration goes in milliseconds)
_OUTCOME_COLUMNS = tuple(f.name for f in fields(FetchOutcome) if f.name in FetchLog.model_fields)


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
    def log_fetches(self, outcomes: Sequence[FetchOutcome]) -> None:
        """Lines of the fetch log, in one transaction (the monitor writes them in batches,
        `monitor.service.fetch_journal`: a transaction a fetch contended for SQLite's one
        writer with the pages' own writes)."""
        if not outcomes:
            return
        rows = [
            {name: getattr(outcome, name) for name in _OUTCOME_COLUMNS}
            | {"duration_ms": round(outcome.duration * 1000)}
            for outcome in outcomes
        ]
        with self.session() as s:  # one statement, the rows with it: no objects to flush
            s.execute(insert(table(FetchLog)), rows)
            s.commit()

    def fetch_log(self, source: str | None = None, limit: int = 50) -> list[FetchLog]:
        with self.session() as s:
            query = select(FetchLog).order_by(col(FetchLog.id).desc()).limit(limit)
            if source:
                query = query.where(FetchLog.source == source)
            return list(s.exec(query))
