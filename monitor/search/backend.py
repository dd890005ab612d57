"""Asking the full-text index: a `Query` and `SearchFilters` made into SQL over the tables that
`monitor.store.fulltext` keeps, an FTS5 MATCH ranked by bm25 on SQLite (the title counting four
times the body), a tsquery ranked by ts_rank_cd on PostgreSQL (title words weighted A at index
time), each rank scaled by the same boosts: relevant articles up, copies down. The text reaching
the database is built here from analysed terms, every stem quoted, so no user input is ever
parsed as FTS5 or tsquery syntax. This sits above the store because it is search's reading of
the index: the store only keeps the index current.

A search with words ranks the latest archived `RANKED_MATCHES` of its matches, and counts them
all. On PostgreSQL it reads the index table alone (each row holds the facts the search filters,
boosts, orders and groups by beside its vector); the article rows are read for the page only.

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
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from monitor.core.errors import SearchTimeout
from monitor.search.query import Query, SearchFilters, Term
from monitor.store.fulltext import FACT_COLUMNS, FTS_TABLE, PG_TABLE, is_sqlite, quoted_lexeme
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
# How many of a query's matches are ranked, the latest archived (the highest ids): ranking costs
# a match ~20 µs on PostgreSQL (its whole vector is read out of TOAST) and, on SQLite, bm25 and
# a join to `article` for the boosts; a word found in a quarter of an archive of 100,000 cost
# ~500 and ~85 ms ranked whole, and ten times that at 1,000,000. A search matching more ranks
# its latest ones and says so (`Matches.ranked`); a date or site filter reaches older ones. The
# same rule on both backends, though SQLite could afford more: one archive, one answer.
RANKED_MATCHES = 1_000


@dataclass(frozen=True)
class Found:
    """One matching article and its rank (higher is better; 0 when the query has no terms)."""

    article: Article
    rank: float


@dataclass(frozen=True)
class Matches:
    """A page of matches: `total` counts the results (stories, when grouped), `articles` the
    matching articles behind them, `ranked` those the ranking read (the latest archived,
    `RANKED_MATCHES` at most)."""

    total: int
    articles: int
    found: list[Found]
    ranked: int = 0


@dataclass(frozen=True)
class Facts:
    """Where a statement reads the facts of a matching article it filters, boosts, orders and
    groups by: `article` itself, or on PostgreSQL the index row beside the vector
    (`monitor.store.fulltext`), which spares the search reading the articles' rows."""

    id: Any
    published_at: Any
    lang: Any
    source: Any
    relevant: Any
    copy: Any  # true for a copy
    story_id: Any

    @classmethod
    def of(cls, rows: Any) -> Facts:
        """The facts columns of an index table or of a subquery over it."""
        c = rows.c
        return cls(
            c.article_id, c.published_at, c.lang, c.source, c.relevant, c.copy.is_(True), c.story_id
        )


ARTICLE = Facts(
    col(Article.id),
    col(Article.published_at),
    col(Article.lang),
    col(Article.source),
    col(Article.relevant),
    col(Article.duplicate_of).is_not(None),
    col(Article.story_id),
)


def filter_conditions(filters: SearchFilters, facts: Facts = ARTICLE) -> list[Any]:
    """The filters as conditions on `facts` (those of `article` for export)."""
    conditions: list[Any] = []
    if filters.sources:
        conditions.append(facts.source.in_(filters.sources))
    if filters.langs:
        conditions.append(facts.lang.in_(filters.langs))
    if filters.since:
        conditions.append(facts.published_at >= filters.since)
    if filters.until:
        conditions.append(facts.published_at < filters.until)
    if filters.relevant_only:
        conditions.append(facts.relevant.is_(True))
    if filters.topics:
        tagged = select(ArticleTopic.article_id).where(col(ArticleTopic.topic).in_(filters.topics))
        conditions.append(facts.id.in_(tagged))
    return conditions


def find(
    store: Store,
    query: Query,
    filters: SearchFilters,
    *,
    limit: int,
    offset: int,
    by_story: bool = False,
    timeout: float | None = None,
) -> Matches:
    """How many articles match, and the page of them asked for, best first (newest first for
    a query without terms); `by_story`: one per story, its best match. The ranking reads ids and
    ranks only; the page's articles are loaded after, so matching thousands of long texts never
    drags their texts through a sort. Raises `SearchTimeout` after `timeout` seconds
    (`SEARCH_TIMEOUT` as it is when the search starts, when None)."""
    seconds = SEARCH_TIMEOUT if timeout is None else timeout
    with store.session() as s, time_limit(s, seconds):
        plan = _plan(s, query, filters, by_story)
        page = list(s.exec(plan.ranked.offset(offset).limit(limit)))
        if plan.cap and page and page[0].kept < plan.cap:  # every match was ranked: counted then
            articles = int(page[0].kept)
            total = int(page[0].results) if plan.grouped is not None else articles
        else:
            articles = int(s.exec(plan.counted).one())
            total = int(s.exec(plan.grouped).one()) if plan.grouped is not None else articles
        found = s.exec(select(Article).where(col(Article.id).in_([row.id for row in page])))
        loaded = {article.id: article for article in found}
    hits = [Found(loaded[row.id], float(row.rank or 0.0)) for row in page if row.id in loaded]
    ranked = min(articles, plan.cap) if plan.cap else articles
    return Matches(total, articles, hits, ranked)


def explain(
    store: Store, query: Query, filters: SearchFilters, *, by_story: bool = False
) -> dict[str, str]:
    """How the database runs a search's statements (the count, and the ranked page of 20): its
    EXPLAIN, as `find` would send them. For the bench's plans and the tests that hold the index
    to being used."""
    plans: dict[str, str] = {}
    with store.session() as s:
        plan = _plan(s, query, filters, by_story)
        sqlite = is_sqlite(s)
        for name, statement in (("count", plan.counted), ("page", plan.ranked.limit(20))):
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


@dataclass(frozen=True)
class _Plan:
    """The statements of a search: the count of matching articles, the count of results (None:
    the same), and the ranked (id, rank) matches in order, to be cut to a page; `cap`: how many
    matches the ranking reads at most (0: all). With a cap, each ranked row also says how many
    matches were ranked (`kept`, and `results`: the stories among them, when grouped): fewer
    than the cap, that is the count, and the counting statements (a second pass over the matches,
    as costly as the first for a phrase, whose every candidate's positions are read) are not
    sent."""

    counted: Any
    grouped: Any
    ranked: Any
    cap: int = 0


def _plan(session: Session, query: Query, filters: SearchFilters, by_story: bool) -> _Plan:
    sqlite = through_the_index(session, query)
    ranked, counted, facts, cap = _statements(query, filters, sqlite)
    if by_story:
        ranked, grouped = _one_per_story(ranked, facts, _stories_counted(query, filters, sqlite))
        return _Plan(counted, grouped, ranked, cap)
    order: list[Any] = [literal_column("rank").desc()] if query.terms else []
    order += [facts.published_at.desc().nulls_last(), facts.id.desc()]
    return _Plan(counted, None, ranked.order_by(*order), cap)


def through_the_index(session: Session, query: Query) -> bool:
    """Make the index the only way to a match of `query` in this transaction, on PostgreSQL: a
    word's stems are OR-ed (seven for "Қазақстанның"), the planner takes them for independent
    words, expects three times the rows there are, and reads every stored vector instead (1.7 s
    against 15 ms at 100,000 articles; 0.8 s against 10 ms for a count). Returns whether the
    session talks to SQLite, where FTS5 is the only way anyway."""
    sqlite = is_sqlite(session)
    if query.terms and not sqlite:
        session.execute(text("SET LOCAL enable_seqscan = off"))
    return sqlite


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


def count_matches(store: Store, query: Query, filters: SearchFilters) -> int:
    """How many articles match: the count `find` gives, without ranking a page (the baseline
    the search bench holds `count_by_period` to)."""
    with store.session() as s:
        _, counted, _, _ = _statements(query, filters, through_the_index(s, query))
        return int(s.exec(counted).one())


def _one_per_story(ranked: Any, facts: Facts, counted: Any) -> tuple[Any, Any]:
    """The ranked (id, rank) statement cut to the best match of each story, ordered, and the
    statement counting the stories (`counted`, over every match: the ranked ones may be capped).
    A story's best match is its highest ranked, then (for a query without terms, where every
    rank is 0) an original before a copy, a relevant article before another, the newest;
    stories are ordered by that rank, then by their newest match."""
    matches = ranked.add_columns(
        _story(facts).label("story"),
        facts.published_at.label("published"),
        case((facts.copy, 1), else_=0).label("copy"),
        case((facts.relevant.is_(True), 0), else_=1).label("other"),
    ).subquery()
    m = matches.c
    within = (m.rank.desc(), m.copy, m.other, m.published.desc().nulls_last(), m.id.desc())
    kept: list[Any] = [m.kept] if "kept" in m else []
    placed = select(
        m.id,
        m.rank,
        func.row_number().over(partition_by=m.story, order_by=within).label("place"),
        func.max(m.published).over(partition_by=m.story).label("newest"),
        *kept,
    ).subquery()
    p = placed.c
    results = [p.kept, func.count().over().label("results")] if kept else []
    best = (
        select(p.id, p.rank, *results)
        .where(p.place == 1)
        .order_by(p.rank.desc(), p.newest.desc().nulls_last(), p.id.desc())
    )
    return best, counted


def _story(facts: Facts) -> Any:
    """An article's story; an article not linked yet stands alone (its id, negated)."""
    return func.coalesce(facts.story_id, -facts.id)


def _stories_counted(query: Query, filters: SearchFilters, sqlite: bool) -> Any:
    """How many stories the matches of `query` belong to (all of them: not only those ranked)."""
    counted: Any = select(func.count(func.distinct(_story(ARTICLE)))).select_from(Article)
    if not query.terms:
        return counted.where(*filter_conditions(filters))
    if sqlite:
        index, key, matches = index_match(query, sqlite)
        joined = counted.join_from(index, Article, col(Article.id) == key)
        return joined.where(matches, *filter_conditions(filters))
    index, matches, _ = _pg_match(query)
    facts = Facts.of(index)
    where = [matches, *filter_conditions(filters, facts)]
    return select(func.count(func.distinct(_story(facts)))).select_from(index).where(*where)


def _statements(query: Query, filters: SearchFilters, sqlite: bool) -> tuple[Any, Any, Facts, int]:
    """The ranked (id, rank) statement, the statement counting all matches, where the ranked
    statement reads the facts it is ordered and grouped by, and how many matches it ranks at
    most (0: all)."""
    if not query.terms:
        conditions = filter_conditions(filters)
        newest: Any = select(col(Article.id), literal_column("0.0").label("rank"))
        newest = newest.where(*conditions)
        counted = select(func.count()).select_from(Article).where(*conditions)
        return newest, counted, ARTICLE, 0
    if not sqlite:
        return _pg_statements(query, filters)
    conditions = filter_conditions(filters)
    index = table(FTS_TABLE, column("rowid"))
    key = index.c.rowid
    matches = _fts5_matches(query)
    bm25 = f"bm25({FTS_TABLE}, {TITLE_WEIGHT}, 1.0, {TITLE_WEIGHT}, 1.0, 0.0)"
    scored: Any = select(key.label("id"), (-literal_column(bm25)).label("score")).where(matches)
    if conditions:
        scored = scored.join(Article, col(Article.id) == key).where(*conditions)
    # FTS5 hands its matches over highest rowid first, and bm25 is computed for those kept only
    latest = scored.order_by(key.desc()).limit(RANKED_MATCHES).subquery("latest")
    ranked = select(col(Article.id), (latest.c.score * _boost(ARTICLE)).label("rank"), _KEPT)
    ranked = ranked.join_from(latest, Article, col(Article.id) == latest.c.id)
    counted = select(func.count()).select_from(index).where(matches)
    if conditions:
        counted = counted.join(Article, col(Article.id) == key).where(*conditions)
    return ranked, counted, ARTICLE, RANKED_MATCHES


def _pg_statements(query: Query, filters: SearchFilters) -> tuple[Any, Any, Facts, int]:
    """PostgreSQL reads the index table alone: the matches and their facts from the GIN index
    and the heap beside it, the latest archived `RANKED_MATCHES` of them ranked with their
    vectors."""
    index, matches, tsq = _pg_match(query)
    facts = Facts.of(index)
    where = [matches, *filter_conditions(filters, facts)]
    # `+ 0`: ordered by the primary key itself, the planner would walk that key backwards and
    # read each row's vector until enough matched (an exclusion at 100k: 44 -> 211 ms)
    kept = select(index).where(*where).order_by((facts.id + 0).desc()).limit(RANKED_MATCHES)
    latest = kept.subquery("latest")
    ranked_facts = Facts.of(latest)
    score = func.ts_rank_cd(latest.c.vector, tsq, 1) * _boost(ranked_facts)
    ranked = select(latest.c.article_id.label("id"), score.label("rank"), _KEPT)
    counted = select(func.count()).select_from(index).where(*where)
    return ranked, counted, ranked_facts, RANKED_MATCHES


# How many matches the ranking read: a window over the capped matches, computed before the
# page's ORDER BY and LIMIT cut them
_KEPT = func.count().over().label("kept")


def index_match(query: Query, sqlite: bool) -> tuple[Any, Any, Any]:
    """The index table, its article id column and the condition matching `query` (for counts
    that group the matches' articles)."""
    if sqlite:
        index = table(FTS_TABLE, column("rowid"))
        return index, index.c.rowid, _fts5_matches(query)
    index, matches, _ = _pg_match(query)
    return index, index.c.article_id, matches


def _fts5_matches(query: Query) -> Any:
    return text(f"{FTS_TABLE} MATCH :match").bindparams(match=fts5_match(query))


def _pg_match(query: Query) -> tuple[Any, Any, Any]:
    """The index table with its facts columns, the condition matching `query`, the tsquery."""
    index = table(
        PG_TABLE,
        *(column(name) for name in ("article_id", "vector", *FACT_COLUMNS)),
    )
    tsq = cast(literal(tsquery(query), String), TSQUERY)
    return index, index.c.vector.op("@@")(tsq), tsq


def _boost(facts: Facts) -> Any:
    relevant = case((facts.relevant.is_(True), RELEVANT_BOOST), else_=1.0)
    copy = case((facts.copy, COPY_FACTOR), else_=1.0)
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
