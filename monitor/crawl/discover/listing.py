"""Listing pages (section pages, "all news" lentas) → candidates. The only module that imports
selectolax.

A source's `listings` entry names the page and a CSS selector for its article cards: either the
`<a>` elements themselves or containers holding one. Around each link we look for the card
that belongs to it (the largest ancestor holding no other card) to read a title and the date
the card shows. A selector that matches nothing means the markup changed, which must reach the
source's report as a ParseError instead of looking like a quiet day.

Listing dates are written for people, in the site's language and local time: "21:38, 18 Августа
2026", "16.03.2018 [10:55]", "17:36, 30 Qańtar 2026 | GMT +5". `_listing_date` reads those; it
is private here until it is merged with the article-page date parser in monitor/text/dates.py.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from monitor.core.errors import ParseError
from monitor.core.records import Candidate
from monitor.crawl.urls import http_link

# Most specific first: a card's heading is a better title than any element called "*title*".
_TITLE_SELECTORS = ("h1, h2, h3, h4, .card-title", "[class*=title]")
_DATE_SELECTORS = ("time[datetime]", "time", ".meta-date", "[class*=date]")
_NOT_LINKS = ("javascript:", "mailto:", "tel:", "data:", "sms:")
_MAX_CARD_LEVELS = 4  # how far above the selected element a card may reach
_CARD_STOPS = frozenset({"body", "html", "main", "ul", "ol", "table", "tbody", "section"})
_WHITESPACE = re.compile(r"\s+")

_LinkOf = Callable[[str | None], str | None]  # raw href → canonical article link, or None


def parse_listing(html: str, url: str, selector: str, zone: ZoneInfo) -> list[Candidate]:
    """The article links that `selector` picks on a listing page, in page order, deduplicated.

    Hrefs resolve against `<base href>` or the page URL and come out canonical; card dates are
    read as local time in `zone` unless they name an offset.
    """
    tree = LexborHTMLParser(html)
    try:
        selected = tree.css(selector)
    except SelectolaxError as exc:
        raise ParseError(url, f"invalid CSS selector {selector!r}: {exc}") from exc
    if not selected:
        raise ParseError(url, f"selector {selector!r} matched nothing; has the markup changed?")
    base = _base_url(tree, url)

    @functools.cache
    def link_of(href: str | None) -> str | None:
        return _article_link(href, base)

    found: dict[str, Candidate] = {}
    for node in selected:
        candidate = _candidate(node, selector, link_of, zone, base)
        if candidate is None:
            continue
        kept = found.get(candidate.url)
        found[candidate.url] = candidate if kept is None else _fill_gaps(kept, candidate)
    if not found:
        raise ParseError(url, f"selector {selector!r} matched {len(selected)} elements, no links")
    return list(found.values())


def _candidate(
    node: LexborNode, selector: str, link_of: _LinkOf, zone: ZoneInfo, base: str
) -> Candidate | None:
    anchor = _anchor_of(node)
    if anchor is None:
        return None
    link = link_of(anchor.attributes.get("href"))
    if link is None:
        return None
    start = anchor if node.tag == "a" else node
    card = _card(start, link, selector, link_of)
    return Candidate(
        url=link,
        link=urljoin(base, (anchor.attributes.get("href") or "").strip()),
        via="listing",
        title=_title(anchor, start, card),
        published_at=_card_date(start, zone) or _card_date(card, zone),
    )


def _anchor_of(node: LexborNode) -> LexborNode | None:
    """The selected `<a>`, else the first `a[href]` inside it, else an `<a>` around it."""
    if node.tag == "a" and node.attributes.get("href"):
        return node
    inner = node.css_first("a[href]")
    if inner is not None:
        return inner
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html"):
        if parent.tag == "a" and parent.attributes.get("href"):
            return parent
        parent = parent.parent
    return None


def _article_link(href: str | None, base: str) -> str | None:
    href = (href or "").strip()
    if not href or href.startswith("#") or href.lower().startswith(_NOT_LINKS):
        return None
    return http_link(href, base)


def _card(start: LexborNode, link: str, selector: str, link_of: _LinkOf) -> LexborNode:
    """The largest ancestor of `start` (a few levels up at most) that holds no other card.

    Another card is another element the selector picks that links elsewhere; an image link
    and a headline link to the same article are one card, and a category link inside the
    card does not end it.
    """
    card = start
    for _ in range(_MAX_CARD_LEVELS):
        parent = card.parent
        if parent is None or parent.tag in _CARD_STOPS:
            break
        for other in parent.css(selector):
            anchor = _anchor_of(other)
            other_link = link_of(anchor.attributes.get("href")) if anchor is not None else None
            if other_link not in (link, None):
                return card
        card = parent
    return card


def _title(anchor: LexborNode, start: LexborNode, card: LexborNode) -> str | None:
    """A heading inside the link, else the link's own words, else a heading nearby."""
    heading = _first_text(anchor, _TITLE_SELECTORS)
    if heading:
        return heading
    text = _text(anchor)
    for selector in _DATE_SELECTORS:  # a whole-card link also holds the date; leave it out
        for dated in anchor.css(selector):
            text = text.replace(_text(dated), "", 1)
    text = _WHITESPACE.sub(" ", text).strip()
    if text:
        return text
    nearby = _first_text(start, _TITLE_SELECTORS) or _first_text(card, _TITLE_SELECTORS)
    return nearby or anchor.attributes.get("title") or None


def _first_text(scope: LexborNode, selectors: tuple[str, ...]) -> str | None:
    for selector in selectors:
        for element in scope.css(selector):
            text = _text(element)
            if text:
                return text
    return None


def _card_date(card: LexborNode, zone: ZoneInfo) -> datetime | None:
    for selector in _DATE_SELECTORS:
        for element in card.css(selector):
            moment = _iso_date(element.attributes.get("datetime"), zone)
            moment = moment or _listing_date(_text(element), zone)
            if moment is not None:
                return moment
    return None


def _iso_date(raw: str | None, zone: ZoneInfo) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    """`<base href>` resolved against the page URL, as written: its trailing slash matters."""
    base = tree.css_first("base[href]")
    href = (base.attributes.get("href") or "").strip() if base is not None else ""
    if not href:
        return url
    try:
        return urljoin(url, href)
    except ValueError:
        return url


def _text(node: LexborNode) -> str:
    return _WHITESPACE.sub(" ", node.text(deep=True, separator=" ")).strip()


def _fill_gaps(kept: Candidate, later: Candidate) -> Candidate:
    """A card often links twice (image, then headline): keep the first, take what it lacked."""
    return dataclasses.replace(
        kept,
        title=kept.title or later.title,
        published_at=kept.published_at or later.published_at,
    )


# --- listing dates -------------------------------------------------------------------------

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("январь", "января", "қаңтар", "qańtar", "yanvar", "january", "jan"),
    2: ("февраль", "февраля", "ақпан", "aqpan", "fevral", "february", "feb"),
    3: ("март", "марта", "наурыз", "naýryz", "mart", "march", "mar"),
    4: ("апрель", "апреля", "сәуір", "sáýir", "aprel", "april", "apr"),
    5: ("май", "мая", "мамыр", "mamyr", "may"),
    6: ("июнь", "июня", "маусым", "maýsym", "iyun", "june", "jun"),
    7: ("июль", "июля", "шілде", "shilde", "iyul", "july", "jul"),
    8: ("август", "августа", "тамыз", "tamyz", "avqust", "august", "aug"),
    9: ("сентябрь", "сентября", "қыркүйек", "qyrkúıek", "sentyabr", "september", "sep"),
    10: ("октябрь", "октября", "қазан", "qazan", "oktyabr", "october", "oct"),
    11: ("ноябрь", "ноября", "қараша", "qarasha", "noyabr", "november", "nov"),
    12: ("декабрь", "декабря", "желтоқсан", "jeltoqsan", "dekabr", "december", "dec"),
}


def _fold(text: str) -> str:
    """Lower case without accents, so "Qańtar", "QAŃTAR" and "Qantar" all read "qantar".

    The Turkic dotted capital İ and dotless ı both become plain i first (Python lower-cases İ
    to "i" plus a combining dot); Cyrillic й folds to и on both sides, which is harmless.
    """
    text = text.replace("İ", "i").replace("ı", "i").lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_MONTHS = {_fold(name): number for number, names in _MONTH_NAMES.items() for name in names}
_OFFSET = re.compile(r"\b(?:gmt|utc)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?")
_TIME = re.compile(r"(?<![\d.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d.])")
_PM = re.compile(r"\d\s*pm\b")
_AM = re.compile(r"\d\s*am\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})\s+([^\W\d_]+)\.?,?\s+(\d{4})\b")
_MONTH_DAY_YEAR = re.compile(r"\b([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})\b")


def _listing_date(text: str, zone: ZoneInfo) -> datetime | None:
    """A date as a listing card writes it, as an aware datetime; None when it names no year.

    Local time in `zone` unless the text gives "GMT +5" / "UTC +04:00". A date without a time
    is midnight. A bare time ("21:38", meaning today) or a day without a year is not guessed,
    because that would need the clock.
    """
    folded = _fold(text)
    zone_used: tzinfo = zone
    offset = _OFFSET.search(folded)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        zone_used = timezone(-delta if sign == "-" else delta)
        folded = folded[: offset.start()] + " " + folded[offset.end() :]
    clock = _TIME.search(folded)
    day = _date_in(folded[: clock.start()] + " " + folded[clock.end() :] if clock else folded)
    if day is None:
        return None
    if clock is None:
        return datetime.combine(day, time(0, 0), tzinfo=zone_used)
    hour = int(clock[1])
    if hour < 12 and _PM.search(folded):
        hour += 12
    elif hour == 12 and _AM.search(folded):
        hour = 0
    try:
        at = time(hour, int(clock[2]), int(clock[3] or 0))
    except ValueError:
        return None
    return datetime.combine(day, at, tzinfo=zone_used)


def _date_in(folded: str) -> date | None:
    numeric = _NUMERIC_DATE.search(folded)
    iso = _ISO_DATE.search(folded)
    words = _DAY_MONTH_YEAR.search(folded)
    english = _MONTH_DAY_YEAR.search(folded)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if numeric:
            return date(int(numeric[3]), int(numeric[2]), int(numeric[1]))
        if words and words[2] in _MONTHS:
            return date(int(words[3]), _MONTHS[words[2]], int(words[1]))
        if english and english[1] in _MONTHS:
            return date(int(english[3]), _MONTHS[english[1]], int(english[2]))
    except ValueError:  # 31.02.2026 and the like
        return None
    return None
