"""RSS and Atom feeds → candidates. The only module that imports feedparser.

feedparser forgives a lot, which is what we want for a truncated feed or one undefined entity,
but it also "parses" an HTML page or garbage into an empty result without complaint. A site that
answers its feed URL with HTML (a Cloudflare page, a redesign, apa.az/en/rss) must show up as a
`ParseError` on the source, not as a quiet day without news; so an unreadable body raises, and a
readable feed with no items returns an empty list.

Dates: feedparser normalises every date to a UTC `struct_time`, losing the publisher's offset
(AZERTAC's +0400, Kazinform's +0500). We read the raw string ourselves first and fall back to
feedparser's value only when we cannot.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import feedparser

from monitor.core.errors import ParseError
from monitor.core.records import Candidate
from monitor.crawl.urls import http_link

# Enough of the start of a body to get past a BOM, an XML declaration and a comment or two.
_SNIFF_BYTES = 2048
_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
    re.IGNORECASE | re.DOTALL,
)
_WHITESPACE = re.compile(r"\s+")
_COLON_OFFSET = re.compile(r"(\s[+-]\d{2}):(\d{2})$")
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
)


def parse_feed(body: bytes, url: str, zone: ZoneInfo) -> list[Candidate]:
    """The items of an RSS 2.0 or Atom feed, in feed order, one per canonical link.

    `url` is where the feed was fetched from (relative links resolve against it); a date
    without a zone is taken as local time in `zone`. Raises ParseError when the body is not a
    feed at all.
    """
    if not body.strip():
        raise ParseError(url, "empty body where a feed was expected")
    if _HTML_START.match(body[:_SNIFF_BYTES]):
        raise ParseError(url, "got an HTML page where a feed was expected")
    # A stream, never bytes: feedparser treats a bytes argument as a file name first. No base
    # URL is given, so links come back as written and `_entry_link` can tell a relative link
    # (resolved against `url`) from a guid that is no URL at all.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": "application/xml"},
        sanitize_html=True,
        resolve_relative_uris=False,
    )
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise ParseError(url, f"not a readable feed: {reason}")
    lang = _primary_language(parsed.feed.get("language"))
    candidates = [c for c in (_candidate(e, url, zone, lang) for e in parsed.entries) if c]
    if parsed.entries and not candidates:
        # a truncated or broken feed whose items lost their links must show as a failure,
        # not as a quiet day without news
        reason = parsed.get("bozo_exception") or "no item has a link"
        raise ParseError(url, f"feed items without usable links: {reason}")
    return _newest_per_url(candidates)


def _candidate(entry: Any, feed_url: str, zone: ZoneInfo, lang: str | None) -> Candidate | None:
    link = _entry_link(entry, feed_url)
    if link is None:
        return None
    return Candidate(
        url=link,
        link=urljoin(feed_url, (entry.get("link") or "").strip()),
        via="feed",
        title=_plain_text(entry.get("title")),
        published_at=_entry_date(entry, zone),
        summary=_plain_text(entry.get("summary") or _first_content(entry)),
        lang=lang,
    )


def _entry_link(entry: Any, feed_url: str) -> str | None:
    """The entry's link; a guid stands in only when it is itself an absolute http(s) URL.

    feedparser copies a permalink guid into `link` when there is no `<link>`; a guid such as
    "abc" resolved against the feed URL would invent an address, so that case is refused.
    """
    link = (entry.get("link") or "").strip()
    if not link:
        return None
    from_guid = entry.get("guidislink") and link == (entry.get("id") or "").strip()
    if from_guid and not re.match(r"(?i)https?://", link):
        return None
    return http_link(link, feed_url)


def _entry_date(entry: Any, zone: ZoneInfo) -> datetime | None:
    for raw_key, parsed_key in (("published", "published_parsed"), ("updated", "updated_parsed")):
        raw = (entry.get(raw_key) or "").strip()
        if not raw:
            continue
        moment = _parse_date(raw, zone)
        if moment is not None:
            return moment
        struct = entry.get(parsed_key)
        if struct:  # feedparser understood a format we do not; its value is UTC
            return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    return None


def _parse_date(raw: str, zone: ZoneInfo) -> datetime | None:
    """RFC 822 (RSS) or ISO 8601 (Atom), keeping the written offset; no offset → `zone`."""
    moment: datetime
    try:  # email.utils reads "+04:00" as no zone at all, so write it as "+0400" first
        moment = email.utils.parsedate_to_datetime(_COLON_OFFSET.sub(r"\1\2", raw))
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return None
    if moment.tzinfo is not None:
        return moment
    # RFC 5322's "-0000" is UTC from a sender that does not say its own offset (email.utils
    # returns it naive); anything else without an offset is the source's local time.
    return moment.replace(tzinfo=UTC if raw.endswith("-0000") else zone)


def _first_content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    return contents[0].get("value") if contents else None


def _primary_language(tag: str | None) -> str | None:
    """ "ru-RU" → "ru", "kk-Latn" → "kk"; the language codes sources.yaml uses."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip())[0].lower()
    return primary or None


def _plain_text(markup: str | None) -> str | None:
    """Text of a title or summary: tags stripped, entities (even double-escaped) decoded."""
    if not markup:
        return None
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    text = html.unescape("".join(collector.parts))
    text = _WHITESPACE.sub(" ", text).strip()
    return text or None


class _TextCollector(HTMLParser):
    """Collects character data; block elements become spaces, script and style are skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _newest_per_url(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per URL, at the place it first appears, carrying the newest item's data."""
    chosen: dict[str, Candidate] = {}
    for candidate in candidates:
        kept = chosen.get(candidate.url)
        if kept is None or _is_newer(candidate, kept):
            chosen[candidate.url] = candidate
    return list(chosen.values())


def _is_newer(candidate: Candidate, kept: Candidate) -> bool:
    if candidate.published_at is None:
        return False
    return kept.published_at is None or candidate.published_at > kept.published_at
