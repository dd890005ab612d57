"""Discovery parsers over hand-written feeds, sitemaps and listings modelled on the real sites.

The fixtures and what each one is for are listed in tests/fixtures/discover/README.md.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import threading
import zlib
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.core.errors import BodyTooLarge, ParseError
from monitor.core.records import Page
from monitor.crawl.discover import DISCOVERERS, Discovery, discover
from monitor.crawl.discover.feed import parse_feed
from monitor.crawl.discover.listing import _listing_date, parse_listing
from monitor.crawl.discover.sitemap import MAX_DECOMPRESSED_BYTES, parse_sitemap
from monitor.crawl.fetch import Fetcher
from monitor.crawl.urls import article_key

FIXTURES = Path(__file__).parent / "fixtures" / "discover"
BAKU = ZoneInfo("Asia/Baku")
ALMATY = ZoneInfo("Asia/Almaty")
PLUS_4 = timedelta(hours=4)
PLUS_5 = timedelta(hours=5)
AZERTAC_FEED = "https://azertag.az/rss"
KAZ_FEED = "https://kaz.inform.kz/rss/kz.xml"
SITEMAP = "https://www.inform.kz/sitemap.xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rss(items: str, channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.az/</link>{channel_extra}{items}</channel></rss>"
    ).encode()


# --- feeds -----------------------------------------------------------------------------------


def test_azertac_feed_keeps_order_titles_and_publisher_offset() -> None:
    candidates = parse_feed(fixture("azertag-az.rss.xml"), AZERTAC_FEED, BAKU)

    assert [c.url.rsplit("-", 1)[1] for c in candidates] == [
        "4412001",
        "4411990",
        "4411950",
        "4411970",
        "4411950",
        "4411931",
    ]
    assert {c.via for c in candidates} == {"feed"}
    assert candidates[1].title == '"Neftçi" - "Kairat" yoldaşlıq oyunu Almatıda keçiriləcək'
    assert candidates[5].title == "Gəncədə yol təmiri davam edir"
    assert all(c.summary is None for c in candidates)  # AZERTAC items carry no description
    first = candidates[0].published_at
    assert first is not None and first.utcoffset() == PLUS_4
    assert first == datetime(2026, 9, 14, 6, 15, tzinfo=UTC)


def test_azertac_updated_story_comes_out_twice_with_one_article_key() -> None:
    candidates = parse_feed(fixture("azertag-az.rss.xml"), AZERTAC_FEED, BAKU)
    updated, original = candidates[2], candidates[4]

    assert updated.url.endswith("_yenilenib-4411950")
    assert original.url.endswith("_verilib-4411950")
    assert updated.url != original.url
    assert article_key(updated.url, r"-(\d+)$") == article_key(original.url, r"-(\d+)$")
    assert updated.published_at == datetime(2026, 9, 14, 9, 40, tzinfo=timezone(PLUS_4))
    assert original.published_at == datetime(2026, 9, 14, 9, 5, tzinfo=timezone(PLUS_4))
    assert updated.published_at.utcoffset() == original.published_at.utcoffset() == PLUS_4


def test_kazakh_feed_titles_dates_links_and_summaries() -> None:
    candidates = parse_feed(fixture("kaz-inform-kz.rss.xml"), KAZ_FEED, ALMATY)

    assert [c.url for c in candidates] == [
        "https://kaz.inform.kz/news/kazakstan-men-azerbayzhan-syrtky-ister-ministrleri-astanada-kezdesti-3fa91c",
        "https://kaz.inform.kz/news/aktau-portynda-zhana-terminal-ashyldy-b7e2d4a0",
        "https://kaz.inform.kz/news/bakude-kazakstan-madenieti-kunderi-otedi-0c4d5e",
    ]  # the item whose only identity is a non-permalink guid is left out
    assert (
        candidates[0].title == "Қазақстан мен Әзербайжан сыртқы істер министрлері Астанада кездесті"
    )
    assert (
        candidates[1].title == "Ақтау портында жаңа терминал ашылды"
    )  # &nbsp; survives as a space
    assert candidates[0].summary == (
        "АСТАНА. KAZINFORM – Екі ел министрлері Транскаспий бағыты бойынша "
        "ынтымақтастықты талқылады."
    )
    assert candidates[1].summary is None
    assert candidates[2].summary == "Мәдениет күндері қыркүйек айының соңында өтеді."
    for candidate in candidates:
        assert candidate.published_at is not None
        assert candidate.published_at.utcoffset() == PLUS_5
        assert candidate.lang == "kk"
    assert candidates[0].published_at == datetime(2026, 9, 14, 6, 30, tzinfo=UTC)


def test_atom_feed() -> None:
    history = "https://az.wikipedia.org/w/index.php?title=x&feed=atom&action=history"
    candidates = parse_feed(fixture("wikipedia-history.atom.xml"), history, BAKU)

    assert len(candidates) == 2
    assert candidates[0].url == (
        "https://az.wikipedia.org/w/index.php?diff=8123457&oldid=8120001"
        "&title=Az%C9%99rbaycan%E2%80%93Qazax%C4%B1stan_m%C3%BCnasib%C9%99tl%C9%99ri"
    )
    assert candidates[0].title == "Nümunə İstifadəçi at 07:20, 14 sentyabr 2026"
    assert candidates[0].published_at == datetime(2026, 9, 14, 7, 20, tzinfo=UTC)
    assert candidates[0].summary is not None
    assert candidates[0].summary.startswith("Ticarət: 2025 rəqəmləri")
    assert "<" not in candidates[0].summary
    assert candidates[1].summary is None
    assert candidates[0].lang == "az"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(fixture("apa-en-rss.html"), "HTML page", id="html-with-doctype"),
        pytest.param(
            b"\xef\xbb\xbf  <html><body>Just a moment...</body></html>", "HTML page", id="html-bom"
        ),
        pytest.param(
            b'<?xml version="1.0"?>\n<!-- cached -->\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0'
            b' Strict//EN" "x"><html xmlns="http://www.w3.org/1999/xhtml"></html>',
            "HTML page",
            id="xhtml",
        ),
        pytest.param(
            b"<head><title>Attention Required! | Cloudflare</title></head>",
            "not a readable feed",
            id="html-fragment",
        ),
        pytest.param(fixture("broken.rss.xml"), "not a readable feed", id="malformed-xml"),
        pytest.param(b"", "empty body", id="empty"),
        pytest.param(b" \r\n\t ", "empty body", id="blank"),
        pytest.param(
            b'<?xml version="1.0"?><catalog><book/></catalog>',
            "not a readable feed",
            id="other-xml",
        ),
        pytest.param(b'{"items": []}', "not a readable feed", id="json"),
        pytest.param(b"/etc/hostname", "not a readable feed", id="file-name-is-not-opened"),
    ],
)
def test_a_body_that_is_not_a_feed_raises(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as raised:
        parse_feed(body, AZERTAC_FEED, BAKU)
    assert raised.value.url == AZERTAC_FEED


def test_truncated_feed_returns_its_complete_items() -> None:
    candidates = parse_feed(fixture("truncated.rss.xml"), AZERTAC_FEED, BAKU)

    assert [c.title for c in candidates] == ["Birinci xəbər", "İkinci xəbər"]
    assert candidates[1].url == "https://azertag.az/xeber/ikinci_xeber-4412100"


def test_feed_with_undefined_entity_still_yields_items() -> None:
    body = rss(
        "<item><title>Bakı&nbsp;&mdash; Astana</title><link>https://example.az/a-1</link></item>"
    )
    [candidate] = parse_feed(body, "https://example.az/rss", BAKU)
    assert candidate.title == "Bakı — Astana"


def test_valid_feed_without_items_is_empty_not_an_error() -> None:
    assert parse_feed(rss(""), "https://example.az/rss", BAKU) == []


def test_duplicate_links_keep_first_place_and_newest_item() -> None:
    body = rss(
        "<item><title>Old</title><link>https://example.az/a-1?utm_source=x</link>"
        "<pubDate>Mon, 14 Sep 2026 08:00:00 +0400</pubDate></item>"
        "<item><title>Other</title><link>https://example.az/b-2</link>"
        "<pubDate>Mon, 14 Sep 2026 09:00:00 +0400</pubDate></item>"
        "<item><title>New</title><link>https://example.az/a-1#x</link>"
        "<pubDate>Mon, 14 Sep 2026 10:00:00 +0400</pubDate></item>"
    )
    candidates = parse_feed(body, "https://example.az/rss", BAKU)
    assert [(c.url, c.title) for c in candidates] == [
        ("https://example.az/a-1", "New"),
        ("https://example.az/b-2", "Other"),
    ]


@pytest.mark.parametrize(
    ("date_element", "expected"),
    [
        pytest.param(
            "<pubDate>Mon, 14 Sep 2026 10:00:00 +0400</pubDate>",
            datetime(2026, 9, 14, 10, 0, tzinfo=timezone(PLUS_4)),
            id="rfc822-offset",
        ),
        pytest.param(
            "<pubDate>Mon, 14 Sep 2026 06:00:00 GMT</pubDate>",
            datetime(2026, 9, 14, 6, 0, tzinfo=UTC),
            id="rfc822-gmt",
        ),
        pytest.param(
            "<pubDate>Mon, 14 Sep 2026 10:00:00</pubDate>",
            datetime(2026, 9, 14, 10, 0, tzinfo=BAKU),
            id="rfc822-no-zone-is-local",
        ),
        pytest.param(
            "<pubDate>Mon, 14 Sep 2026 06:00:00 -0000</pubDate>",
            datetime(2026, 9, 14, 6, 0, tzinfo=UTC),
            id="rfc822-minus-zero-is-utc",
        ),
        pytest.param(
            "<pubDate>2026-09-14T10:00:00+05:00</pubDate>",
            datetime(2026, 9, 14, 10, 0, tzinfo=timezone(PLUS_5)),
            id="iso-in-rss",
        ),
        pytest.param(
            "<pubDate>2026-09-14 10:00</pubDate>",
            datetime(2026, 9, 14, 10, 0, tzinfo=BAKU),
            id="iso-no-zone-is-local",
        ),
        pytest.param(
            "<pubDate>Mon, 14 Sep 2026 10:00:00 +05:00</pubDate>",
            datetime(2026, 9, 14, 10, 0, tzinfo=timezone(PLUS_5)),
            id="rfc822-colon-offset",
        ),
        pytest.param(
            "<pubDate>Mon, 14 Sept 2026 10:00:00 +0400</pubDate>",
            datetime(2026, 9, 14, 6, 0, tzinfo=UTC),
            id="only-feedparser-reads-it-utc",
        ),
        pytest.param("<pubDate>yesterday</pubDate>", None, id="unreadable"),
        pytest.param("", None, id="missing"),
    ],
)
def test_feed_dates(date_element: str, expected: datetime | None) -> None:
    body = rss(f"<item><title>x</title><link>https://example.az/a-1</link>{date_element}</item>")
    [candidate] = parse_feed(body, "https://example.az/rss", BAKU)
    assert candidate.published_at == expected
    if expected is not None:
        assert candidate.published_at is not None
        assert candidate.published_at.utcoffset() == expected.utcoffset()


def test_atom_date_without_zone_is_local() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>x</title>'
        b'<link href="https://example.az/a-1"/><id>urn:1</id>'
        b"<updated>2026-09-14T10:00:00</updated></entry></feed>"
    )
    [candidate] = parse_feed(body, "https://example.az/atom", BAKU)
    assert candidate.published_at == datetime(2026, 9, 14, 10, 0, tzinfo=BAKU)
    assert candidate.published_at.utcoffset() == PLUS_4


def test_feed_links_relative_guid_and_double_escaped_titles() -> None:
    body = rss(
        "<item><title>Rel</title><link>/xeber/rel-1</link></item>"
        "<item><title>Guid</title><guid>https://example.az/xeber/guid-2</guid></item>"
        "<item><title>Bare guid</title><guid>3</guid></item>"
        "<item><title>&amp;quot;Qarabağ&amp;quot; &amp;amp; Kairat</title>"
        "<link>https://example.az/xeber/q-4</link></item>"
        "<item><title>No link</title></item>"
    )
    candidates = parse_feed(body, "https://example.az/rss", BAKU)
    assert [(c.url, c.title) for c in candidates] == [
        ("https://example.az/xeber/rel-1", "Rel"),
        ("https://example.az/xeber/guid-2", "Guid"),
        ("https://example.az/xeber/q-4", '"Qarabağ" & Kairat'),
    ]


def test_feed_summary_drops_markup_scripts_and_whitespace() -> None:
    body = rss(
        "<item><title>x</title><link>https://example.az/a-1</link><description><![CDATA["
        "<p>Birinci&nbsp;cümlə.</p><script>alert(1)</script><p>İkinci\n  cümlə.</p>"
        "]]></description></item>"
        "<item><title>y</title><link>https://example.az/b-2</link>"
        "<description><![CDATA[<p> </p>]]></description></item>"
    )
    first, second = parse_feed(body, "https://example.az/rss", BAKU)
    assert first.summary == "Birinci cümlə. İkinci cümlə."
    assert second.summary is None


def test_feed_with_leading_whitespace_and_no_declaration() -> None:
    body = (
        b"\n\n   <rss version='2.0'><channel><title>APA</title><item><title>A</title>"
        b"<link>https://apa.az/america/a-995728</link><guid isPermaLink='true'>"
        b"https://apa.az/america/a-995728</guid><description></description></item></channel></rss>"
    )
    [candidate] = parse_feed(body, "https://apa.az/rss", BAKU)
    assert candidate.url == "https://apa.az/america/a-995728"
    assert candidate.summary is None


# --- sitemaps --------------------------------------------------------------------------------


def test_sitemap_index_lists_children_resolved_and_deduplicated() -> None:
    page = parse_sitemap(fixture("inform-kz-sitemap-index.xml"), SITEMAP, ALMATY)

    assert page.candidates == []
    assert page.sitemaps == [
        "https://www.inform.kz/sitemaps/google-news_ru.xml",
        "https://www.inform.kz/sitemaps/sitemap-last-news-300_ru.xml",
        "https://www.inform.kz/sitemaps/sitemap-2026-09.xml.gz",
        "https://cdn.example.net/sitemaps/elsewhere.xml",  # discover() drops it, not the parser
    ]


def test_urlset_candidates() -> None:
    page = parse_sitemap(fixture("inform-kz-sitemap-last-news.xml"), SITEMAP, ALMATY)

    assert page.sitemaps == []
    assert [c.url for c in page.candidates] == [
        "https://www.inform.kz/ru/kazahstan-i-azerbaydzhan-obsudili-tranzit-po-transkaspiyskomu-marshrutu-5dedf6",
        "https://www.inform.kz/ru/skolko-stoyat-uslugi-advokatov-v-kazahstane-cdaf32",
        "https://www.inform.kz/ru/novyy-reys-astana-baku-a1b2c3",
    ]  # image <loc>s are not articles, the slash-spelled duplicate is merged, no <loc> is skipped
    first, second, third = page.candidates
    assert first.published_at == datetime(2026, 9, 14, 11, 45, tzinfo=timezone(PLUS_5))  # newest
    assert second.published_at == datetime(2026, 9, 14, 0, 0, tzinfo=ALMATY)  # date only
    assert third.published_at == datetime(2026, 9, 14, 8, 5, tzinfo=ALMATY)  # no zone
    assert third.published_at.utcoffset() == PLUS_5
    assert {c.via for c in page.candidates} == {"sitemap"}
    assert all(c.title is None for c in page.candidates)


def test_google_news_sitemap() -> None:
    page = parse_sitemap(fixture("inform-kz-google-news-ru.xml"), SITEMAP, ALMATY)
    first, second = page.candidates

    assert first.title == "Токаев и Алиев обсудили сотрудничество в энергетике"
    assert first.published_at == datetime(
        2026, 9, 14, 11, 38, tzinfo=timezone(PLUS_5)
    )  # not lastmod
    assert first.lang == "ru"
    assert second.title == '"Новые горизонты": в Актау открыли консульство'
    assert second.published_at == datetime(2026, 9, 14, 0, 0, tzinfo=ALMATY)
    assert second.lang == "ru"


def test_gzipped_sitemap_is_recognised_by_its_bytes_not_its_name() -> None:
    plain = fixture("inform-kz-sitemap-last-news.xml")
    zipped = parse_sitemap(gzip.compress(plain), SITEMAP, ALMATY)  # URL says .xml, body is gzip
    assert zipped == parse_sitemap(plain, SITEMAP, ALMATY)
    assert len(zipped.candidates) == 3


def test_gzip_with_two_members() -> None:
    half = b'<?xml version="1.0"?><urlset><url><loc>https://www.inform.kz/ru/a-abcdef</loc>'
    body = gzip.compress(half) + gzip.compress(b"</url></urlset>")
    assert [c.url for c in parse_sitemap(body, SITEMAP, ALMATY).candidates] == [
        "https://www.inform.kz/ru/a-abcdef"
    ]


_GZIPPED_URLSET = gzip.compress(b"<urlset></urlset>" * 50)


def _gzip_bomb(size: int, unit: bytes = b" ") -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = unit * (1024 * 1024 // len(unit))
    parts = [compressor.compress(b"<urlset>")]
    parts += [compressor.compress(block) for _ in range(size // len(block) + 1)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_stops_at_the_default_ceiling() -> None:
    """Entries that are each read and dropped: only the ceiling on inflated bytes stops them."""
    bomb = _gzip_bomb(MAX_DECOMPRESSED_BYTES + 1024 * 1024, unit=b"<url>" + b" " * 4083 + b"</url>")
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ParseError, match="inflates to more than"):
        parse_sitemap(bomb, SITEMAP, ALMATY)


def test_gzip_bomb_of_one_text_node_stops_sooner() -> None:
    """libxml2 refuses a text node over 10 MB (no huge_tree) before the ceiling is reached."""
    bomb = _gzip_bomb(MAX_DECOMPRESSED_BYTES + 1024 * 1024)
    with pytest.raises(ParseError, match="malformed XML: Resource limit exceeded"):
        parse_sitemap(bomb, SITEMAP, ALMATY)


def test_decompression_ceiling_is_adjustable() -> None:
    body = gzip.compress(fixture("inform-kz-sitemap-last-news.xml"))
    with pytest.raises(ParseError, match="inflates to more than 100 bytes"):
        parse_sitemap(body, SITEMAP, ALMATY, max_bytes=100)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            _GZIPPED_URLSET[:10] + b"\xff" * 20 + _GZIPPED_URLSET[30:], "broken gzip", id="corrupt"
        ),
        pytest.param(b"\x1f\x8b\x08\x00", "ends early", id="gzip-header-only"),
        pytest.param(gzip.compress(b"<urlset></urlset>")[:-12], "ends early", id="cut-gzip"),
        pytest.param(
            b"<urlset><url><loc>https://x.az/a</loc></url>", "malformed XML", id="unclosed"
        ),
        pytest.param(b"", "empty body", id="empty"),
        pytest.param(gzip.compress(b""), "empty body", id="empty-gzip"),
        pytest.param(fixture("apa-en-rss.html"), "malformed XML", id="html"),
        pytest.param(b"<html><body/></html>", "root element <html>", id="xhtml-like"),
        pytest.param(fixture("azertag-az.rss.xml"), "root element <rss>", id="a-feed"),
    ],
)
def test_a_body_that_is_not_a_sitemap_raises(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_sitemap(body, SITEMAP, ALMATY)


def test_billion_laughs_is_not_expanded() -> None:
    with pytest.raises(ParseError) as raised:
        parse_sitemap(fixture("sitemap-billion-laughs.xml"), SITEMAP, ALMATY)
    assert "lollol" not in str(raised.value)
    assert len(str(raised.value)) < 500


def test_external_entities_are_not_read() -> None:
    hostname = Path("/etc/hostname")
    secret = hostname.read_text().strip() if hostname.exists() else None
    with pytest.raises(ParseError, match="declares XML entities") as raised:
        parse_sitemap(fixture("sitemap-xxe.xml"), SITEMAP, ALMATY)
    if secret:
        assert secret not in str(raised.value)


def test_sitemap_without_namespace_and_with_leading_blank_lines() -> None:
    body = (
        b"\n\n<?xml version='1.0'?><urlset><url><loc> https://www.inform.kz/ru/a-abcdef </loc>"
        b"<lastmod>2026-09-14T06:00:00Z</lastmod></url></urlset>"
    )
    [candidate] = parse_sitemap(body, SITEMAP, ALMATY).candidates
    assert candidate.url == "https://www.inform.kz/ru/a-abcdef"
    assert candidate.published_at == datetime(2026, 9, 14, 6, 0, tzinfo=UTC)


def test_a_capped_sitemap_keeps_the_newest_dated_before_undated_in_listed_order() -> None:
    entries = [
        ("a-aaaaaa", None),
        ("b-bbbbbb", "2026-09-14T10:00:00+05:00"),
        ("c-cccccc", "2026-09-12"),
        ("c-cccccc", "2026-09-14T12:00:00+05:00"),  # listed again, newer: keeps its first place
        ("pic.jpg", "2026-09-15T10:00:00+05:00"),  # not an article: takes no place in the cap
        ("d-dddddd", "2026-09-13T10:00:00+05:00"),
        ("e-eeeeee", None),
    ]
    body = _urlset(entries)
    articles = lambda url: not url.endswith(".jpg")  # noqa: E731

    def kept(cap: int) -> tuple[list[str], int]:
        page = parse_sitemap(body, SITEMAP, ALMATY, cap=cap, accept=articles)
        return [c.url.rsplit("/", 1)[1] for c in page.candidates], page.left_out

    assert kept(2) == (["b-bbbbbb", "c-cccccc"], 3)
    assert kept(3) == (["b-bbbbbb", "c-cccccc", "d-dddddd"], 2)
    assert kept(4) == (["a-aaaaaa", "b-bbbbbb", "c-cccccc", "d-dddddd"], 1)  # first undated
    assert kept(10) == (["a-aaaaaa", "b-bbbbbb", "c-cccccc", "d-dddddd", "e-eeeeee"], 0)
    [c_entry] = [c for c in parse_sitemap(body, SITEMAP, ALMATY).candidates if "c-c" in c.url]
    assert c_entry.published_at == datetime(2026, 9, 14, 12, 0, tzinfo=timezone(PLUS_5))


def test_a_capped_sitemap_index_keeps_the_newest_children() -> None:
    page = parse_sitemap(fixture("inform-kz-sitemap-index.xml"), SITEMAP, ALMATY, cap=2)
    assert page.sitemaps == [
        "https://www.inform.kz/sitemaps/google-news_ru.xml",
        "https://www.inform.kz/sitemaps/sitemap-last-news-300_ru.xml",
    ]  # the two with a lastmod; the undated .gz and the off-site one are left out
    assert page.left_out == 2


def test_a_sitemap_index_lists_the_newest_children_first() -> None:
    """Indexes often list month by month, oldest first; a poll follows only the first few."""
    months = "".join(
        f"<sitemap><loc>/sitemaps/sitemap-2026-{month:02d}.xml</loc>"
        f"<lastmod>2026-{month:02d}-28</lastmod></sitemap>"
        for month in range(1, 13)
    )
    body = f"<sitemapindex><sitemap><loc>/news.xml</loc></sitemap>{months}</sitemapindex>"
    page = parse_sitemap(body.encode(), SITEMAP, ALMATY, cap=3)
    assert [child.rsplit("/", 1)[1] for child in page.sitemaps] == [
        "sitemap-2026-12.xml",
        "sitemap-2026-11.xml",
        "sitemap-2026-10.xml",
    ]
    assert page.left_out == 10


def _urlset(entries: list[tuple[str, str | None]]) -> bytes:
    rows = "".join(
        f"<url><loc>https://www.inform.kz/ru/{path}</loc>"
        + (f"<lastmod>{when}</lastmod>" if when else "")
        + "</url>"
        for path, when in entries
    )
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


# 100,000 URLs, about 11 MB: twice the fetcher's page limit, ten times what a tree parse would
# want to hold. The dates are shuffled through the document (7919 is prime to BIG, so minute
# number i*7919 mod BIG is a permutation): the newest are nowhere in particular.
BIG = 100_000
BIG_START = datetime(2026, 1, 1, tzinfo=UTC)


def _big_minute(number: int) -> int:
    return number * 7919 % BIG


@cache
def big_sitemap() -> bytes:
    rows = [
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
    ]
    for number in range(BIG):
        when = (BIG_START + timedelta(minutes=_big_minute(number))).isoformat()
        rows.append(
            f"<url><loc>https://www.inform.kz/ru/novost-nomer-{number:06d}-{number:06x}</loc>"
            f"<lastmod>{when}</lastmod></url>\n".encode()
        )
    rows.append(b"</urlset>\n")
    return b"".join(rows)


def newest_of_big(cap: int) -> list[str]:
    """The `cap` newest URLs of `big_sitemap`, in document order."""
    return [
        f"https://www.inform.kz/ru/novost-nomer-{number:06d}-{number:06x}"
        for number in range(BIG)
        if _big_minute(number) >= BIG - cap
    ]


@pytest.mark.slow
@pytest.mark.parametrize("packing", ["plain", "gzip"])
def test_a_large_sitemap_is_read_whole_and_keeps_the_newest_within_the_cap(packing: str) -> None:
    body = big_sitemap() if packing == "plain" else gzip.compress(big_sitemap())
    assert len(big_sitemap()) > 10_000_000
    page = parse_sitemap(body, SITEMAP, ALMATY, cap=1000)
    assert [c.url for c in page.candidates] == newest_of_big(1000)
    assert page.left_out == BIG - 1000
    assert min(c.published_at for c in page.candidates if c.published_at) == BIG_START + timedelta(
        minutes=BIG - 1000
    )


def kazinform_source() -> Source:
    return _source(
        name="kazinform-ru",
        homepage="https://www.inform.kz/ru",
        language="ru",
        timezone="Asia/Almaty",
        feeds=[],
        sitemaps=[SITEMAP],
        article_url=r"^https?://[^/]+/ru/[a-z0-9-]+-[0-9a-f]{6,8}$",
        id_pattern=r"-([0-9a-f]{6,8})/?$",
    )


class _SitemapServer:
    """A real HTTP server on 127.0.0.1 answering fixed bodies by path."""

    def __init__(self, routes: dict[str, tuple[bytes, dict[str, str]]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, headers = routes.get(self.path, (b"", {}))
                self.send_response(200 if self.path in routes else 404)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_a_large_sitemap_is_fetched_not_refused_and_discovered_within_the_cap() -> None:
    plain, xml = big_sitemap(), {"Content-Type": "application/xml"}
    routes = {
        "/sitemap.xml": (plain, xml),
        "/sitemap.xml.gz": (gzip.compress(plain), {"Content-Type": "application/gzip"}),
        "/encoded.xml": (gzip.compress(plain), {**xml, "Content-Encoding": "gzip"}),
    }
    settings = Settings(_env_file=None, allow_private_hosts=True, per_host_delay=0.0)
    assert settings.max_body_bytes < len(plain) < settings.max_sitemap_bytes

    async def fetch(base: str, path: str, purpose: str) -> Page:
        async with Fetcher(settings) as fetcher:
            return await fetcher.get(base + path, purpose=purpose, check_robots=False)

    with _SitemapServer(routes) as base:
        for path in routes:
            page = asyncio.run(fetch(base, path, "sitemap"))
            found = discover("sitemap", page.body, "", SITEMAP, kazinform_source(), cap=500)
            assert [c.url for c in found.candidates] == newest_of_big(500), path
            assert found.left_out == BIG - 500
        with pytest.raises(BodyTooLarge):  # any other purpose keeps the page limit
            asyncio.run(fetch(base, "/sitemap.xml", "page"))


_MEMORY_PROBE = """
import resource, sys
from zoneinfo import ZoneInfo
from monitor.crawl.discover.sitemap import parse_sitemap
body = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
page = parse_sitemap(body, "https://www.inform.kz/sitemap.xml", ZoneInfo("Asia/Almaty"), cap=1000)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(page.candidates), (after - before) // 1024)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
@pytest.mark.parametrize("packing", ["plain", "gzip"])
def test_a_large_sitemap_is_parsed_in_bounded_memory(packing: str, tmp_path: Path) -> None:
    """The peak memory of the parse, in a process of its own: a tree of this document would
    take about 80 MB more; streamed, the parse adds a few MB (the chunks, the kept entries)."""
    path = tmp_path / "sitemap.xml"
    path.write_bytes(big_sitemap() if packing == "plain" else gzip.compress(big_sitemap()))
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    kept, grown_mb = map(int, probe.stdout.split())
    assert kept == 1000
    assert grown_mb < 25, f"the parse grew the process by {grown_mb} MB"


# --- listings --------------------------------------------------------------------------------


def test_kazinform_lenta_cards() -> None:
    html = fixture("inform-kz-ru-lenta.html").decode()
    candidates = parse_listing(html, "https://www.inform.kz/ru/lenta", "a.news-card", ALMATY)

    assert [(c.url, c.title) for c in candidates] == [
        (
            "https://www.inform.kz/ru/tokaev-i-aliev-obsudili-sotrudnichestvo-v-energetike-7c1e09",
            "Токаев и Алиев обсудили сотрудничество в энергетике",
        ),
        (
            "https://www.inform.kz/ru/v-aktau-otkryli-konsulstvo-azerbaydzhana-e3f4a5",
            "В Актау открыли консульство Азербайджана",
        ),
        (
            "https://www.inform.kz/ru/skolko-stoyat-uslugi-advokatov-v-kazahstane-cdaf32",
            "Сколько стоят услуги адвокатов в Казахстане",
        ),
    ]  # the "#" ad card is dropped and the repeated card (with a slash) is merged
    assert [c.published_at for c in candidates] == [
        datetime(2026, 9, 14, 11, 38, tzinfo=ALMATY),
        datetime(2026, 8, 18, 21, 38, tzinfo=ALMATY),
        datetime(2025, 11, 23, 15, 0, tzinfo=ALMATY),
    ]
    assert all(c.published_at and c.published_at.utcoffset() == PLUS_5 for c in candidates)
    assert {c.via for c in candidates} == {"listing"}


@pytest.mark.parametrize("selector", ["div.news-title a", "div.news-item"])
def test_azertac_listing_titles_and_dates_from_the_card(selector: str) -> None:
    html = fixture("azertag-bolme.html").decode()
    candidates = parse_listing(html, "https://azertag.az/bolme/xarici_siyaset", selector, BAKU)

    assert [c.url for c in candidates] == [
        "https://azertag.az/xeber/Azerbaycan_ve_Qazaxistan_prezidentleri_telefonla_danisib-1145321",
        "http://azertag.az/xeber/Astanada_Azerbaycan_medeniyyeti_gunleri_kechirilir-1145310",
        "https://azertag.az/xeber/Xezer_regionunda_emekdasliq_muzakire_olunub-1145290",
    ]
    assert candidates[0].title == (
        "Azərbaycan və Qazaxıstan prezidentləri telefonla danışıb YENİLƏNİB VİDEO"
    )
    assert candidates[1].title == "Astanada Azərbaycan mədəniyyəti günləri keçirilir"
    assert candidates[0].published_at == datetime(2018, 3, 16, 10, 55, tzinfo=BAKU)
    assert candidates[0].published_at.utcoffset() == PLUS_4
    assert candidates[2].published_at == datetime(2018, 3, 15, 0, 0, tzinfo=BAKU)


def test_icma_listing_ignores_the_most_read_block() -> None:
    html = fixture("icma-az-news.html").decode()
    assert "kohne-populyar-xeber-998877" in html  # the block is there to be ignored
    candidates = parse_listing(
        html, "https://icma.az/az/news", "section.latest-news .news-item", BAKU
    )

    assert [c.url for c in candidates] == [
        "https://icma.az/news/azerbaycan-ve-ermenistan-liderlerinin-astanaya-seferi-gozlenilir-1033087",
        "https://icma.az/story/strateji-terefdasliq-modeli-1155732",
        "https://icma.az/news/aygul-isayeva-gurcustanda-ikidilli-tehsildeki-problemlerle-bagli-dovlet-qurumlarina-muraciet-edib-1222291",
    ]  # resolved against <base href>, not the page URL's /az/ folder
    assert candidates[1].title == "Strateji tərəfdaşlıq modeli"
    assert candidates[0].published_at == datetime(2026, 9, 14, 11, 20, tzinfo=BAKU)
    assert candidates[2].published_at == datetime(2026, 9, 13, 23, 50, tzinfo=BAKU)


def test_listing_link_around_the_selected_element_and_time_datetime() -> None:
    html = (
        '<div class="feed"><a href="/ru/a-abcdef"><h3 class="t">Заголовок</h3></a>'
        '<time datetime="2026-09-14T10:00:00+05:00">вчера</time></div>'
    )
    [candidate] = parse_listing(html, "https://www.inform.kz/ru/lenta", "h3.t", ALMATY)
    assert candidate.url == "https://www.inform.kz/ru/a-abcdef"
    assert candidate.title == "Заголовок"
    assert candidate.published_at == datetime(2026, 9, 14, 10, 0, tzinfo=timezone(PLUS_5))


@pytest.mark.parametrize(
    ("head", "page", "expected"),
    [
        ("", "https://kaz.inform.kz/lenta/", "https://kaz.inform.kz/lenta/a-fbf80170"),
        ("", "https://kaz.inform.kz/lenta", "https://kaz.inform.kz/a-fbf80170"),
        (
            '<base href="/news/">',
            "https://kaz.inform.kz/lenta",
            "https://kaz.inform.kz/news/a-fbf80170",
        ),
        (
            '<base href="https://qz.inform.kz/news/">',
            "https://kaz.inform.kz/lenta/",
            "https://qz.inform.kz/news/a-fbf80170",
        ),
    ],
)
def test_listing_resolves_relative_links_like_a_browser(
    head: str, page: str, expected: str
) -> None:
    html = f"<html><head>{head}</head><body><a class='c' href='a-fbf80170/'>A</a></body></html>"
    [candidate] = parse_listing(html, page, "a.c", ALMATY)
    assert candidate.url == expected


def test_listing_drops_non_links_and_uses_the_card_heading_for_image_links() -> None:
    html = (
        '<ul><li class="c"><a href="javascript:void(0)">Share</a></li>'
        '<li class="c"><a href="mailto:x@icma.az">Mail</a></li>'
        '<li class="c"><a href="tel:+994">Call</a></li>'
        '<li class="c"><a href="https://icma.az/news/x-1"><img src="x.jpg"></a>'
        "<h2>Başlıq</h2></li></ul>"
    )
    [candidate] = parse_listing(html, "https://icma.az/", "li.c a", BAKU)
    assert candidate.url == "https://icma.az/news/x-1"
    assert candidate.title == "Başlıq"


@pytest.mark.parametrize(
    ("html", "selector", "message"),
    [
        pytest.param("<div class='news'>x</div>", "a.news-card", "matched nothing", id="no-match"),
        pytest.param("<div class='news'>x</div>", "div.news", "no links", id="no-links"),
        pytest.param("<a href='#top' class='c'>x</a>", "a.c", "no links", id="only-fragments"),
        pytest.param("<a href='/x'>x</a>", "a[[", "invalid CSS selector", id="bad-selector"),
    ],
)
def test_listing_that_yields_nothing_raises(html: str, selector: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_listing(html, "https://icma.az/", selector, BAKU)


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("21:38, 18 Августа 2026", ALMATY, datetime(2026, 8, 18, 21, 38, tzinfo=ALMATY)),
        ("13:51, 15 Август 2025", ALMATY, datetime(2025, 8, 15, 13, 51, tzinfo=ALMATY)),
        ("15:00, 23 Ноябрь 2025", ALMATY, datetime(2025, 11, 23, 15, 0, tzinfo=ALMATY)),
        ("01:05, 1 мая 2026", ALMATY, datetime(2026, 5, 1, 1, 5, tzinfo=ALMATY)),
        ("16.03.2018 [10:55]", BAKU, datetime(2018, 3, 16, 10, 55, tzinfo=BAKU)),
        ("05.01.2026", BAKU, datetime(2026, 1, 5, 0, 0, tzinfo=BAKU)),
        (
            "17:36, 30 Qańtar 2026 | GMT +5",
            BAKU,
            datetime(2026, 1, 30, 17, 36, tzinfo=timezone(PLUS_5)),
        ),
        ("12 Қыркүйек 2026, 09:05", ALMATY, datetime(2026, 9, 12, 9, 5, tzinfo=ALMATY)),
        ("3 наурыз 2026 10:00", ALMATY, datetime(2026, 3, 3, 10, 0, tzinfo=ALMATY)),
        ("7 сәуір 2026", ALMATY, datetime(2026, 4, 7, tzinfo=ALMATY)),
        ("31 желтоқсан 2025 23:59", ALMATY, datetime(2025, 12, 31, 23, 59, tzinfo=ALMATY)),
        ("10:05, 1 Qyrkúıek 2026", ALMATY, datetime(2026, 9, 1, 10, 5, tzinfo=ALMATY)),
        ("2 Naýryz 2026", ALMATY, datetime(2026, 3, 2, tzinfo=ALMATY)),
        ("4 SÁÝIR 2026", ALMATY, datetime(2026, 4, 4, tzinfo=ALMATY)),
        ("9 Jeltoqsan 2025", ALMATY, datetime(2025, 12, 9, tzinfo=ALMATY)),
        ("13 noyabr, 2025 • 16:16", BAKU, datetime(2025, 11, 13, 16, 16, tzinfo=BAKU)),
        ("3 İyun 2026 10:00", BAKU, datetime(2026, 6, 3, 10, 0, tzinfo=BAKU)),
        ("21 avqust 2026", BAKU, datetime(2026, 8, 21, tzinfo=BAKU)),
        (
            "6 Dekabr 2025 15:49 (UTC +04:00)",
            ALMATY,
            datetime(2025, 12, 6, 15, 49, tzinfo=timezone(PLUS_4)),
        ),
        ("21 октября, 2025 • 15:22", BAKU, datetime(2025, 10, 21, 15, 22, tzinfo=BAKU)),
        ("September 14, 2026 1:05 PM", BAKU, datetime(2026, 9, 14, 13, 5, tzinfo=BAKU)),
        ("2026-09-14 08:00", BAKU, datetime(2026, 9, 14, 8, 0, tzinfo=BAKU)),
        ("21:38", ALMATY, None),  # today: would need the clock
        ("15 августа", ALMATY, None),  # no year
        ("31.02.2026 10:00", BAKU, None),
        ("18 Фруктабря 2026", ALMATY, None),
        ("", BAKU, None),
    ],
)
def test_listing_date(text: str, zone: ZoneInfo, expected: datetime | None) -> None:
    parsed = _listing_date(text, zone)
    assert parsed == expected
    if expected is not None:
        assert parsed is not None and parsed.utcoffset() == expected.utcoffset()


def test_listing_date_of_2018_baku_and_almaty_uses_the_zone_rules_of_that_day() -> None:
    parsed = _listing_date("16.03.2018 [10:55]", ALMATY)
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=6)  # UTC+6 until 2024


# --- discover() ------------------------------------------------------------------------------


def _source(**overrides: object) -> Source:
    fields: dict[str, object] = {
        "name": "azertag-az",
        "homepage": "https://azertag.az/",
        "language": "az",
        "timezone": "Asia/Baku",
        "feeds": [AZERTAC_FEED],
        "id_pattern": r"-(\d+)$",
    }
    fields.update(overrides)
    return Source.model_validate(fields)


def test_registry_holds_the_built_in_kinds() -> None:
    assert set(DISCOVERERS) == {"feed", "sitemap", "listing"}


def test_discover_feed_keeps_only_the_source_articles() -> None:
    body = rss(
        "<item><title>a</title><link>https://azertag.az/xeber/a-1</link></item>"
        "<item><title>b</title><link>https://report.az/daxili-siyaset/b</link></item>"
        "<item><title>c</title><link>https://azertag.az/files/2026/c.jpg</link></item>"
        "<item><title>d</title><link>https://azertag.az/bolme/politics</link></item>"
    )
    source = _source(article_url=r"/xeber/[^/]+-\d+$")
    found = discover("feed", body, body.decode(), AZERTAC_FEED, source)
    assert found == Discovery(
        candidates=[
            parse_feed(body, AZERTAC_FEED, BAKU)[0],
        ],
        follow=[],
    )


def test_discover_feed_uses_the_source_time_zone() -> None:
    body = rss(
        "<item><title>a</title><link>https://azertag.az/xeber/a-1</link>"
        "<pubDate>Mon, 14 Sep 2026 10:00:00</pubDate></item>"
    )
    [candidate] = discover("feed", body, "", AZERTAC_FEED, _source()).candidates
    assert candidate.published_at == datetime(2026, 9, 14, 10, 0, tzinfo=BAKU)


def test_discover_caps_any_kind_keeping_the_newest() -> None:
    body = rss(
        "<item><title>a</title><link>https://azertag.az/xeber/a-1</link>"
        "<pubDate>Mon, 14 Sep 2026 10:00:00 +0400</pubDate></item>"
        "<item><title>b</title><link>https://azertag.az/xeber/b-2</link>"
        "<pubDate>Mon, 14 Sep 2026 12:00:00 +0400</pubDate></item>"
        "<item><title>c</title><link>https://azertag.az/xeber/c-3</link></item>"
    )
    found = discover("feed", body, "", AZERTAC_FEED, _source(), cap=1)
    assert [c.title for c in found.candidates] == ["b"]
    assert found.left_out == 2
    assert len(discover("feed", body, "", AZERTAC_FEED, _source()).candidates) == 3


def test_discover_sitemap_follows_only_children_on_the_site() -> None:
    source = _source(
        name="kazinform-ru",
        homepage="https://www.inform.kz/ru",
        language="ru",
        timezone="Asia/Almaty",
        feeds=[],
        sitemaps=[SITEMAP],
        id_pattern=r"-([0-9a-f]{6,8})/?$",
    )
    found = discover("sitemap", fixture("inform-kz-sitemap-index.xml"), "", SITEMAP, source)
    assert found.candidates == []
    assert found.follow == [
        "https://www.inform.kz/sitemaps/google-news_ru.xml",
        "https://www.inform.kz/sitemaps/sitemap-last-news-300_ru.xml",
        "https://www.inform.kz/sitemaps/sitemap-2026-09.xml.gz",
    ]


def test_discover_listing_reads_the_decoded_text() -> None:
    source = _source(name="icma-az", homepage="https://icma.az/", id_pattern=r"-(\d+)$")
    html = fixture("icma-az-news.html").decode()
    found = discover(
        "listing",
        b"",
        html,
        "https://icma.az/news",
        source,
        selector="section.latest-news .news-item",
    )
    assert len(found.candidates) == 3
    assert found.follow == []


def test_discover_refuses_unknown_kinds_and_listings_without_selector() -> None:
    with pytest.raises(ValueError, match="unknown discovery kind 'json'"):
        discover("json", b"{}", "{}", "https://azertag.az/api", _source())
    with pytest.raises(ValueError, match="needs its selector"):
        discover("listing", b"<a href='/x-1'>x</a>", "", "https://azertag.az/", _source())


def test_discover_lets_parse_errors_through() -> None:
    html = fixture("apa-en-rss.html")
    with pytest.raises(ParseError):
        discover("feed", html, html.decode(), AZERTAC_FEED, _source())
