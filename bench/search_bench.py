"""Full-text search: query latency at 100k archived items, index build time, database size.

    .venv/bin/python -m bench.search_bench                     # 100,000 items on SQLite
    .venv/bin/python -m bench.search_bench --items 20000 --runs 10
    .venv/bin/python -m bench.search_bench --db postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python -m bench.search_bench --items 1000000 --db sqlite:///big.db --db URL
    .venv/bin/python -m bench.search_bench --items 1000000 --db URL --build-only

Synthetic articles are made from the words of the labelled relevance texts (tests/fixtures/
relevance, 25 per language) and the seeds: each article takes a language in turn (az, kk, ru,
en), a title of 8 words and a body of 250 words drawn from that language's words with their
natural frequencies, so names such as Qazaxıstan or Казахстан are as common as in the corpus
and most words are rare. Rows are bulk-inserted into `article` (not timed as indexing); then
`reindex_archive` builds the index from them, as `monitor search --reindex` does (the analysis
in a process per usable CPU, `--index-workers` to choose), and that is the build time reported.
Each query is then run `--runs` times, on an archive with planner statistics (SQLite's
`Store.refresh_statistics`, which the runner keeps; PostgreSQL's VACUUM ANALYZE), through
`search()`, exactly what `monitor search`, the web page and the bot call: match, count, rank,
one page of 20 and the snippets of its hits. On PostgreSQL the database named in the URL is
emptied first; a SQLite file must hold no articles. Without `--db`, a SQLite file in a
temporary folder.

The bare baseline, measured in the same run over the same rows: a plain index of the raw title
and text (SQLite: an FTS5 table with the `unicode61` tokenizer, external content `article`;
PostgreSQL: a table of `to_tsvector('simple', title || ' ' || text)` with a GIN index, as
`article_search` is kept), asked the same query
in its own syntax (the word as written: no inflection, no stems), counting the matches and
reading the 20 best ranked rows (bm25 / ts_rank) with their title and text. One line per query
class and backend:

    search <backend> <n> <class> p50=<ms> p95=<ms> bare_p50=<ms>

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
from dataclasses import dataclass
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
from monitor.service.maintenance import reindex_archive
from monitor.store import Store
from monitor.store.tables import Article
from monitor.text.stems import WORD

ROOT = Path(__file__).resolve().parent.parent
LABELLED = [ROOT / "tests/fixtures/relevance/dev.yaml", ROOT / "tests/fixtures/relevance/test.yaml"]
LANGS = ("az", "kk", "ru", "en")
T0 = datetime(2020, 1, 1, tzinfo=UTC)
FILTERED = SearchFilters(langs=("en",), since=T0)


@dataclass(frozen=True)
class BenchQuery:
    """One query class: the query as a reader types it, and as each bare index is asked it
    (FTS5 MATCH, `to_tsquery('simple', ...)`; None: no terms, the newest articles)."""

    name: str
    label: str
    query: str
    filters: SearchFilters | None
    fts5: str | None
    tsquery: str | None


QUERIES = [
    BenchQuery("frequent_word", "frequent word", "Qazaxıstan", None, '"qazaxıstan"', "qazaxıstan"),
    BenchQuery(
        "inflected_kk", "inflected, Kazakh", "Қазақстанның", None, '"қазақстанның"', "қазақстанның"
    ),
    BenchQuery(
        "inflected_ru", "inflected, Russian", "Казахстана", None, '"казахстана"', "казахстана"
    ),
    BenchQuery(
        "two_words",
        "two words",
        "Azərbaycan Qazaxıstan",
        None,
        '"azərbaycan" "qazaxıstan"',
        "azərbaycan & qazaxıstan",
    ),
    BenchQuery("rare_word", "rare word", "Kurmanqazı", None, '"kurmanqazı"', "kurmanqazı"),
    BenchQuery("phrase", "phrase", '"Orta Dəhliz"', None, '"orta dəhliz"', "orta <-> dəhliz"),
    BenchQuery("prefix", "prefix", "qazaxıst*", None, '"qazaxıst" *', "qazaxıst:*"),
    BenchQuery(
        "filtered", "word + lang + date", "Kazakhstan", FILTERED, '"kazakhstan"', "kazakhstan"
    ),
    BenchQuery(
        "exclusion",
        "exclusion",
        "Qazaxıstan -Bakı",
        None,
        '"qazaxıstan" NOT "bakı"',
        "qazaxıstan & !bakı",
    ),
    BenchQuery("no_match", "no match", "xyzzyplugh", None, '"xyzzyplugh"', "xyzzyplugh"),
    BenchQuery("empty", "empty query, newest", "", None, None, None),
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


def run(
    url: str, items: int, runs: int, index_workers: int | None = None, build_only: bool = False
) -> None:
    store = Store.open(url)
    backend = "sqlite" if store.engine.dialect.name == "sqlite" else "postgres"
    try:
        if store.count_articles():
            raise SystemExit(f"{url} already holds articles; give an empty database")
        inserted = fill(store, items, seed=7)
        before = size(store)
        started = time.perf_counter()
        indexed = reindex_archive(store, workers=index_workers)
        build = time.perf_counter() - started
        print(f"{backend}: {items:,} articles inserted in {inserted:.1f} s")
        workers = f"{index_workers} analysis processes" if index_workers else "usable CPUs"
        print(f"index built in {build:.1f} s ({indexed / build:,.0f} articles/s; {workers})")
        if build_only:
            return
        if backend == "sqlite":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO article_fts(article_fts) VALUES ('optimize')")
        after = size(store)
        bare_build = build_bare(store)
        if backend == "postgres":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"bare index built in {bare_build:.1f} s")
        print(f"database {before / 1e6:,.0f} MB without the index, {after / 1e6:,.0f} MB with it")
        if backend == "sqlite":  # as a running monitor's archive: the runner analyses it
            print("\nwithout planner statistics (an archive the runner has not yet analysed):")
            trends_table(store, runs)
            started = time.perf_counter()
            store.refresh_statistics()
            print(
                f"\nStore.refresh_statistics (ANALYZE) took {time.perf_counter() - started:.2f} s"
            )
        lines, table = [], ["| query | matches | median | p95 | bare median | ratio |"]
        table.append("|---|---|---|---|---|---|")
        for case in QUERIES:
            times = timed(lambda c=case: search(store, c.query, c.filters), runs)  # type: ignore[misc]
            total = search(store, case.query, case.filters).total
            bare = statistics.median(timed(partial(bare_search, store, case), runs))
            p50, p95 = statistics.median(times), percentile_95(times)
            lines.append(
                f"search {backend} {items} {case.name} p50={p50:.1f} p95={p95:.1f} "
                f"bare_p50={bare:.1f}"
            )
            table.append(
                f"| {case.label}: `{case.query}` | {total:,} | {p50:.1f} ms | {p95:.1f} ms "
                f"| {bare:.1f} ms | {p50 / bare:.1f}× |"
            )
        print("\n".join(["", *lines, "", *table]))
        trends_table(store, runs)
    finally:
        store.close()


BARE_FTS5 = "bench_bare_fts"
BARE_TABLE = "bench_bare"
BARE_VECTOR = "to_tsvector('simple', title || ' ' || text)"


def build_bare(store: Store) -> float:
    """The bare baseline's index over the same rows; seconds taken."""
    started = time.perf_counter()
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE VIRTUAL TABLE {BARE_FTS5} USING fts5(title, text, content='article', "
                "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
            )
            conn.exec_driver_sql(f"INSERT INTO {BARE_FTS5}({BARE_FTS5}) VALUES ('rebuild')")
        else:
            conn.exec_driver_sql(
                f"CREATE TABLE {BARE_TABLE} AS SELECT id, {BARE_VECTOR} AS vector FROM article"
            )
            conn.exec_driver_sql(f"ALTER TABLE {BARE_TABLE} ADD PRIMARY KEY (id)")
            conn.exec_driver_sql(f"CREATE INDEX ON {BARE_TABLE} USING GIN (vector)")
    return time.perf_counter() - started


def bare_search(store: Store, case: BenchQuery) -> int:
    """The query asked of the bare index: its count, and the 20 best ranked articles' title and
    text (the newest 20 for a query without terms). Returns the count."""
    sqlite = store.engine.dialect.name == "sqlite"
    where, params = "", {"q": case.fts5 if sqlite else case.tsquery, "since": T0}
    if case.filters is not None:
        where = " AND article.lang = 'en' AND article.published_at >= :since"
    if case.fts5 is None:
        count = "SELECT count(*) FROM article"
        page = "SELECT id FROM article ORDER BY published_at DESC LIMIT 20"
    elif sqlite:
        joined = f"FROM {BARE_FTS5} JOIN article ON article.id = {BARE_FTS5}.rowid"
        match = f"WHERE {BARE_FTS5} MATCH :q{where}"
        count = f"SELECT count(*) {joined if where else f'FROM {BARE_FTS5}'} {match}"
        page = f"SELECT article.id {joined} {match} ORDER BY {BARE_FTS5}.rank LIMIT 20"
    else:
        joined = f"FROM {BARE_TABLE} JOIN article ON article.id = {BARE_TABLE}.id"
        match = f"WHERE vector @@ to_tsquery('simple', :q){where}"
        count = f"SELECT count(*) {joined if where else f'FROM {BARE_TABLE}'} {match}"
        rank = "ts_rank(vector, to_tsquery('simple', :q))"
        page = f"SELECT article.id {joined} {match} ORDER BY {rank} DESC LIMIT 20"
    with store.engine.connect() as conn:
        total = int(conn.execute(text(count), params).scalar() or 0)
        ids = [row[0] for row in conn.execute(text(page), params)]
        if ids:
            listed = ", ".join(str(int(i)) for i in ids)
            conn.execute(text(f"SELECT id, title, text FROM article WHERE id IN ({listed})")).all()
    return total


def timed(call: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of `runs` calls, after one that warms the page cache."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile_95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]


def median_ms(call: Callable[[], object], runs: int) -> float:
    return statistics.median(timed(call, runs))


def trends_table(store: Store, runs: int) -> None:
    """Each query's count against its counts per week by language, and with shares."""
    print("\n| query | matches | count | per week by lang | ratio | with --share | ratio |")
    print("|---|---|---|---|---|---|---|")
    for case in QUERIES:
        query, parsed, narrowed = (
            case.query,
            parse_query(case.query),
            case.filters or SearchFilters(),
        )
        count = median_ms(partial(count_matches, store, parsed, narrowed), runs)
        weekly = median_ms(partial(trend, store, query, narrowed), runs)
        shares = median_ms(partial(trend, store, query, narrowed, share=True), runs)
        print(
            f"| {case.label}: `{query}` | {count_matches(store, parsed, narrowed):,} "
            f"| {count:.1f} ms | {weekly:.1f} ms | {weekly / count:.2f}× | {shares:.1f} ms "
            f"| {shares / count:.2f}× |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--db",
        action="append",
        default=[],
        help="a database URL to run on, SQLite or PostgreSQL (emptied first); may be repeated; "
        "default: a SQLite file in a temporary folder",
    )
    parser.add_argument("--postgres", help="the same as --db URL after the default SQLite run")
    parser.add_argument(
        "--index-workers",
        type=int,
        default=None,
        help="processes analysing for the index build (default: the usable CPUs, as `monitor "
        "search --reindex`; 1: this process alone)",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="stop after the index build (its time and rate), without the queries",
    )
    args = parser.parse_args()
    urls = list(args.db)
    with tempfile.TemporaryDirectory() as folder:
        if not urls:
            urls.append(f"sqlite:///{Path(folder) / 'bench.db'}")
        if args.postgres:
            urls.append(args.postgres)
        for n, url in enumerate(urls):
            if n:
                print()
            if not url.startswith("sqlite"):
                empty_postgres(url)
            run(url, args.items, args.runs, args.index_workers, args.build_only)


def empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


if __name__ == "__main__":
    main()
