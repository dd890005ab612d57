"""Dedupe's indexed look-ups: the archived sketches a new text may copy, found by probing the
index rows `monitor.store.sketch_rows` keeps. A lookup costs a fixed number of indexed probes
whatever the archive's size:

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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection

from monitor.dedupe.sketch import (
    LSH_BANDS,
    MIN_SHARED_FINGERPRINTS,
    Archived,
    Sketch,
    is_candidate,
)
from monitor.store import Store

POSTINGS_LIMIT = 100  # rows read per band or fingerprint; more holders means boilerplate
MAX_CANDIDATES = 20  # sketches read per lookup, the strongest first
FINGERPRINT_SLOTS = 96  # fingerprint probes per statement: a text of 430 words has about 96
_SKETCH_SLOTS = MAX_CANDIDATES + 1  # sketches read: the strongest candidates and the exact copy
_EXACT, _FIRST_BAND = -1, 0  # probe numbers: the body hash, then the bands, then fingerprints
_NO_LIMIT = 2**31 - 1  # "before" for a text not in the archive: every article is earlier


def candidates_before(store: Store, new: Sketch, before: int | None = None) -> list[Archived]:
    """The archived sketches that may match `new`, among articles archived before `before`.
    On PostgreSQL read outside a transaction: its statement needs none, and a BEGIN and a
    ROLLBACK would be two more round trips a look-up (1.3 against 2.0 ms at 10k, under load).
    SQLite is left in its transaction: its pragmas switching in and out of autocommit cost more
    than they save."""
    with store.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return candidates(connection, new, before)


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
