"""The archive's side of stories: signatures stored with the articles, the window look-up that
linking reads, and story membership.

A look-up reads the signatures of the articles published within a window of a date (an index on
`story_signature.at`): a few thousand rows at most, whatever the archive's size, and their vectors
come back as one float32 matrix for a single product with the new vector (bench/README.md,
"Stories": faster than an index of the vectors at this size). Which story an article joins is
decided by `monitor.link.decide`; `monitor.service.link` puts the two together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import overload

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, delete, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from monitor.link.decide import Signature
from monitor.store import Store
from monitor.store.queries import shown
from monitor.store.sketch_rows import original_under
from monitor.store.tables import Article, Story, StorySignature

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Window:
    """The linked articles of a window, row by row: their signatures, their vectors, and what the
    decision reads of every row (not only of the candidates): the story and the names."""

    signatures: Sequence[Signature]
    vectors: Vectors
    story_ids: Sequence[int | None]
    names: Sequence[frozenset[str]]

    @classmethod
    def of(cls, signatures: Sequence[Signature], vectors: Vectors) -> Window:
        """A window of signatures already read (linking a batch in memory)."""
        return cls(
            signatures,
            vectors,
            [old.story_id for old in signatures],
            [old.names for old in signatures],
        )

    def signatures_at(self, rows: Sequence[int]) -> list[Signature]:
        """The signatures of the window's `rows` (positions), read from the archive together."""
        if isinstance(self.signatures, _Signatures):
            return self.signatures.pick(rows)
        return [self.signatures[row] for row in rows]


class _Signatures(Sequence[Signature]):
    """The signatures of a window's articles, read from the archive when first asked for: linking
    reads the few above the cosine floor, not the thousands of the window (reading and decoding
    every row's names and date took most of a look-up's time)."""

    def __init__(self, store: Store, ids: Sequence[int]) -> None:
        self._store = store
        self._ids = ids
        self._read: dict[int, Signature] = {}

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Signature: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Signature]: ...
    def __getitem__(self, index: int | slice) -> Signature | Sequence[Signature]:
        if isinstance(index, slice):
            return self.pick(range(*index.indices(len(self))))
        [signature] = self.pick([index])
        return signature

    def pick(self, rows: Sequence[int]) -> list[Signature]:
        """The signatures at positions `rows`, the ones not read yet read in one statement (the
        candidates of a window of same-subject articles may be hundreds: a statement each took
        most of the time linking spent outside the model)."""
        wanted = [self._ids[row] for row in rows]
        self._read_all(wanted)
        return [self._read[article_id] for article_id in wanted]

    def _read_all(self, ids: Sequence[int]) -> None:
        missing = [i for i in ids if i not in self._read]
        if not missing:
            return
        with self._store.session() as session:
            for chunk in _chunks(missing, 500):
                rows = session.exec(
                    select(StorySignature, Article.story_id)
                    .join(Article, col(Article.id) == StorySignature.article_id)
                    .where(col(StorySignature.article_id).in_(chunk))
                )
                for row, story_id in rows:
                    self._read[row.article_id] = _signature(row, story_id)


@dataclass(frozen=True)
class StoredSignature:
    """What linking kept of an article's present text, and what it was made by (`model`)."""

    model: str
    signature: Signature
    vector: Vectors


# `stored_signature`'s statement, made once: linking asks it of every page
_STORED_SIGNATURE = (
    select(StorySignature, Article.story_id)
    .join(Article, col(Article.id) == StorySignature.article_id)
    .where(
        col(StorySignature.article_id) == bindparam("article_id"),
        col(StorySignature.content_hash) == col(Article.content_hash),
    )
)


def stored_signature(store: Store, article_id: int) -> StoredSignature | None:
    """An article's stored signature and vector, if they were made from its present text."""
    with store.session() as session:  # one statement, and the article's text left unread
        found = session.exec(_STORED_SIGNATURE, params={"article_id": article_id}).first()
        if found is None:
            return None
        row, story_id = found
        return StoredSignature(row.model, _signature(row, story_id), unpack_vector(row.vector))


def save_signature(
    store: Store, signature: Signature, model: str, content_hash: str, vector: Vectors
) -> None:
    """Keep what linking read of an article's text `content_hash` (replacing an older one)."""
    with store.session() as session:
        row = session.get(StorySignature, signature.article_id) or StorySignature(
            article_id=signature.article_id,
            model=model,
            content_hash=content_hash,
            names="[]",
            numbers="[]",
            vector=b"",
        )
        row.model, row.content_hash = model, content_hash
        row.at, row.lang, row.words = signature.at, signature.lang, signature.words
        row.names = json.dumps(sorted(signature.names), ensure_ascii=False)
        row.numbers = json.dumps(sorted(signature.numbers))
        row.vector = pack_vector(vector)
        session.add(row)
        session.commit()


def window(store: Store, at: datetime, reach: timedelta, model: str) -> Window:
    """The linked articles published within `reach` of `at`, with vectors of `model`: the vectors
    in one matrix, stories and names in lists, the rest of the signatures read when asked for
    (reading a signature row by row for each of thousands took 1.5 s a look-up)."""
    query = (
        sa_select(
            col(StorySignature.article_id),
            col(StorySignature.vector),
            col(Article.story_id),
            col(StorySignature.names),
        )
        .join(Article, col(Article.id) == StorySignature.article_id)
        .where(col(StorySignature.at) >= at - reach, col(StorySignature.at) <= at + reach)
        .where(col(StorySignature.model) == model, col(Article.story_id).is_not(None))
        .order_by(col(StorySignature.article_id))
    )
    with store.session() as session:
        rows = session.execute(query).all()
    if not rows:
        return Window([], np.zeros((0, 0), dtype=np.float32), [], [])
    packed = b"".join(row[1] for row in rows)
    matrix = np.frombuffer(packed, dtype=np.float16).reshape(len(rows), -1).astype(np.float32)
    return Window(
        _Signatures(store, [row[0] for row in rows]),
        matrix,
        [row[2] for row in rows],
        [frozenset(json.loads(row[3])) for row in rows],
    )


def original_story(store: Store, article_id: int) -> int | None:
    """The story of the article this one copies (dedupe's `duplicate_of`), if it has one."""
    with store.session() as session:
        article = session.get(Article, article_id)
        reference = article.duplicate_of if article else None
    if reference is None:
        return None
    original = original_under(store, reference)
    if original is None or original == article_id:
        return None
    with store.session() as session:
        found = session.get(Article, original)
        return found.story_id if found else None


def join_story(store: Store, article_id: int, story_id: int | None, now: datetime) -> int:
    """Put an article in story `story_id` (None: a new story of its own), leaving the story it
    was in; in one transaction. Returns the story's id."""
    with store.session() as session:
        article = session.get(Article, article_id)
        if article is None:
            raise LookupError(f"no article {article_id}")
        if story_id is not None and story_id == article.story_id:
            return story_id
        _leave(session, article)
        story = session.get(Story, story_id) if story_id is not None else None
        if story is None:
            story = Story(articles=0, created_at=now, updated_at=now)
        published = article.published_at
        story.articles += 1
        story.updated_at = now
        if published is not None:
            story.first_at = min(story.first_at or published, published)
            story.last_at = max(story.last_at or published, published)
        session.add(story)
        session.flush()
        article.story_id = story.id
        session.add(article)
        session.commit()
        return story.id or 0


def _leave(session: Session, article: Article) -> None:
    if article.story_id is None:
        return
    old = session.get(Story, article.story_id)
    article.story_id = None
    if old is None:
        return
    old.articles -= 1
    if old.articles <= 0:
        session.delete(old)
    else:
        session.add(old)


def forget_stories(store: Store, since: datetime | None) -> list[int]:
    """Take the articles published on or after `since` (None: all) out of their stories, to be
    linked again (`monitor relink`), oldest first; returns their ids in that order. Stories left
    empty go; the others are counted again."""
    with store.session() as session:
        query = select(Article.id).where(col(Article.stage) == "linked")
        if since is not None:
            query = query.where(col(Article.published_at) >= since)
        ids = [
            i or 0
            for i in session.exec(
                query.order_by(
                    col(Article.published_at).is_(None), col(Article.published_at), col(Article.id)
                )
            )
        ]
        for chunk in _chunks(ids, 500):
            session.execute(
                update(Article)
                .where(col(Article.id).in_(chunk))
                .values(story_id=None, stage="tagged")
            )
        _recount(session)
        session.commit()
        return ids


def _recount(session: Session) -> None:
    counts = dict(
        session.exec(
            select(Article.story_id, func.count())
            .where(col(Article.story_id).is_not(None))
            .group_by(col(Article.story_id))
        ).all()
    )
    session.execute(delete(Story).where(col(Story.id).not_in(list(counts) or [-1])))
    for story in session.exec(select(Story)).all():
        if story.articles != counts.get(story.id):
            story.articles = counts.get(story.id, 0)
            session.add(story)


def _chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _signature(row: StorySignature, story_id: int | None) -> Signature:
    return Signature(
        article_id=row.article_id,
        at=row.at,
        lang=row.lang,
        names=frozenset(json.loads(row.names)),
        numbers=frozenset(json.loads(row.numbers)),
        words=row.words,
        story_id=story_id,
    )


def pack_vector(vector: Vectors) -> bytes:
    """float16: half the bytes of float32, cosines unchanged to the third decimal."""
    return np.asarray(vector, dtype=np.float16).tobytes()


def unpack_vector(packed: bytes) -> Vectors:
    return np.frombuffer(packed, dtype=np.float16).astype(np.float32)


# --- reading stories: the digest, the weekly email, the web pages, the bot, the CLI ------------


@dataclass(frozen=True)
class StoryMember:
    """An article of a story, as the readers' surfaces show it (monitor.link.members.Member)."""

    article_id: int
    story_id: int
    source: str
    title: str
    url: str
    lang: str | None
    published_at: datetime | None  # aware, UTC; None: date unknown
    first_seen_at: datetime
    relevant: bool | None
    score: float | None
    duplicate_of: str | None

    @property
    def copy(self) -> bool:
        return self.duplicate_of is not None


@dataclass(frozen=True)
class StoryHeader:
    id: int
    first_at: datetime | None
    last_at: datetime | None
    articles: int
    updated_at: datetime


def story_members(store: Store, story_ids: Iterable[int]) -> dict[int, list[StoryMember]]:
    """Every member of each story, earliest published first (seeds included: a seed is the
    original a copy points at, though no surface shows it)."""
    ids = sorted(set(story_ids))
    members: dict[int, list[StoryMember]] = {i: [] for i in ids}
    with store.session() as session:
        for chunk in _chunks(ids, 500):
            rows = session.execute(
                sa_select(
                    col(Article.id),
                    col(Article.story_id),
                    col(Article.source),
                    col(Article.title),
                    col(Article.url),
                    col(Article.lang),
                    col(Article.published_at),
                    col(Article.first_seen_at),
                    col(Article.relevant),
                    col(Article.score),
                    col(Article.duplicate_of),
                ).where(col(Article.story_id).in_(chunk))
            )
            for row in rows:
                members[row[1]].append(StoryMember(*row))
    for found in members.values():
        found.sort(
            key=lambda m: (m.published_at is None, m.published_at or m.first_seen_at, m.article_id)
        )
    return members


def story_of(store: Store, article_id: int) -> int | None:
    with store.session() as session:
        article = session.get(Article, article_id)
        return article.story_id if article else None


def story_header(store: Store, story_id: int) -> StoryHeader | None:
    with store.session() as session:
        story = session.get(Story, story_id)
        return _header(story) if story else None


def newest_stories(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 50,
    shown_only: bool = True,
) -> list[StoryHeader]:
    """Stories whose latest member was published in [since, until), newest first; `shown_only`:
    only those with a member readers may see (relevant, an original, not a seed)."""
    query = select(Story)
    if since is not None:
        query = query.where(col(Story.last_at) >= since)
    if until is not None:
        query = query.where(col(Story.last_at) < until)
    if shown_only:
        query = query.where(
            select(Article.id).where(col(Article.story_id) == Story.id, shown()).exists()
        )
    query = query.order_by(col(Story.last_at).desc().nulls_last(), col(Story.id).desc())
    if limit is not None:
        query = query.limit(limit)
    with store.session() as session:
        return [_header(story) for story in session.exec(query)]


def _header(story: Story) -> StoryHeader:
    return StoryHeader(
        id=story.id or 0,
        first_at=story.first_at,
        last_at=story.last_at,
        articles=story.articles,
        updated_at=story.updated_at,
    )
