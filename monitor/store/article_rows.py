"""The articles in the archive: which listed keys it already knows, saving an article under every
key it was found by (insert, update or unchanged, safe to repeat and to race), reading them back in
batches, a re-extraction, and the tags (topics and entities) a tagging run gives them. The
full-text index is updated in the same transaction as the article it indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Update, bindparam, case, delete, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.core.stages import STAGES
from monitor.store.db import Sessions
from monitor.store.fulltext import index_article, write_index
from monitor.store.records import ArticleRecord, EntityRow, KnownArticle, Saved
from monitor.store.tables import (
    Article,
    ArticleAlias,
    ArticleEntity,
    ArticleTopic,
    FrontierRow,
    table,
)
from monitor.store.warc import WarcRef


class ArticleRows(Sessions):
    """The `Store`'s article, alias, topic and entity rows."""

    def known_articles(self, source: str, keys: Iterable[str]) -> dict[str, KnownArticle]:
        keys = list(set(keys))
        found: dict[str, KnownArticle] = {}
        with self.session() as s:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = (
                    select(ArticleAlias.key, Article)
                    .join(Article, col(Article.id) == ArticleAlias.article_id)
                    .where(ArticleAlias.source == source, col(ArticleAlias.key).in_(chunk))
                )
                for key, article in s.exec(query):
                    found[key] = KnownArticle(
                        article.id or 0, article.listed_at, article.content_hash, _capture(article)
                    )
        return found

    def touch_articles(self, ids: Iterable[int], seen_at: datetime) -> None:
        ids = list(ids)
        if not ids:
            return
        with self.session() as s:
            for article in s.exec(select(Article).where(col(Article.id).in_(ids))):
                article.last_seen_at = max(article.last_seen_at, seen_at)
                s.add(article)
            s.commit()

    def save_article(
        self,
        record: ArticleRecord,
        frontier_id: int | None = None,
        index: Mapping[str, Any] | None = None,
    ) -> Saved:
        """Insert or update; says which ("new", "updated", "unchanged") and the row's id.
        Safe to repeat. The frontier row the page was fetched for leaves the frontier in the same
        transaction, so an article is never both archived and waiting, nor neither. `index`:
        the full-text index's row of the record's title, text and language, its id left out,
        where it was made beforehand (`fulltext.index_params`, in the analysis workers), else it
        is made here."""
        for _ in range(2):
            try:
                return self._save_article_once(record, frontier_id, index)
            except IntegrityError:
                continue  # another writer inserted it first: the second pass updates it
        return self._save_article_once(record, frontier_id, index)

    def _save_article_once(
        self, record: ArticleRecord, frontier_id: int | None, index: Mapping[str, Any] | None
    ) -> Saved:
        # statements on the tables, made once, no objects: this runs for every page a poll archives
        article, alias = table(Article), table(ArticleAlias)
        with self.session() as s:
            known = {"source": record.source, "keys": list(record.aliases)}
            existing = s.execute(_KNOWN_BY_ALIAS, known).first()
            have: set[str] = set()
            if existing is None:
                values = {
                    "source": record.source,
                    "key": record.key,
                    "first_seen_at": record.fetched_at,
                    "last_seen_at": record.fetched_at,
                    **_article_fields(record),
                }
                article_id = int(s.execute(_ARTICLE_INSERT, values).scalar_one())
                outcome = "new"
            else:
                article_id = int(existing.id)
                changes: dict[str, Any] = {}  # nothing to write, no UPDATE (an older capture)
                if record.fetched_at > existing.last_seen_at:
                    changes["last_seen_at"] = record.fetched_at
                if record.listed_at and (
                    existing.listed_at is None or record.listed_at > existing.listed_at
                ):
                    changes["listed_at"] = record.listed_at
                if existing.content_hash != record.content_hash:
                    fields = _article_fields(record)
                    fields.pop("listed_at")
                    if record.published_at is None:  # a date the source once gave stays
                        for name in ("published_at", "published_offset_min", "date_source"):
                            fields.pop(name)
                    changes |= fields
                    changes["revisions"] = article.c.revisions + 1
                    changes["stage"] = STAGES[0]  # a new text passes the later stages again
                    outcome = "updated"
                else:
                    outcome = "unchanged"
                if changes:
                    s.execute(update(article).where(article.c.id == article_id).values(changes))
                have = set(s.execute(_ALIASES, {"article_id": article_id}).scalars())
            added = [key for key in dict.fromkeys(record.aliases) if key not in have]
            if added:
                s.execute(
                    insert(alias),
                    [{"source": record.source, "key": k, "article_id": article_id} for k in added],
                )
            if outcome != "unchanged" and index is not None:
                write_index(s, [{**index, "id": article_id}])  # in the same transaction
            elif outcome != "unchanged" and (stored := s.get(Article, article_id)) is not None:
                index_article(s, stored)
            if frontier_id is not None:
                s.execute(_FRONTIER_DONE, {"frontier_id": frontier_id})
            s.commit()
            return Saved(outcome, article_id)

    def articles(
        self,
        *,
        since: datetime | None = None,
        sources: list[str] | None = None,
        where: Sequence[Any] = (),
        batch: int = 500,
    ) -> Iterator[Article]:
        """Articles oldest first, read in batches so an export of years stays small in memory;
        `where` adds conditions on `Article` (the search filters, for export)."""
        last_id = 0
        while True:
            with self.session() as s:
                query = select(Article).where(col(Article.id) > last_id, *where)
                if since:
                    query = query.where(col(Article.published_at) >= since)
                if sources:
                    query = query.where(col(Article.source).in_(sources))
                rows = list(s.exec(query.order_by(col(Article.id)).limit(batch)))
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id or last_id

    def article(self, article_id: int) -> Article | None:
        with self.session() as s:
            return s.get(Article, article_id)

    def replace_extraction(self, article_id: int, **fields: object) -> None:
        with self.session() as s:
            article = s.get(Article, article_id)
            if article is None:
                return
            for name, value in fields.items():
                setattr(article, name, value)
            s.add(article)
            if {"title", "text", "lang"} & fields.keys():
                index_article(s, article)  # the full-text index, in the same transaction
            s.commit()

    def save_tagging(
        self,
        article_id: int,
        *,
        relevant: bool,
        score: float,
        reasons: Sequence[str],
        topics: Sequence[str],
        entities: Sequence[EntityRow],
        tagged_with: str,
        passed: str | None = None,
    ) -> None:
        """Replace an article's tags in one transaction (a retag leaves no stale topic behind);
        `passed`: the stage the article has passed with them, recorded in the same commit."""
        values = {
            "relevant": relevant,
            "score": score,
            "reasons": json.dumps(list(reasons), ensure_ascii=False),
            "tagged_with": tagged_with,
        }
        with self.session() as s:
            if not write_article(s, article_id, values, passed):
                return  # the article is gone
            topic, entity = table(ArticleTopic), table(ArticleEntity)
            s.execute(_TOPICS_CLEARED, {"article_id": article_id})
            s.execute(_ENTITIES_CLEARED, {"article_id": article_id})
            if topics:
                s.execute(
                    insert(topic),
                    [{"article_id": article_id, "topic": t} for t in dict.fromkeys(topics)],
                )
            if entities:
                s.execute(
                    insert(entity),
                    [
                        {
                            "article_id": article_id,
                            "kind": e.kind,
                            "entity": e.entity,
                            "name": e.name,
                            "count": e.count,
                        }
                        for e in {(e.kind, e.entity): e for e in entities}.values()
                    ],
                )
            s.commit()

    def tags_for(self, ids: Sequence[int]) -> dict[int, tuple[list[str], list[EntityRow]]]:
        """Topics and entities of the given articles, in two queries."""
        found: dict[int, tuple[list[str], list[EntityRow]]] = {i: ([], []) for i in ids}
        with self.session() as s:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                topics = select(ArticleTopic).where(col(ArticleTopic.article_id).in_(chunk))
                for topic in s.exec(topics.order_by(col(ArticleTopic.topic))):
                    found[topic.article_id][0].append(topic.topic)
                entities = select(ArticleEntity).where(col(ArticleEntity.article_id).in_(chunk))
                for e in s.exec(entities.order_by(col(ArticleEntity.count).desc())):
                    found[e.article_id][1].append(EntityRow(e.kind, e.entity, e.name, e.count))
        return found

    def count_articles(self, source: str | None = None) -> int:
        with self.session() as s:
            query = select(func.count()).select_from(Article)
            if source:
                query = query.where(Article.source == source)
            return int(s.exec(query).one())


def _capture(article: Article) -> WarcRef | None:
    if article.warc_file is None or article.warc_offset is None or article.warc_length is None:
        return None
    return WarcRef(article.warc_file, article.warc_offset, article.warc_length)


def _article_fields(record: ArticleRecord) -> dict[str, Any]:
    offset = record.published_at.utcoffset() if record.published_at else None
    return {
        "url": record.url,
        "title": record.title,
        "text": record.text,
        "author": record.author,
        "lang": record.lang,
        "published_at": record.published_at,
        "published_offset_min": int(offset.total_seconds() // 60) if offset else 0,
        "date_source": record.date_source,
        "listed_at": record.listed_at,
        "fetched_at": record.fetched_at,
        "content_hash": record.content_hash,
        "extraction": record.extraction,
        "http_status": record.http_status,
        "warc_file": record.warc.file if record.warc else None,
        "warc_offset": record.warc.offset if record.warc else None,
        "warc_length": record.warc.length if record.warc else None,
    }


# A new article's row: its values go with the execution (a statement made with its ~20 values cost
# as much again as this one, made once).
_ARTICLE_INSERT = insert(table(Article)).returning(table(Article).c.id)
# The archive path's other statements, made once with their values as parameters: made for each
# call, the statements of a page had cost ~1 ms of the main process's time in the pipeline bench.
_KNOWN_BY_ALIAS = (  # the article a page's keys name, and what saving it again compares
    select(
        table(Article).c.id,
        table(Article).c.last_seen_at,
        table(Article).c.listed_at,
        table(Article).c.content_hash,
    )
    .join(table(ArticleAlias), table(ArticleAlias).c.article_id == table(Article).c.id)
    .where(
        table(ArticleAlias).c.source == bindparam("source"),
        table(ArticleAlias).c.key.in_(bindparam("keys", expanding=True)),
    )
    .limit(1)
)
_ALIASES = select(table(ArticleAlias).c.key).where(
    table(ArticleAlias).c.article_id == bindparam("article_id")
)
_FRONTIER_DONE = delete(table(FrontierRow)).where(
    table(FrontierRow).c.id == bindparam("frontier_id")
)
_TOPICS_CLEARED = delete(table(ArticleTopic)).where(
    table(ArticleTopic).c.article_id == bindparam("article_id")
)
_ENTITIES_CLEARED = delete(table(ArticleEntity)).where(
    table(ArticleEntity).c.article_id == bindparam("article_id")
)


def write_article(
    session: Session, article_id: int, values: Mapping[str, Any], passed: str | None = None
) -> bool:
    """Write `values` on an article in the session's transaction, with `passed` (the stage the
    write completes) where given, by one UPDATE: no read of the row, its text included, first.
    False when there is no such article."""
    params = {f"new_{name}": value for name, value in values.items()}
    written = session.execute(
        _article_update(tuple(values), passed), {"article_id": article_id, **params}
    )
    return bool(written.rowcount)  # type: ignore[attr-defined]


@cache
def _article_update(names: tuple[str, ...], passed: str | None) -> Update:
    """`write_article`'s statement for these columns, made once: its values are parameters of
    the execution, not of the statement (a statement made with them, as each call made it, cost
    ~85 µs more a write)."""
    article = table(Article)
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in names}
    if passed is not None:
        values["stage"] = stage_after(passed)
    return update(article).where(article.c.id == bindparam("article_id")).values(values)


def stage_passed(article_id: int, passed: str) -> Update:
    """The statement recording that an article has passed `passed`, never moving it back, with
    no read of the row first (loading the row to decide in Python read its whole text)."""
    article = table(Article)
    return (
        update(article)
        .where(article.c.id == article_id, article.c.stage.not_in(STAGES[STAGES.index(passed) :]))
        .values(stage=passed)
    )


@cache
def stage_after(passed: str) -> Any:
    """The SQL value of an article's stage once it has passed `passed`: `passed` where the row
    stands before it (or at a stage unknown to this version), else the row's own. Made once a
    stage (an SQL expression is immutable): it is part of two writes of every article."""
    stage = table(Article).c.stage
    return case((stage.in_(STAGES[STAGES.index(passed) :]), stage), else_=passed)
