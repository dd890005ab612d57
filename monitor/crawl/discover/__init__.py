"""Discovery: from a fetched feed, sitemap or listing page to the article URLs worth fetching.

Each kind of page has its own pure parser (`feed`, `sitemap`, `listing`); `discover` picks one
through the `DISCOVERERS` registry and keeps only the URLs that can be the source's articles,
so a feed that links to another site or a sitemap that lists images cannot widen what a source
archives. A page yields at most `cap` candidates, the newest: a sitemap of 100,000 URLs is read
as a stream and only the cap's worth kept (`sitemap.Newest`), and what was left out is counted.
A new kind of discovery (say, a JSON API) is one function from a `DiscoveryPage` to a `Discovery`
added to `DISCOVERERS`; the pipeline then accepts it by name without other changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.config.sources import Source
from monitor.core.records import Candidate
from monitor.crawl.discover.feed import parse_feed
from monitor.crawl.discover.listing import parse_listing
from monitor.crawl.discover.sitemap import Newest, SitemapPage, parse_sitemap
from monitor.crawl.urls import is_article_url, same_site

__all__ = [
    "DISCOVERERS",
    "Discoverer",
    "Discovery",
    "DiscoveryPage",
    "Newest",
    "SitemapPage",
    "discover",
    "parse_feed",
    "parse_listing",
    "parse_sitemap",
]


@dataclass(frozen=True)
class Discovery:
    """What one discovery page yielded: article candidates, and further URLs to fetch and
    discover with the same kind (the child sitemaps of a sitemap index); `left_out` counts the
    entries past the cap, the oldest, that this page listed but did not yield."""

    candidates: list[Candidate] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)
    left_out: int = 0


Wanted = Callable[[str], bool]


@dataclass(frozen=True)
class DiscoveryPage:
    """One fetched discovery page as a discoverer reads it. `text` is the body decoded by the
    fetcher; `selector` is a listing's; `cap` (None: no cap) is a bound the discoverer may apply
    while it reads, as the sitemap's does, to hold no more than that, counting only the URLs
    `wanted` says yes to. `discover` applies both to whatever comes back, so a discoverer may
    ignore them."""

    body: bytes
    text: str
    url: str
    source: Source
    selector: str | None
    cap: int | None
    wanted: Wanted


Discoverer = Callable[[DiscoveryPage], Discovery]


def _from_feed(page: DiscoveryPage) -> Discovery:
    return Discovery(candidates=parse_feed(page.body, page.url, page.source.zone))


def _from_sitemap(page: DiscoveryPage) -> Discovery:
    read = parse_sitemap(page.body, page.url, page.source.zone, cap=page.cap, accept=page.wanted)
    return Discovery(candidates=read.candidates, follow=read.sitemaps, left_out=read.left_out)


def _from_listing(page: DiscoveryPage) -> Discovery:
    if not page.selector:
        raise ValueError(f"a listing needs its selector ({page.url})")
    html = page.text or page.body.decode("utf-8", errors="replace")
    return Discovery(candidates=parse_listing(html, page.url, page.selector, page.source.zone))


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
    cap: int | None = None,
    known: Wanted | None = None,
) -> Discovery:
    """Parse one fetched discovery page of `kind` and keep what may be `source`'s articles.

    Candidates must pass `is_article_url`; URLs to follow must be on the source's site. At most
    `cap` candidates are kept (None: all), the newest by the date the page gives them, undated
    after dated, in the page's order. Raises ParseError (from the parsers) for a page that
    cannot be read, and ValueError for an unknown kind or a listing without a selector, both
    bugs in the caller. URLs `known` says the archive has already are passed over before the
    cap counts, so a capped sitemap yields the newest URLs not yet taken: read again, it yields
    the next ones.
    """
    try:
        discoverer = DISCOVERERS[kind]
    except KeyError:
        kinds = ", ".join(sorted(DISCOVERERS))
        raise ValueError(f"unknown discovery kind {kind!r}; known kinds: {kinds}") from None

    def wanted(link: str) -> bool:
        return is_article_url(link, source) and not (known and known(link))

    found = discoverer(DiscoveryPage(body, text, url, source, selector, cap, wanted))
    kept: Newest[Candidate] = Newest(cap)
    for place, candidate in enumerate(found.candidates):  # keyed by place: the pipeline merges
        if wanted(candidate.url):  # repeats by article key, titles and all
            kept.offer(str(place), candidate.published_at, candidate)
    return Discovery(
        candidates=kept.in_order(),
        follow=[link for link in found.follow if same_site(link, source.homepage)],
        left_out=found.left_out + kept.left_out,
    )
