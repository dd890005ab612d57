"""The archive's side of dedupe: sketches stored with the articles, with the index rows their
look-ups probe (`monitor.store.sketch_lookup`), and the copies they link.

State lives in the database only, so a worker on any machine sees every other's sketches (they
take turns to dedupe: `Store.one_at_a_time`) and a restart needs no warm-up: there is no
in-memory index to rebuild (an in-memory datasketch `MinHashLSH` would hold 32 keys per
article, gigabytes at a million articles, per worker, and would have to be refilled at every
start). Each sketch has its 32 LSH bands in `dedupe_band` and its winnowed fingerprints in
`dedupe_fingerprint`, both keyed by the hash first, so a look-up is a primary-key probe per
band and fingerprint.

This module holds rows only: which candidate a text copies is decided by
`monitor.dedupe.sketch.best_match`, and `monitor.service.dedupe` puts the two together.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sqlalchemy import bindparam, delete, insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.dedupe.reference import reference_for, seed_keys
from monitor.dedupe.sketch import (
    SKETCH_VERSION,
    Sketch,
    band_hashes,
)
from monitor.extract.seeds import SEED_SOURCE
from monitor.store import Store
from monitor.store.article_rows import write_article
from monitor.store.fulltext import is_sqlite
from monitor.store.tables import Article, DedupeBand, DedupeFingerprint, DedupeSketch, table

_PROBES_PER_QUERY = 200  # SQLite allows 500 terms in one compound SELECT
# Stored for a text too short to sketch, so that `without_current_sketch` counts it as seen;
# it indexes nothing.
UNSKETCHABLE = Sketch(body_hash="", words=0, minhash=b"", bands=(), fingerprints=frozenset())


# statements of every page's dedupe, made once (their values go with the execution)
_TO_SKETCH = select(
    *(table(Article).c[name] for name in ("text", "lang", "url", "key", "source"))
).where(table(Article).c.id == bindparam("article_id"))
_STORED_SKETCH = (
    table(DedupeSketch).select().where(table(DedupeSketch).c.article_id == bindparam("article_id"))
)


def article_to_sketch(store: Store, article_id: int) -> tuple[str, str | None, str] | None:
    """An archived article's text, language and the reference a copy of it would link to; None
    when there is no such article."""
    with store.session() as session:
        row = session.execute(_TO_SKETCH, {"article_id": article_id}).first()
        if row is None:
            return None
        return row.text, row.lang, reference_of(row)


def mark_copy(
    store: Store, article_id: int, duplicate_of: str | None, similarity: float | None
) -> None:
    """Record on an article what it copies (None: an original), writing only on a change."""
    with store.session() as session:
        article = session.get(Article, article_id)
        if article is None or (article.duplicate_of, article.similarity) == (
            duplicate_of,
            similarity,
        ):
            return
        article.duplicate_of, article.similarity = duplicate_of, similarity
        session.add(article)
        session.commit()


def original_under(store: Store, reference: str) -> int | None:
    """The id of the article that stands as the original under `reference` (no `duplicate_of`);
    None when that article is gone or no longer stands alone."""
    with store.session() as session:
        if keys := seed_keys(reference):
            found = session.exec(
                select(Article.id)
                .where(Article.source == SEED_SOURCE, col(Article.duplicate_of).is_(None))
                .where(col(Article.key).in_(keys))
                .order_by(col(Article.id))
            ).first()
        else:
            found = session.exec(
                select(Article.id)
                .where(Article.url == reference, col(Article.duplicate_of).is_(None))
                .where(Article.source != SEED_SOURCE)
                .order_by(col(Article.id))
            ).first()
        return found


def relink_copies(store: Store, original_id: int, copy_id: int, similarity: float) -> None:
    """Make `original_id` stand alone and link `copy_id`, and everything that linked to it, to
    the original, in one transaction. Which is the original is the caller's decision."""
    with store.session() as session:
        original = session.get(Article, original_id)
        copy = session.get(Article, copy_id)
        if original is None or copy is None:
            return
        old, new = reference_of(copy), reference_of(original)
        session.execute(
            update(Article).where(col(Article.duplicate_of) == old).values(duplicate_of=new)
        )
        session.execute(
            update(DedupeSketch).where(col(DedupeSketch.reference) == old).values(reference=new)
        )
        session.execute(
            update(DedupeSketch)
            .where(col(DedupeSketch.article_id).in_([original_id, copy_id]))
            .values(reference=new)
        )
        session.execute(
            update(Article)
            .where(col(Article.id) == original_id)
            .values(duplicate_of=None, similarity=None)
        )
        session.execute(
            update(Article)
            .where(col(Article.id) == copy_id)
            .values(duplicate_of=new, similarity=similarity)
        )
        session.commit()


def without_current_sketch(store: Store, after: int, batch: int) -> list[int]:
    """Ids of articles with no sketch, or one of an older SKETCH_VERSION, oldest first. The
    join's own `> after` lets PostgreSQL's merge join start its walk of the sketches there:
    without it each batch read every sketch before `after` (0.96 s a batch of 200 at the
    900,000th of 1M articles, against 1.1 ms)."""
    with store.session() as session:
        ids = session.exec(
            select(Article.id)
            .outerjoin(
                DedupeSketch,
                (col(DedupeSketch.article_id) == Article.id)
                & (col(DedupeSketch.article_id) > after),
            )
            .where(col(Article.id) > after)
            .where(
                col(DedupeSketch.article_id).is_(None)
                | (col(DedupeSketch.version) != SKETCH_VERSION)
            )
            .order_by(col(Article.id))
            .limit(batch)
        )
        return [i for i in ids if i is not None]


class Located(Protocol):
    """What names an archived article's place: an `Article`, or a row of those columns."""

    @property
    def url(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def source(self) -> str: ...


def reference_of(article: Located) -> str:
    """What a copy of this article links to (`monitor.dedupe.reference`)."""
    return reference_for(article.url, article.key, seed=article.source == SEED_SOURCE)


def remember(
    store: Store,
    article_id: int,
    reference: str,
    new: Sketch,
    copy: tuple[str | None, float | None],
    passed: str | None = None,
) -> None:
    """Record dedupe's answer on an article in one transaction: what it copies (`copy`: the
    reference it links to and the similarity; (None, None) for an original), its sketch under
    `reference` with the sketch's index rows (replacing what an earlier text of it left) and,
    with `passed`, that it has passed that stage. Safe to repeat, and safe when two workers
    remember the same article at once."""
    for attempt in range(3):
        try:
            _remember_once(store, article_id, reference, new, copy, passed)
            return
        except IntegrityError:
            if attempt == 2:
                raise  # the other writer's rows are there; a third clash is not a race


def _remember_once(
    store: Store,
    article_id: int,
    reference: str,
    new: Sketch,
    copy: tuple[str | None, float | None],
    passed: str | None,
) -> None:
    packed = pack_fingerprints(new.fingerprints)
    duplicate_of, similarity = copy
    answer = {"duplicate_of": duplicate_of, "similarity": similarity}
    with store.session() as session:
        if not write_article(session, article_id, answer, passed):
            return  # the article is gone
        sketches = table(DedupeSketch)
        stored = session.execute(_STORED_SKETCH, {"article_id": article_id}).first()
        if stored is not None:
            if (stored.body_hash, stored.version, stored.reference, stored.fingerprints) == (
                new.body_hash,
                SKETCH_VERSION,
                reference,
                packed,
            ):
                session.commit()
                return
            _unindex(session, article_id, stored.minhash, stored.fingerprints)
            session.execute(delete(sketches).where(sketches.c.article_id == article_id))
        row = {
            "article_id": article_id,
            "reference": reference,
            "body_hash": new.body_hash,
            "words": new.words,
            "minhash": new.minhash,
            "fingerprints": packed,
            "version": SKETCH_VERSION,
        }
        session.execute(insert(sketches), row)  # the values with the execution: no new statement
        _index(session, article_id, new.bands, new.fingerprints)
        session.commit()


def _index(session: Session, article_id: int, bands: Sequence[int], prints: Iterable[int]) -> None:
    """A sketch's band and fingerprint rows, in the driver's own terms: on PostgreSQL one
    statement a table, the hashes as an array (the ORM's many-row insert had sent them one by
    one: 2.3 ms of CPU for 90 fingerprints, 0.5 in one statement); on SQLite, where a statement
    is no round trip, a plain `executemany` of tuples (0.44 -> 0.19 ms)."""
    connection = session.connection()
    ordered = sorted(prints)  # in key order: the tables are B-trees on the hash
    if is_sqlite(connection):
        if bands:
            rows = [(n, h, article_id) for n, h in enumerate(bands)]
            connection.exec_driver_sql(_SQLITE_BANDS, rows)
        if ordered:
            connection.exec_driver_sql(_SQLITE_FINGERPRINTS, [(h, article_id) for h in ordered])
        return
    if bands:
        connection.exec_driver_sql(_PG_BANDS, (article_id, list(bands)))
    if ordered:
        connection.exec_driver_sql(_PG_FINGERPRINTS, (article_id, ordered))


# `_index`'s statements (the band is the hash's position in the sketch, from 0)
_PG_BANDS = (
    "INSERT INTO dedupe_band (band, hash, article_id) "
    "SELECT n - 1, h, %s FROM unnest(%s::int[]) WITH ORDINALITY AS u(h, n)"
)
_PG_FINGERPRINTS = (
    "INSERT INTO dedupe_fingerprint (hash, article_id) SELECT h, %s FROM unnest(%s::int[]) AS u(h)"
)
_SQLITE_BANDS = "INSERT INTO dedupe_band (band, hash, article_id) VALUES (?, ?, ?)"
_SQLITE_FINGERPRINTS = "INSERT INTO dedupe_fingerprint (hash, article_id) VALUES (?, ?)"


def _unindex(session: Session, article_id: int, minhash: bytes, fingerprints: bytes) -> None:
    """Delete a sketch's index rows by their keys (no scan: both tables are keyed by hash)."""
    bands, prints = table(DedupeBand), table(DedupeFingerprint)
    for n, h in enumerate(band_hashes(minhash) if minhash else ()):
        session.execute(
            delete(bands).where(
                bands.c.band == n, bands.c.hash == h, bands.c.article_id == article_id
            )
        )
    hashes = unpack_fingerprints(fingerprints)
    for start in range(0, len(hashes), _PROBES_PER_QUERY):
        session.execute(
            delete(prints).where(
                prints.c.hash.in_(hashes[start : start + _PROBES_PER_QUERY]),
                prints.c.article_id == article_id,
            )
        )


def rebuild(store: Store, batch: int = 1000, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the band and fingerprint indexes from the stored sketches, reading no text (after
    a change of the LSH banding, or to repair the index). Returns the sketches indexed. A batch's
    rows go to each table in one statement, in key order (the tables are B-trees on the key)."""
    with store.session() as session:
        if is_sqlite(session):  # SQLite empties a table without a WHERE at once
            session.execute(delete(DedupeBand))
            session.execute(delete(DedupeFingerprint))
        else:  # a DELETE would visit each of the ~100 rows an article has
            session.execute(
                text(f"TRUNCATE {DedupeBand.__tablename__}, {DedupeFingerprint.__tablename__}")
            )
        session.commit()
    done, last = 0, -1
    while True:
        with store.session() as session:
            rows = list(
                session.exec(
                    select(DedupeSketch)
                    .where(col(DedupeSketch.article_id) > last)
                    .order_by(col(DedupeSketch.article_id))
                    .limit(batch)
                )
            )
            bands: list[tuple[int, int, int]] = []
            prints: list[tuple[int, int]] = []
            for row in rows:
                minhash = band_hashes(row.minhash) if row.minhash else ()
                bands += [(n, h, row.article_id) for n, h in enumerate(minhash)]
                prints += [(h, row.article_id) for h in unpack_fingerprints(row.fingerprints)]
            _bulk_insert(session, DedupeBand.__tablename__, ("band", "hash", "article_id"), bands)
            _bulk_insert(session, DedupeFingerprint.__tablename__, ("hash", "article_id"), prints)
            session.commit()
        if not rows:
            return done
        done += len(rows)
        last = rows[-1].article_id
        if progress:
            progress(done)


def _bulk_insert(
    session: Session, table: str, columns: tuple[str, ...], rows: Sequence[tuple[int, ...]]
) -> None:
    """Rows into an index table in key order, in one go: ~100 rows an article, where
    SQLAlchemy's per-row work would cost as much as the inserts. SQLite takes the driver's
    executemany; PostgreSQL a COPY (an executemany there costs a round of the protocol a row:
    230 sketches a second against 1,000 or more, bench/README.md)."""
    if not rows:
        return
    cursor = session.connection().connection.cursor()
    listed = ", ".join(columns)
    if is_sqlite(session):
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({listed}) VALUES ({marks})", sorted(rows))
        return
    with cursor.copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
        for row in sorted(rows):
            copy.write_row(row)


def pack_fingerprints(prints: Iterable[int]) -> bytes:
    """Fingerprints as stored with the sketch: sorted signed 32-bit little-endian integers."""
    values = sorted(prints)
    return struct.pack(f"<{len(values)}i", *values)


def unpack_fingerprints(packed: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(packed) // 4}i", packed))
