"""Analysis off the event loop: pages per second inline and in a pool, what the loop feels, and
what starting and replacing a worker costs.

    .venv/bin/python -m bench.offload_bench                 # 2,000 pages, a pool of 2
    .venv/bin/python -m bench.offload_bench --pages 500 --workers 4

The pages are the recorded article pages of tests/fixtures/extract, each with its source's
rules, analysed in turn as the pipeline would: extraction, sketch, tags (`analyse_page`). Each
mode gets all the pages at once and a 50 ms ticker runs on the loop meanwhile; its longest gap
is what a fetch, a lease renewal or a bot reply would have waited. Before that, for each start
method, a pool of one worker is started (to its first answer; the forkserver's figure includes
starting the server, once per process) and made to kill its worker on a page of 100,000 nested
tags, 3 times: the next page's wait is what replacing a worker costs.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from monitor.config.rules import Rules, load_rules
from monitor.config.sources import ArticleRules, load_sources
from monitor.service.offload import AnalyseRequest, Analysis, Offload, StartMethod, without_memo

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "extract"
NESTED = "<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000 + "</body></html>"


def recorded_pages() -> list[AnalyseRequest]:
    shipped = {source.name: source.article for source in load_sources(ROOT / "sources.yaml")}
    pages = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = shipped[case["source"]] if "source" in case else ArticleRules()
        pages.append(
            AnalyseRequest(
                html=(FIXTURES / case["page"]).read_text(encoding="utf-8"),
                url=case["url"],
                article=ArticleRules(**{**rules.model_dump(), **case.get("rules", {})}),
                zone=ZoneInfo(case["zone"]),
                language=case["language"],
                fallback_title=case["url"],
            )
        )
    return pages


async def longest_gap(work: Any) -> tuple[Any, float]:
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            gaps.append(now - last - 0.05)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        return await work, max(gaps, default=0.0)
    finally:
        ticker.cancel()


async def throughput(workers: int, pages: list[AnalyseRequest], rules: Rules, count: int) -> None:
    started = time.perf_counter()
    async with Offload(workers=workers, timeout=20, memory_mb=512) as offload:
        await offload.analyse(pages[0], rules)
        ready = time.perf_counter() - started
        batch = [pages[i % len(pages)] for i in range(count)]
        begin = time.perf_counter()
        results, gap = await longest_gap(
            asyncio.gather(*(offload.analyse(page, rules) for page in batch))
        )
        seconds = time.perf_counter() - begin
    analysed = sum(isinstance(result, Analysis) for result in results)
    mode = "inline" if workers == 0 else f"pool({workers})"
    print(
        f"{mode:9} {count / seconds:7.1f} pages/s  ({analysed}/{count} analysed in {seconds:.2f} s;"
        f" ready after {ready:.2f} s; the loop's longest stall {gap * 1000:.0f} ms)"
    )


async def start_costs(method: StartMethod, pages: list[AnalyseRequest], rules: Rules) -> None:
    hostile = AnalyseRequest(
        NESTED, "https://example.invalid/", ArticleRules(), ZoneInfo("UTC"), "ru", ""
    )
    started = time.perf_counter()
    async with Offload(workers=1, timeout=1, memory_mb=512, start_method=method) as offload:
        await offload.analyse(pages[0], rules)
        first = time.perf_counter() - started
        waits = []
        for _ in range(3):
            await offload.analyse(hostile, rules)
            begin = time.perf_counter()
            await offload.analyse(pages[0], rules)
            waits.append(time.perf_counter() - begin)
    print(
        f"{method:10} pool start to first answer {first:.2f} s;"
        f" a replaced worker's first answer after {statistics.median(waits):.2f} s (median of 3)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--start-methods", default="forkserver,spawn,fork")
    args = parser.parse_args()
    rules = load_rules(ROOT / "topics.yaml")
    pages = recorded_pages()
    clone = without_memo(rules)
    began = time.perf_counter()
    blob = pickle.dumps(clone, protocol=pickle.HIGHEST_PROTOCOL)
    pickled = time.perf_counter() - began
    pickle.loads(blob)
    unpickled = time.perf_counter() - began - pickled
    print(
        f"{len(pages)} recorded pages; the rules pickle to {len(blob) / 1024:.0f} KiB in"
        f" {pickled * 1000:.1f} ms and unpickle in {unpickled * 1000:.1f} ms (once per worker)"
    )
    for method in args.start_methods.split(","):  # the forkserver first: its own start counts
        asyncio.run(start_costs(method, pages, rules))
    for workers in (0, args.workers):
        asyncio.run(throughput(workers, pages, rules, args.pages))


if __name__ == "__main__":
    main()
