"""What the web pages read from the archive beyond `monitor.search.service`: one article with its copies
and its original, and relevant items per ISO week by topic.

Each page costs a fixed number of queries, whatever the archive's size: the copies of an article
come in one query, the weekly counts in one grouped read of the weeks shown.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlmodel import Session, col, select

from monitor.store import Article, EntityRow, Store
from monitor.store.fingerprints import SEED_SOURCE, reference_of
from monitor.store.tables import ArticleTopic

UNTAGGED = "other"  # relevant items tagging gave no topic


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
    """The article page's data in four queries; None when no article has this id."""
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


def _original(session: Session, article: Article) -> Article | None:
    """The archived article that `article.duplicate_of` names: a seed or a first copy's URL."""
    reference = article.duplicate_of or ""
    if reference.startswith("seed:"):
        seed_id = reference.removeprefix("seed:")
        query = select(Article).where(
            Article.source == SEED_SOURCE,
            col(Article.key).in_([seed_id, f"seed:{seed_id}", f"id:{seed_id}"]),
        )
    else:
        query = select(Article).where(Article.url == reference, Article.source != SEED_SOURCE)
    return session.exec(
        query.where(col(Article.id) != article.id).order_by(col(Article.id))
    ).first()


def _related(article: Article) -> Related:
    return Related(
        article_id=article.id or 0,
        source=article.source,
        title=article.title,
        published_at=article.published_at,
        similarity=article.similarity,
    )


def _reasons(stored: str | None) -> tuple[str, ...]:
    if not stored:
        return ()
    try:
        reasons = json.loads(stored)
    except ValueError:
        return (stored,)
    return tuple(str(r) for r in reasons) if isinstance(reasons, list) else (str(reasons),)


@dataclass(frozen=True)
class WeeklyTopics:
    """Relevant originals (duplicates left out, as in the weekly email) per ISO week and topic.

    An item with several topics counts once under each; `totals` counts each item once."""

    weeks: tuple[date, ...]  # the Monday of each week shown, oldest first
    counts: dict[tuple[date, str], int]
    totals: dict[date, int]
    topics: tuple[str, ...]  # those with any count, most frequent first


def weekly_topics(store: Store, now: datetime, weeks: int, zone: tzinfo = UTC) -> WeeklyTopics:
    """Weeks run Monday to Sunday in `zone` (the digest time zone, as in the weekly email)."""
    today = now.astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = tuple(this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1))
    start = datetime.combine(mondays[0], datetime.min.time(), zone)
    with store.session() as s:
        rows = s.exec(
            select(Article.id, Article.published_at, ArticleTopic.topic)
            .join(ArticleTopic, col(ArticleTopic.article_id) == Article.id, isouter=True)
            .where(col(Article.relevant).is_(True), col(Article.duplicate_of).is_(None))
            .where(col(Article.source) != SEED_SOURCE, col(Article.published_at) >= start)
        ).all()
    counts: Counter[tuple[date, str]] = Counter()
    items: dict[date, set[int]] = {}
    for article_id, published_at, topic in rows:
        if published_at is None:  # never: the date condition leaves undated items out
            continue
        day = published_at.astimezone(zone).date()
        monday = day - timedelta(days=day.weekday())
        if monday > this_monday:
            continue  # dated in the future by its site
        counts[monday, topic or UNTAGGED] += 1
        items.setdefault(monday, set()).add(article_id or 0)
    by_topic: Counter[str] = Counter()
    for (_, topic), count in counts.items():
        by_topic[topic] += count
    return WeeklyTopics(
        weeks=mondays,
        counts=dict(counts),
        totals={monday: len(ids) for monday, ids in items.items()},
        topics=tuple(t for t, _ in sorted(by_topic.items(), key=lambda p: (-p[1], p[0]))),
    )
