"""Full-text search over the archive, as the web page, the bot and `monitor search` ask for it: a
query read leniently (`monitor.search.query`), the page of matching articles the index ranks
(`monitor.search.backend`), each hit with its matched words marked (`monitor.search.highlight`).
A query with problems still searches, with the problems given back as warnings, because a
reader typing into a search box should see results and what was wrong, not an error page.
Readers' surfaces ask for one hit per story (`by_story`): each then says how many versions its
story has and which other sites and languages told it (`monitor.search.stories`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.core.errors import SearchTimeout
from monitor.core.records import copied
from monitor.link.members import other_versions
from monitor.search.backend import find
from monitor.search.highlight import Marked, mark, snippet
from monitor.search.query import SearchFilters, parse_query
from monitor.search.stories import StoryView, read_stories
from monitor.store.story_rows import StoryMember

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
    story_id: int | None = None  # None: not linked to a story yet
    versions: int = 1  # how many versions its story has (this one included)
    others: tuple[StoryMember, ...] = ()  # the story's other originals, one per site and language


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int  # all results (stories, when one per story), not only this page
    hits: tuple[SearchHit, ...] = field(default_factory=tuple)
    # What was wrong with the query and how it was read anyway ("unbalanced quote: ...").
    warnings: tuple[str, ...] = ()
    articles: int | None = None  # the matching articles behind `total`; None: as many
    # How many matching articles were ranked, the latest archived, when not all were (a search
    # ranks `RANKED_MATCHES` at most); None: all. Pages reach no further; `notes` says so.
    ranked: int | None = None
    # What a reader should know of the results that is not a problem of the query.
    notes: tuple[str, ...] = ()


# --- the search itself -----------------------------------------------------------------------------


def search(
    store: Store,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
    by_story: bool = False,
    timeout: float | None = None,
) -> SearchResult:
    """Matches of `query` best first; an empty query lists the newest articles. A query with
    problems (an unbalanced quote, more terms than are searched) is read leniently and the
    problems given as `warnings`; one stopped at its time limit finds nothing, and says why.
    `by_story`: one hit per story, its best match, with the story's other versions."""
    filters = filters or SearchFilters()
    parsed = parse_query(query)
    if query.strip() and not parsed.terms:
        return SearchResult(query=query, total=0, warnings=parsed.problems, articles=0)
    try:
        matches = find(
            store, parsed, filters, limit=limit, offset=offset, by_story=by_story, timeout=timeout
        )
    except SearchTimeout as exc:  # the reader is told, as of any other problem of the query
        return SearchResult(query=query, total=0, warnings=(*parsed.problems, str(exc)), articles=0)
    tags = store.tags_for([row.article.id or 0 for row in matches.found])
    stories = (
        read_stories(store, {r.article.story_id for r in matches.found if r.article.story_id})
        if by_story
        else {}
    )
    hits = []
    for row in matches.found:
        article = row.article
        body = snippet(article.text, parsed, article.lang)
        topics = tags.get(article.id or 0, ([], []))[0]
        title = mark(article.title, parsed, article.lang)
        found = hit_of(article, topics, rank=row.rank, title_marked=title, snippet=body)
        story = stories.get(article.story_id or 0)
        hits.append(with_story(found, story) if story else found)
    capped = matches.ranked < matches.articles
    notes = (
        f"{matches.articles:,} articles match: the latest archived {matches.ranked:,} are "
        "ranked and shown; narrow the dates or sites to reach older ones",
    )
    return SearchResult(
        query=query,
        total=matches.total,
        hits=tuple(hits),
        warnings=parsed.problems,
        articles=matches.articles,
        ranked=matches.ranked if capped else None,
        notes=notes if capped else (),
    )


def hit_of(
    article: Article | StoryMember,
    topics: Sequence[str],
    *,
    rank: float = 0.0,
    title_marked: Marked | None = None,
    snippet: Marked = Marked(),
) -> SearchHit:
    """An archived article (or a story's member) as a hit (nothing marked unless told)."""
    return copied(
        SearchHit,
        article,
        article_id=article.article_id if isinstance(article, StoryMember) else article.id or 0,
        topics=tuple(topics),
        rank=rank,
        title_marked=title_marked or Marked(((article.title, False),)),
        snippet=snippet,
        versions=1,
        others=(),
    )


def with_story(hit: SearchHit, story: StoryView) -> SearchHit:
    """The hit, saying how many versions its story has and which others to read. The others
    are those besides the hit itself: the story's best member leads them when the hit is not it."""
    shown = next((m for m in story.versions if m.article_id == hit.article_id), story.best)
    others = other_versions(story.versions, shown)
    return replace(hit, story_id=story.id, versions=len(story.versions), others=tuple(others))
