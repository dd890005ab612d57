"""The archive: one `Store` facade over the database, used by every stage that keeps state.

All writes go through this class; each method is one short transaction and is idempotent, so two
workers (or a retried job) writing the same article or poll report converge on one row. The class
is assembled from one group of methods per set of tables (`articles`, `sources`, `fetches`,
`frontier`, all on the sessions of `db.Sessions`); the records it takes and returns are in
`records`. This package's names are the archive's public surface: callers import `Store` and the
records from here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from monitor.store.article_rows import ArticleRows
from monitor.store.db import (
    Access,
    LockPurpose,
    archive_lock,
    migrate,
    open_engine,
    require_writable,
)
from monitor.store.fetch_rows import FetchRows
from monitor.store.frontier_rows import Backlog, Claimed, Discovered, FrontierRows
from monitor.store.records import ArticleRecord, EntityRow, KnownArticle, Saved, SourceStatus
from monitor.store.source_rows import SourceRows
from monitor.store.tables import Article

__all__ = [
    "Article",
    "ArticleRecord",
    "Backlog",
    "Claimed",
    "Discovered",
    "EntityRow",
    "KnownArticle",
    "Saved",
    "SourceStatus",
    "Store",
]


ANALYSIS_LIMIT = 1000  # rows of each index `ANALYZE` reads (SQLite's advice: 100 to 1000)


class Store(ArticleRows, SourceRows, FetchRows, FrontierRows):
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

    def one_at_a_time(self, purpose: LockPurpose) -> AbstractContextManager[None]:
        """Held while this thread does `purpose` and no other thread or process on the archive
        does (`db.archive_lock`)."""
        return archive_lock(self.engine, purpose)

    def refresh_statistics(self) -> None:
        """Give SQLite's query planner statistics of the archive's tables and indexes: `ANALYZE`,
        each index sampled on at most `ANALYSIS_LIMIT` rows, so that it takes about as long at a
        million articles as at a thousand. Without statistics SQLite looks a query's matches up
        in the article rows, one by one, instead of the covering index of the originals: 3-4
        times slower counts per week (bench/README.md, "Attention over time"). PostgreSQL's
        autovacuum keeps statistics of its own: nothing to do there."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as connection:
            connection.exec_driver_sql(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
            connection.exec_driver_sql("ANALYZE")

    def close(self) -> None:
        self.engine.dispose()
