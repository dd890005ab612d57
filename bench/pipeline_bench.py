"""Throughput of discovery → fetch → extraction → storage over generated pages served locally,
per-page extraction time with site selectors vs trafilatura, and peak memory.

    make bench                       # 2,000 pages (default)
    make bench BENCH_ARGS="--pages 5000"

Pages are generated (Azerbaijani and Kazakh paragraphs with menus, share bars and 'most read'
lists around them, like the real sites) and served by a threaded HTTP server on 127.0.0.1; the
pipeline runs with politeness delays off so the figure measures the monitor, not the waits.

Two polls of the same pages into fresh archives: the whole pipeline, then the stages before
linking alone (the model made unavailable, so articles wait at "linked", as they do where it
cannot load) followed by the linking stage over those articles alone (`finish_stages`, what
the next cycle runs). Each prints the milliseconds per page of every step from the poll's
report (`SourceReport.stage_seconds`: wall time, so the pages in flight at once overlap and
waits for a lock or a core are counted).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

from bench.search_bench import empty_postgres
from monitor.config.settings import Settings
from monitor.config.sources import ArticleRules, Source
from monitor.core.errors import ModelUnavailable
from monitor.extract.article import extract_article
from monitor.service.advance import finish_stages
from monitor.service.link import Linker
from monitor.service.offload import AnalyseRequest, usable_cpus
from monitor.service.pipeline import Deps, poll_source
from monitor.service.wiring import open_deps

WORDS_AZ = [
    "Azərbaycan",
    "Qazaxıstan",
    "əməkdaşlıq",
    "nəqliyyat",
    "dəhlizi",
    "Orta",
    "Dəhliz",
    "Bakı",
    "Astana",
    "Aktau",
    "limanı",
    "ticarət",
    "dövriyyəsi",
    "prezident",
    "səfər",
    "saziş",
    "imzalanıb",
    "enerji",
    "layihə",
    "xəbər",
    "verir",
    "ki",
    "iqtisadi",
]
WORDS_KK = [
    "Қазақстан",
    "Әзербайжан",
    "ынтымақтастық",
    "көлік",
    "дәлізі",
    "Орта",
    "дәліз",
    "Баку",
    "Астана",
    "Ақтау",
    "порты",
    "сауда",
    "айналымы",
    "президент",
    "сапар",
    "келісім",
    "қол",
    "қойылды",
    "энергетика",
    "жоба",
    "мәлімдеді",
    "экономикалық",
]


def paragraph(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(25, 60))) + "."


def article_html(n: int) -> str:
    rng = random.Random(n)
    words = WORDS_AZ if n % 2 else WORDS_KK
    title = " ".join(rng.choice(words) for _ in range(8)).capitalize()
    body = "".join(f"<p>{paragraph(rng, words)}</p>" for _ in range(rng.randint(4, 9)))
    menu = "".join(f'<li><a href="/section/{i}">Bölmə {i}</a></li>' for i in range(25))
    popular = "".join(
        f'<li><a href="/news/{n + i}">Başqa xəbər {n + i}</a></li>' for i in range(10)
    )
    return f"""<!doctype html><html lang="az"><head><meta charset="utf-8"><title>{title} | Bench</title>
<meta property="og:title" content="{title}">
<meta name="article:published_time" content="2026-11-{1 + n % 28:02d}T{n % 24:02d}:15:00+04:00">
</head><body><header><nav><ul>{menu}</ul></nav></header>
<main><article><h1 class="title">{title}</h1><div class="date">{1 + n % 28:02d}.11.2026 [{n % 24:02d}:15]</div>
<div class="share">Paylaş: Facebook Twitter Telegram</div>
<div class="body">{body}</div></article>
<aside class="most-read"><h3>Ən çox oxunanlar</h3><ul>{popular}</ul></aside></main>
<footer>© 2005-2026 Bench. Bütün hüquqlar qorunur.</footer></body></html>"""


def sitemap(pages: int, base: str) -> str:
    urls = "".join(f"<url><loc>{base}/news/{n}</loc></url>" for n in range(pages))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


class Site(ThreadingHTTPServer):
    daemon_threads = True
    pages = 0


class Handler(BaseHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/robots.txt":
            body, kind = "User-agent: *\nAllow: /\n", "text/plain"
        elif self.path == "/sitemap.xml":
            body, kind = sitemap(self.server.pages, base), "application/xml"
        elif self.path.startswith("/news/"):
            body, kind = article_html(int(self.path.rsplit("/", 1)[1])), "text/html; charset=utf-8"
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve_in_process(pages: int, port: Connection) -> None:
    """The site's process: serve `pages` pages, sending the port it listens on first."""
    server = Site(("127.0.0.1", 0), Handler)
    server.pages = pages
    port.send(server.server_address[1])
    server.serve_forever()


@contextmanager
def serve(pages: int) -> Iterator[tuple[str, int]]:
    """The site, in a process of its own so that its work is not the monitor's (the figures per
    core are the monitor's); yields its base URL and the process's id, which the CPU count
    must leave out (the process is the bench's child, as the analysis workers are)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    site = context.Process(target=serve_in_process, args=(pages, theirs), daemon=True)
    site.start()
    try:
        port = ours.recv()
        assert site.pid is not None
        yield f"http://127.0.0.1:{port}", site.pid
    finally:
        site.terminate()
        site.join()


def cpu_seconds(pid: int, leave_out: int | None = None) -> float:
    """CPU time used so far by process `pid` and every live process under it (the analysis
    workers are the forkserver's children) but `leave_out` (the bench's site): Linux's /proc;
    0.0 where there is none."""
    tree, total = {pid}, 0.0
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.parent.name)] = fields
    grew = True
    while grew:
        grew = False
        for child, fields in stats.items():
            if child not in tree and child != leave_out and int(fields[1]) in tree:  # ppid
                tree.add(child)
                grew = True
    ticks = os.sysconf("SC_CLK_TCK")
    for member in tree:
        if times := stats.get(member):
            total += (int(times[11]) + int(times[12])) / ticks  # utime, stime
    return total


SELECTORS = ArticleRules(title="h1.title", body="div.body", date="div.date", remove=[".share"])


@dataclass(frozen=True)
class PipelineRun:
    """One poll of the bench site: how long it took, where the time went (the report's
    `stage_seconds`), and, when the poll left linking for later, how long linking then took."""

    pages: int
    seconds: float
    cpu_seconds: float  # the monitor's processes, its analysis workers included
    stage_seconds: dict[str, float]
    startup_cpu_seconds: float  # the analysis workers' start, before the poll
    link_seconds: float | None = None

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds

    @property
    def pages_per_cpu_second(self) -> float:
        """Pages a fully busy core would archive: the figure per core."""
        return self.pages / self.cpu_seconds if self.cpu_seconds else float("nan")

    def cpu(self) -> str:
        return (
            f"CPU {self.cpu_seconds:.1f} s = {self.cpu_seconds / self.pages * 1000:.1f} ms a page"
            f" = {self.pages_per_cpu_second:.1f} pages per CPU-second (the analysis workers"
            f" started before: {self.startup_cpu_seconds:.1f} s of CPU, not counted)"
        )


class AbsentModel:
    """An embedding model that does not load: articles wait at the linking stage, as they do on
    a machine where the model cannot load, so the poll measures the stages before it."""

    model = "absent"

    def embed(self, texts: Sequence[str]) -> NoReturn:
        raise ModelUnavailable("linking is measured apart")


def bench_pipeline(
    pages: int, concurrency: int, *, link_apart: bool = False, db: str | None = None
) -> PipelineRun:
    """One poll archiving `pages` new pages; `link_apart`: the poll leaves linking waiting, and
    the stage is then run over them alone (`finish_stages`, as the next cycle would); `db`: a
    PostgreSQL archive to use (emptied first) instead of a new SQLite file."""
    if db is not None:
        empty_postgres(db)
    with serve(pages) as (base, site):
        return _bench_pipeline(base, site, pages, concurrency, link_apart=link_apart, db=db)


async def start_workers(deps: Deps, source: Source) -> None:
    """Start the analysis workers before the poll is timed, as a running monitor has them: a
    pool lives as long as the monitor, so its start-up (a process, its imports) is not a cost
    of each page. One page's analysis per worker, at once, starts them all."""
    request = AnalyseRequest(
        html=article_html(10**9),
        url="http://127.0.0.1/news/warm",
        article=source.article,
        zone=source.zone,
        language=source.language,
        fallback_title="warm",
        sqlite=deps.store.engine.dialect.name == "sqlite",
    )
    count = max(deps.offload.workers, 1)
    await asyncio.gather(*(deps.offload.analyse(request, deps.rules) for _ in range(count)))


def _bench_pipeline(
    base: str, site: int, pages: int, concurrency: int, *, link_apart: bool, db: str | None = None
) -> PipelineRun:
    source = Source(
        name="bench",
        homepage=base + "/",
        language="az",
        timezone="Asia/Baku",
        sitemaps=[base + "/sitemap.xml"],
        article=SELECTORS,
        max_articles=pages,
    )
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url=db,
            allow_private_hosts=True,
            per_host_delay=0,
            per_host_concurrency=concurrency,
        )

        async def run() -> PipelineRun:
            async with open_deps(settings) as deps:
                if link_apart:
                    deps = replace(deps, linker=Linker(AbsentModel()))
                cpu = cpu_seconds(os.getpid(), site)
                await start_workers(deps, source)
                startup = cpu_seconds(os.getpid(), site) - cpu
                started, cpu = time.perf_counter(), cpu_seconds(os.getpid(), site)
                report = await poll_source(source, deps, datetime.now(UTC))
                elapsed = time.perf_counter() - started
                cpu = cpu_seconds(os.getpid(), site) - cpu
                assert report.new == pages, report
                if not link_apart:
                    return PipelineRun(pages, elapsed, cpu, report.stage_seconds, startup)
                started = time.perf_counter()
                linked = finish_stages(deps.store, deps.rules, deps.aggregators, Linker.default())
                assert linked == pages, linked
                link = time.perf_counter() - started
                return PipelineRun(pages, elapsed, cpu, report.stage_seconds, startup, link)

        return asyncio.run(run())


def stage_split(run: PipelineRun) -> str:
    """Milliseconds per page of each step, and its share of their sum."""
    total = sum(run.stage_seconds.values()) or 1.0
    return " · ".join(
        f"{stage} {seconds / run.pages * 1000:.1f} ({seconds / total:.0%})"
        for stage, seconds in run.stage_seconds.items()
    )


def bench_extraction(samples: int) -> dict[str, float]:
    pages = [article_html(n) for n in range(samples)]
    timings: dict[str, list[float]] = {"selectors": [], "trafilatura": []}
    zone = Source(
        name="x",
        homepage="https://x.az/",
        language="az",
        timezone="Asia/Baku",
        feeds=["https://x.az/rss"],
    ).zone
    for rules, label in ((SELECTORS, "selectors"), (ArticleRules(), "trafilatura")):
        for html in pages:
            started = time.perf_counter()
            result = extract_article(
                html, "https://x.az/news/1", rules=rules, zone=zone, language="az"
            )
            timings[label].append(time.perf_counter() - started)
            assert result.method == label, (label, result.method)
    return {f"{k}_ms_median": statistics.median(v) * 1000 for k, v in timings.items()} | {
        f"{k}_ms_p95": sorted(v)[int(len(v) * 0.95)] * 1000 for k, v in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--db", help="a PostgreSQL URL to archive into (emptied first) instead of SQLite"
    )
    args = parser.parse_args()
    extraction = bench_extraction(args.samples)
    whole = bench_pipeline(args.pages, args.concurrency, db=args.db)
    apart = bench_pipeline(args.pages, args.concurrency, link_apart=True, db=args.db)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cores = usable_cpus()
    print(f"archive: {'PostgreSQL' if args.db else 'SQLite'}")
    print(
        f"pipeline: {whole.pages} pages in {whole.seconds:.1f} s = "
        f"{whole.pages_per_second:.1f} pages/s (concurrency {args.concurrency}, {cores} usable "
        f"CPUs: {whole.pages_per_second / cores:.1f} per usable CPU); {whole.cpu()}"
    )
    print(
        f"  ms per page of each step (the {args.concurrency} pages in flight overlap): "
        f"{stage_split(whole)}"
    )
    assert apart.link_seconds is not None
    print(
        f"pipeline up to tagging (linking left waiting): {apart.pages} pages in "
        f"{apart.seconds:.1f} s = {apart.pages_per_second:.1f} pages/s "
        f"({apart.pages_per_second / cores:.1f} per usable CPU; {apart.cpu()}); then linking "
        f"them alone: "
        f"{apart.link_seconds:.1f} s = {apart.pages / apart.link_seconds:.1f} articles/s"
    )
    print(f"  ms per page of each step: {stage_split(apart)}")
    print(
        f"extraction per page ({args.samples} pages): selectors median "
        f"{extraction['selectors_ms_median']:.2f} ms (p95 {extraction['selectors_ms_p95']:.2f}), "
        f"trafilatura median {extraction['trafilatura_ms_median']:.2f} ms "
        f"(p95 {extraction['trafilatura_ms_p95']:.2f})"
    )
    print(f"peak memory (max RSS of the process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
