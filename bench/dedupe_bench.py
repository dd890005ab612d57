"""Dedupe lookups against archives of 10k, 100k and 1M items: time per lookup, memory, disk.

    .venv/bin/python -m bench.dedupe_bench                 # 10k, 100k, 1M
    .venv/bin/python -m bench.dedupe_bench --sizes 10000 --lookups 100
    .venv/bin/python -m bench.dedupe_bench --sizes 100000 --baseline 8ce0067   # before/after
    .venv/bin/python -m bench.dedupe_bench --sizes 100000 --rebuild --db postgresql+psycopg://…

Archived items are synthetic: token streams drawn from a Zipf-Mandelbrot vocabulary of 100,000
words (so common three-word phrases, like a language's boilerplate, are held by many items),
lengths log-normal around 280 words. Their fingerprints are winnowed exactly as
`monitor.dedupe.sketch.winnow` does, from vectorised shingle hashes; their MinHashes are random bytes,
because unrelated texts have unrelated band hashes and that is all the index sees of them. The
items the lookups copy get their real MinHash. Everything is bulk-loaded, sorted by key, into the
migrated archive: a SQLite file in a temporary folder, or the database `--db` names (a
PostgreSQL one is emptied first and gets a bare article row per sketch, for its foreign key).
`--rebuild` then times `monitor dedupe --rebuild` over it (the band and fingerprint rows refilled
from the stored sketches, whose fingerprint lists the bench fills in).

Lookups run in a fresh process through the production path (`monitor.service.dedupe.find_match`: exact
hash, 32 LSH band probes and one probe per fingerprint in one statement, then the sketches of the
best candidates), a third
each of new texts, excerpts of archived items (half of one) and near copies (5% of words
changed), so that candidates are found and judged. Sketching a text is timed apart, on the
fixture texts. Memory is the lookup process's resident set after the lookups, and what the lookups added to it
(the archive lives on disk; SQLite's page cache is its default 2 MB per connection); for
contrast, what an in-memory datasketch MinHashLSH with the same banding adds for 100k items.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from sqlalchemy.engine import make_url

from bench.search_bench import empty_postgres
from monitor.dedupe import sketch as dedupe
from monitor.dedupe.sketch import Sketch
from monitor.store import Store
from monitor.store.sketch_rows import rebuild

VOCABULARY = 100_000
CHUNK = 20_000  # items generated at once
SEED = 20261121
ROOT = Path(__file__).resolve().parent.parent
FIXTURE_TEXTS = ROOT / "tests" / "fixtures" / "dedupe" / "texts"


# --- synthetic items --------------------------------------------------------------------------


ZIPF_EXPONENT = 1.05
ZIPF_SHIFT = 2.7  # Zipf-Mandelbrot: p(rank) ∝ 1 / (rank + 2.7) ** 1.05


@functools.lru_cache(maxsize=4)
def chunk_streams(chunk: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of `size` items (concatenated) and each item's length; the same for the same
    chunk number, so any item can be generated again. Ranks are drawn by inverting the
    continuous power law's distribution function (no table lookup)."""
    rng = np.random.default_rng([SEED, chunk])
    lengths = np.clip(rng.lognormal(np.log(280), 0.45, size), 60, 2000).astype(np.int64)
    power = 1.0 - ZIPF_EXPONENT
    low, high = ZIPF_SHIFT**power, (VOCABULARY + ZIPF_SHIFT) ** power
    draws = (low + rng.random(int(lengths.sum())) * (high - low)) ** (1.0 / power) - ZIPF_SHIFT
    tokens = np.clip(draws, 0, VOCABULARY - 1).astype(np.uint64)
    return tokens, lengths


def shingle_hashes(tokens: np.ndarray) -> np.ndarray:
    """A 64-bit mix of each run of three token ids (splitmix64 finaliser), uint64."""
    with np.errstate(over="ignore"):
        x = tokens[:-2] * np.uint64(0x9E3779B97F4A7C15)
        x ^= tokens[1:-1] * np.uint64(0xC2B2AE3D27D4EB4F)
        x ^= tokens[2:] * np.uint64(0x165667B19E3779F9)
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    return x


def item_shingles(tokens: np.ndarray) -> np.ndarray:
    return shingle_hashes(tokens) if len(tokens) >= 3 else np.zeros(1, dtype=np.uint64)


def chunk_fingerprints(tokens: np.ndarray, lengths: np.ndarray, first_id: int) -> np.ndarray:
    """Sorted unique uint64 (hash + 2**31) << 32 | article_id keys of every item's winnowed shingles,
    computed over the whole chunk at once; windows across two items are dropped."""
    window = dedupe.WINNOW_WINDOW
    hashes = (shingle_hashes(tokens) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    item = np.repeat(np.arange(len(lengths)), lengths)[: len(hashes)]
    # a shingle belongs to an item when its three tokens do
    ends = np.cumsum(lengths)
    starts = ends - lengths
    position = np.arange(len(hashes)) - starts[item]
    inside = position <= lengths[item] - 3
    hashes, item = hashes[inside], item[inside]
    minima = hashes[: len(hashes) - window + 1].copy()
    for shift in range(1, window):
        np.minimum(minima, hashes[shift : len(hashes) - window + 1 + shift], out=minima)
    valid = item[: len(minima)] == item[window - 1 :]
    signed = minima[valid].astype(np.int64)
    signed[signed >= 2**31] -= 2**32
    ids = (item[: len(minima)][valid] + first_id).astype(np.uint64)
    keys = np.sort(((signed + 2**31).astype(np.uint64) << np.uint64(32)) | ids)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


def real_sketch(tokens: np.ndarray) -> Sketch:
    """The production sketch of a token stream (shingle hashes from the vectorised mix)."""
    shingles = [int(h) for h in item_shingles(tokens)]
    minhash = dedupe.minhash_of(shingles)
    return Sketch(
        body_hash=f"bench-{hash(tokens.tobytes())}",
        words=len(tokens),
        minhash=minhash,
        bands=dedupe.band_hashes(minhash),
        fingerprints=frozenset(dedupe.winnow(shingles)),
    )


# --- loading ------------------------------------------------------------------------------------


def build_archive(url: str, size: int, copied: list[int]) -> dict[str, float]:
    """Create the migrated archive at `url` (a SQLite file or an emptied PostgreSQL database) and
    bulk-load `size` items into the index tables (on PostgreSQL, whose foreign keys hold, with
    a bare article row each)."""
    started = time.perf_counter()
    Store.open(url).close()
    items = generate(size, copied)
    generated = time.perf_counter() - started
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        load_sqlite(path, items)
        disk_mb = path.stat().st_size / 2**20
    else:
        disk_mb = load_postgres(url, items)
    return {
        "generate_s": generated,
        "load_s": time.perf_counter() - started - generated,
        "fingerprints": len(items.fingerprints),
        "db_mb": disk_mb,
    }


@dataclass
class Items:
    """The rows of a generated archive: each item's (article id, reference, MinHash bytes,
    packed fingerprints), its band hashes (one row per item), and every fingerprint key
    ((hash + 2**31) << 32 | article id, sorted: the index table's order)."""

    sketches: list[tuple[int, str, bytes, bytes]]
    bands: np.ndarray
    fingerprints: np.ndarray


def generate(size: int, copied: list[int]) -> Items:
    rng = np.random.default_rng(SEED)
    keys, bands, sketches = [], [], []
    copied_set = set(copied)
    for chunk_number, first in enumerate(range(0, size, CHUNK)):
        count = min(CHUNK, size - first)
        tokens, lengths = chunk_streams(chunk_number, count)
        first_id = first + 1
        chunk_keys = chunk_fingerprints(tokens, lengths, first_id)
        keys.append(chunk_keys)
        packed = packed_fingerprints(chunk_keys, first_id, count)
        minhashes = rng.integers(0, 2**32, size=(count, dedupe.NUM_PERM), dtype=np.uint32)
        item_bands = rng.integers(-(2**31), 2**31, size=(count, dedupe.LSH_BANDS), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for n in range(count):
            article_id = first_id + n
            minhash = minhashes[n].astype("<u4").tobytes()
            if article_id in copied_set:
                real = real_sketch(tokens[offsets[n] : offsets[n + 1]])
                minhash = real.minhash
                item_bands[n] = real.bands
            sketches.append((article_id, f"https://bench.example/{article_id}", minhash, packed[n]))
        bands.append(item_bands)
    return Items(sketches, np.concatenate(bands), np.sort(np.concatenate(keys)))


def packed_fingerprints(keys: np.ndarray, first_id: int, count: int) -> list[bytes]:
    """Each item's fingerprints as the sketch stores them (sorted int32, little-endian), from a
    chunk's keys: what `monitor dedupe --rebuild` reads back."""
    ids = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
    hashes = ((keys >> np.uint64(32)).astype(np.int64) - 2**31).astype("<i4")
    order = np.lexsort((hashes, ids))
    ids, hashes = ids[order], hashes[order]
    bounds = np.searchsorted(ids, np.arange(first_id, first_id + count + 1))
    return [hashes[bounds[n] : bounds[n + 1]].tobytes() for n in range(count)]


def fingerprint_rows(keys: np.ndarray) -> Iterator[tuple[int, int]]:
    """(hash, article id) rows in the table's key order, two million converted at a time."""
    for start in range(0, len(keys), 2_000_000):
        part = keys[start : start + 2_000_000]
        yield from zip(
            ((part >> np.uint64(32)).astype(np.int64) - 2**31).tolist(),
            (part & np.uint64(0xFFFFFFFF)).astype(np.int64).tolist(),
            strict=True,
        )


def band_rows(bands: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(band, hash, article id) rows, band by band in hash order (the table's key order)."""
    for band in range(dedupe.LSH_BANDS):
        order = np.argsort(bands[:, band], kind="stable")
        yield from zip(
            [band] * len(bands), bands[order, band].tolist(), (order + 1).tolist(), strict=True
        )


def load_sqlite(path: Path, items: Items) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;"
    )
    with connection:
        connection.executemany(
            "INSERT INTO dedupe_sketch (article_id, reference, body_hash, words, minhash,"
            " fingerprints, version) VALUES (?, ?, ?, 280, ?, ?, ?)",
            (
                (article_id, ref, f"h{article_id}", minhash, prints, dedupe.SKETCH_VERSION)
                for article_id, ref, minhash, prints in items.sketches
            ),
        )
        connection.executemany(
            "INSERT INTO dedupe_band (band, hash, article_id) VALUES (?, ?, ?)",
            band_rows(items.bands),
        )
        connection.executemany(
            "INSERT INTO dedupe_fingerprint (hash, article_id) VALUES (?, ?)",
            fingerprint_rows(items.fingerprints),
        )
    connection.execute("ANALYZE")
    connection.close()


def load_postgres(url: str, items: Items) -> float:
    """COPY the rows in (a bare article row for each sketch: the sketch's foreign key); the
    database's size in MB."""
    store = Store.open(url)
    raw = store.engine.raw_connection()
    connection = raw.driver_connection
    assert connection is not None
    at = "2026-01-01 00:00:00+00"
    columns = {
        "article": "id, source, key, url, title, text, published_offset_min, date_source, "
        "fetched_at, first_seen_at, last_seen_at, content_hash, extraction, http_status, "
        "revisions, stage",
        "dedupe_sketch": "article_id, reference, body_hash, words, minhash, fingerprints, version",
        "dedupe_band": "band, hash, article_id",
        "dedupe_fingerprint": "hash, article_id",
    }
    bare = ("", "", 0, "none", at, at, at)  # title, text, offset, date source, three times
    rows: dict[str, Iterable[tuple[object, ...]]] = {
        "article": (
            (i, "bench", f"id:{i}", ref, *bare, f"h{i}", "none", 200, 1, "linked")
            for i, ref, _, _ in items.sketches
        ),
        "dedupe_sketch": (
            (i, ref, f"h{i}", 280, minhash, prints, dedupe.SKETCH_VERSION)
            for i, ref, minhash, prints in items.sketches
        ),
        "dedupe_band": band_rows(items.bands),
        "dedupe_fingerprint": fingerprint_rows(items.fingerprints),
    }
    try:
        with connection.cursor() as cursor:
            for name, listed in columns.items():
                with cursor.copy(f"COPY {name} ({listed}) FROM STDIN") as copy:
                    for row in rows[name]:
                        copy.write_row(row)
            connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    finally:
        raw.close()
        store.close()
    return float(size[0] if size else 0) / 2**20


# --- lookups (run in a fresh process) -------------------------------------------------------------


def queries(size: int, lookups: int) -> list[tuple[str, Sketch, int | None]]:
    """(kind, sketch, article id it copies or None), a third of each kind."""
    rng = np.random.default_rng([SEED, 1])
    chunks = max(1, (size + CHUNK - 1) // CHUNK)
    result: list[tuple[str, Sketch, int | None]] = []
    fresh, _ = chunk_streams(10_000_000, lookups)  # a chunk number no archive uses
    offset = 0
    for n in range(lookups):
        kind = ("new", "excerpt", "near copy")[n % 3]
        if kind == "new":
            length = 280
            tokens = fresh[offset : offset + length]
            offset += length
            result.append((kind, real_sketch(tokens), None))
            continue
        chunk = int(rng.integers(0, min(chunks, 3)))
        count = min(CHUNK, size - chunk * CHUNK)
        tokens, lengths = chunk_streams(chunk, count)
        index = int(rng.integers(0, count))
        start = int(np.sum(lengths[:index]))
        item = tokens[start : start + lengths[index]]
        if kind == "excerpt":
            item = item[: len(item) // 2]
        else:
            item = item.copy()
            changed = rng.random(len(item)) < 0.05
            item[changed] = rng.integers(0, VOCABULARY, int(changed.sum()))
        result.append((kind, real_sketch(item), chunk * CHUNK + index + 1))
    return result


def copied_ids(size: int, lookups: int) -> list[int]:
    return [article_id for _, _, article_id in queries(size, lookups) if article_id]


def run_lookups(url: str, size: int, lookups: int, baseline: str | None = None) -> None:
    """Time the lookups; with `baseline`, also the archive's look-up of that git revision
    (`monitor.store.sketch_lookup` as it was there), the two alternated pass by pass."""
    from monitor.service import dedupe as stage

    looks_up = {"current": stage.candidates_before}
    if baseline:
        looks_up[baseline] = baseline_lookup(baseline)
    planned = queries(size, lookups)
    chunk_streams.cache_clear()
    gc.collect()
    store = Store.open(url)
    for candidates_before in looks_up.values():
        stage.candidates_before = candidates_before
        stage.find_match(store, planned[0][1])
    baseline_rss = current_rss_mb()
    timings: dict[str, dict[str, list[float]]] = {
        name: {"new": [], "excerpt": [], "near copy": []} for name in looks_up
    }
    found = dict.fromkeys(looks_up, 0)
    for warm in (True, False, False):  # the first pass warms SQLite's and the OS's caches
        for name, candidates_before in looks_up.items():
            stage.candidates_before = candidates_before
            for kind, sketch, copies in planned:
                started = time.perf_counter()
                match = stage.find_match(store, sketch)
                if not warm:
                    timings[name][kind].append((time.perf_counter() - started) * 1000)
                    found[name] += bool(copies and match and match.article_id == copies)
    rss = current_rss_mb()
    store.close()
    result = {}
    for name, by_kind in timings.items():
        every = [t for values in by_kind.values() for t in values]
        result[name] = {
            "median_ms": statistics.median(every),
            "p95_ms": float(np.percentile(every, 95)),
            "max_ms": max(every),
            "by_kind_median_ms": {k: statistics.median(v) for k, v in by_kind.items()},
            "copies_found": found[name],
            "copies": 2 * sum(1 for _, _, c in planned if c),
            "rss_mb": rss,
            "rss_growth_mb": rss - baseline_rss,
        }
    print(json.dumps(result))


def empty(url: str) -> None:
    """A PostgreSQL database emptied (its schema dropped); a SQLite file removed."""
    if url.startswith("sqlite"):
        Path(make_url(url).database or "").unlink(missing_ok=True)
    else:
        empty_postgres(url)


def time_rebuild(url: str, size: int) -> str:
    """`monitor dedupe --rebuild` over the archive: sketches a second."""
    store = Store.open(url)
    try:
        started = time.perf_counter()
        indexed = rebuild(store)
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    assert indexed == size, (indexed, size)
    return f"dedupe --rebuild {indexed:,} sketches in {elapsed:.1f} s = {indexed / elapsed:,.0f}/s"


def baseline_lookup(revision: str) -> Any:
    """`candidates_before` as it was at `revision`: in `monitor/store/sketch_lookup.py`, or in
    `sketch_rows.py` before the look-ups had a module of their own."""
    try:
        return module_at(revision, "monitor/store/sketch_lookup.py").candidates_before
    except subprocess.CalledProcessError:
        return module_at(revision, "monitor/store/sketch_rows.py").candidates_before


def module_at(revision: str, path: str) -> ModuleType:
    """The module at `path` as it was at a git revision (for a before/after comparison)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    module = ModuleType(f"{Path(path).stem}_at_{revision}")
    exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)
    return module


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def datasketch_lsh_rss(items: int) -> float:
    """Peak RSS (MB) of a process holding an in-memory MinHashLSH of `items` items."""
    code = f"""
import numpy as np
from datasketch import MinHashLSH, LeanMinHash, MinHash
from bench.dedupe_bench import current_rss_mb
lsh = MinHashLSH(num_perm={dedupe.NUM_PERM}, params=({dedupe.LSH_BANDS}, {dedupe.LSH_ROWS}))
rng = np.random.default_rng(1)
template = MinHash(num_perm={dedupe.NUM_PERM})
before = current_rss_mb()
with lsh.insertion_session() as session:
    for n in range({items}):
        template.hashvalues = rng.integers(0, 2**32, {dedupe.NUM_PERM}, dtype=np.uint64)
        session.insert(n, LeanMinHash(template), check_duplication=False)
print(current_rss_mb() - before)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(result.stdout.strip())


def time_sketching() -> dict[str, float]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURE_TEXTS.glob("*.txt"))]
    words = sum(len(t.split()) for t in texts)
    dedupe.sketch(texts[0], "az")  # imports datasketch and numpy (lazily, at the first sketch)
    started = time.perf_counter()
    for text in texts:
        dedupe.sketch(text, "az")
    elapsed = time.perf_counter() - started
    return {"ms_per_1000_words": elapsed * 1000 / (words / 1000), "texts": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--skip-datasketch", action="store_true")
    parser.add_argument(
        "--baseline",
        metavar="REVISION",
        help="also time the look-up of this git revision, alternated with the current one",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="the archive's database, SQLite or PostgreSQL (emptied before each size); default: "
        "a SQLite file in a temporary folder",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="also time `monitor dedupe --rebuild` (the band and fingerprint rows refilled from "
        "the sketches) on each archive",
    )
    parser.add_argument("--lookup-only", nargs=3, metavar=("URL", "SIZE", "LOOKUPS"))
    args = parser.parse_args()
    if args.lookup_only:
        db, size, lookups = args.lookup_only
        run_lookups(db, int(size), int(lookups), args.baseline)
        return

    sketching = time_sketching()
    print(
        f"sketching a text (normalise, shingle, MinHash, winnow): "
        f"{sketching['ms_per_1000_words']:.2f} ms per 1000 words ({sketching['texts']} fixture texts)"
    )
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            url = args.db or f"sqlite:///{Path(folder) / 'archive.db'}"
            empty(url)
            built = build_archive(url, size, copied_ids(size, args.lookups))
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.dedupe_bench",
                    "--lookup-only",
                    url,
                    str(size),
                    str(args.lookups),
                    *(["--baseline", args.baseline] if args.baseline else []),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append((size, built, measured))
            print(
                f"{size:>9,} items loaded in {built['generate_s']:.0f}+{built['load_s']:.0f} s",
                flush=True,
            )
            if args.rebuild:
                print(f"{size:>9,} items: {time_rebuild(url, size)}", flush=True)
    print()
    print(
        "| archived items | look-up | fingerprint rows | band rows | database | lookup median "
        "| p95 | max | copies found | lookup process RSS (growth during lookups) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, built, measured in rows:
        for name, m in measured.items():
            print(
                f"| {size:,} | {name} | {built['fingerprints']:,} | {size * dedupe.LSH_BANDS:,} "
                f"| {built['db_mb']:,.0f} MB | {m['median_ms']:.2f} ms | {m['p95_ms']:.2f} ms "
                f"| {m['max_ms']:.1f} ms | {m['copies_found']}/{m['copies']} "
                f"| {m['rss_mb']:.0f} MB (+{m['rss_growth_mb']:.0f} MB) |"
            )
    print()
    for size, _, measured in rows:
        for name, m in measured.items():
            kinds = ", ".join(f"{k} {v:.2f} ms" for k, v in m["by_kind_median_ms"].items())
            print(f"{size:>9,} {name}: median by kind: {kinds}")
    if not args.skip_datasketch:
        items = 100_000
        print(
            f"\nin-memory datasketch MinHashLSH ({dedupe.LSH_BANDS}x{dedupe.LSH_ROWS}), "
            f"{items:,} items: +{datasketch_lsh_rss(items):.0f} MB RSS per process"
        )


if __name__ == "__main__":
    main()
