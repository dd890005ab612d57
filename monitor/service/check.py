"""The operator's live self-check of the sources (`monitor check`), field by field.

Run once after deploying, and again when `monitor status` shows a source failing: for each source
it fetches every feed and listing and up to `ARTICLES_PER_SOURCE` of the articles they link, and
says for each field of the source in sources.yaml what it found, with the field's evidence label
beside it. Nothing is stored: the archive, the frontier and the source's schedule are left alone,
so a check never changes what the next poll does.

Each field ends in one of three states. `ok`: the field did its job. `fallback`: the field found
nothing but what the source names after it did (the second listing, the page's printed date, the
feed's date, generic extraction), so the articles still come in, but the field is stale.
`broken`: nothing found, or something that is not an article (a Cloudflare page, a body that is
mostly link texts, a date in the future, a title the page's own og:title contradicts). A source
with a broken field is broken, and `monitor check` exits 1.

`check_source` does the I/O; `judge_entry` and `judge_article` decide, as pure functions of what
was fetched and the time, so the rules can be tested without a network.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.core.errors import ChallengePage, FetchError, ParseError
from monitor.core.records import Candidate, Page
from monitor.crawl.discover import discover
from monitor.crawl.fetch import Fetcher, looks_like_challenge
from monitor.crawl.urls import article_key
from monitor.extract.reading import PageReading, read_page
from monitor.text.paragraphs import comparable

ARTICLES_PER_SOURCE = 3
BODY_WORDS = 12  # the first words of a body shown: enough to tell a story from page chrome
MOSTLY_LINKS = 0.5  # a body with more of its text in link texts than this is a listing
FUTURE_MARGIN = timedelta(hours=1)  # a site's clock may run a little ahead of ours

State = Literal["ok", "fallback", "broken"]
_RANK = {"ok": 0, "fallback": 1, "broken": 2}


@dataclass(frozen=True)
class FieldCheck:
    """One field of a source (`feeds.0`, `listings.1`, `article.body`) and what it did."""

    field: str
    state: State
    found: str  # what it found, in words: "4 article links", "selector h1: 'Headline'"
    label: str | None  # the field's evidence label in sources.yaml
    url: str = ""  # the page it was checked on


@dataclass(frozen=True)
class ArticleCheck:
    """One article page: what extraction made of it, and where each part came from."""

    url: str
    title: str
    title_from: str | None
    published_at: str | None  # ISO 8601 with the site's offset
    date_from: str | None  # "meta name=article:published_time", "page text …", "feed", None
    body_start: str  # the first words of the text
    method: str  # "selectors" | "trafilatura" | "empty" | "not fetched"
    fields: list[FieldCheck] = field(default_factory=list)


@dataclass(frozen=True)
class SourceCheck:
    source: str
    entries: list[FieldCheck]
    articles: list[ArticleCheck]

    @property
    def fields(self) -> list[FieldCheck]:
        return [*self.entries, *(check for article in self.articles for check in article.fields)]

    @property
    def state(self) -> State:
        return max((check.state for check in self.fields), key=_RANK.__getitem__, default="ok")

    @property
    def broken(self) -> bool:
        return self.state == "broken"

    def problems(self) -> list[FieldCheck]:
        """Each field that is not ok, once per field and state (the first page showing it)."""
        seen: set[tuple[str, str]] = set()
        found = []
        for check in self.fields:
            if check.state != "ok" and (check.field, check.state) not in seen:
                seen.add((check.field, check.state))
                found.append(check)
        return found


# -- the I/O ------------------------------------------------------------------------------------


async def check_live(sources: list[Source], settings: Settings, now: datetime) -> list[SourceCheck]:
    """Every source checked with a fetcher of its own settings (User-Agent, robots.txt, delays,
    retries), as the monitor polls; robots.txt is read afresh, not from the archive."""
    async with Fetcher(settings) as fetcher:
        return await check_each(sources, fetcher, now)


async def check_each(sources: list[Source], fetcher: Fetcher, now: datetime) -> list[SourceCheck]:
    """Every source checked at once (the fetcher keeps each host polite); in `sources` order."""
    return list(await asyncio.gather(*(check_source(s, fetcher, now) for s in sources)))


async def check_source(source: Source, fetcher: Fetcher, now: datetime) -> SourceCheck:
    entries: list[FieldCheck] = []
    candidates: dict[str, Candidate] = {}
    ways_in: list[tuple[str, str, str, str | None]] = [
        (f"feeds.{i}", "feed", url, None) for i, url in enumerate(source.feeds)
    ]
    ways_in += [(f"sitemaps.{i}", "sitemap", url, None) for i, url in enumerate(source.sitemaps)]
    ways_in += [
        (f"listings.{i}", "listing", listing.url, listing.selector)
        for i, listing in enumerate(source.listings)
    ]
    for name, kind, url, selector in ways_in:
        found, failure = await _discover(source, fetcher, kind, url, selector)
        entries.append(judge_entry(source, name, url, selector, found, failure))
        for candidate in found:
            candidates.setdefault(article_key(candidate.url, source.id_pattern), candidate)
    chosen = list(candidates.values())[:ARTICLES_PER_SOURCE]
    articles = [await _check_article(source, fetcher, candidate, now) for candidate in chosen]
    return SourceCheck(source.name, entries, articles)


async def _discover(
    source: Source, fetcher: Fetcher, kind: str, url: str, selector: str | None
) -> tuple[list[Candidate], str | None]:
    try:
        page = await fetcher.get(url, source=source.name, purpose=kind)
        if looks_like_challenge(page.body):
            return [], "a Cloudflare challenge page, not a " + kind
        found = await asyncio.to_thread(
            discover, kind, page.body, page.text, page.final_url, source, selector=selector
        )
    except ChallengePage as exc:
        return [], f"a Cloudflare challenge page ({exc})"
    except (FetchError, ParseError) as exc:
        return [], str(exc)
    return found.candidates, None


async def _check_article(
    source: Source, fetcher: Fetcher, candidate: Candidate, now: datetime
) -> ArticleCheck:
    try:
        page = await fetcher.get(candidate.url, source=source.name, purpose="page")
    except FetchError as exc:
        reason = (
            f"a Cloudflare challenge page ({exc})" if isinstance(exc, ChallengePage) else str(exc)
        )
        failed = FieldCheck("article page", "broken", reason, None, candidate.url)
        return ArticleCheck(candidate.url, "", None, None, None, "", "not fetched", [failed])
    reading = await asyncio.to_thread(_read, source, page)
    return judge_article(source, candidate, page, reading, now)


def _read(source: Source, page: Page) -> PageReading:
    return read_page(
        page.text, page.final_url, rules=source.article, zone=source.zone, language=source.language
    )


# -- the deciders -------------------------------------------------------------------------------


def judge_entry(
    source: Source,
    name: str,
    url: str,
    selector: str | None,
    found: list[Candidate],
    failure: str | None,
) -> FieldCheck:
    """A feed, sitemap or listing: broken when it fails or links no article of the source."""
    label = source.label(name)
    if failure:
        return FieldCheck(name, "broken", failure, label, url)
    if not found:
        what = f"selector {selector!r} found" if selector else "it lists"
        return FieldCheck(
            name, "broken", f"no article links ({what} none the source's)", label, url
        )
    return FieldCheck(name, "ok", f"{len(found)} article links", label, url)


def judge_article(
    source: Source, candidate: Candidate, page: Page, reading: PageReading, now: datetime
) -> ArticleCheck:
    """What one article page gave, field by field (see the module's docstring for the states)."""
    article = reading.article
    published_at, date_from = article.published_at, reading.date_from
    if published_at is None and candidate.published_at is not None:
        published_at, date_from = candidate.published_at, "feed"
    checks = [
        *_page_checks(page, reading),
        _title_check(source, reading),
        _date_check(source, published_at, date_from, now),
        _body_check(source, reading),
    ]
    return ArticleCheck(
        url=candidate.url,
        title=article.title,
        title_from=reading.title_from,
        published_at=published_at.isoformat() if published_at else None,
        date_from=date_from,
        body_start=" ".join(article.text.split()[:BODY_WORDS]),
        method=article.method,
        fields=[replace(check, url=candidate.url) for check in checks],
    )


def _page_checks(page: Page, reading: PageReading) -> list[FieldCheck]:
    if looks_like_challenge(page.body):
        return [FieldCheck("article page", "broken", "a Cloudflare challenge page", None)]
    return []


def _title_check(source: Source, reading: PageReading) -> FieldCheck:
    rules, title = source.article, reading.article.title
    label = source.label("article.title")
    if not title:
        return FieldCheck("article.title", "broken", "no title found", label)
    if reading.og_title and not _agree(title, reading.og_title):
        found = f"{title!r} differs from og:title {reading.og_title!r}"
        return FieldCheck("article.title", "broken", found, label)
    found = f"{reading.title_from}: {title!r}"
    if rules.title and reading.title_from != f"selector {rules.title}":
        return FieldCheck("article.title", "fallback", f"selector found nothing; {found}", label)
    return FieldCheck("article.title", "ok", found, label)


def _agree(title: str, og_title: str) -> bool:
    """The headline and og:title name one story: one opens with the other (sites add a
    rubric or cut a long headline), compared letters and digits only."""
    shorter, longer = sorted((comparable(title), comparable(og_title)), key=len)
    return longer.startswith(shorter)


def _date_check(
    source: Source, published_at: datetime | None, date_from: str | None, now: datetime
) -> FieldCheck:
    rules = source.article
    field_name = "article.date" if rules.date or not rules.date_text else "article.date_text"
    label = source.label(field_name)
    if published_at is None:
        return FieldCheck(field_name, "fallback", "no date on the page or in the feed", label)
    found = f"{published_at.isoformat()} from {date_from}"
    if published_at > now + FUTURE_MARGIN:
        return FieldCheck(field_name, "broken", f"{found}, in the future", label)
    if rules.date and date_from != f"selector {rules.date}":
        return FieldCheck(field_name, "fallback", f"selector found nothing; {found}", label)
    if rules.date_text and not rules.date and not (date_from or "").startswith("page text"):
        return FieldCheck(field_name, "fallback", f"pattern found nothing; {found}", label)
    return FieldCheck(field_name, "ok", found, label)


def _body_check(source: Source, reading: PageReading) -> FieldCheck:
    article, rules = reading.article, source.article
    label = source.label("article.body")
    if article.method == "empty":
        return FieldCheck(
            "article.body", "broken", "no text found, by selectors or generically", label
        )
    words = len(article.text.split())
    if reading.link_share > MOSTLY_LINKS:
        share = f"{reading.link_share:.0%}"
        return FieldCheck("article.body", "broken", f"mostly links ({share} of the text)", label)
    if rules.body and article.method != "selectors":
        found = f"selector {rules.body!r} found nothing; generic extraction gave {words} words"
        return FieldCheck("article.body", "fallback", found, label)
    how = f"selector {rules.body!r}" if article.method == "selectors" else "generic extraction"
    return FieldCheck("article.body", "ok", f"{how}: {words} words", label)
