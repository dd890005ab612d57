"""Full-text search over the archive, as the web page, the bot and `monitor search` ask for it: a
query read leniently (`monitor.search.query`), the page of matching articles the index ranks
(`monitor.search.backend`), each hit with its matched words marked (`monitor.search.highlight`).
A query with problems still searches, with the problems given back as warnings, because a
reader typing into a search box should see results and what was wrong, not an error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.core.records import copied
from monitor.search.backend import find
from monitor.search.highlight import Marked, mark, snippet
from monitor.search.query import SearchFilters, parse_query

if TYPE_CHECKING:
    from monitor.store import Store
    from monitor.store.tables import Article

# --- the records the web page and the bot read ---------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    source: str
    url: str
    title: str
    lang: str | None
    published_at: datetime | None  # aware; None: date unknown
    relevant: bool | None
    score: float | None  # relevance score from tagging
    topics: tuple[str, ...]
    duplicate_of: str | None
    rank: float  # higher is better
    title_marked: Marked
    snippet: Marked


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int  # all matches, not only this page
    hits: tuple[SearchHit, ...] = field(default_factory=tuple)
    # What was wrong with the query and how it was read anyway ("unbalanced quote: ...").
    warnings: tuple[str, ...] = ()


# --- the search itself -----------------------------------------------------------------------------


def search(
    store: Store,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
) -> SearchResult:
    """Matches of `query` best first; an empty query lists the newest articles. A query with
    problems (an unbalanced quote) is read leniently and the problems given as `warnings`."""
    filters = filters or SearchFilters()
    parsed = parse_query(query)
    if query.strip() and not parsed.terms:
        return SearchResult(query=query, total=0, warnings=parsed.problems)
    total, rows = find(store, parsed, filters, limit=limit, offset=offset)
    tags = store.tags_for([row.article.id or 0 for row in rows])
    hits = []
    for row in rows:
        article = row.article
        body = snippet(article.text, parsed, article.lang)
        topics = tags.get(article.id or 0, ([], []))[0]
        title = mark(article.title, parsed, article.lang)
        hits.append(hit_of(article, topics, rank=row.rank, title_marked=title, snippet=body))
    return SearchResult(query=query, total=total, hits=tuple(hits), warnings=parsed.problems)


def hit_of(
    article: Article,
    topics: Sequence[str],
    *,
    rank: float = 0.0,
    title_marked: Marked | None = None,
    snippet: Marked = Marked(),
) -> SearchHit:
    """An archived article as a hit (nothing marked unless told)."""
    return copied(
        SearchHit,
        article,
        article_id=article.id or 0,
        topics=tuple(topics),
        rank=rank,
        title_marked=title_marked or Marked(((article.title, False),)),
        snippet=snippet,
    )
