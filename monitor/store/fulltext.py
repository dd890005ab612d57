"""The full-text index and its queries: SQLite FTS5 on the embedded default, a tsvector column
with a GIN index on PostgreSQL. Both hold the terms `monitor.search.service` makes of each article, never
the database's own stemming, so the two backends find the same articles for the same query.

SQLite: `article_fts`, rowid = article id; `title` and `body` hold each word's main stem in
order (phrases), `title_more` and `body_more` its other candidate stems (words); ranked by bm25
with the title counting four times the body.
PostgreSQL: `article_search(article_id, version, vector)`; every stem of a word sits at the word's
position, title words weighted A and body words B; ranked by ts_rank_cd.

Rows carry the analysis `SEARCH_VERSION` they were made with; `reindex` redoes the rows of an
older version and the articles missing from the index (the migration calls it for an archive
that predates search). The query text reaching the database is built here from analysed terms,
with every stem quoted, so no user input is ever parsed as FTS5 or tsquery syntax.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, case, cast, column, func, literal, literal_column, table, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from monitor.search.service import Query, SearchFilters, Stems, Term, analyse
from monitor.store.tables import Article, ArticleTopic

if TYPE_CHECKING:
    from monitor.store import Store

SEARCH_VERSION = 1
FTS_TABLE = "article_fts"
PG_TABLE = "article_search"
TITLE_WEIGHT = 4.0
RELEVANT_BOOST = 1.25  # a relevant article ranks a quarter higher than an equal other one
COPY_FACTOR = 0.8  # a copy (an aggregator's, a re-publication) ranks below its original
MAX_PHRASE_VARIANTS = 32
_PG_MAX_POSITION = 16383
_PG_MAX_POSITIONS_PER_LEXEME = 256


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
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS ix_{PG_TABLE}_vector ON {PG_TABLE} USING GIN (vector)"
    )


def drop_index(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE if _sqlite(conn) else PG_TABLE}")


def _sqlite(conn: Any) -> bool:
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


def index_articles(conn: Any, articles: Iterable[tuple[int, str, str, str | None]]) -> int:
    """(Re)index (id, title, text, lang) rows on a connection or session, in its transaction."""
    rows = [
        Indexed(i, analyse(title, lang), analyse(body, lang)) for i, title, body, lang in articles
    ]
    if not rows:
        return 0
    ids = [{"id": row.article_id} for row in rows]
    if _sqlite(conn):
        conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), ids)
        conn.execute(
            text(
                f"INSERT INTO {FTS_TABLE} (rowid, title, body, title_more, body_more, version) "
                "VALUES (:id, :title, :body, :title_more, :body_more, :version)"
            ),
            [_fts_row(row) for row in rows],
        )
    else:
        conn.execute(
            text(
                f"INSERT INTO {PG_TABLE} (article_id, version, vector) "
                "VALUES (:id, :version, CAST(:vector AS tsvector)) ON CONFLICT (article_id) "
                "DO UPDATE SET version = excluded.version, vector = excluded.vector"
            ),
            [
                {"id": row.article_id, "version": SEARCH_VERSION, "vector": tsvector(row)}
                for row in rows
            ],
        )
    return len(rows)


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
    return " ".join(f"{_quote(stem)}:{','.join(at)}" for stem, at in positions.items())


def _quote(stem: str) -> str:
    return "'" + stem.replace("\\", "\\\\").replace("'", "''") + "'"


def reindex(
    conn: Connection,
    *,
    everything: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Index the articles missing from the index or indexed by an older analysis (all of them
    with `everything`); drop index rows of articles that are gone. Returns how many were done."""
    if _sqlite(conn):
        conn.exec_driver_sql(f"DELETE FROM {FTS_TABLE} WHERE rowid NOT IN (SELECT id FROM article)")
        current = f"SELECT rowid FROM {FTS_TABLE} WHERE version = :version"
    else:
        current = f"SELECT article_id FROM {PG_TABLE} WHERE version = :version"
    todo = "SELECT id, title, text, lang FROM article WHERE id > :last"
    if not everything:
        todo += f" AND id NOT IN ({current})"
    todo += " ORDER BY id LIMIT :batch"
    done, last = 0, 0
    while True:
        params = {"last": last, "batch": batch, "version": SEARCH_VERSION}
        rows = [tuple(r) for r in conn.execute(text(todo), params)]
        if not rows:
            return done
        done += index_articles(conn, rows)
        last = rows[-1][0]
        if progress:
            progress(done)


# --- asking it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    article: Article
    rank: float


def filter_conditions(filters: SearchFilters) -> list[Any]:
    """The filters as conditions on `article` (shared by search and export)."""
    conditions: list[Any] = []
    if filters.sources:
        conditions.append(col(Article.source).in_(filters.sources))
    if filters.langs:
        conditions.append(col(Article.lang).in_(filters.langs))
    if filters.since:
        conditions.append(col(Article.published_at) >= filters.since)
    if filters.until:
        conditions.append(col(Article.published_at) < filters.until)
    if filters.relevant_only:
        conditions.append(col(Article.relevant).is_(True))
    if filters.topics:
        tagged = select(ArticleTopic.article_id).where(col(ArticleTopic.topic).in_(filters.topics))
        conditions.append(col(Article.id).in_(tagged))
    return conditions


def find(
    store: Store, query: Query, filters: SearchFilters, *, limit: int, offset: int
) -> tuple[int, list[Found]]:
    """How many articles match, and the page of them asked for, best first (newest first for
    a query without terms). The ranking reads ids and ranks only; the page's articles are
    loaded after, so matching thousands of long texts never drags their texts through a sort."""
    conditions = filter_conditions(filters)
    with store.session() as s:
        ranked, counted = _statements(query, conditions, _sqlite(s))
        total = int(s.exec(counted).one())
        order: list[Any] = [literal_column("rank").desc()] if query.terms else []
        order += [col(Article.published_at).desc().nulls_last(), col(Article.id).desc()]
        page = list(s.exec(ranked.order_by(*order).offset(offset).limit(limit)))
        found = s.exec(select(Article).where(col(Article.id).in_([i for i, _ in page])))
        articles = {article.id: article for article in found}
    return total, [Found(articles[i], float(rank or 0.0)) for i, rank in page if i in articles]


def _statements(query: Query, conditions: list[Any], sqlite: bool) -> tuple[Any, Any]:
    """The ranked (id, rank) statement and the statement counting all matches."""
    if not query.terms:
        newest: Any = select(col(Article.id), literal_column("0.0").label("rank"))
        newest = newest.where(*conditions)
        return newest, select(func.count()).select_from(Article).where(*conditions)
    if sqlite:
        index = table(FTS_TABLE, column("rowid"))
        key = index.c.rowid
        matches: Any = text(f"{FTS_TABLE} MATCH :match").bindparams(match=fts5_match(query))
        bm25 = f"bm25({FTS_TABLE}, {TITLE_WEIGHT}, 1.0, {TITLE_WEIGHT}, 1.0, 0.0)"
        score: Any = -literal_column(bm25)
    else:
        index = table(PG_TABLE, column("article_id"), column("vector"))
        key = index.c.article_id
        tsq = cast(literal(tsquery(query), String), TSQUERY)
        matches = index.c.vector.op("@@")(tsq)
        score = func.ts_rank_cd(index.c.vector, tsq, 1)
    ranked = (
        select(col(Article.id), (score * _boost()).label("rank"))
        .join_from(index, Article, col(Article.id) == key)
        .where(matches, *conditions)
    )
    counted = select(func.count()).select_from(index).where(matches)
    if conditions:
        counted = counted.join(Article, col(Article.id) == key).where(*conditions)
    return ranked, counted


def _boost() -> Any:
    relevant = case((col(Article.relevant).is_(True), RELEVANT_BOOST), else_=1.0)
    copy = case((col(Article.duplicate_of).is_not(None), COPY_FACTOR), else_=1.0)
    return relevant * copy


def fts5_match(query: Query) -> str:
    """The query as an FTS5 expression; every stem is a quoted string."""
    wanted = [_fts5_term(t) for t in query.terms if not t.excluded]
    expression = " AND ".join(wanted)
    for term in query.terms:
        if term.excluded:
            expression += " NOT " + _fts5_term(term)
    return expression


def _fts5_term(term: Term) -> str:
    if term.phrase:
        phrases = [_fts5_string(" ".join(v)) for v in _variants(term.alternatives)]
        return "{title body} : (" + " OR ".join(phrases) + ")"
    [options] = term.alternatives
    if term.prefix:
        [prefix] = options
        return "{title body title_more body_more} : (" + _fts5_string(prefix) + " *)"
    inner = " OR ".join(_fts5_string(s) for s in sorted(options))
    return "{title body title_more body_more} : (" + inner + ")"


def _fts5_string(stem: str) -> str:
    return '"' + stem.replace('"', '""') + '"'


def _variants(alternatives: Sequence[frozenset[str]]) -> list[tuple[str, ...]]:
    """Every way of picking one stem per word, capped (the first options are kept)."""
    variants: list[tuple[str, ...]] = [()]
    for options in alternatives:
        variants = [(*v, s) for v in variants for s in sorted(options)][:MAX_PHRASE_VARIANTS]
    return variants


def tsquery(query: Query) -> str:
    """The query as a tsquery literal; every stem quoted."""
    parts = [_ts_term(t) for t in query.terms if not t.excluded]
    parts += ["!" + _ts_term(t) for t in query.terms if t.excluded]
    return " & ".join(parts)


def _ts_term(term: Term) -> str:
    if term.phrase:
        words = ["(" + " | ".join(_quote(s) for s in sorted(o)) + ")" for o in term.alternatives]
        return "(" + " <-> ".join(words) + ")"
    [options] = term.alternatives
    if term.prefix:
        [prefix] = options
        return f"{_quote(prefix)}:*"
    return "(" + " | ".join(_quote(s) for s in sorted(options)) + ")"
