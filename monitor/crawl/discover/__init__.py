"""Discovery: from a fetched feed, sitemap or listing page to the article URLs worth fetching.

Each kind of page has its own pure parser (`feed`, `sitemap`, `listing`); `discover` picks one
through the `DISCOVERERS` registry and keeps only the URLs that can be the source's articles,
so a feed that links to another site or a sitemap that lists images cannot widen what a source
archives. A new kind of discovery (say, a JSON API) is one function with the `Discoverer`
signature added to `DISCOVERERS`; the pipeline then accepts it by name without other changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.config.sources import Source
from monitor.core.records import Candidate
from monitor.crawl.discover.feed import parse_feed
from monitor.crawl.discover.listing import parse_listing
from monitor.crawl.discover.sitemap import SitemapPage, parse_sitemap
from monitor.crawl.urls import is_article_url, same_site

__all__ = [
    "DISCOVERERS",
    "Discoverer",
    "Discovery",
    "SitemapPage",
    "discover",
    "parse_feed",
    "parse_listing",
    "parse_sitemap",
]


@dataclass(frozen=True)
class Discovery:
    """What one discovery page yielded: article candidates, and further URLs to fetch and
    discover with the same kind (the child sitemaps of a sitemap index)."""

    candidates: list[Candidate] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)


# (body, text, url, source, selector) → Discovery. `text` is the body decoded by the fetcher.
Discoverer = Callable[[bytes, str, str, Source, str | None], Discovery]


def _from_feed(body: bytes, text: str, url: str, source: Source, selector: str | None) -> Discovery:
    return Discovery(candidates=parse_feed(body, url, source.zone))


def _from_sitemap(
    body: bytes, text: str, url: str, source: Source, selector: str | None
) -> Discovery:
    page = parse_sitemap(body, url, source.zone)
    return Discovery(candidates=page.candidates, follow=page.sitemaps)


def _from_listing(
    body: bytes, text: str, url: str, source: Source, selector: str | None
) -> Discovery:
    if not selector:
        raise ValueError(f"a listing needs its selector ({url})")
    html = text or body.decode("utf-8", errors="replace")
    return Discovery(candidates=parse_listing(html, url, selector, source.zone))


DISCOVERERS: dict[str, Discoverer] = {
    "feed": _from_feed,
    "sitemap": _from_sitemap,
    "listing": _from_listing,
}


def discover(
    kind: str,
    body: bytes,
    text: str,
    url: str,
    source: Source,
    *,
    selector: str | None = None,
) -> Discovery:
    """Parse one fetched discovery page of `kind` and keep what may be `source`'s articles.

    Candidates must pass `is_article_url`; URLs to follow must be on the source's site. Raises
    ParseError (from the parsers) for a page that cannot be read, and ValueError for an unknown
    kind or a listing without a selector, both bugs in the caller.
    """
    try:
        discoverer = DISCOVERERS[kind]
    except KeyError:
        known = ", ".join(sorted(DISCOVERERS))
        raise ValueError(f"unknown discovery kind {kind!r}; known kinds: {known}") from None
    found = discoverer(body, text, url, source, selector)
    return Discovery(
        candidates=[c for c in found.candidates if is_article_url(c.url, source)],
        follow=[link for link in found.follow if same_site(link, source.homepage)],
    )
