"""XML sitemaps → candidates and child sitemaps. The only module that imports lxml.

A sitemap is either a `urlset` (article URLs, perhaps with Google News titles and dates) or a
`sitemapindex` (more sitemaps to fetch). Sitemaps come from the open internet and may be
gzipped whatever their URL or content type says, so the body is sniffed for gzip and inflated
with a ceiling, and the XML parser neither fetches nor expands entities: a document that
declares entities is refused outright, since no real sitemap needs them and a billion-laughs
or XXE payload is the only reason to write one. Elements are matched by local name, because
sitemaps in the wild get their namespaces wrong more often than their structure.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from lxml import etree

from monitor.core.errors import ParseError
from monitor.core.records import Candidate
from monitor.crawl.urls import http_link

MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SitemapPage:
    """What one sitemap file lists: article candidates, and child sitemaps when it is an index."""

    candidates: list[Candidate] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def parse_sitemap(
    body: bytes, url: str, zone: ZoneInfo, *, max_bytes: int = MAX_DECOMPRESSED_BYTES
) -> SitemapPage:
    """Read a urlset or sitemapindex, gzipped or not; dates without a zone are local to `zone`.

    Raises ParseError for an empty, malformed, oversized or entity-declaring body, or for an XML
    document that is not a sitemap.
    """
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body, url, max_bytes)
    body = body.lstrip(b" \t\r\n")  # an XML declaration after blank lines is an error to libxml2
    if not body:
        raise ParseError(url, "empty body where a sitemap was expected")
    root = _parse_xml(body, url)
    kind = etree.QName(root).localname
    if kind == "urlset":
        return SitemapPage(candidates=_url_entries(root, url, zone))
    if kind == "sitemapindex":
        return SitemapPage(sitemaps=_child_sitemaps(root, url))
    raise ParseError(url, f"root element <{kind}> is neither a urlset nor a sitemapindex")


def _gunzip(body: bytes, url: str, max_bytes: int) -> bytes:
    """Inflate gzip members one bounded chunk at a time, so a gzip bomb stops at the ceiling."""
    out = bytearray()
    data = body
    while data.startswith(_GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while not inflater.eof:
                chunk = inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
                if not chunk and not data:
                    break
                out += chunk
                if len(out) > max_bytes:
                    raise ParseError(url, f"sitemap inflates to more than {max_bytes} bytes")
        except zlib.error as exc:
            raise ParseError(url, f"broken gzip data: {exc}") from exc
        if not inflater.eof:
            raise ParseError(url, "gzip data ends early")
        data = inflater.unused_data.lstrip(b"\0")
    return bytes(out)


def _parse_xml(body: bytes, url: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(url, f"malformed XML: {exc}") from exc
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError(url, "sitemap declares XML entities; refusing to read it")
    return root


def _url_entries(root: etree._Element, base: str, zone: ZoneInfo) -> list[Candidate]:
    """One candidate per distinct canonical `<loc>`, in document order, newest date kept."""
    chosen: dict[str, Candidate] = {}
    for entry in _children(root, "url"):
        candidate = _candidate(entry, base, zone)
        if candidate is None:
            continue
        kept = chosen.get(candidate.url)
        if kept is None or _newer(candidate.published_at, kept.published_at):
            chosen[candidate.url] = candidate
    return list(chosen.values())


def _candidate(entry: etree._Element, base: str, zone: ZoneInfo) -> Candidate | None:
    loc = _child_text(entry, "loc")
    if not loc:
        return None
    link = http_link(loc, base)
    if link is None:
        return None
    news = next(_children(entry, "news"), None)
    title = language = published = None
    if news is not None:
        title = _child_text(news, "title")
        published = _w3c_date(_child_text(news, "publication_date"), zone)
        publication = next(_children(news, "publication"), None)
        if publication is not None:
            language = _child_text(publication, "language")
    return Candidate(
        url=link,
        link=urljoin(base, loc.strip()),
        via="sitemap",
        title=_clean_title(title),
        published_at=published or _w3c_date(_child_text(entry, "lastmod"), zone),
        lang=language.lower() if language else None,
    )


def _clean_title(title: str | None) -> str | None:
    """Entities decoded once more (news titles are often escaped twice), whitespace collapsed."""
    if not title:
        return None
    return _WHITESPACE.sub(" ", html.unescape(title)).strip() or None


def _child_sitemaps(root: etree._Element, base: str) -> list[str]:
    """Child sitemap URLs, resolved but otherwise as written: they are fetched, not compared."""
    found: list[str] = []
    for entry in _children(root, "sitemap"):
        loc = _child_text(entry, "loc")
        if not loc:
            continue
        child = urljoin(base, loc)
        if child.startswith(("http://", "https://")) and child not in found:
            found.append(child)
    return found


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    """Direct child elements with local name `name`, whatever their namespace."""
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            yield child


def _child_text(element: etree._Element, name: str) -> str | None:
    child = next(_children(element, name), None)
    if child is None:
        return None
    text = "".join(child.itertext()).strip()
    return text or None


def _w3c_date(raw: str | None, zone: ZoneInfo) -> datetime | None:
    """W3C datetime ("2026-09-14", "2026-09-14T10:05:00+05:00", "…Z"); a bare date is midnight."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if len(raw) <= 10:  # a date alone
        moment = datetime.combine(moment.date(), time(0, 0))
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _newer(candidate: datetime | None, kept: datetime | None) -> bool:
    return candidate is not None and (kept is None or candidate > kept)
