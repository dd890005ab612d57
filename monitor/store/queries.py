"""The read model: every row the readers of the archive show, behind one rule of what may be shown.

The digest and the weekly email (`digest_rows`, and `story_rows` for the stories they show), the
bot (`latest_shown`, `topic_counts`), the web page (`shown_topics_since` for the chart,
`article_view` for an article and its copies) and the status and health reports
(`duplicates_by_source`, `poll_history`, `source_alerts`) read here, so a reader calls a look-up
and never builds a query. "An item that may be shown" is decided once: relevant, an original
(not a copy of an archived text) and not a seed (the seeds are the dedupe baseline, not news).
`may_be_shown` states the rule over a row in hand, `shown` as the same condition in SQL; nothing
else writes it. Each look-up costs a fixed number of queries whatever the archive's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from monitor.core.records import copied
from monitor.dedupe.reference import seed_keys
from monitor.extract.seeds import SEED_SOURCE
from monitor.store import Article, EntityRow, Store
from monitor.store.sketch_rows import reference_of
from monitor.store.tables import ArticleTopic, PollLog, SourceAlert

LEAD_CHARS = 1500  # of an item's text read for its snippet: a few paragraphs, never the whole
_CHUNK = 500  # ids per IN (...) list


# --- the rule ----------------------------------------------------------------------------------


def may_be_shown(relevant: bool | None, duplicate_of: str | None, source: str) -> bool:
    """Whether an archived item may be shown to readers: relevant, an original, not a seed."""
    return bool(relevant) and duplicate_of is None and source != SEED_SOURCE


def shown() -> ColumnElement[bool]:
    """`may_be_shown` as a condition on `Article`, for the queries below."""
    return and_(
        col(Article.relevant).is_(True),
        col(Article.duplicate_of).is_(None),
        col(Article.source) != SEED_SOURCE,
    )


# --- the digest and the weekly email -----------------------------------------------------------


@dataclass(frozen=True)
class DigestRow:
    """An archived article as the digests read it (text cut to its first paragraphs)."""

    article_id: int
    source: str
    title: str
    url: str
    published_at: datetime | None  # aware, in the site's offset; None: date unknown
    lang: str | None
    first_seen_at: datetime  # aware
    relevant: bool | None
    duplicate_of: str | None
    score: float | None
    topics: tuple[str, ...]
    lead: str  # the start of the text, paragraphs separated by a blank line
    story_id: int | None = None  # the event it reports (monitor.link); None: not linked yet

    @property
    def shown(self) -> bool:
        return may_be_shown(self.relevant, self.duplicate_of, self.source)

    @property
    def copy(self) -> bool:
        """A copy of an archived text (monitor.link.members.Member asks it)."""
        return self.duplicate_of is not None


def digest_rows(
    store: Store, *, since: datetime, until: datetime | None = None, relevant_only: bool = True
) -> list[DigestRow]:
    """Articles first seen in [since, until), with their topics and the start of their text
    (only for shown ones: the weekly summary counts the others but never shows them). The seed
    corpus is the dedupe baseline, not news: it is never in a digest, nor counted."""
    with store.session() as s:
        return digest_rows_in(s, since=since, until=until, relevant_only=relevant_only)


def digest_rows_in(
    s: Session, *, since: datetime, until: datetime | None, relevant_only: bool
) -> list[DigestRow]:
    """`digest_rows` in the caller's session: the outbox reads them under its audience lock."""
    query = sa_select(*_digest_columns()).where(
        col(Article.first_seen_at) >= since, col(Article.source) != SEED_SOURCE
    )
    if until is not None:
        query = query.where(col(Article.first_seen_at) < until)
    if relevant_only:
        query = query.where(shown())
    return _digest_rows(s, list(s.execute(query.order_by(col(Article.id)))))


def story_rows(store: Store, story_ids: Iterable[int]) -> dict[int, list[DigestRow]]:
    """The members of these stories that may be shown, whenever they were first seen, as the
    digests read them: a story's entry speaks with one of them and links the others, so it
    needs their leads and topics too (one query per 500 stories, whatever their size)."""
    ids = sorted(set(story_ids))
    found: list[Any] = []
    with store.session() as s:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = sa_select(*_digest_columns()).where(col(Article.story_id).in_(chunk), shown())
            found += s.execute(query.order_by(col(Article.id)))
        rows = _digest_rows(s, found)
    members: dict[int, list[DigestRow]] = {i: [] for i in ids}
    for row in rows:
        members[row.story_id or 0].append(row)
    return members


def _digest_columns() -> list[Any]:
    lead = case((shown(), func.substr(Article.text, 1, LEAD_CHARS)), else_="")
    return [
        col(Article.id),
        col(Article.source),
        col(Article.title),
        col(Article.url),
        col(Article.published_at),
        col(Article.published_offset_min),
        col(Article.lang),
        col(Article.first_seen_at),
        col(Article.relevant),
        col(Article.duplicate_of),
        col(Article.score),
        lead,
        col(Article.story_id),
    ]


def _digest_rows(s: Session, found: Sequence[Any]) -> list[DigestRow]:
    topics = _topics(s, [row[0] for row in found])
    return [
        DigestRow(
            article_id=article_id,
            source=source,
            title=title,
            url=url,
            published_at=published.astimezone(_offset(offset)) if published else None,
            lang=lang,
            first_seen_at=seen,
            relevant=relevant,
            duplicate_of=duplicate_of,
            score=score,
            topics=tuple(sorted(topics.get(article_id, []))),
            lead=head or "",
            story_id=story_id,
        )
        for (
            article_id,
            source,
            title,
            url,
            published,
            offset,
            lang,
            seen,
            relevant,
            duplicate_of,
            score,
            head,
            story_id,
        ) in found
    ]


def _topics(s: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    topics: dict[int, list[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for topic in s.exec(select(ArticleTopic).where(col(ArticleTopic.article_id).in_(chunk))):
            topics.setdefault(topic.article_id, []).append(topic.topic)
    return topics


def _offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


# --- the bot -----------------------------------------------------------------------------------


def latest_shown(store: Store, count: int) -> list[tuple[Article, list[str]]]:
    """The newest items that may be shown, one per story (its newest such item: the versions of
    one event would otherwise fill the list), newest first (undated ones last), with their
    topics. An item not linked to a story yet stands alone."""
    story = func.coalesce(col(Article.story_id), -col(Article.id))
    newest_first = (col(Article.published_at).desc().nulls_last(), col(Article.id).desc())
    placed = (
        sa_select(
            col(Article.id),
            col(Article.published_at),
            func.row_number().over(partition_by=story, order_by=newest_first).label("place"),
        )
        .where(shown())
        .subquery()
    )
    with store.session() as s:
        ids = s.execute(
            sa_select(placed.c.id)
            .where(placed.c.place == 1)
            .order_by(placed.c.published_at.desc().nulls_last(), placed.c.id.desc())
            .limit(count)
        ).scalars()
        order = {article_id: n for n, article_id in enumerate(ids)}
        found = s.exec(select(Article).where(col(Article.id).in_(list(order))))
        rows = sorted(found, key=lambda article: order[article.id or 0])
    tags = store.tags_for([row.id for row in rows if row.id is not None])
    return [(row, tags.get(row.id or 0, ([], []))[0]) for row in rows]


def topic_counts(store: Store, since: datetime) -> tuple[dict[str, int], int]:
    """Items that may be shown, published since `since`: how many per topic, how many in all."""
    recent = (shown(), col(Article.published_at) >= since)
    with store.session() as s:
        per_topic = s.exec(
            select(ArticleTopic.topic, func.count())
            .join(Article, col(Article.id) == col(ArticleTopic.article_id))
            .where(*recent)
            .group_by(col(ArticleTopic.topic))
        )
        counts = {topic: int(n) for topic, n in per_topic}
        total = int(s.exec(select(func.count()).select_from(Article).where(*recent)).one())
    return counts, total


# --- the web page ------------------------------------------------------------------------------


def shown_per_lang(store: Store, bounds: Sequence[datetime]) -> dict[tuple[int, str | None], int]:
    """Articles that may be shown, first seen in each span [bounds[i], bounds[i + 1]), counted
    per span index and language by the database (the weekly email's weeks, whose edges in the
    digest zone the caller gives, so no zone arithmetic is asked of SQL)."""
    if len(bounds) < 2:
        return {}
    seen = col(Article.first_seen_at)
    span = case(*[(seen < edge, index) for index, edge in enumerate(bounds[1:])], else_=None)
    spans = (
        sa_select(span.label("span"), col(Article.lang).label("lang"))
        .where(shown(), seen >= bounds[0], seen < bounds[-1])
        .subquery()
    )
    counted = sa_select(spans.c.span, spans.c.lang, func.count()).group_by(
        spans.c.span, spans.c.lang
    )
    with store.session() as s:
        return {(int(i), lang): int(n) for i, lang, n in s.execute(counted)}


def shown_topics_since(store: Store, start: datetime) -> list[tuple[int, datetime, str | None]]:
    """(article id, published at, topic) of the items that may be shown published since `start`:
    one row per topic, and one with topic None for an item without any (the weekly chart)."""
    with store.session() as s:
        rows = s.exec(
            select(Article.id, Article.published_at, ArticleTopic.topic)
            .join(ArticleTopic, col(ArticleTopic.article_id) == Article.id, isouter=True)
            .where(shown(), col(Article.published_at) >= start)
        ).all()
    return [
        (article_id or 0, published, topic) for article_id, published, topic in rows if published
    ]


@dataclass(frozen=True)
class Related:
    """Another archived copy of the same text, as the article page links to it."""

    article_id: int
    source: str
    title: str
    published_at: datetime | None  # None: date unknown
    similarity: float | None


@dataclass(frozen=True)
class ArticleView:
    article: Article
    topics: tuple[str, ...]
    entities: tuple[EntityRow, ...]
    reasons: tuple[str, ...]
    original: Related | None  # the archived copy this one repeats, when it is in the archive
    copies: tuple[Related, ...]  # archived articles that repeat this one


def article_view(store: Store, article_id: int) -> ArticleView | None:
    """The article page's data in four queries; None when no article has this id. The copies of
    an article come in one query, whatever their number."""
    article = store.article(article_id)
    if article is None or article.id is None:
        return None
    topics, entities = store.tags_for([article.id])[article.id]
    with store.session() as s:
        copies = s.exec(
            select(Article)
            .where(Article.duplicate_of == reference_of(article), col(Article.id) != article.id)
            .order_by(col(Article.published_at).nulls_last(), col(Article.id))
        ).all()
        original = _original(s, article) if article.duplicate_of else None
    return ArticleView(
        article=article,
        topics=tuple(topics),
        entities=tuple(entities),
        reasons=_reasons(article.reasons),
        original=_related(original) if original else None,
        copies=tuple(_related(c) for c in copies),
    )


def leads(store: Store, article_ids: Iterable[int]) -> dict[int, str]:
    """The start of each article's text (LEAD_CHARS), whose first paragraph is the lead a
    story's versions show, in one query per 500 ids."""
    ids = sorted(set(article_ids))
    found: dict[int, str] = {}
    with store.session() as s:
        for start in range(0, len(ids), _CHUNK):
            rows = s.execute(
                sa_select(col(Article.id), func.substr(Article.text, 1, LEAD_CHARS)).where(
                    col(Article.id).in_(ids[start : start + _CHUNK])
                )
            )
            found.update((article_id, head or "") for article_id, head in rows)
    return found


def _original(session: Session, article: Article) -> Article | None:
    """The archived article that `article.duplicate_of` names: a seed or a first copy's URL."""
    reference = article.duplicate_of or ""
    if keys := seed_keys(reference):
        query = select(Article).where(Article.source == SEED_SOURCE, col(Article.key).in_(keys))
    else:
        query = select(Article).where(Article.url == reference, Article.source != SEED_SOURCE)
    return session.exec(
        query.where(col(Article.id) != article.id).order_by(col(Article.id))
    ).first()


def _related(article: Article) -> Related:
    return copied(Related, article, article_id=article.id or 0)


def _reasons(stored: str | None) -> tuple[str, ...]:
    """The tagger's reasons, stored as a JSON list; an older plain string is one reason."""
    if not stored:
        return ()
    try:
        reasons = json.loads(stored)
    except ValueError:
        return (stored,)
    return tuple(str(r) for r in reasons) if isinstance(reasons, list) else (str(reasons),)


# --- status and source health ------------------------------------------------------------------


def duplicates_by_source(store: Store, since: datetime) -> dict[str, tuple[int, int]]:
    """{source: (articles first seen since `since`, how many of them were duplicates)}."""
    with store.session() as session:
        rows = session.exec(
            select(
                Article.source,
                func.count(),
                func.count(col(Article.duplicate_of)),
            )
            .where(col(Article.first_seen_at) >= since)
            .group_by(col(Article.source))
        )
        return {source: (int(new), int(copies)) for source, new, copies in rows}


def poll_history(store: Store, name: str, limit: int) -> list[PollLog]:
    """The source's latest polls, newest first: the evidence the health alerts decide on."""
    with store.session() as s:
        query = (
            select(PollLog)
            .where(PollLog.source == name)
            .order_by(col(PollLog.started_at).desc(), col(PollLog.id).desc())
            .limit(limit)
        )
        return list(s.exec(query))


def source_alerts(store: Store, names: Iterable[str]) -> dict[str, SourceAlert]:
    """The alert state last recorded for each of these sources (absent: never alerted)."""
    with store.session() as s:
        query = select(SourceAlert).where(col(SourceAlert.source).in_(list(names)))
        return {row.source: row for row in s.exec(query)}
