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
from monitor.store.fulltext import is_search_table
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
        """Give SQLite's query planner statistics of the archive's tables and indexes: `ANALYZE`
        of each table but the full-text index's (whose shadow tables are most of the file and
        which the planner asks nothing of). Without statistics SQLite looks a query's matches up
        in the article rows, one by one, instead of the covering index of the originals: 2-3
        times slower counts per week (bench/README.md, "Attention over time").

        Every index is read whole, not sampled (`PRAGMA analysis_limit`): sampled counts of the
        article table's indexes came out between 56,000 and 112,000 at 100,000 articles, the
        planner took the table's size from one of them, and counting every original went from
        the covering index (107 ms) to a scan of the rows and their texts (279 ms). Read whole,
        the indexes of 100,000 articles take 0.07-0.4 s. PostgreSQL's autovacuum keeps
        statistics of its own: nothing to do there."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as connection:
            listed = connection.exec_driver_sql(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            tables = [name for (name,) in listed if not is_search_table(name)]
            connection.exec_driver_sql("PRAGMA analysis_limit = 0")
            for name in tables:
                connection.exec_driver_sql(f'ANALYZE "{name}"')

    def close(self) -> None:
        self.engine.dispose()
