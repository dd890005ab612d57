"""The archive's side of dedupe: sketches stored with the articles, and indexed look-ups of them.

State lives in the database only, so a worker on any machine sees every other's sketches (they
take turns to dedupe: `Store.one_at_a_time`) and a restart needs no warm-up: there is no in-memory index to rebuild (an in-memory datasketch `MinHashLSH` would hold
32 keys per article, gigabytes at a million articles, per worker, and would have to be refilled
at every start). A lookup costs a fixed number of indexed probes whatever the archive's size:

1. the body hash, for an exact copy (one index probe);
2. the sketch's 32 LSH bands, each `(band, hash)` a primary-key probe in `dedupe_band`;
3. its winnowed fingerprints, each a primary-key probe in `dedupe_fingerprint`.

Each probe reads at most `POSTINGS_LIMIT + 1` rows: a band or fingerprint that many articles
share is boilerplate ("Prezident İlham Əliyev", a site's standing footer) and is ignored, so the
rows read per lookup are bounded however large the archive grows. The few best candidates'
sketches are then read by primary key.

On SQLite the probes of a lookup go in one statement, a compound SELECT of one part per probe
(a second one only for a text of more than `FINGERPRINT_SLOTS` fingerprints, about 430 words),
and the candidates' sketches in another. On PostgreSQL, where each statement is a round trip
to the server, the whole look-up is one statement, `_PG_CANDIDATES`: its probes take the keys
as arrays (PostgreSQL takes long to plan a compound SELECT of 129 parts), and it counts the
hits and chooses the candidates itself, by the same rule. Each statement has a fixed shape
(SQLite's unused slots given NULL: a probe for NULL finds nothing), so its text is built once
per process and sent to the driver as it is: nothing is compiled per call, SQLite's statement
cache reuses the parsed plan, and psycopg prepares PostgreSQL's once per connection.
Statements built for each lookup through the ORM, of a length that varied with the text, spent
most of a lookup's time in building, compiling, parsing and planning them (bench/README.md).

This module holds rows and look-ups only: which candidate a text copies is decided by
`monitor.dedupe.sketch.best_match`, and `monitor.service.dedupe` puts the two together.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.dedupe.reference import reference_for, seed_keys
from monitor.dedupe.sketch import (
    LSH_BANDS,
    MIN_SHARED_FINGERPRINTS,
    SKETCH_VERSION,
    Archived,
    Sketch,
    band_hashes,
    is_candidate,
)
from monitor.extract.seeds import SEED_SOURCE
from monitor.store import Store
from monitor.store.article_rows import write_article
from monitor.store.fulltext import is_sqlite
from monitor.store.tables import Article, DedupeBand, DedupeFingerprint, DedupeSketch

POSTINGS_LIMIT = 100  # rows read per band or fingerprint; more holders means boilerplate
MAX_CANDIDATES = 20  # sketches read per lookup, the strongest first
FINGERPRINT_SLOTS = 96  # fingerprint probes per statement: a text of 430 words has about 96
_PROBES_PER_QUERY = 200  # SQLite allows 500 terms in one compound SELECT
_SKETCH_SLOTS = MAX_CANDIDATES + 1  # sketches read: the strongest candidates and the exact copy
_EXACT, _FIRST_BAND = -1, 0  # probe numbers: the body hash, then the bands, then fingerprints
_NO_LIMIT = 2**31 - 1  # "before" for a text not in the archive: every article is earlier
# Stored for a text too short to sketch, so that `without_current_sketch` counts it as seen;
# it indexes nothing.
UNSKETCHABLE = Sketch(body_hash="", words=0, minhash=b"", bands=(), fingerprints=frozenset())


def article_to_sketch(store: Store, article_id: int) -> tuple[str, str | None, str] | None:
    """An archived article's text, language and the reference a copy of it would link to; None
    when there is no such article."""
    with store.session() as session:
        article = session.get(Article, article_id)
        if article is None:
            return None
        return article.text, article.lang, reference_of(article)


def candidates_before(store: Store, new: Sketch, before: int | None = None) -> list[Archived]:
    """The archived sketches that may match `new`, among articles archived before `before`.
    On PostgreSQL read outside a transaction: its two statements need none, and a BEGIN and a
    ROLLBACK would be two more round trips a look-up (1.3 against 2.0 ms at 10k, under load).
    SQLite is left in its transaction: its pragmas switching in and out of autocommit cost more
    than they save."""
    with store.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return candidates(connection, new, before)


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


def reference_of(article: Article) -> str:
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
        stored = session.get(DedupeSketch, article_id)
        if stored is not None:
            if (stored.body_hash, stored.version, stored.reference, stored.fingerprints) == (
                new.body_hash,
                SKETCH_VERSION,
                reference,
                packed,
            ):
                session.commit()
                return
            _unindex(session, stored)
            session.delete(stored)
            session.flush()
        session.execute(  # a statement, not an object for the unit of work to flush
            insert(DedupeSketch).values(
                article_id=article_id,
                reference=reference,
                body_hash=new.body_hash,
                words=new.words,
                minhash=new.minhash,
                fingerprints=packed,
                version=SKETCH_VERSION,
            )
        )
        _index(session, article_id, new.bands, new.fingerprints)
        session.commit()


def _index(session: Session, article_id: int, bands: Sequence[int], prints: Iterable[int]) -> None:
    if bands:
        session.execute(
            insert(DedupeBand),
            [{"band": n, "hash": h, "article_id": article_id} for n, h in enumerate(bands)],
        )
    rows = [{"hash": h, "article_id": article_id} for h in sorted(prints)]
    if rows:
        session.execute(insert(DedupeFingerprint), rows)


def _unindex(session: Session, stored: DedupeSketch) -> None:
    """Delete a sketch's index rows by their keys (no scan: both tables are keyed by hash)."""
    for n, h in enumerate(band_hashes(stored.minhash) if stored.minhash else ()):
        session.execute(
            delete(DedupeBand).where(
                col(DedupeBand.band) == n,
                col(DedupeBand.hash) == h,
                col(DedupeBand.article_id) == stored.article_id,
            )
        )
    hashes = unpack_fingerprints(stored.fingerprints)
    for start in range(0, len(hashes), _PROBES_PER_QUERY):
        session.execute(
            delete(DedupeFingerprint).where(
                col(DedupeFingerprint.hash).in_(hashes[start : start + _PROBES_PER_QUERY]),
                col(DedupeFingerprint.article_id) == stored.article_id,
            )
        )


def candidates(connection: Connection, new: Sketch, before: int | None = None) -> list[Archived]:
    """The archived texts worth judging against `new`, from indexed lookups only."""
    limit = before if before is not None else _NO_LIMIT
    if connection.dialect.name == "postgresql":
        return _pg_candidates(connection, new, limit)
    hits = _probe(connection, new, limit)
    exact = min((i for probe, i in hits if probe == _EXACT), default=None)
    bands = Counter(i for probe, i in hits if _FIRST_BAND <= probe < LSH_BANDS)
    shared = Counter(i for probe, i in hits if probe >= LSH_BANDS)
    chosen = sorted(
        (i for i in set(bands) | set(shared) if is_candidate(shared[i], bands[i])),
        key=lambda i: (-bands[i] - shared[i], i),
    )[:MAX_CANDIDATES]
    if exact is not None and exact not in chosen:
        chosen.append(exact)
    if not chosen:
        return []
    statement = _sketches_statement(connection.dialect.paramstyle)
    slots = (*chosen, *[None] * (_SKETCH_SLOTS - len(chosen)))
    rows = connection.exec_driver_sql(statement, slots).all()
    return [
        _archived(article_id, bands[article_id], shared[article_id], *sketch)
        for article_id, *sketch in rows
    ]


def _archived(
    article_id: int,
    bands: int,
    shared: int,
    reference: str,
    body_hash: str,
    minhash: Any,
    size: int,
) -> Archived:
    """A candidate from its sketch row (the fingerprints' size in bytes, not the fingerprints)
    and what the look-up's probes shared with it."""
    return Archived(
        article_id=article_id,
        reference=reference,
        body_hash=body_hash,
        minhash=bytes(minhash),
        fingerprints=size // 4,
        shared=shared,
        bands=bands,
    )


def _probe(connection: Connection, new: Sketch, before: int) -> set[tuple[int, int]]:
    """{(probe number, article id)} of every probe that at most POSTINGS_LIMIT articles earlier
    than `before` answer: the exact hash (-1), the bands (0-31), the fingerprints (32 on)."""
    style = connection.dialect.paramstyle
    prints = sorted(new.fingerprints)
    per_row = (before, POSTINGS_LIMIT + 1)
    hits: set[tuple[int, int]] = set()
    for start in range(0, max(1, len(prints)), FINGERPRINT_SLOTS):
        chunk = prints[start : start + FINGERPRINT_SLOTS]
        params: list[object] = []
        if start == 0:
            params += [new.body_hash, before]
            bands = new.bands or (None,) * LSH_BANDS  # an unsketchable text probes nothing
            for band in bands:
                params += [band, *per_row]
        for value in (*chunk, *[None] * (FINGERPRINT_SLOTS - len(chunk))):
            params += [value, *per_row]
        statement = _probe_statement(style, first=start == 0)
        rows = connection.exec_driver_sql(statement, tuple(params)).all()
        hits |= _bounded([(probe + (start if probe >= LSH_BANDS else 0), i) for probe, i in rows])
    return hits


def _bounded(found: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """The hits of the probes that did not reach POSTINGS_LIMIT + 1 rows (the exact one: all)."""
    answers = Counter(probe for probe, _ in found)
    return {hit for hit in found if answers[hit[0]] <= POSTINGS_LIMIT or hit[0] == _EXACT}


def _pg_candidates(connection: Connection, new: Sketch, before: int) -> list[Archived]:
    """`candidates` on PostgreSQL: one round trip, `_PG_CANDIDATES`. The keys go as array
    literals: psycopg adapts a list element by element in Python, 0.15 ms of a 1 ms look-up
    for its ~100 integers."""
    per_row = (POSTINGS_LIMIT, before, POSTINGS_LIMIT + 1)
    band_keys, print_keys = _array_literal(new.bands), _array_literal(sorted(new.fingerprints))
    params = (
        *(new.body_hash, before, band_keys, *per_row, print_keys, *per_row),
        *(MIN_SHARED_FINGERPRINTS, MAX_CANDIDATES),
    )
    rows = connection.exec_driver_sql(_PG_CANDIDATES, params).all()
    return [_archived(*row) for row in rows]


def _array_literal(values: Iterable[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


# On PostgreSQL a look-up is one statement: the probes, each giving back the ids it found, or
# none when more than POSTINGS_LIMIT articles answer it (boilerplate: its hits go no further
# than its own node; at 1M the statement takes 1.13-1.38 ms so, 1.33-1.51 with a window counting
# every probe's hits over the lot), the hits counted per article, the candidates chosen as
# `candidates` chooses them on SQLite (`is_candidate`: a band shared, or MIN_SHARED_FINGERPRINTS
# fingerprints; the strongest MAX_CANDIDATES, and the exact copy) and their sketches. The probes
# and the sketches as two statements, with the hits counted in Python between them, took
# 1.07-1.29 ms a look-up at 100k against 0.84-0.97 ms now (the keys as array literals too;
# bench/README.md "Dedupe"): a second round trip, and a few hundred hit rows handed to Python
# where 20 candidates now come back. PostgreSQL plans a compound SELECT of 129 parts in about 20
# ms, ten times its execution, and re-plans it for each set of values: the probes take arrays,
# one bounded primary-key range per element (LATERAL), a statement whose plan costs nothing
# whatever the text's length.
_PG_CANDIDATES = f"""
WITH hits (probe, article_id) AS (
    SELECT {_EXACT}, article_id FROM (SELECT article_id FROM dedupe_sketch
        WHERE body_hash = %s AND article_id < %s ORDER BY article_id LIMIT 1) AS e
    UNION ALL
    SELECT {_FIRST_BAND} + k.n - 1, unnest(p.ids)
    FROM unnest(%s::int[]) WITH ORDINALITY AS k(hash, n)
    CROSS JOIN LATERAL (SELECT CASE WHEN count(*) <= %s THEN array_agg(article_id) END AS ids
        FROM (SELECT article_id FROM dedupe_band
            WHERE band = (k.n - 1)::smallint AND hash = k.hash AND article_id < %s
            ORDER BY article_id LIMIT %s) AS b) AS p
    UNION ALL
    SELECT {LSH_BANDS} + k.n - 1, unnest(p.ids)
    FROM unnest(%s::int[]) WITH ORDINALITY AS k(hash, n)
    CROSS JOIN LATERAL (SELECT CASE WHEN count(*) <= %s THEN array_agg(article_id) END AS ids
        FROM (SELECT article_id FROM dedupe_fingerprint
            WHERE hash = k.hash AND article_id < %s ORDER BY article_id LIMIT %s) AS f) AS p
), counted AS (
    SELECT article_id,
        count(*) FILTER (WHERE probe >= {_FIRST_BAND} AND probe < {LSH_BANDS}) AS bands,
        count(*) FILTER (WHERE probe >= {LSH_BANDS}) AS shared,
        bool_or(probe = {_EXACT}) AS exact
    FROM hits GROUP BY article_id
), chosen AS (
    (SELECT article_id, bands, shared FROM counted WHERE bands > 0 OR shared >= %s
        ORDER BY bands + shared DESC, article_id LIMIT %s)
    UNION
    SELECT article_id, bands, shared FROM counted WHERE exact
)
SELECT c.article_id, c.bands, c.shared, s.reference, s.body_hash, s.minhash,
    length(s.fingerprints)
FROM chosen AS c JOIN dedupe_sketch AS s ON s.article_id = c.article_id
"""


@cache
def _probe_statement(paramstyle: str, *, first: bool) -> str:
    """The compound SELECT of one lookup's probes, with its fixed slots: the body hash and the 32
    bands when `first`, then FINGERPRINT_SLOTS fingerprints. Each probe is a bounded range of a
    primary key; its parameters are the key, "before" and the row limit."""
    mark = "?" if paramstyle == "qmark" else "%s"
    bounded = f"article_id < {mark} ORDER BY article_id LIMIT {mark}"
    parts = []
    if first:
        parts.append(
            f"SELECT {_EXACT} AS probe, article_id FROM (SELECT article_id FROM dedupe_sketch"
            f" WHERE body_hash = {mark} AND article_id < {mark} ORDER BY article_id LIMIT 1) AS e"
        )
        parts += [
            f"SELECT {_FIRST_BAND + n}, article_id FROM (SELECT article_id FROM dedupe_band"
            f" WHERE band = {n} AND hash = {mark} AND {bounded}) AS b{n}"
            for n in range(LSH_BANDS)
        ]
    parts += [
        f"SELECT {LSH_BANDS + n}, article_id FROM (SELECT article_id FROM dedupe_fingerprint"
        f" WHERE hash = {mark} AND {bounded}) AS f{n}"
        for n in range(FINGERPRINT_SLOTS)
    ]
    return " UNION ALL ".join(parts)


@cache
def _sketches_statement(paramstyle: str) -> str:
    """The candidates' sketches by primary key; the fingerprints' size, not the fingerprints."""
    mark = "?" if paramstyle == "qmark" else "%s"
    return (
        "SELECT article_id, reference, body_hash, minhash, length(fingerprints)"
        f" FROM dedupe_sketch WHERE article_id IN ({', '.join([mark] * _SKETCH_SLOTS)})"
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
