"""The one place that knows the order of the stages.

    poll_source(source)
      1. discover   feeds, sitemaps, listings (conditional GET; a 304 costs nothing more)
      2. decide     which candidates are new or updated, which are already archived (pure)
      3. fetch      the new article pages, politely (the fetcher enforces per-host limits)
      4. extract    title, text, date, author, language, canonical URL (pure)
      5. store      raw capture to WARC, article to the archive (idempotent)
      6. dedupe     link the article to the archived text it copies (seeds included)
      7. tag        relevance, topics and entities by the rules of topics.yaml
    poll_sources(sources)  every source concurrently; one broken site never stops the others;
                           an empty archive first gets the seed corpus (the dedupe baseline).

Expected failures (FetchError, ParseError) become lines in the source's report; anything else is a
bug: it is logged with its traceback, recorded on the report, and the other sources go on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from time import monotonic

from monitor.config.rules import Rules
from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import ArchiveUnwritable, FetchError, MonitorError, ParseError
from monitor.core.records import Candidate, ExtractedArticle, Page, SourceReport
from monitor.crawl.discover import discover
from monitor.crawl.fetch import Fetcher
from monitor.crawl.urls import article_key, canonical_url, same_site
from monitor.extract.article import extract_article
from monitor.extract.seeds import SEED_SOURCE, SeedDocument, load_seeds
from monitor.service.dedupe import dedupe_article, dedupe_in_order
from monitor.service.due import fresh_for, next_check_at
from monitor.service.lease import Lease, worker_name
from monitor.service.metrics import Metrics
from monitor.store import ArticleRecord, EntityRow, KnownArticle, Store
from monitor.store.warc import WarcArchive, WarcRef
from monitor.tag.tagger import TAGGER_VERSION, Tagging, tag
from monitor.text.normalise import content_hash

log = logging.getLogger(__name__)

MAX_SITEMAPS_PER_POLL = 20


@dataclass(frozen=True)
class Deps:
    """Everything a poll needs from the outside world, passed in."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    warc: WarcArchive
    rules: Rules
    aggregators: frozenset[str] = frozenset()  # sources that republish other outlets
    metrics: Metrics | None = None
    worker: str = field(default_factory=worker_name)  # whose poll leases these are


@dataclass(frozen=True)
class Plan:
    """What step 2 decided: pages to fetch (newest first) and archived articles merely seen again."""

    fetch: list[tuple[str, Candidate]]  # (key, candidate)
    seen_ids: list[int]
    deferred: int


async def poll_sources(
    sources: list[Source],
    deps: Deps,
    now: Clock = utc_now,
    on_report: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    ensure_seeds(deps, now())

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
    lease so that no other worker polls it meanwhile; if one is, say so and do nothing."""
    async with Lease(deps.store, source.name, deps.worker).held() as holder:
        if holder is not None:
            return SourceReport(source=source.name, started_at=now, finished_at=now, busy=holder)
        return await _poll_source(source, deps, now)


async def _poll_source(source: Source, deps: Deps, now: datetime) -> SourceReport:
    report = SourceReport(source=source.name, started_at=now)
    started = monotonic()  # the clock given says when; this says how long
    try:
        candidates = await _discover(source, deps, report)
        report.discovered = len(candidates)
        await archive_candidates(source, candidates, deps, report, now)
    except ArchiveUnwritable:  # read-only or full: no source can store anything, stop them all
        raise
    except Exception as exc:  # a bug: keep it visible, keep the other sources going
        log.exception("poll of %s failed unexpectedly", source.name)
        report.errors.append(f"internal error: {type(exc).__name__}: {exc}")
    report.finished_at = now + timedelta(seconds=monotonic() - started)
    state = deps.store.source_state(source.name)
    failures = 0 if report.ok else state.consecutive_failures + 1
    due = next_check_at(
        source, failures, report.retry_after, report.finished_at, fresh_for=report.fresh_for
    )
    deps.store.record_poll(report, due)
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
    """Steps 2-7 for candidates keyed by article identity, however they were discovered (a poll,
    a backfill page): decide, then fetch, extract, store, dedupe and tag the new ones. `cap`
    defaults to the source's per-poll cap; a backfill passes its page's size."""
    plan = decide(
        source,
        candidates,
        deps.store.known_articles(source.name, candidates),
        cap if cap is not None else _cap(source, deps.settings),
    )
    deps.store.touch_articles(plan.seen_ids, now)
    report.unchanged += len(plan.seen_ids)
    await asyncio.gather(*(_archive(source, key, c, deps, report) for key, c in plan.fetch))
    return plan


def _cap(source: Source, settings: Settings) -> int:
    return source.max_articles or settings.max_articles_per_poll


async def _discover(source: Source, deps: Deps, report: SourceReport) -> dict[str, Candidate]:
    """Step 1: every way into the site; candidates keyed by article identity."""
    entries: list[tuple[str, str, str | None]] = [(url, "feed", None) for url in source.feeds]
    entries += [(url, "sitemap", None) for url in source.sitemaps]
    entries += [(listing.url, "listing", listing.selector) for listing in source.listings]
    found: dict[str, Candidate] = {}
    sitemaps_seen = 0
    lifetimes: list[float | None] = []
    while entries:
        url, kind, selector = entries.pop(0)
        page = await _fetch(url, kind, source, deps, report, conditional=True)
        lifetimes.append(fresh_for(page.header("cache-control")) if page else None)
        if page is None or page.not_modified:
            continue
        try:
            discovery = discover(
                kind, page.body, page.text, page.final_url, source, selector=selector
            )
        except ParseError as exc:
            report.errors.append(f"{kind} {url}: {exc}")
            continue
        deps.store.save_validators(url, page.validators, page.fetched_at)
        for child in discovery.follow:
            if sitemaps_seen < MAX_SITEMAPS_PER_POLL:
                sitemaps_seen += 1
                entries.append((child, "sitemap", None))
        for candidate in discovery.candidates:
            key = article_key(candidate.url, source.id_pattern)
            found[key] = _newer(found.get(key), candidate)
    if lifetimes and None not in lifetimes:
        report.fresh_for = min(x for x in lifetimes if x is not None)
    return found


def _newer(old: Candidate | None, new: Candidate) -> Candidate:
    """Of two sightings of one article keep the newer date (an updated story), and any title."""
    if old is None:
        return new
    if new.published_at and (old.published_at is None or new.published_at > old.published_at):
        return replace(new, title=new.title or old.title, summary=new.summary or old.summary)
    return replace(old, title=old.title or new.title, summary=old.summary or new.summary)


def decide(
    source: Source,
    candidates: dict[str, Candidate],
    known: dict[str, KnownArticle],
    cap: int,
) -> Plan:
    """Step 2 (pure): fetch what is new, re-fetch what a feed dates later than before."""
    to_fetch, seen = [], []
    for key, candidate in candidates.items():
        archived = known.get(key)
        if archived is None:
            to_fetch.append((key, candidate))
        elif (
            candidate.published_at
            and archived.listed_at
            and candidate.published_at > archived.listed_at
        ):
            to_fetch.append((key, candidate))  # e.g. AZERTAC "YENİLƏNİB": same id, newer date
        else:
            seen.append(archived.id)
    to_fetch.sort(
        key=lambda item: item[1].published_at or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    return Plan(fetch=to_fetch[:cap], seen_ids=seen, deferred=max(0, len(to_fetch) - cap))


async def _archive(
    source: Source, key: str, candidate: Candidate, deps: Deps, report: SourceReport
) -> None:
    """Steps 3-5 for one article."""
    page = await _fetch(candidate.fetch_url, "article", source, deps, report, conditional=False)
    if page is None:
        return
    extracted = extract_article(
        page.text, page.final_url, rules=source.article, zone=source.zone, language=source.language
    )
    ref = deps.warc.write(page)
    record = build_record(source, key, candidate, page, extracted, ref)
    saved = deps.store.save_article(record)
    outcome = saved.outcome
    if extracted.is_empty:
        report.empty += 1
    if outcome != "unchanged":
        if dedupe_in_order(deps.store, source, deps.aggregators, saved.article_id):
            report.duplicates += 1
        if tag_article(
            deps.store, deps.rules, saved.article_id, record.title, record.text
        ).relevant:
            report.relevant += 1
    if outcome == "new":
        report.new += 1
        report.new_titles.append(record.title)
    elif outcome == "updated":
        report.updated += 1
    else:
        report.unchanged += 1


def tag_article(store: Store, rules: Rules, article_id: int, title: str, text: str) -> Tagging:
    """Step 7: relevance, topics and entities by the operator's rules, stored with the article.
    `monitor classify` calls the same `tag` on the same title and text, so both agree."""
    tagging = tag(title, text, rules)
    store.save_tagging(
        article_id,
        relevant=tagging.relevant,
        score=tagging.score,
        reasons=tagging.reasons,
        topics=tagging.topics,
        entities=[EntityRow(e.kind, e.id, e.name, e.count) for e in tagging.entities],
        tagged_with=tagged_with(rules),
    )
    return tagging


def tagged_with(rules: Rules) -> str:
    """What produced a tagging: the tagger's version and a digest of the rules, so `monitor
    retag` can skip what the current rules already tagged."""
    digest = hashlib.sha256(rules.model_dump_json().encode()).hexdigest()[:12]
    return f"{TAGGER_VERSION}:{digest}"


def ensure_seeds(deps: Deps, now: datetime) -> None:
    """Before the first poll of an empty archive, archive the seed corpus: the dedupe baseline."""
    if deps.store.count_articles() == 0 and (deps.settings.seeds_dir / "seeds.yaml").exists():
        seeds = load_seeds(deps.settings.seeds_dir)
        counts = archive_seeds(deps.store, seeds, now, deps.rules)
        log.info("archived the seed corpus: %s", counts)


def archive_seeds(
    store: Store, seeds: list[SeedDocument], now: datetime, rules: Rules
) -> dict[str, int]:
    """Store every seed as an article of source "seed" and index it for dedupe. Idempotent."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for seed in seeds:
        key = f"seed:{seed.id}"
        published = datetime.combine(seed.published, time(), UTC) if seed.published else None
        saved = store.save_article(
            ArticleRecord(
                source=SEED_SOURCE,
                key=key,
                aliases=(key,),
                url=seed.url or key,
                title=seed.title,
                text=seed.text,
                author=seed.author,
                lang=seed.language,
                published_at=published,
                date_source="manifest" if seed.published else "unknown",
                listed_at=None,
                fetched_at=now,
                content_hash=content_hash(seed.title, seed.text),
                extraction="seed",
                http_status=0,
                warc=None,
            )
        )
        counts[saved.outcome] += 1
        dedupe_article(store, saved.article_id)
        tag_article(store, rules, saved.article_id, seed.title, seed.text)
    return counts


def build_record(
    source: Source,
    key: str,
    candidate: Candidate,
    page: Page,
    extracted: ExtractedArticle,
    ref: WarcRef | None,
) -> ArticleRecord:
    """Pure: the archive row for an extracted page, with its date and identity settled."""
    url = canonical_url(page.final_url)
    if extracted.canonical_url and same_site(extracted.canonical_url, source.homepage):
        url = canonical_url(extracted.canonical_url, base=page.final_url)
    aliases = (
        key,
        article_key(url, source.id_pattern),
        article_key(candidate.url, source.id_pattern),
    )
    published: datetime | None
    if extracted.published_at:
        published, date_source = extracted.published_at, "page"
    elif candidate.published_at:
        published, date_source = candidate.published_at, "feed"
    else:  # the fetch time is not a publication date: say it is unknown
        published, date_source = None, "unknown"
    title = extracted.title or candidate.title or url
    return ArticleRecord(
        source=source.name,
        key=key,
        aliases=tuple(dict.fromkeys(aliases)),
        url=url,
        title=title,
        text=extracted.text,
        author=extracted.author,
        lang=extracted.lang or source.language,
        published_at=published,
        date_source=date_source,
        listed_at=candidate.published_at,
        fetched_at=page.fetched_at,
        content_hash=content_hash(title, extracted.text),
        extraction=extracted.method,
        http_status=page.status,
        warc=ref,
    )


async def _fetch(
    url: str,
    purpose: str,
    source: Source,
    deps: Deps,
    report: SourceReport,
    *,
    conditional: bool,
) -> Page | None:
    validators = deps.store.validators(url) if conditional else None
    try:
        page = await deps.fetcher.get(
            url, source=source.name, purpose=purpose, validators=validators
        )
    except FetchError as exc:
        report.errors.append(f"{purpose} {url}: {exc.kind}: {exc}")
        if exc.retry_after:
            report.retry_after = max(report.retry_after or 0, exc.retry_after)
        return None
    except MonitorError as exc:
        report.errors.append(f"{purpose} {url}: {exc}")
        return None
    if page.not_modified:
        report.not_modified += 1
    return page
