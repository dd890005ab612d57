"""Full-text search: query latency at 100k archived items, index build time, database size.

    .venv/bin/python -m bench.search_bench                     # 100,000 items on SQLite
    .venv/bin/python -m bench.search_bench --items 20000 --runs 10
    .venv/bin/python -m bench.search_bench --postgres postgresql+psycopg://postgres@127.0.0.1/bench

Synthetic articles are made from the words of the labelled relevance texts (tests/fixtures/
relevance, 25 per language) and the seeds: each article takes a language in turn (az, kk, ru,
en), a title of 8 words and a body of 250 words drawn from that language's words with their
natural frequencies, so names such as Qazaxıstan or Казахстан are as common as in the corpus
and most words are rare. Rows are bulk-inserted into `article` (not timed as indexing); then
`reindex` builds the index from them, as the migration does for an existing archive, and
that is the build time reported. Each query is then run `--runs` times through `search()`,
exactly what `monitor search`, the web page and the bot call: match, count, rank, one page of
20 and the snippets of its hits. On PostgreSQL the database named in the URL is emptied first.

Attention over time (`monitor trends`, the web page's chart): for each query, the time of its
count alone (`count_matches`, what search counts) against the time of its counts per ISO week
split by language (`trend`, as `monitor trends` asks by default), and with `--share` (a second
grouping, of every article); the issue's bound is trend ≤ 2 × count.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import yaml
from sqlalchemy import text

from monitor.extract.seeds import load_seeds
from monitor.search.backend import count_matches
from monitor.search.query import SearchFilters, parse_query
from monitor.search.service import search
from monitor.search.trends import trend
from monitor.store import Store
from monitor.store.fulltext import reindex
from monitor.store.tables import Article
from monitor.text.stems import WORD

ROOT = Path(__file__).resolve().parent.parent
LABELLED = [ROOT / "tests/fixtures/relevance/dev.yaml", ROOT / "tests/fixtures/relevance/test.yaml"]
LANGS = ("az", "kk", "ru", "en")
T0 = datetime(2020, 1, 1, tzinfo=UTC)
QUERIES: list[tuple[str, str, SearchFilters | None]] = [
    ("frequent word", "Qazaxıstan", None),
    ("inflected, Kazakh", "Қазақстанның", None),
    ("inflected, Russian", "Казахстана", None),
    ("two words", "Azərbaycan Qazaxıstan", None),
    ("rare word", "Kurmanqazı", None),
    ("phrase", '"Orta Dəhliz"', None),
    ("prefix", "qazaxıst*", None),
    ("word + lang + date", "Kazakhstan", SearchFilters(langs=("en",), since=T0)),
    ("exclusion", "Qazaxıstan -Bakı", None),
    ("no match", "xyzzyplugh", None),
    ("empty query, newest", "", None),
]


def word_pools() -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {lang: [] for lang in LANGS}
    for path in LABELLED:
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            for item in data["items"] if isinstance(data, dict) else data:
                if item.get("lang") in pools:
                    pools[item["lang"]] += WORD.findall(item["title"] + " " + item["text"])
    for seed in load_seeds(ROOT / "seeds"):
        if seed.language in pools:
            pools[seed.language] += WORD.findall(seed.text)[:20_000]
    return pools


def fill(store: Store, items: int, seed: int) -> float:
    """Bulk-insert `items` synthetic articles; seconds taken."""
    rng = random.Random(seed)
    pools = word_pools()
    started = time.perf_counter()
    rows = []
    for n in range(items):
        lang = LANGS[n % len(LANGS)]
        pool = pools[lang]
        at = T0 + timedelta(minutes=37 * n)
        rows.append(
            {
                "source": f"bench-{lang}",
                "key": f"id:{n}",
                "url": f"https://bench.example/{lang}/{n}",
                "title": " ".join(rng.choices(pool, k=8)),
                "text": " ".join(rng.choices(pool, k=250)),
                "lang": lang,
                "published_at": at,
                "published_offset_min": 0,
                "date_source": "page",
                "fetched_at": at,
                "first_seen_at": at,
                "last_seen_at": at,
                "content_hash": f"h{n}",
                "extraction": "selectors",
                "http_status": 200,
                "revisions": 1,
                "relevant": n % 3 == 0,
            }
        )
        if len(rows) == 5000 or n == items - 1:
            with store.engine.begin() as conn:
                conn.execute(Article.__table__.insert(), rows)  # type: ignore[attr-defined]
            rows = []
    return time.perf_counter() - started


def size(store: Store) -> int:
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar() or 0
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar() or 0
            return int(pages) * int(page_size)
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)


def run(url: str, items: int, runs: int) -> None:
    store = Store.open(url)
    try:
        if store.count_articles():
            raise SystemExit(f"{url} already holds articles; give an empty database")
        inserted = fill(store, items, seed=7)
        before = size(store)
        started = time.perf_counter()
        with store.engine.begin() as conn:
            indexed = reindex(conn, batch=2000)
        build = time.perf_counter() - started
        if store.engine.dialect.name == "sqlite":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO article_fts(article_fts) VALUES ('optimize')")
        else:
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        after = size(store)
        print(f"{store.engine.dialect.name}: {items:,} articles inserted in {inserted:.1f} s")
        print(f"index built in {build:.1f} s ({indexed / build:,.0f} articles/s)")
        print(f"database {before / 1e6:,.0f} MB without the index, {after / 1e6:,.0f} MB with it")
        print("\n| query | matches | median | p95 | max |\n|---|---|---|---|---|")
        for label, query, filters in QUERIES:
            search(store, query, filters)  # warm the page cache once
            times, total = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                total = search(store, query, filters).total
                times.append((time.perf_counter() - started) * 1000)
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
            print(
                f"| {label}: `{query}` | {total:,} | {statistics.median(times):.1f} ms "
                f"| {p95:.1f} ms | {max(times):.1f} ms |"
            )
        if store.engine.dialect.name == "sqlite":
            print("\nwithout planner statistics (an archive the runner has not yet analysed):")
            trends_table(store, runs)
            started = time.perf_counter()
            store.refresh_statistics()
            print(
                f"\nStore.refresh_statistics (ANALYZE) took {time.perf_counter() - started:.2f} s"
            )
        trends_table(store, runs)
    finally:
        store.close()


def median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm the page cache once
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def trends_table(store: Store, runs: int) -> None:
    """Each query's count against its counts per week by language, and with shares."""
    print("\n| query | matches | count | per week by lang | ratio | with --share | ratio |")
    print("|---|---|---|---|---|---|---|")
    for label, query, filters in QUERIES:
        parsed, narrowed = parse_query(query), filters or SearchFilters()
        count = median_ms(partial(count_matches, store, parsed, narrowed), runs)
        weekly = median_ms(partial(trend, store, query, narrowed), runs)
        shares = median_ms(partial(trend, store, query, narrowed, share=True), runs)
        print(
            f"| {label}: `{query}` | {count_matches(store, parsed, narrowed):,} | {count:.1f} ms "
            f"| {weekly:.1f} ms | {weekly / count:.2f}× | {shares:.1f} ms | {shares / count:.2f}× |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", help="also run on this (emptied) PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{Path(folder) / 'bench.db'}", args.items, args.runs)
    if args.postgres:
        from sqlalchemy import create_engine

        engine = create_engine(args.postgres)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
        print()
        run(args.postgres, args.items, args.runs)


if __name__ == "__main__":
    main()
