"""Stories: linking one article against a large archive, embedding cost, and the model's memory.

Three figures, each beside the thing it is measured against in the same run:

1. Linking (`monitor.service.link.story_to_join`: the window read from the archive's
   `story_signature` by its date index, one float32 product over the window's vectors, the
   judgement of the candidates above the cosine floor) for new articles at random dates of an
   archive of `--size` synthetic signatures spread over `--days`, against a brute-force scan that
   reads every vector of the archive and judges the same way.
2. Embedding a title and lead (`E5Embedder`, one thread) for the labelled set's 233 texts,
   against the issue's 100 ms.
3. The model's memory: the peak resident size of a process that loads the model and embeds,
   less that of the same process that only imports numpy and the monitor's linking code.

The synthetic vectors are unit vectors around one shared direction, so that unrelated articles
score 0.70-0.85 as the model's do (its vectors are not spread over the sphere) and some pass the
floor and are judged; names are drawn from a vocabulary of 5,000 keys. Dates are uniform over the
span: 100,000 articles over 365 days put ~2,200 in a window of ±4 days, about what a year of every
Azerbaijani and Kazakh site this monitor knows would hold.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from monitor.link.decide import WINDOW
from monitor.link.embedding import DIMENSIONS, E5Embedder, embedding_input
from monitor.link.signature import lead_of
from monitor.service.link import story_in, story_to_join
from monitor.store import Store
from monitor.store.story_rows import pack_vector, window
from monitor.store.tables import Article, StorySignature

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests/data/stories/labelled.jsonl"
START = datetime(2025, 1, 1, tzinfo=UTC)
MODEL = "bench-model"
BATCH = 5_000


def unit_vectors(rng: np.random.Generator, count: int, centre: np.ndarray) -> np.ndarray:
    noise = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    vectors = centre + 0.55 * noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def build_archive(url: str, size: int, days: int, seed: int) -> tuple[np.ndarray, float]:
    """`size` linked articles with signatures; returns the shared direction and the load time."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal(DIMENSIONS).astype(np.float32)
    centre /= np.linalg.norm(centre)
    store = Store.open(url)
    started = time.perf_counter()
    vocabulary = [f"n:k{i}" for i in range(5_000)]
    pick = random.Random(seed)
    with store.engine.begin() as connection:
        for first in range(1, size + 1, BATCH):
            ids = range(first, min(first + BATCH, size + 1))
            vectors = unit_vectors(rng, len(ids), centre)
            at = [START + timedelta(seconds=pick.uniform(0, days * 86_400)) for _ in ids]
            connection.execute(
                insert(Article),
                [
                    {
                        "id": i,
                        "source": "bench",
                        "key": f"id:{i}",
                        "url": f"https://bench.example/{i}",
                        "title": "",
                        "text": "",
                        "lang": "ru",
                        "published_at": when,
                        "fetched_at": when,
                        "first_seen_at": when,
                        "last_seen_at": when,
                        "content_hash": str(i),
                        "stage": "linked",
                        "story_id": i,
                    }
                    for i, when in zip(ids, at, strict=True)
                ],
            )
            connection.execute(
                insert(StorySignature),
                [
                    {
                        "article_id": i,
                        "model": MODEL,
                        "content_hash": str(i),
                        "at": when,
                        "lang": pick.choice(("az", "kk", "ru", "en")),
                        "words": 60,
                        "names": json.dumps(pick.sample(vocabulary, 10)),
                        "numbers": json.dumps([str(pick.randint(2, 500))]),
                        "vector": pack_vector(vector),
                    }
                    for i, when, vector in zip(ids, at, vectors, strict=True)
                ],
            )
    store.close()
    return centre, time.perf_counter() - started


def time_linking(url: str, centre: np.ndarray, days: int, lookups: int, seed: int) -> dict:
    from monitor.link.decide import Signature

    rng = np.random.default_rng(seed + 1)
    pick = random.Random(seed + 1)
    store = Store.open(url)
    windowed, brute, sizes = [], [], []
    vectors = unit_vectors(rng, lookups, centre)
    for n, vector in enumerate(vectors):
        at = START + timedelta(seconds=pick.uniform(WINDOW.total_seconds(), days * 86_400))
        signature = Signature(
            10_000_000 + n, at, "kk", frozenset({"n:k1", "n:k2"}), frozenset({"7"}), 60
        )
        started = time.perf_counter()
        story_to_join(store, MODEL, signature, vector)
        windowed.append(time.perf_counter() - started)
        if n < max(10, lookups // 10):  # the scan is slow: a tenth of the lookups tell its cost
            started = time.perf_counter()
            everything = window(store, at, timedelta(days=100 * 365), MODEL)
            story_in(everything, signature, vector)
            brute.append(time.perf_counter() - started)
        sizes.append(len(window(store, at, WINDOW, MODEL).signatures) if n < 20 else sizes[-1])
    store.close()
    return {
        "window_median_ms": 1000 * statistics.median(windowed),
        "window_p95_ms": 1000 * float(np.percentile(windowed, 95)),
        "scan_median_ms": 1000 * statistics.median(brute),
        "scan_p95_ms": 1000 * float(np.percentile(brute, 95)),
        "window_rows": statistics.median(sizes[:20]),
        "scans": len(brute),
    }


def time_embedding() -> dict:
    rows = [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line]
    inputs = [embedding_input(r["title"], lead_of(r["text"], ())) for r in rows]
    embedder = E5Embedder(threads=1)
    started = time.perf_counter()
    embedder.embed(["warm up"])  # loads the model
    load = time.perf_counter() - started
    times = []
    for text in inputs:
        started = time.perf_counter()
        embedder.embed([text])
        times.append(time.perf_counter() - started)
    return {
        "load_s": load,
        "median_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * float(np.percentile(times, 95)),
        "max_ms": 1000 * max(times),
        "texts": len(times),
    }


MEMORY_PROBE = """
import json, resource, sys
import numpy
import monitor.service.link
from monitor.link.embedding import E5Embedder
if sys.argv[1] == "model":
    E5Embedder(threads=1).embed([line for line in open(sys.argv[2], encoding="utf-8")][:50])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def model_memory_mb() -> dict:
    def peak(mode: str) -> float:
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, mode, str(LABELLED)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        return float(done.stdout.strip().splitlines()[-1])

    base, loaded = peak("base"), peak("model")
    return {"base_mb": base, "with_model_mb": loaded, "model_mb": loaded - base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL database URL (emptied)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    embedding = time_embedding()
    print(
        f"embedding a title and lead, one thread ({embedding['texts']} labelled texts, "
        f"{embedding_cut()}): median {embedding['median_ms']:.1f} ms, p95 "
        f"{embedding['p95_ms']:.1f} ms, max {embedding['max_ms']:.1f} ms "
        f"= {embedding['p95_ms'] / 100:.2f} × the 100 ms budget (model load {embedding['load_s']:.2f} s)",
        flush=True,
    )
    memory = model_memory_mb()
    print(
        f"model memory: peak RSS {memory['with_model_mb']:.0f} MB with the model, "
        f"{memory['base_mb']:.0f} MB without: the model takes {memory['model_mb']:.0f} MB "
        f"= {memory['model_mb'] / 300:.2f} × the 300 MB budget",
        flush=True,
    )
    archives = [("SQLite", None)]
    if args.postgres:
        archives.append(("PostgreSQL", args.postgres))
    for engine, url in archives:
        with tempfile.TemporaryDirectory() as folder:
            target = url or f"sqlite:///{Path(folder) / 'archive.db'}"
            if url:
                reset_postgres(url)
            centre, load = build_archive(target, args.size, args.days, args.seed)
            linked = time_linking(target, centre, args.days, args.lookups, args.seed)
        print(
            f"{engine}: linking one article against {args.size:,} archived over {args.days} days "
            f"(window ±{WINDOW.days} days: ~{linked['window_rows']:.0f} rows; loaded in {load:.0f} s): "
            f"median {linked['window_median_ms']:.1f} ms, p95 {linked['window_p95_ms']:.1f} ms "
            f"= {linked['window_p95_ms'] / 50:.2f} × the 50 ms budget; brute-force scan of the "
            f"whole archive ({linked['scans']} lookups): median {linked['scan_median_ms']:.0f} ms, "
            f"p95 {linked['scan_p95_ms']:.0f} ms: the window is "
            f"{linked['scan_median_ms'] / linked['window_median_ms']:.0f}× faster",
            flush=True,
        )
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


def embedding_cut() -> str:
    from monitor.link.embedding import EMBEDDED_TOKENS

    return f"cut to {EMBEDDED_TOKENS} tokens"


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()
