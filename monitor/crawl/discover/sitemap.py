"""XML sitemaps, streamed → candidates and child sitemaps. The only module that imports lxml.

A sitemap is either a `urlset` (article URLs, perhaps with Google News titles and dates) or a
`sitemapindex` (more sitemaps to fetch, given newest first). Some are large (50,000 URLs and 10 MB or more is within
the protocol's limits, and sites exceed them), so a sitemap is never built as a whole tree: the
inflated bytes are fed to lxml's `iterparse` in chunks, each `<url>` is read when it closes and
then dropped, and only the `cap` newest entries are kept (a heap; undated entries rank after
dated ones). Memory is then bounded by the cap, not by the document; what the cap left out is
counted, so the poll can say so, and it is the oldest, which a later poll has no need for either.

Sitemaps come from the open internet and may be gzipped whatever their URL or content type says,
so the body is sniffed for gzip and inflated chunk by chunk with a ceiling, and the XML parser
neither fetches nor expands entities: a document that declares entities is refused when its root
opens, since no real sitemap needs them and a billion-laughs or XXE payload is the only reason to
write one. Elements are matched by local name, because sitemaps in the wild get their namespaces
wrong more often than their structure.
"""

from __future__ import annotations

import heapq
import html
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from itertools import chain
from typing import Generic, TypeVar
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from lxml import etree

from monitor.core.errors import ParseError
from monitor.core.records import Candidate
from monitor.crawl.urls import http_link

MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 64 * 1024
_BLANKS = b" \t\r\n"
_WHITESPACE = re.compile(r"\s+")
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "remove_comments": True,
    "remove_pis": True,
}

T = TypeVar("T")


@dataclass(frozen=True)
class SitemapPage:
    """What one sitemap file lists: article candidates, and child sitemaps when it is an index;
    `left_out` counts the entries past the cap (the oldest), not taken this time."""

    candidates: list[Candidate] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    left_out: int = 0


def parse_sitemap(
    body: bytes,
    url: str,
    zone: ZoneInfo,
    *,
    max_bytes: int = MAX_DECOMPRESSED_BYTES,
    cap: int | None = None,
    accept: Callable[[str], bool] | None = None,
) -> SitemapPage:
    """Read a urlset or sitemapindex, gzipped or not; dates without a zone are local to `zone`.

    Keeps at most `cap` entries (None: all), the newest by news date or lastmod: candidates in
    document order, child sitemaps newest first (by lastmod; undated after dated, then in
    document order), since a poll follows only the first few. `accept` (say, "is one of the
    source's articles") is asked before the cap, so URLs that would be dropped anyway take no
    place in it. An entry too old for the cap is passed over unread (its URL is the costly
    part): `left_out` counts it whatever its URL, so it is an upper bound of the articles left
    out.

    Raises ParseError for an empty, malformed, oversized or entity-declaring body, or for an XML
    document that is not a sitemap.
    """
    chunks = _inflated(body, url, max_bytes) if body.startswith(_GZIP_MAGIC) else _slices(body)
    kept: Newest[Candidate] = Newest(cap)
    children: Newest[str] = Newest(cap)
    try:
        for kind, entry in _entries(_ChunkReader(_content(chunks, url)), url):
            if kind == "url":
                published = _entry_date(entry, zone)
                if not kept.has_room_for(published):  # known before the costly canonical URL
                    kept.pass_over()
                    continue
                candidate = _candidate(entry, url, published)
                if candidate is not None and (accept is None or accept(candidate.url)):
                    kept.offer(candidate.url, published, candidate)
            elif kind == "sitemap":
                child = _child_sitemap(entry, url)
                if child is not None:
                    lastmod = _w3c_date(_child_text(entry, "lastmod"), zone)
                    children.offer(child, lastmod, child)
    except etree.XMLSyntaxError as exc:
        raise ParseError(url, f"malformed XML: {exc}") from exc
    return SitemapPage(
        candidates=kept.in_order(),
        sitemaps=children.newest_first(),
        left_out=kept.left_out + children.left_out,
    )


# -- the byte stream ----------------------------------------------------------------------------


def _slices(body: bytes) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(view), _CHUNK):
        yield bytes(view[start : start + _CHUNK])


def _inflated(body: bytes, url: str, max_bytes: int) -> Iterator[bytes]:
    """Inflate gzip members one bounded chunk at a time, so a gzip bomb stops at the ceiling.

    Input is fed in slices of `_CHUNK` bytes, never the whole rest of the body: zlib copies the
    input it has not consumed yet at every call, which over a large body would cost its square."""
    view, at, total = memoryview(body), 0, 0
    while view[at : at + 2] == _GZIP_MAGIC:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while not inflater.eof and at < len(view):
                piece: bytes | memoryview = view[at : at + _CHUNK]
                at += len(piece)
                while piece and not inflater.eof:
                    out = inflater.decompress(piece, _CHUNK)
                    piece = inflater.unconsumed_tail
                    total += len(out)
                    if total > max_bytes:
                        raise ParseError(url, f"sitemap inflates to more than {max_bytes} bytes")
                    if out:
                        yield out
        except zlib.error as exc:
            raise ParseError(url, f"broken gzip data: {exc}") from exc
        if not inflater.eof:
            raise ParseError(url, "gzip data ends early")
        at -= len(inflater.unused_data)  # what follows this member is read as the next
        while at < len(view) and view[at] == 0:
            at += 1


def _content(chunks: Iterator[bytes], url: str) -> Iterator[bytes]:
    """The chunks from the first one that is not blank, its leading blanks cut (an XML
    declaration after blank lines is an error to libxml2); ParseError when all are blank."""
    for chunk in chunks:
        text = chunk.lstrip(_BLANKS)
        if text:
            return chain([text], chunks)
    raise ParseError(url, "empty body where a sitemap was expected")


class _ChunkReader:
    """The file-like object `iterparse` reads: `read(size)` from an iterator of chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = chunk
        if 0 <= size < len(self._pending):
            out, self._pending = self._pending[:size], self._pending[size:]
        else:
            out, self._pending = self._pending, b""
        return out


# -- the XML ------------------------------------------------------------------------------------


def _entries(source: _ChunkReader, url: str) -> Iterator[tuple[str, etree._Element]]:
    """(local name, element) for each complete child of the root, which is dropped once the
    caller has read it, so the tree never holds more than one entry."""
    depth, root = 0, None
    for event, element in etree.iterparse(source, events=("start", "end"), **_PARSER_OPTIONS):
        if event == "start":
            if root is None:
                root = element
                _check_root(element, url)
            depth += 1
            continue
        depth -= 1
        if depth == 1 and root is not None:
            yield etree.QName(element).localname, element
            element.clear(keep_tail=False)
            while element.getprevious() is not None:  # the parser may still point at `element`
                del root[0]
    if root is None:
        raise ParseError(url, "malformed XML: no root element")


def _check_root(root: etree._Element, url: str) -> None:
    """Refuse, as soon as the root opens, a document declaring entities or not a sitemap."""
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError(url, "sitemap declares XML entities; refusing to read it")
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise ParseError(url, f"root element <{kind}> is neither a urlset nor a sitemapindex")


def _entry_date(entry: etree._Element, zone: ZoneInfo) -> datetime | None:
    """A `<url>`'s Google News publication date, else its lastmod."""
    news = next(_children(entry, "news"), None)
    published = None if news is None else _child_text(news, "publication_date")
    return _w3c_date(published, zone) or _w3c_date(_child_text(entry, "lastmod"), zone)


def _candidate(entry: etree._Element, base: str, published: datetime | None) -> Candidate | None:
    loc = _child_text(entry, "loc")
    if not loc:
        return None
    link = http_link(loc, base)
    if link is None:
        return None
    news = next(_children(entry, "news"), None)
    title = language = None
    if news is not None:
        title = _child_text(news, "title")
        publication = next(_children(news, "publication"), None)
        if publication is not None:
            language = _child_text(publication, "language")
    return Candidate(
        url=link,
        link=urljoin(base, loc.strip()),
        via="sitemap",
        title=_clean_title(title),
        published_at=published,
        lang=language.lower() if language else None,
    )


def _clean_title(title: str | None) -> str | None:
    """Entities decoded once more (news titles are often escaped twice), whitespace collapsed."""
    if not title:
        return None
    return _WHITESPACE.sub(" ", html.unescape(title)).strip() or None


def _child_sitemap(entry: etree._Element, base: str) -> str | None:
    """A child sitemap's URL, resolved but otherwise as written: it is fetched, not compared."""
    loc = _child_text(entry, "loc")
    child = urljoin(base, loc) if loc else None
    return child if child and child.startswith(("http://", "https://")) else None


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


# -- the cap ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kept(Generic[T]):
    rank: tuple[int, float, int]
    listed: int  # position of its first listing
    item: T


class Newest(Generic[T]):
    """The `cap` newest items offered (None: every one), one per key.

    A key offered again keeps its newest date and its first place in the list. Dated items rank
    above undated ones, newer above older, and among equals the one listed first. A min-heap of
    ranks finds the item to drop in O(log cap); entries a newer date made stale are skipped when
    they surface, and the heap is rebuilt when they would double its size, so memory stays
    proportional to the cap. `left_out` counts offers not kept: refused, or dropped for a newer
    one (a URL listed twice and dropped counts twice).
    """

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.left_out = 0
        self._kept: dict[str, _Kept[T]] = {}
        self._heap: list[tuple[tuple[int, float, int], str]] = []
        self._offers = 0

    def offer(self, key: str, when: datetime | None, item: T) -> None:
        self._offers += 1
        held = self._kept.get(key)
        if held is not None:
            if _newer(when, held.rank):
                self._keep(key, _Kept(_rank(when, held.listed), held.listed, item))
            return
        kept = _Kept(_rank(when, self._offers), self._offers, item)
        if self.cap is not None and len(self._kept) >= self.cap:
            lowest = self._lowest()
            if kept.rank <= self._kept[lowest].rank:
                self.left_out += 1
                return
            del self._kept[lowest]
            heapq.heappop(self._heap)
            self.left_out += 1
        self._keep(key, kept)

    def has_room_for(self, when: datetime | None) -> bool:
        """Whether an item of this date, offered next, could be kept (a new key's answer)."""
        if self.cap is None or len(self._kept) < self.cap:
            return True
        return _rank(when, self._offers + 1) > self._kept[self._lowest()].rank

    def pass_over(self) -> None:
        """Count an item not offered because `has_room_for` said no."""
        self._offers += 1
        self.left_out += 1

    def in_order(self) -> list[T]:
        """The kept items in the order they were first listed."""
        return [kept.item for kept in sorted(self._kept.values(), key=lambda k: k.listed)]

    def newest_first(self) -> list[T]:
        """The kept items from the highest rank down (undated last, ties as first listed)."""
        ranked = sorted(self._kept.values(), key=lambda k: k.rank, reverse=True)
        return [kept.item for kept in ranked]

    def _keep(self, key: str, kept: _Kept[T]) -> None:
        self._kept[key] = kept
        heapq.heappush(self._heap, (kept.rank, key))
        if len(self._heap) > 2 * len(self._kept) + 64:
            self._heap = [(held.rank, name) for name, held in self._kept.items()]
            heapq.heapify(self._heap)

    def _lowest(self) -> str:
        """The key of the lowest-ranked item kept, stale heap entries discarded on the way."""
        while True:
            rank, key = self._heap[0]
            held = self._kept.get(key)
            if held is not None and held.rank == rank:
                return key
            heapq.heappop(self._heap)


def _rank(when: datetime | None, listed: int) -> tuple[int, float, int]:
    """Undated below dated, older below newer, listed later below listed earlier."""
    return (0, 0.0, -listed) if when is None else (1, when.timestamp(), -listed)


def _newer(when: datetime | None, rank: tuple[int, float, int]) -> bool:
    return when is not None and (rank[0] == 0 or when.timestamp() > rank[1])
