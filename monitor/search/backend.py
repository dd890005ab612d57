"""Asking the full-text index: a `Query` and `SearchFilters` made into SQL over the tables that
`monitor.store.fulltext` keeps, an FTS5 MATCH ranked by bm25 on SQLite (the title counting four
times the body), a tsquery ranked by ts_rank_cd on PostgreSQL (title words weighted A at index
time), each rank scaled by the same boosts: relevant articles up, copies down. The text reaching
the database is built here from analysed terms, every stem quoted, so no user input is ever
parsed as FTS5 or tsquery syntax. This sits above the store because it is search's reading of
the index: the store only keeps the index current.

Results may come one per story (`by_story`): the versions of one event in four languages would
otherwise fill a page with the same news. The grouping is done in the database, a window over
the ranked matches, so paging and the count are of stories, and an article not linked yet (its
story unknown) stands alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    String,
    case,
    cast,
    column,
    event,
    func,
    literal,
    literal_column,
    null,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from monitor.core.errors import SearchTimeout
from monitor.search.query import Query, SearchFilters, Term
from monitor.store.fulltext import FTS_TABLE, PG_TABLE, is_sqlite, quoted_lexeme
from monitor.store.tables import Article, ArticleTopic

if TYPE_CHECKING:
    from monitor.store import Store

TITLE_WEIGHT = 4.0
RELEVANT_BOOST = 1.25  # a relevant article ranks a quarter higher than an equal other one
COPY_FACTOR = 0.8  # a copy (an aggregator's, a re-publication) ranks below its original
MAX_PHRASE_VARIANTS = 32
SEARCH_TIMEOUT = 2.0  # seconds a search may take: a reader waits no longer, nor does the server
PROGRESS_STEPS = 1_000  # SQLite virtual machine steps between two looks at the clock (~1 µs each)
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by statement_timeout


@dataclass(frozen=True)
class Found:
    """One matching article and its rank (higher is better; 0 when the query has no terms)."""

    article: Article
    rank: float


@dataclass(frozen=True)
class Matches:
    """A page of matches: `total` counts the results (stories, when grouped), `articles` the
    matching articles behind them."""

    total: int
    articles: int
    found: list[Found]


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
    store: Store,
    query: Query,
    filters: SearchFilters,
    *,
    limit: int,
    offset: int,
    by_story: bool = False,
    timeout: float = SEARCH_TIMEOUT,
) -> Matches:
    """How many articles match, and the page of them asked for, best first (newest first for
    a query without terms); `by_story`: one per story, its best match. The ranking reads ids and
    ranks only; the page's articles are loaded after, so matching thousands of long texts never
    drags their texts through a sort. Raises `SearchTimeout` after `timeout` seconds."""
    with store.session() as s, time_limit(s, timeout):
        counted, grouped, ranked = _plan(s, query, filters, by_story)
        articles = int(s.exec(counted).one())
        total = int(s.exec(grouped).one()) if grouped is not None else articles
        page = list(s.exec(ranked.offset(offset).limit(limit)))
        found = s.exec(select(Article).where(col(Article.id).in_([i for i, _ in page])))
        loaded = {article.id: article for article in found}
    hits = [Found(loaded[i], float(rank or 0.0)) for i, rank in page if i in loaded]
    return Matches(total, articles, hits)


def explain(
    store: Store, query: Query, filters: SearchFilters, *, by_story: bool = False
) -> dict[str, str]:
    """How the database runs a search's statements (the count, and the ranked page of 20): its
    EXPLAIN, as `find` would send them. For the bench's plans and the tests that hold the index
    to being used."""
    plans: dict[str, str] = {}
    with store.session() as s:
        counted, _, ranked = _plan(s, query, filters, by_story)
        sqlite = is_sqlite(s)
        for name, statement in (("count", counted), ("page", ranked.limit(20))):
            compiled = statement.compile(
                bind=s.get_bind(), compile_kwargs={"render_postcompile": True}
            )
            params: Any = compiled.params
            if compiled.positiontup is not None:
                params = tuple(compiled.params[key] for key in compiled.positiontup)
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = s.connection().exec_driver_sql(prefix + compiled.string, params)
            plans[name] = "\n".join(str(row[-1]) for row in rows)
    return plans


def _plan(
    session: Session, query: Query, filters: SearchFilters, by_story: bool
) -> tuple[Any, Any, Any]:
    """The statements of a search: the count of matching articles, the count of results (None:
    the same), and the ranked (id, rank) matches in order, to be cut to a page.

    On PostgreSQL the GIN index is made the only way to a match for this transaction: a word's
    stems are OR-ed (seven for "Қазақстанның"), the planner takes them for independent words,
    expects three times the rows there are, and reads every stored vector instead (1.7 s
    against 15 ms at 100,000 articles)."""
    sqlite = is_sqlite(session)
    if query.terms and not sqlite:
        session.execute(text("SET LOCAL enable_seqscan = off"))
    ranked, counted = _statements(query, filter_conditions(filters), sqlite)
    if by_story:
        ranked, grouped = _one_per_story(ranked)
        return counted, grouped, ranked
    order: list[Any] = [literal_column("rank").desc()] if query.terms else []
    order += [col(Article.published_at).desc().nulls_last(), col(Article.id).desc()]
    return counted, None, ranked.order_by(*order)


@contextmanager
def time_limit(session: Session, seconds: float) -> Iterator[None]:
    """Stop what `session` asks the database once `seconds` have passed since it began, however
    many statements that takes: on SQLite a progress handler interrupts the statement running at
    the deadline; on PostgreSQL each statement gets what is left as its `statement_timeout` (for
    this transaction only). Either way the reader gets `SearchTimeout`, and the server is free."""
    deadline = time.monotonic() + seconds
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    assert raw is not None
    if is_sqlite(session):
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_STEPS)
    else:

        def what_is_left(conn: Any, cursor: Any, *_: Any) -> None:
            left = int((deadline - time.monotonic()) * 1000)
            if left < 1:
                raise SearchTimeout(seconds)
            cursor.execute(f"SET LOCAL statement_timeout = {left}")

        event.listen(connection, "before_cursor_execute", what_is_left)
    try:
        yield
    except OperationalError as exc:
        stopped = getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED or "interrupted" in str(exc)
        if stopped:
            raise SearchTimeout(seconds) from None
        raise
    finally:
        if is_sqlite(session):
            raw.set_progress_handler(None, 0)
        else:
            event.remove(connection, "before_cursor_execute", what_is_left)


PERIODS = ("day", "week", "month")
SPLITS = ("lang", "source", "topic", "none")


@dataclass(frozen=True)
class PeriodCount:
    """How many matching articles one period (its first day, UTC; None: undated) and one value
    of the split (a language, a source, a topic; None: unknown, untagged, or no split) hold."""

    period: date | None
    part: str | None
    count: int


def count_by_period(
    store: Store,
    query: Query,
    filters: SearchFilters,
    *,
    period: str,
    split: str,
    originals_only: bool,
) -> list[PeriodCount]:
    """The matches of `query` under `filters` (those `find` counts) counted per period and split
    value, grouped by the database over the index: no article is loaded. Periods are UTC days,
    ISO weeks (from Monday) and months, the calendar search's date filters use, so a period's
    count is what a search narrowed to that period finds. Split by topic, an article counts
    under each of its topics."""
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    with store.session() as s:
        grouped = period_statement(
            query, filters, period=period, split=split, originals_only=originals_only,
            sqlite=is_sqlite(s),
        )  # fmt: skip
        found = list(s.exec(grouped))
    return [
        PeriodCount(date.fromisoformat(str(when)[:10]) if when else None, value, int(count))
        for when, value, count in found
    ]


def period_statement(
    query: Query,
    filters: SearchFilters,
    *,
    period: str,
    split: str,
    originals_only: bool,
    sqlite: bool,
) -> Any:
    """The statement `count_by_period` runs. The matches are asked of the index once (`id IN
    (...)`), then each id is looked up in the covering index of the originals
    (`ix_article_originals`) rather than in its row, whose text would be read with it
    (counting copies too reads the rows)."""
    conditions = filter_conditions(filters)
    if originals_only:
        conditions.append(col(Article.duplicate_of).is_(None))
    part: Any = {
        "lang": col(Article.lang),
        "source": col(Article.source),
        "topic": col(ArticleTopic.topic),
        "none": null(),
    }[split]
    rows: Any = select(_period_start(period, sqlite).label("period"), part.label("part"))
    rows = rows.select_from(Article)
    if query.terms:
        index, key, matches, _ = _index_match(query, sqlite)
        rows = rows.where(col(Article.id).in_(select(key).select_from(index).where(matches)))
    if split == "topic":
        rows = rows.outerjoin(ArticleTopic, col(ArticleTopic.article_id) == col(Article.id))
    each = rows.where(*conditions).subquery()
    return select(each.c.period, each.c.part, func.count()).group_by(each.c.period, each.c.part)


def _period_start(period: str, sqlite: bool) -> Any:
    """The first day of the period holding `published_at`, in UTC: 'YYYY-MM-DD' text on
    SQLite, a timestamp at its midnight on PostgreSQL (its `to_char` would cost more than the
    grouping)."""
    published = col(Article.published_at)
    if not sqlite:
        return func.date_trunc(period, func.timezone("UTC", published))
    if period == "week":  # to the coming Sunday (or stay on it), then back to its Monday
        return func.date(published, "weekday 0", "-6 days", type_=String)
    if period == "month":
        return func.strftime("%Y-%m-01", published, type_=String)
    return func.date(published, type_=String)


def count_matches(store: Store, query: Query, filters: SearchFilters) -> int:
    """How many articles match: the count `find` gives, without ranking a page (the baseline
    the search bench holds `count_by_period` to)."""
    with store.session() as s:
        _, counted = _statements(query, filter_conditions(filters), is_sqlite(s))
        return int(s.exec(counted).one())


def _one_per_story(ranked: Any) -> tuple[Any, Any]:
    """The ranked (id, rank) statement cut to the best match of each story, ordered, and the
    statement counting the stories. A story's best match is its highest ranked, then (for a
    query without terms, where every rank is 0) an original before a copy, a relevant article
    before another, the newest; stories are ordered by that rank, then by their newest match."""
    story = func.coalesce(col(Article.story_id), -col(Article.id))
    matches = ranked.add_columns(
        story.label("story"),
        col(Article.published_at).label("published"),
        case((col(Article.duplicate_of).is_(None), 0), else_=1).label("copy"),
        case((col(Article.relevant).is_(True), 0), else_=1).label("other"),
    ).subquery()
    m = matches.c
    within = (m.rank.desc(), m.copy, m.other, m.published.desc().nulls_last(), m.id.desc())
    placed = select(
        m.id,
        m.rank,
        func.row_number().over(partition_by=m.story, order_by=within).label("place"),
        func.max(m.published).over(partition_by=m.story).label("newest"),
    ).subquery()
    p = placed.c
    best = (
        select(p.id, p.rank)
        .where(p.place == 1)
        .order_by(p.rank.desc(), p.newest.desc().nulls_last(), p.id.desc())
    )
    counted = select(func.count(func.distinct(m.story))).select_from(matches)
    return best, counted


def _statements(query: Query, conditions: list[Any], sqlite: bool) -> tuple[Any, Any]:
    """The ranked (id, rank) statement and the statement counting all matches."""
    if not query.terms:
        newest: Any = select(col(Article.id), literal_column("0.0").label("rank"))
        newest = newest.where(*conditions)
        return newest, select(func.count()).select_from(Article).where(*conditions)
    index, key, matches, score = _index_match(query, sqlite)
    ranked = (
        select(col(Article.id), (score * _boost()).label("rank"))
        .join_from(index, Article, col(Article.id) == key)
        .where(matches, *conditions)
    )
    counted = select(func.count()).select_from(index).where(matches)
    if conditions:
        counted = counted.join(Article, col(Article.id) == key).where(*conditions)
    return ranked, counted


def _index_match(query: Query, sqlite: bool) -> tuple[Any, Any, Any, Any]:
    """The index table, its article id column, the condition matching `query` and the score."""
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
    return index, key, matches, score


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
        words = [
            "(" + " | ".join(quoted_lexeme(s) for s in sorted(o)) + ")" for o in term.alternatives
        ]
        return "(" + " <-> ".join(words) + ")"
    [options] = term.alternatives
    if term.prefix:
        [prefix] = options
        return f"{quoted_lexeme(prefix)}:*"
    return "(" + " | ".join(quoted_lexeme(s) for s in sorted(options)) + ")"
