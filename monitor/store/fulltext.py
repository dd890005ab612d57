"""The full-text index: SQLite FTS5 on the embedded default, a tsvector column with a GIN index on
PostgreSQL, kept current in the transaction that writes an article. Both hold the terms
`monitor.text.stems` makes of each article, never the database's own stemming, so the two backends
find the same articles for the same query (`monitor.search.backend` asks them).

SQLite: `article_fts`, rowid = article id; `title` and `body` hold each word's main stem in
order (phrases), `title_more` and `body_more` its other candidate stems (words).
PostgreSQL: `article_search(article_id, version, vector, ...)`; every stem of a word sits at the
word's position, title words weighted A and body words B. Beside the vector the row holds the
facts a search filters, boosts, orders and groups by (`_FACT_TYPES`: date, language, source,
relevance, whether it is a copy, story), copied from `article` when the row is written and kept
current by a trigger on `article`. A search then reads only this table: the article rows (their
texts ~10 times the size of these rows) are read for the page alone, and a filter narrows the
matches on the heap the index scan visits anyway (at 100,000 articles a frequent word's 25,000
matches cost ~60 ms more to join to `article`, whatever the filter left of them).

Rows carry the analysis `SEARCH_VERSION` they were made with; `reindex` redoes the rows of an
older version and the articles missing from the index (the migration calls it for an archive
that predates search).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from monitor.store.tables import Article
from monitor.text.stems import Stems, analyse

SEARCH_VERSION = 1
FTS_TABLE = "article_fts"
PG_TABLE = "article_search"
_PG_MAX_POSITION = 16383
_PG_MAX_POSITIONS_PER_LEXEME = 256


# The columns of `article_search` besides the vector and their types (`copy`: whether the article
# is a copy; its `duplicate_of` is a URL, and the search needs only whether there is one).
_FACT_TYPES = {
    "published_at": "TIMESTAMP WITH TIME ZONE",
    "lang": "VARCHAR",
    "source": "VARCHAR",
    "relevant": "BOOLEAN",
    "copy": "BOOLEAN NOT NULL DEFAULT false",
    "story_id": "INTEGER",
}
FACT_COLUMNS = tuple(_FACT_TYPES)
_BATCHES_AHEAD = 4  # batches a bulk reindex has analysed or in analysis before it writes one
_FACTS_TRIGGER = "article_search_facts"
_VECTOR_INDEX = f"ix_{PG_TABLE}_vector"
_DROP_LOCK_WAIT_MS = 2000  # how long a build waits to drop the GIN index (`reindex`)
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout reached


def is_search_table(name: str | None) -> bool:
    """The index's tables (FTS5 makes shadow tables `article_fts_*`), not SQLModel models."""
    return bool(name) and (name == PG_TABLE or str(name).startswith(FTS_TABLE))


# --- the schema --------------------------------------------------------------------------------


def create_index(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "title, body, title_more, body_more, version UNINDEXED, "
            "tokenize = 'unicode61 remove_diacritics 0')"
        )
        return
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {PG_TABLE} ("
        "article_id INTEGER PRIMARY KEY REFERENCES article(id) ON DELETE CASCADE, "
        "version INTEGER NOT NULL, vector TSVECTOR NOT NULL)"
    )
    _create_vector_index(conn)


def _create_vector_index(conn: Connection) -> None:
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {_VECTOR_INDEX} ON {PG_TABLE} USING GIN (vector)"
    )


def add_search_facts(conn: Connection) -> None:
    """PostgreSQL: the facts columns of `article_search`, filled from `article` where missing, and
    the trigger that copies them on every later change of an article (tagging, dedupe, linking,
    a new date), whoever writes it. Idempotent (migration 0013 calls it)."""
    for name, kind in _FACT_TYPES.items():
        conn.exec_driver_sql(f"ALTER TABLE {PG_TABLE} ADD COLUMN IF NOT EXISTS {name} {kind}")
    copied = ", ".join(f"{name} = {source}" for name, source in _facts_of("article").items())
    conn.exec_driver_sql(
        f"UPDATE {PG_TABLE} SET {copied} FROM article WHERE article.id = {PG_TABLE}.article_id "
        f"AND {PG_TABLE}.source IS NULL"
    )
    current = ", ".join(f"{name} = {source}" for name, source in _facts_of("NEW").items())
    conn.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {_FACTS_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN UPDATE {PG_TABLE} SET {current} WHERE article_id = NEW.id; RETURN NULL; END $$"
    )
    watched = ["published_at", "lang", "source", "relevant", "duplicate_of", "story_id"]
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in watched)
    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_FACTS_TRIGGER} ON article")
    conn.exec_driver_sql(
        f"CREATE TRIGGER {_FACTS_TRIGGER} AFTER UPDATE OF {', '.join(watched)} ON article "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {_FACTS_TRIGGER}()"
    )


def drop_index(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE if is_sqlite(conn) else PG_TABLE}")


def drop_search_facts(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_FACTS_TRIGGER} ON article")
    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_FACTS_TRIGGER}()")
    for name in _FACT_TYPES:
        conn.exec_driver_sql(f"ALTER TABLE {PG_TABLE} DROP COLUMN IF EXISTS {name}")


def _facts_of(row: str) -> dict[str, str]:
    """The facts columns as read from `row` of `article` (a table name, or NEW in the trigger)."""
    return {
        "published_at": f"{row}.published_at",
        "lang": f"{row}.lang",
        "source": f"{row}.source",
        "relevant": f"{row}.relevant",
        "copy": f"{row}.duplicate_of IS NOT NULL",
        "story_id": f"{row}.story_id",
    }


def is_sqlite(conn: Any) -> bool:
    """Whether a connection or a session talks to SQLite."""
    bind = conn if isinstance(conn, Connection) else conn.get_bind()
    return bool(bind.dialect.name == "sqlite")


# --- keeping it current --------------------------------------------------------------------------


@dataclass(frozen=True)
class Indexed:
    """One article as the index holds it."""

    article_id: int
    title: list[Stems]
    body: list[Stems]


Row = tuple[int, str, str, str | None]  # an article as the index reads it: id, title, text, lang


def index_articles(conn: Any, articles: Iterable[Row]) -> int:
    """(Re)index (id, title, text, lang) rows on a connection or session, in its transaction."""
    return write_index(conn, index_params(list(articles), sqlite=is_sqlite(conn)))


def index_params(articles: Sequence[Row], *, sqlite: bool) -> list[dict[str, Any]]:
    """What the index stores of each article, as the parameters of the statement writing it:
    the analysis, which is all the CPU of indexing (~0.7 ms an article, as long as the database
    takes to write it). Pure, so that a bulk reindex runs it in worker processes meanwhile."""
    rows = [
        Indexed(i, analyse(title, lang), analyse(body, lang)) for i, title, body, lang in articles
    ]
    if sqlite:
        return [_fts_row(row) for row in rows]
    return [
        {"id": row.article_id, "version": SEARCH_VERSION, "vector": tsvector(row)} for row in rows
    ]


def write_index(conn: Any, params: Sequence[dict[str, Any]]) -> int:
    """Write what `index_params` made, replacing what the index held of those articles."""
    if not params:
        return 0
    if is_sqlite(conn):
        ids = [{"id": row["id"]} for row in params]
        conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), ids)
        conn.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (rowid, title, body, title_more, body_more, version) "
                "VALUES (:id, :title, :body, :title_more, :body_more, :version)"
            ),
            params,
        )
        return len(params)
    if isinstance(conn, Session):
        conn.flush()  # the facts are read from the article rows as they now are
    facts = _facts_of("article")
    conn.execute(
        text(
            f"INSERT INTO {PG_TABLE} (article_id, version, vector, {', '.join(facts)}) "
            f"SELECT :id, :version, CAST(:vector AS tsvector), {', '.join(facts.values())} "
            "FROM article WHERE article.id = :id ON CONFLICT (article_id) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in ["version", "vector", *facts])
        ),
        params,
    )
    return len(params)


def index_article(conn: Any, article: Article) -> None:
    """Called by the store whenever an article's title, text or language is written."""
    assert article.id is not None
    index_articles(conn, [(article.id, article.title, article.text, article.lang)])


def _fts_row(row: Indexed) -> dict[str, Any]:
    def more(words: list[Stems]) -> str:
        return " ".join(s for word in words for s in sorted(word.all) if s != word.main)

    return {
        "id": row.article_id,
        "title": " ".join(word.main for word in row.title),
        "body": " ".join(word.main for word in row.body),
        "title_more": more(row.title),
        "body_more": more(row.body),
        "version": SEARCH_VERSION,
    }


def tsvector(row: Indexed) -> str:
    """The article as a tsvector literal: every stem of a word at the word's position."""
    positions: dict[str, list[str]] = {}
    numbered = [(n, w, "A") for n, w in enumerate(row.title, start=1)]
    start = len(row.title) + 2
    numbered += [(n, w, "B") for n, w in enumerate(row.body, start=start)]
    for number, word, weight in numbered:
        at = f"{min(number, _PG_MAX_POSITION)}{weight}"
        for stem in word.all:
            found = positions.setdefault(stem, [])
            if len(found) < _PG_MAX_POSITIONS_PER_LEXEME and (not found or found[-1] != at):
                found.append(at)
    return " ".join(f"{quoted_lexeme(stem)}:{','.join(at)}" for stem, at in positions.items())


def quoted_lexeme(stem: str) -> str:
    """A stem as a quoted lexeme, the same in a tsvector and a tsquery literal."""
    return "'" + stem.replace("\\", "\\\\").replace("'", "''") + "'"


# The articles are read a window of ids at a time, and of each window those the index lacks or
# holds from an older analysis: each step a bounded range of a primary key. A query for "the
# next articles not in the index" (`id NOT IN (...)`, or the anti-join PostgreSQL makes of `NOT
# EXISTS` when its statistics do not yet know the rows written in this transaction) read the
# whole index for every batch, a cost that grew with the rows written (building 1M articles'
# index, PostgreSQL's backend had spent 14 minutes of CPU on it by the 700,000th, the analysis
# processes idle).
_WINDOW = text("SELECT id FROM article WHERE id > :last ORDER BY id LIMIT :batch")
_TEXTS = text("SELECT id, title, text, lang FROM article WHERE id IN :ids ORDER BY id").bindparams(
    bindparam("ids", expanding=True)
)


def _not_current(conn: Connection, window: list[int], sqlite: bool) -> list[int]:
    """The ids of `window` (ascending) that the index lacks or holds from an older analysis."""
    key, table = ("rowid", FTS_TABLE) if sqlite else ("article_id", PG_TABLE)
    current = conn.execute(
        text(
            f"SELECT {key} FROM {table} WHERE {key} BETWEEN :first AND :upto AND version = :version"
        ),
        {"first": window[0], "upto": window[-1], "version": SEARCH_VERSION},
    )
    indexed = {int(i) for (i,) in current}
    return [i for i in window if i not in indexed]


def reindex(
    conn: Connection,
    *,
    everything: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> int:
    """Index the articles missing from the index or indexed by an older analysis (all of them
    with `everything`); drop index rows of articles that are gone. Returns how many were done.

    With an `executor` (a process pool: `monitor search --reindex`, the search bench) batches
    are analysed there, a few ahead, while this process reads the next and writes the last
    (in the order read): on 2 cores ~1.6 times as many articles a second as alone.

    On PostgreSQL an empty index is built with its GIN index dropped and made again at the
    end (`_empty_index`), in this transaction, when no other session is using the index at the
    start (`_dropped_vector_index`). Until the build commits, other sessions' searches and
    writes to the index wait: the index rows of articles a running poll stores, and the facts
    the trigger copies when tagging, dedupe or linking change an article. The GIN index is made
    again at the end of any build that finds it missing."""
    sqlite = is_sqlite(conn)
    if sqlite:
        conn.exec_driver_sql(f"DELETE FROM {FTS_TABLE} WHERE rowid NOT IN (SELECT id FROM article)")
    bulk = not sqlite and _empty_index(conn) and _dropped_vector_index(conn)
    done = _write_missing(conn, everything, batch, progress, executor, sqlite)
    if not sqlite and (bulk or not _has_vector_index(conn)):  # made again, or repaired
        _create_vector_index(conn)
    return done


def _dropped_vector_index(conn: Connection) -> bool:
    """Drop the GIN index for a build, unless its lock does not come within
    `_DROP_LOCK_WAIT_MS` (another session is reading or writing the index: a running monitor);
    then the build keeps the index and goes the slower way rather than stop that session, or
    queue everyone behind itself."""
    before = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one()
    try:
        with conn.begin_nested():  # a savepoint: a lock not had undoes this part alone
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {_DROP_LOCK_WAIT_MS}")
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {_VECTOR_INDEX}")
            conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (before,))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    return True


def _has_vector_index(conn: Connection) -> bool:
    """Whether the GIN index is there, asked of the catalogue (no lock on the table)."""
    found = conn.exec_driver_sql("SELECT to_regclass(%s)", (_VECTOR_INDEX,)).scalar_one()
    return found is not None


def _empty_index(conn: Connection) -> bool:
    """Whether the PostgreSQL index is empty while the archive is not: a build rather than an
    update (an archive older than search, an index dropped and made again), where `reindex`
    drops the GIN index and creates it at the end. A GIN index made from the finished rows is
    one pass over their sorted lexemes; kept up through the inserts, each row's lexemes go into
    it one by one, a cost that grows with the index (bench/README.md, "Index build on
    PostgreSQL")."""
    held = conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {PG_TABLE})").scalar_one()
    return not held and bool(
        conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM article)").scalar_one()
    )


def _write_missing(
    conn: Connection,
    everything: bool,
    batch: int,
    progress: Callable[[int], None] | None,
    executor: Executor | None,
    sqlite: bool,
) -> int:
    """`reindex`'s walk over the archive: the rows written, in windows of ids."""
    analysing: deque[Future[list[dict[str, Any]]]] = deque()
    done, last = 0, 0
    while True:
        window = [int(row[0]) for row in conn.execute(_WINDOW, {"last": last, "batch": batch})]
        rows: list[Row] = []
        if window:
            last = window[-1]
            wanted = window if everything else _not_current(conn, window, sqlite)
            if wanted:
                rows = [tuple(r) for r in conn.execute(_TEXTS, {"ids": wanted})]
        if rows:
            if executor is None:
                done += write_index(conn, index_params(rows, sqlite=sqlite))
            else:
                analysing.append(executor.submit(index_params, rows, sqlite=sqlite))
        while analysing and (not window or len(analysing) > _BATCHES_AHEAD):
            done += write_index(conn, analysing.popleft().result())
            if progress:
                progress(done)
        if not window:
            return done
        if progress and executor is None:
            progress(done)
