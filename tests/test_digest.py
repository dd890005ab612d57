"""Choosing and rendering digests: pure functions, no store, no network."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from monitor.config.sources import agencies, load_sources
from monitor.deliver.digest import (
    Labels,
    build_weekly_summary,
    digest_item,
    md_escape,
    render_markdown,
    render_telegram,
    select_items,
    snippet_of,
    week_bounds,
    week_key,
    week_of,
)
from monitor.deliver.telegram_text import TELEGRAM_LIMIT, shorten, utf16_len
from monitor.store.queries import DigestRow

BAKU = timezone(timedelta(hours=4))
ASTANA = timezone(timedelta(hours=5))
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)  # 10:00 in Baku
LABELS = Labels(
    sources={"azertag-az": "AZERTAC", "inform-kz": "Kazinform"},
    topics={"diplomacy": "Diplomacy", "trade": "Trade", "energy": "Energy", "other": "Other"},
    agencies=agencies(load_sources(Path(__file__).resolve().parent.parent / "sources.yaml")),
)


def row(n: int, **changes: object) -> DigestRow:
    base: dict[str, object] = {
        "article_id": n,
        "source": "azertag-az",
        "title": f"Item {n:03d}: Baku and Astana",
        "url": f"https://azertag.az/xeber/{n}",
        "published_at": datetime(2026, 11, 21, 9, 0, tzinfo=BAKU) - timedelta(minutes=n),
        "lang": "en",
        "first_seen_at": NOW - timedelta(minutes=n),
        "relevant": True,
        "duplicate_of": None,
        "score": 5.0,
        "topics": ("diplomacy",),
        "lead": f"First paragraph of item {n}.\n\nSecond paragraph.",
    }
    base.update(changes)
    return DigestRow(**base)  # type: ignore[arg-type]


def items(*rows: DigestRow):
    return [digest_item(r, LABELS) for r in rows]


class Tags(HTMLParser):
    """Checks Telegram HTML: only allowed tags, balanced, attributes quoted."""

    ALLOWED: ClassVar[set[str]] = {"b", "i", "a"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        assert tag in self.ALLOWED, tag
        self.stack.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        assert self.stack.pop() == tag

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> Tags:
    tags = Tags()
    tags.feed(markup)
    tags.close()
    assert tags.stack == []
    return tags


# --- choosing ----------------------------------------------------------------------------------


def test_select_items_keeps_relevant_originals_not_delivered_newest_first():
    rows = [
        row(1),
        row(2, relevant=False),
        row(3, relevant=None),
        row(4, duplicate_of="https://other/4"),
        row(5),
        row(6, first_seen_at=NOW - timedelta(days=9)),
        row(7),
    ]
    chosen = select_items(rows, NOW - timedelta(days=7), delivered={7}, labels=LABELS)
    assert [i.article_id for i in chosen] == [1, 5]  # 1 was published later than 5
    assert chosen[0].source_title == "AZERTAC"
    assert chosen[0].snippet == "First paragraph of item 1."


def test_select_items_limit_and_min_score():
    rows = [row(n, score=float(n)) for n in range(1, 6)]
    assert [i.article_id for i in select_items(rows, NOW - timedelta(1), min_score=4.0)] == [4, 5]
    assert len(select_items(rows, NOW - timedelta(1), limit=2)) == 2


def test_snippet_is_first_paragraph_on_one_line_cut_at_a_word():
    text = "  Line one\nline\ttwo.  \n\nNext."
    assert snippet_of(text) == "Line one line two."
    long = "word " * 200
    cut = snippet_of(long, 50)
    assert len(cut) <= 50 and cut.endswith("…") and "wor…" not in cut
    assert shorten("abc", 0) == ""


@pytest.mark.parametrize(
    ("lead", "snippet"),
    [
        ("Baku, November 20, AZERTAC\n\nAzerbaijan and Kazakhstan discussed cargo.", "Azerbaijan"),
        ("Bakı, 20 noyabr, AZƏRTAC\n\nNoyabrın 20-də nazir görüşüb.", "Noyabrın 20-də"),
        ("Баку, 20 ноября, АЗЕРТАДЖ\n\nЗа десять месяцев объем вырос.", "За десять месяцев"),
        ("АСТАНА. KAZINFORM — Стороны обсудили паромы.", "Стороны обсудили"),
        ("Астана, 20 қараша. ҚазАқпарат\n\nТараптар талқылады.", "Тараптар талқылады"),
        ("Baku, November 20, AZERTAC", ""),
    ],
)
def test_a_digest_item_never_leads_with_a_bare_dateline(lead: str, snippet: str) -> None:
    [item] = items(row(1, lead=lead))
    assert item.snippet.startswith(snippet) and bool(item.snippet) == bool(snippet)
    for agency in ("AZERTAC", "AZƏRTAC", "АЗЕРТАДЖ", "KAZINFORM", "ҚазАқпарат"):
        assert agency not in item.snippet
    [message] = render_telegram([item], zone="Asia/Baku", now=NOW, labels=LABELS)
    assert item.snippet in message.plain


def test_a_dateline_stays_in_the_snippet_when_no_source_names_its_agency() -> None:
    lead = "Baku, November 20, AZERTAC\n\nAzerbaijan and Kazakhstan discussed cargo."
    [item] = [digest_item(row(1, lead=lead), replace(LABELS, agencies=frozenset()))]
    assert item.snippet == "Baku, November 20, AZERTAC"


# --- Telegram ----------------------------------------------------------------------------------


def test_titles_snippets_and_urls_are_escaped():
    nasty = row(
        1,
        title='<script>alert("x")</script> & AT&T\'s "deal" </b>',
        lead="Snippet with <b>bold</b> & <a href='x'>link</a>",
        url='https://example.com/a?x=1&y="2"><b>',
    )
    [message] = render_telegram(items(nasty), zone="Asia/Baku", now=NOW, labels=LABELS)
    tags = parse(message.html)
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert 'AT&amp;T\'s "deal"' in message.html  # quotes need escaping only in attributes
    assert tags.links == ['https://example.com/a?x=1&y="2"><b>']  # the whole URL, in the attribute
    assert 'href="https://example.com/a?x=1&amp;y=&quot;2&quot;&gt;&lt;b&gt;"' in message.html
    text = "".join(tags.text)
    assert '<script>alert("x")</script> & AT&T\'s "deal" </b>' in text
    assert "Snippet with <b>bold</b> & <a href='x'>link</a>" in text
    # the plain twin shows the same words unescaped, and the link as text
    assert '<script>alert("x")</script>' in message.plain
    assert 'https://example.com/a?x=1&y="2"><b>' in message.plain


def test_non_http_links_are_not_linked():
    [message] = render_telegram(
        items(row(1, url="javascript:alert(1)")), zone="Asia/Baku", now=NOW, labels=LABELS
    )
    assert parse(message.html).links == []
    assert "javascript:" not in message.plain


def test_items_grouped_by_their_first_topic_with_the_others_listed():
    rows = [
        row(1, topics=("trade", "diplomacy")),  # rules order: diplomacy comes first
        row(2, topics=("energy",)),
        row(3, topics=()),
        row(4, topics=("trade",)),
    ]
    [message] = render_telegram(items(*rows), zone="Asia/Baku", now=NOW, labels=LABELS)
    text = message.plain
    order = [text.index(f"■ {label}") for label in ("Diplomacy", "Trade", "Energy", "Other")]
    assert order == sorted(order)
    # item 1 appears once, under Diplomacy, with Trade listed
    assert text.count("Item 001") == 1
    assert text.index("Item 001") < text.index("■ Trade")
    assert "also: Trade" in text
    assert text.index("■ Other") < text.index("Item 003")
    assert message.item_ids == (1, 4, 2, 3)


def test_source_and_local_time_in_the_digest_zone():
    astana = row(1, source="inform-kz", published_at=datetime(2026, 11, 21, 12, 30, tzinfo=ASTANA))
    [message] = render_telegram(items(astana), zone="Asia/Baku", now=NOW, labels=LABELS)
    assert "Kazinform · 21 Nov 11:30" in message.plain  # 12:30 Astana is 11:30 Baku
    assert "<i>Kazinform · 21 Nov 11:30</i>" in message.html
    assert message.plain.startswith("Azerbaijan–Kazakhstan news\n21 Nov 2026, 10:00")


def test_sixty_items_with_long_titles_split_below_the_limit_between_items():
    rows = [
        row(n, title=f"Item {n:03d} " + "Orta Dəhliz & «Middle Corridor» <talks> " * 8)
        for n in range(60)
    ]
    rows += [row(100 + n, topics=("trade",)) for n in range(10)]
    messages = render_telegram(items(*rows), zone="Asia/Baku", now=NOW, labels=LABELS)
    assert len(messages) > 2
    seen: list[int] = []
    for number, message in enumerate(messages, 1):
        assert utf16_len(message.html) <= TELEGRAM_LIMIT
        assert utf16_len(message.plain) <= TELEGRAM_LIMIT
        parse(message.html)  # balanced: never cut inside a tag
        assert f"{number}/{len(messages)}" in message.plain
        for item_id in message.item_ids:
            marker = f"Item {item_id:03d}" if item_id < 100 else f"Item {item_id}"
            assert message.plain.count(marker) == 1  # whole items only
        seen += message.item_ids
    assert sorted(seen) == sorted(r.article_id for r in rows)
    assert "(continued)" in messages[1].plain


def test_a_single_item_over_the_limit_is_shortened_to_fit():
    huge = replace(digest_item(row(1), LABELS), title="Ä" * 3000, snippet="ß " * 9000)
    emoji = replace(digest_item(row(2), LABELS), title="😀" * 3000, snippet="😀 " * 3000)
    messages = render_telegram([huge, emoji], zone="Asia/Baku", now=NOW, labels=LABELS)
    assert [m.item_ids for m in messages] == [(1,), (2,)]
    for message in messages:
        assert utf16_len(message.html) <= TELEGRAM_LIMIT
        assert utf16_len(message.plain) <= TELEGRAM_LIMIT
        assert "…" in message.plain
        parse(message.html)
    assert "Ä" * 2000 in messages[0].plain  # the snippet gave way before the title
    assert "😀" * 150 in messages[1].plain  # emoji count two UTF-16 units each
    assert "😀" * 2000 not in messages[1].plain


def test_a_title_too_long_for_a_message_is_cut():
    rows = [row(1, title="Ä" * 5000), row(2)]
    [message] = render_telegram(items(*rows), zone="Asia/Baku", now=NOW, labels=LABELS)
    assert "Ä" * 150 + "…" in message.plain and "Ä" * 300 not in message.plain
    assert message.item_ids == (1, 2)


def test_a_url_too_long_for_any_message_is_left_unlinked():
    [message] = render_telegram(
        items(row(1, url="https://x.az/" + "a" * 9000)), zone="Asia/Baku", now=NOW, labels=LABELS
    )
    assert utf16_len(message.plain) <= TELEGRAM_LIMIT
    assert parse(message.html).links == []


def test_amp_heavy_titles_count_their_escaped_length():
    rows = [row(n, title="&" * 300, lead="<" * 300) for n in range(40)]
    for message in render_telegram(items(*rows), zone="Asia/Baku", now=NOW, labels=LABELS):
        assert utf16_len(message.html) <= TELEGRAM_LIMIT
        assert html.unescape(message.html).count("&") >= 300


def test_no_items_no_messages():
    assert render_telegram([], zone="Asia/Baku", now=NOW) == []


# --- Markdown ----------------------------------------------------------------------------------


def test_markdown_escapes_and_groups():
    rows = [
        row(1, title="[Click](javascript:x) *bold* <b>&amp;", url="https://a.az/x (1)"),
        row(2, topics=("trade",)),
    ]
    text = render_markdown(items(*rows), zone="Asia/Baku", now=NOW, labels=LABELS)
    assert text.startswith("# Azerbaijan–Kazakhstan news\n")
    assert "## Diplomacy" in text and "## Trade" in text
    assert r"[\[Click\]\(javascript:x\) \*bold\* \<b\>\&amp;](<https://a.az/x%20(1)>)" in text
    assert "*AZERTAC, 21 Nov 08:59*" in text
    assert md_escape("a_b") == r"a\_b"


# --- the weekly summary ------------------------------------------------------------------------


def test_week_of_is_the_last_full_iso_week_in_the_zone():
    monday_9 = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # Monday 09:00 Baku
    assert week_of(monday_9, "Asia/Baku") == (date(2026, 11, 16), date(2026, 11, 22))
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert week_of(wednesday, "Asia/Baku")[0] == date(2026, 11, 16)
    sunday_late_utc = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # already Monday 01:00 in Baku
    assert week_of(sunday_late_utc, "Asia/Baku")[0] == date(2026, 11, 16)
    assert week_key(date(2026, 11, 16)) == "2026-W47"
    first, last = week_bounds(date(2026, 11, 16), "Asia/Baku")
    assert first == datetime(2026, 11, 15, 20, 0, tzinfo=UTC)
    assert last - first == timedelta(days=7)


def test_build_weekly_summary_counts_and_top_stories():
    start = date(2026, 11, 16)
    first, _ = week_bounds(start, "Asia/Baku")
    rows = [
        row(1, first_seen_at=first + timedelta(hours=5), score=9.0),
        row(2, first_seen_at=first + timedelta(days=1), score=3.0, lang="az"),
        row(3, first_seen_at=first + timedelta(days=1), score=4.0, topics=("trade",)),
        row(4, first_seen_at=first + timedelta(days=2), relevant=False),
        row(5, first_seen_at=first + timedelta(days=2), duplicate_of="x"),
        row(6, first_seen_at=first - timedelta(hours=1)),  # the week before
        row(7, first_seen_at=first + timedelta(days=6, hours=23), source="inform-kz"),
        row(8, first_seen_at=first + timedelta(hours=1), score=1.0),
        row(9, first_seen_at=first + timedelta(hours=2), score=2.0),
    ]
    summary = build_weekly_summary(rows, week_start=start, zone="Asia/Baku", labels=LABELS, top=3)
    assert summary.week_end == date(2026, 11, 22)
    assert summary.archived == 8
    assert summary.relevant == 6
    assert summary.by_source == {"AZERTAC": 5, "Kazinform": 1}
    assert summary.by_lang == {"en": 5, "az": 1}
    assert summary.by_topic == {"Diplomacy": 5, "Trade": 1}
    assert sum(summary.by_topic.values()) == summary.relevant
    assert [i.article_id for i in summary.top_by_topic["Diplomacy"]] == [1, 7, 2]
    assert summary.per_day[0] == (date(2026, 11, 16), 3)
    assert summary.per_day[1] == (date(2026, 11, 17), 2)
    assert summary.per_day[6] == (date(2026, 11, 22), 1)
    assert len(summary.per_day) == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\x00b\x1fc", "abc"), ("a\u00a0\u2003b", "a b"), ("\n\n  x  \n", "x")],
)
def test_titles_lose_control_characters_and_extra_space(text, expected):
    assert digest_item(row(1, title=text), LABELS).title == expected


def test_markers_are_unique_per_item():
    # sanity for the other tests: "Item 001" does not occur inside "Item 0010"
    assert not re.search(r"Item 001\d", "Item 001: x")
