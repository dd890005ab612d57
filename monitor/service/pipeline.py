"""The one place that knows the order of the stages.

    poll_source(source)
      1. discover   feeds, sitemaps, listings (conditional GET; a 304 costs nothing more)
      2. decide     which candidates are new or updated, which are already archived (pure:
                    monitor.service.decisions)
      3. enqueue    the new and updated ones into the frontier, then the page's validators, in
                    one transaction: nothing once discovered is forgotten by a crash, a cap, a
                    full disk or a 304
      4. claim      the next N frontier rows (the per-poll cap; the rest wait for the next poll);
                    workers on several machines never claim one row twice
      5. fetch      each claimed page, politely (the fetcher enforces per-host limits)
      6. analyse    extract title, text, date, author, language; sketch; tag (pure, CPU-heavy:
                    in a process pool with a per-page time and memory limit)
      7. store      raw capture to WARC, the article to the archive and its frontier row off the
                    frontier, in one transaction (idempotent)
      8. advance    the stages after storage, each recorded on the row (monitor.service.advance):
                    dedupe, then tag
    poll_sources(sources)  every source concurrently; one broken site never stops the others;
                           an empty archive first gets the seed corpus (the dedupe baseline), and
                           every cycle first finishes the stages a crash left half done.

The event loop stays free: parsing, extraction, sketching and tagging run in the analysis pool
(monitor.service.offload), and every database call runs in a thread (`_db`), so a hostile page
never stalls the other sources, the lease keepers or the bot's replies.

Expected failures (FetchError, ParseError) become lines in the source's report, and a frontier
row whose fetch failed is retried later or given up with its reason (monitor.crawl.frontier);
anything else is a bug: it is logged with its traceback, recorded on the report, and the other
sources go on. A full or read-only archive stops the poll: the frontier keeps every row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from time import monotonic
from typing import Any, TypeVar

from monitor.config.rules import Rules
from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import ArchiveUnwritable, FetchError, MonitorError, ParseError
from monitor.core.records import Candidate, Page, SourceReport
from monitor.crawl.discover import discover
from monitor.crawl.fetch import Fetcher
from monitor.crawl.frontier import retry_at
from monitor.crawl.urls import article_key, canonical_url
from monitor.extract.seeds import load_seeds
from monitor.service.advance import advance, archive_seeds, finish_stages
from monitor.service.decisions import Plan, build_record, dated_later, decide, is_taken, newer
from monitor.service.dedupe import Sketched
from monitor.service.due import fresh_for, next_check_at
from monitor.service.lease import Lease, is_dead_worker, worker_name
from monitor.service.link import Linker
from monitor.service.metrics import Metrics
from monitor.service.offload import AnalyseRequest, Offload, Refused
from monitor.store import Claimed, Discovered, KnownArticle, Store
from monitor.store.warc import WarcArchive

log = logging.getLogger(__name__)

MAX_SITEMAPS_PER_POLL = 20
CLAIM_BATCH = 20  # rows claimed at a time: workers sharing a source share its backlog
CLAIM_HOLD = timedelta(minutes=10)  # a claim lapses after this, if its worker never returns
ARCHIVE_THREADS = 2
_ARCHIVE_THREADS = ThreadPoolExecutor(ARCHIVE_THREADS, thread_name_prefix="archive")

T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    """Everything a poll needs from the outside world, passed in."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    warc: WarcArchive
    rules: Rules
    offload: Offload  # extraction, sketch and tags, off the event loop
    aggregators: frozenset[str] = frozenset()  # sources that republish other outlets
    metrics: Metrics | None = None
    worker: str = field(default_factory=worker_name)  # whose poll leases these are
    linker: Linker = field(default_factory=Linker.default)  # the stories' model


async def _db(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A database call, in a thread: the event loop never waits on the archive. The polls'
    calls share ARCHIVE_THREADS threads, not the loop's default pool (one more than the CPUs):
    a call holds the GIL between its statements, and each thread more contends for it
    (bench/README.md, 2026-12-07: 1,000 pages archived at 74 pages/s on one thread, 70 on two,
    53 on six); two, so that one slow call does not hold up the rest."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_ARCHIVE_THREADS, partial(call, *args, **kwargs))


async def poll_sources(
    sources: list[Source],
    deps: Deps,
    now: Clock = utc_now,
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    await _db(ensure_seeds, deps, now())
    await _db(finish_stages, deps.store, deps.rules, deps.aggregators, deps.linker)

    async def one(source: Source) -> SourceReport:
        report = await poll_source(source, deps, now())
        if on_report:
            on_report(report)
        return report

    polls = [asyncio.ensure_future(one(source)) for source in sources]
    try:
        return list(await asyncio.gather(*polls))
    except BaseException:  # the archive is full, or Ctrl-C: the others stop too, before the
        for poll in polls:  # fetcher and the store close under them
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        raise


async def poll_source(source: Source, deps: Deps, now: datetime) -> SourceReport:
    """Poll one source once and record the outcome (report, state, next check), holding its
    lease so that no other worker discovers it meanwhile. If one is, help it: fetch from the
    source's frontier beside it (the claims keep the two apart) and report the source busy."""
    async with Lease(deps.store, source.name, deps.worker).held() as holder:
        if holder is not None:
            report = SourceReport(source=source.name, started_at=now, busy=holder)
            await drain(source, deps, report, now)
            report.finished_at = now
            return report
        return await _poll_source(source, deps, now)


async def fetch_backlog(source: Source, deps: Deps, now: datetime) -> SourceReport:
    """Between polls: fetch the next frontier rows of a source whose backlog waits (a poll's cap
    left it, or another worker discovered it), up to the per-poll cap."""
    report = SourceReport(source=source.name, started_at=now)
    await drain(source, deps, report, now)
    report.finished_at = now
    return report


async def _poll_source(source: Source, deps: Deps, now: datetime) -> SourceReport:
    report = SourceReport(source=source.name, started_at=now)
    started = monotonic()  # the clock given says when; this says how long
    try:
        await _discover(source, deps, report, now)
        await drain(source, deps, report, now)
    except ArchiveUnwritable:  # read-only or full: no source can store anything, stop them all
        raise
    except Exception as exc:  # a bug: keep it visible, keep the other sources going
        log.exception("poll of %s failed unexpectedly", source.name)
        report.errors.append(f"internal error: {type(exc).__name__}: {exc}")
    report.finished_at = now + timedelta(seconds=monotonic() - started)
    state = await _db(deps.store.source_state, source.name)
    failures = 0 if report.ok else state.consecutive_failures + 1
    due = next_check_at(
        source, failures, report.retry_after, report.finished_at, fresh_for=report.fresh_for
    )
    await _db(deps.store.record_poll, report, due)
    return report


async def archive_candidates(
    source: Source,
    candidates: dict[str, Candidate],
    deps: Deps,
    report: SourceReport,
    now: datetime,
    *,
    cap: int | None = None,
) -> Plan:
    """Steps 2-8 for candidates keyed by article identity, however they were discovered (a poll,
    a backfill page): enqueue the new ones, then fetch up to `cap` of the frontier (the source's
    per-poll cap by default; a backfill passes its page's size)."""
    plan = await _enqueue(source, candidates, deps, report, now, validators=None)
    await drain(source, deps, report, now, cap=cap)
    return plan


def _cap(source: Source, settings: Settings) -> int:
    return source.max_articles or settings.max_articles_per_poll


async def _discover(source: Source, deps: Deps, report: SourceReport, now: datetime) -> None:
    """Steps 1-3: every way into the site; each page's candidates go into the frontier before
    the page's validators are saved (in one transaction)."""
    entries: list[tuple[str, str, str | None]] = [(url, "feed", None) for url in source.feeds]
    entries += [(url, "sitemap", None) for url in source.sitemaps]
    entries += [(listing.url, "listing", listing.selector) for listing in source.listings]
    keys: set[str] = set()
    budget = deps.settings.max_sitemap_urls_per_poll  # article URLs taken from discovery per poll
    taken: set[str] | None = None  # the source's known keys, read once if a sitemap needs them
    sitemaps_seen = 0
    lifetimes: list[float | None] = []
    while entries:
        url, kind, selector = entries.pop(0)
        page, _ = await _fetch(url, kind, source, deps, report, conditional=True)
        lifetimes.append(fresh_for(page.header("cache-control")) if page else None)
        if page is None or page.not_modified:
            continue
        known = None
        if kind == "sitemap":  # a capped sitemap yields the newest URLs not taken yet
            if taken is None:
                taken = await _db(deps.store.known_keys, source.name)
            known = partial(is_taken, taken, source.id_pattern)
        try:  # parsing a 100k-URL sitemap takes a second or more of CPU: not on the loop
            discovery = await asyncio.to_thread(
                partial(discover, selector=selector, cap=budget, known=known),
                kind,
                page.body,
                page.text,
                page.final_url,
                source,
            )
        except ParseError as exc:
            report.errors.append(f"{kind} {url}: {exc}")
            continue
        for child in discovery.follow:
            if sitemaps_seen < MAX_SITEMAPS_PER_POLL:
                sitemaps_seen += 1
                entries.append((child, "sitemap", None))
        found: dict[str, Candidate] = {}
        for candidate in discovery.candidates:
            key = article_key(candidate.url, source.id_pattern)
            found[key] = newer(found.get(key), candidate)
        keys.update(found)
        budget = max(1, budget - len(found))
        report.left_out += discovery.left_out
        # a page the cap cut short is read again in full next time (no validators kept): its
        # URLs taken now are known then, so it yields the next ones
        validators = None if discovery.left_out else (url, page)
        await _enqueue(source, found, deps, report, now, validators=validators)
    report.discovered = len(keys)
    if lifetimes and None not in lifetimes:
        report.fresh_for = min(x for x in lifetimes if x is not None)


async def _enqueue(
    source: Source,
    found: dict[str, Candidate],
    deps: Deps,
    report: SourceReport,
    now: datetime,
    validators: tuple[str, Page] | None,
) -> Plan:
    known = await _db(deps.store.known_articles, source.name, found)
    plan = decide(found, known)
    entries = [Discovered(key, candidate) for key, candidate in plan.enqueue]
    saved = (validators[0], validators[1].validators) if validators else None
    await _db(deps.store.enqueue, source.name, entries, now, saved)
    await _db(deps.store.touch_articles, plan.seen_ids, now)
    report.unchanged += len(plan.seen_ids)
    return plan


async def drain(
    source: Source,
    deps: Deps,
    report: SourceReport,
    now: datetime,
    *,
    cap: int | None = None,
) -> None:
    """Steps 4-8: claim the source's next frontier rows, up to the per-poll cap, and archive
    them; what is left waits for the next poll (`report.waiting` says how much). Rows are
    claimed a batch at a time whenever fewer than a batch are in flight, so the next pages are
    fetched while the last ones are stored: a poll that waited for the slowest page of each
    batch archived 21 pages/s where this one archives 40 (bench/README.md, 2026-12-07). A page
    whose archiving fails for good (a full archive, a bug) stops the poll; the rows in flight
    stay on the frontier."""
    left = cap if cap is not None else _cap(source, deps.settings)
    in_flight: set[asyncio.Task[None]] = set()
    try:
        while True:
            while left > 0 and len(in_flight) < CLAIM_BATCH:
                todo = await _claim(source, deps, now, min(left, CLAIM_BATCH))
                if todo is None:
                    left = 0
                    break
                left -= len(todo)
                in_flight |= {
                    asyncio.create_task(_archive(source, row, archived, deps, report, now))
                    for row, archived in todo
                    if row is not None
                }
            if not in_flight:
                break
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            # every failure is heard (one left unretrieved is logged with its traceback), and
            # the first of them stops the poll
            failures = [task.exception() for task in done if not task.cancelled()]
            if failure := next((f for f in failures if f is not None), None):
                raise failure
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
    backlog = await _db(deps.store.backlog, [source.name])
    report.waiting = backlog[source.name].waiting


async def _claim(
    source: Source, deps: Deps, now: datetime, limit: int
) -> list[tuple[Claimed | None, KnownArticle | None]] | None:
    """Claim up to `limit` rows of the source; None when none is left. One entry a claimed row:
    the row and the article it updates, if any; (None, None) for a row whose page is archived
    already (and as recent as listed), which is taken off the frontier here."""
    rows = await _db(
        deps.store.claim,
        source.name,
        deps.worker,
        limit,
        now,
        CLAIM_HOLD,
        partial(is_dead_worker, me=deps.worker),
    )
    if not rows:
        return None
    known = await _db(deps.store.known_articles, source.name, [row.key for row in rows])
    archived = [
        row
        for row in rows
        if row.key in known and not dated_later(row.found.candidate.published_at, known[row.key])
    ]
    await _db(deps.store.forget, [row.id for row in archived])
    return [(None, None) if row in archived else (row, known.get(row.key)) for row in rows]


async def _archive(
    source: Source,
    row: Claimed,
    archived: KnownArticle | None,
    deps: Deps,
    report: SourceReport,
    now: datetime,
) -> None:
    """Steps 5-8 for one frontier row (`archived`: the article it updates, if any)."""
    candidate = row.found.candidate
    url = candidate.fetch_url
    step = monotonic()
    page, error = await _fetch(url, "article", source, deps, report)
    step = report.timed("fetch", step)
    if page is None:
        attempts = row.attempts + 1
        retry = retry_at(error if isinstance(error, FetchError) else None, attempts, now)
        await _db(deps.store.retry_later, row.id, _reason(error), retry)
        return
    request = AnalyseRequest(
        html=page.text,
        url=page.final_url,
        article=source.article,
        zone=source.zone,
        language=source.language,
        fallback_title=candidate.title or canonical_url(page.final_url),
        sqlite=deps.store.engine.dialect.name == "sqlite",
    )
    analysis = await deps.offload.analyse(request, deps.rules)
    step = report.timed("analyse", step)
    if isinstance(analysis, Refused):  # over its time or memory: given up, with the reason
        report.errors.append(f"article {url}: refused: {analysis.reason}")
        await _db(deps.store.retry_later, row.id, f"refused: {analysis.reason}", None)
        return
    extracted = analysis.extracted
    prior = archived.warc if archived else None
    ref = await _db(deps.warc.write, page, prior)
    step = report.timed("capture", step)
    if ref.revisit and prior is not None:  # the bytes are the prior capture's: point there
        ref = prior
    hashed = (analysis.title, analysis.content_hash)
    record = build_record(source, row.key, candidate, page, extracted, ref, hashed)
    # what the worker made of the title it read is the record's unless the title came out otherwise
    as_read = analysis.title == record.title
    index = analysis.index if as_read else None
    saved = await _db(deps.store.save_article, record, row.id, index)
    report.timed("store", step)
    outcome = saved.outcome
    if extracted.is_empty:
        report.empty += 1
    if outcome != "unchanged":
        tagging = analysis.tagging if as_read else None
        done = await _db(
            advance,
            deps.store,
            deps.rules,
            deps.aggregators,
            saved.article_id,
            tagging,
            deps.linker,
            Sketched(analysis.sketch),  # of extracted.text in record.lang, as stored
        )
        report.duplicates += bool(done.duplicate)
        report.relevant += bool(done.relevant)
        report.add_times(done.seconds)
    if outcome == "new":
        report.new += 1
        report.new_titles.append(record.title)
    elif outcome == "updated":
        report.updated += 1
    else:
        report.unchanged += 1


def _reason(error: FetchError | MonitorError | None) -> str:
    if isinstance(error, FetchError):
        return f"{error.kind}: {error}"
    return str(error) if error else "unknown failure"


def ensure_seeds(deps: Deps, now: datetime) -> None:
    """Before the first poll of an empty archive, archive the seed corpus: the dedupe baseline."""
    if deps.store.count_articles() == 0 and (deps.settings.seeds_dir / "seeds.yaml").exists():
        # the seed corpus's own sources.yaml names the sites its copies came from (icma)
        seeds = load_seeds(deps.settings.seeds_dir)
        counts = archive_seeds(deps.store, seeds, now, deps.rules, deps.linker)
        log.info("archived the seed corpus: %s", counts)


async def _fetch(
    url: str,
    purpose: str,
    source: Source,
    deps: Deps,
    report: SourceReport,
    *,
    conditional: bool = False,
) -> tuple[Page | None, FetchError | MonitorError | None]:
    """A page, or why not (also told to the report); `conditional`: asked with the validators
    of its last fetch (a 304 is counted as not modified)."""
    validators = await _db(deps.store.validators, url) if conditional else None
    try:
        page = await deps.fetcher.get(
            url, source=source.name, purpose=purpose, validators=validators
        )
    except FetchError as exc:
        report.errors.append(f"{purpose} {url}: {exc.kind}: {exc}")
        if exc.retry_after:
            report.retry_after = max(report.retry_after or 0, exc.retry_after)
        return None, exc
    except ArchiveUnwritable:
        raise
    except MonitorError as exc:
        report.errors.append(f"{purpose} {url}: {exc}")
        return None, exc
    if page.not_modified:
        report.not_modified += 1
    return page, None
