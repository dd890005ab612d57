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
    MAX_VERSIONS,
    Labels,
    build_weekly_summary,
    digest_item,
    md_escape,
    render_markdown,
    render_telegram,
    snippet_of,
    week_bounds,
    week_key,
    week_of,
)
from monitor.deliver.stories import choose_stories, new_languages
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


def test_choose_stories_keeps_relevant_originals_not_delivered_newest_first():
    rows = [
        row(1),
        row(2, relevant=False),
        row(3, relevant=None),
        row(4, duplicate_of="https://other/4"),
        row(5),
        row(6, first_seen_at=NOW - timedelta(days=9)),
        row(7),
    ]
    chosen = choose_stories(rows, NOW - timedelta(days=7), delivered={7}, labels=LABELS)
    assert [i.article_id for i in chosen] == [1, 5]  # 1 was published later than 5
    assert chosen[0].source_title == "AZERTAC"
    assert chosen[0].snippet == "First paragraph of item 1."


def test_choose_stories_limit_and_min_score():
    rows = [row(n, score=float(n)) for n in range(1, 6)]
    assert [i.article_id for i in choose_stories(rows, NOW - timedelta(1), min_score=4.0)] == [4, 5]
    assert len(choose_stories(rows, NOW - timedelta(1), limit=2)) == 2


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
    assert "also under Trade" in text and "also:" not in text  # "also:" is for versions
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


# --- stories: one entry per event --------------------------------------------------------------

LANG_OF = {"azertag-az": "az", "azertag-ru": "ru", "kazinform-kk": "kk", "kazinform-ru": "ru"}
STORY_LABELS = replace(
    LABELS,
    sources={
        "azertag-az": "AZERTAC",
        "azertag-ru": "AZERTAC",
        "kazinform-kk": "Kazinform",
        "kazinform-ru": "Kazinform",
    },
)


def version_row(n: int, site: str, story: int | None = 1, **changes: object) -> DigestRow:
    """Article `n` of story `story`, from source `site` in that source's language."""
    base: dict[str, object] = {
        "source": site,
        "lang": LANG_OF[site],
        "url": f"https://{site}.example/{n}",
        "story_id": story,
    }
    return row(n, **(base | changes))


@pytest.mark.parametrize(
    ("posted", "fresh", "added"),
    [
        ((), ("az",), ("az",)),  # nothing posted: every language is new (the caller posts anyway)
        (("az", "ru"), ("az",), ()),  # another az version: a mere new version
        (("az", "ru"), ("ru", "az"), ()),
        (("az", "ru"), ("kk",), ("kk",)),  # the first Kazakh account
        (("az",), ("ru", "kk", "ru"), ("kk", "ru")),
        (("az",), (None,), ()),  # a language nobody knows adds nothing
        ((None,), ("az",), ("az",)),
    ],
)
def test_new_languages_decides_whether_a_posted_story_comes_back(
    posted: tuple[str | None, ...], fresh: tuple[str | None, ...], added: tuple[str, ...]
) -> None:
    def members(langs: tuple[str | None, ...], first: int) -> list[DigestRow]:
        return [row(first + n, lang=lang) for n, lang in enumerate(langs)]

    assert new_languages(members(posted, 1), members(fresh, 100)) == added


def test_versions_of_one_event_make_one_entry_with_the_others_linked():
    rows = [
        version_row(1, "azertag-az", score=9.0),
        version_row(2, "kazinform-kk"),
        version_row(3, "azertag-ru"),
        version_row(4, "azertag-az"),  # a second AZERTAC az article of the event: not linked
        version_row(5, "kazinform-ru", story=2),
        version_row(6, "azertag-az", story=None),  # not linked yet: a story of its own
    ]
    chosen = choose_stories(rows, NOW - timedelta(days=1), labels=STORY_LABELS)
    assert [i.article_id for i in chosen] == [1, 5, 6]  # newest news first: 1 is the newest
    first = chosen[0]
    assert first.story_id == 1 and first.title == "Item 001: Baku and Astana"
    assert [(v.article_id, v.source_title, v.lang) for v in first.versions] == [
        (3, "AZERTAC", "ru"),  # earliest published first
        (2, "Kazinform", "kk"),
    ]
    assert (first.sites, first.languages) == (3, 3)
    assert set(first.item_ids) == {1, 2, 3, 4}  # the unlinked 4 is held too: it was news
    assert not first.new_languages and not any(v.new for v in first.versions)
    [message] = render_telegram(chosen, zone="Asia/Baku", now=NOW, labels=STORY_LABELS)
    assert message.plain.count("• ") == 3
    assert set(message.item_ids) == {1, 2, 3, 4, 5, 6}
    also = [line for line in message.html.splitlines() if line.startswith("also: ")]
    assert also == [
        'also: <a href="https://azertag-ru.example/3">AZERTAC (ru)</a>'
        ' · <a href="https://kazinform-kk.example/2">Kazinform (kk)</a>'
    ]
    assert (
        "also: AZERTAC (ru) https://azertag-ru.example/3 · "
        "Kazinform (kk) https://kazinform-kk.example/2"
    ) in message.plain
    assert parse(message.html).links.count("https://azertag-az.example/4") == 0


def test_only_members_that_may_be_shown_speak_for_a_story_or_are_linked():
    rows = [
        version_row(1, "azertag-az"),
        version_row(2, "kazinform-kk", relevant=False),  # the rules judged it off-topic
        version_row(3, "azertag-ru", duplicate_of="https://azertag-az.example/1"),  # a copy
        version_row(4, "kazinform-ru", source="seed"),
    ]
    [item] = choose_stories(rows, NOW - timedelta(days=1), labels=STORY_LABELS)
    assert item.article_id == 1 and item.versions == () and item.item_ids == (1,)


def test_a_posted_story_is_not_posted_again_for_a_version_in_a_language_it_offered():
    members = {1: [version_row(1, "azertag-az"), version_row(2, "kazinform-ru")]}
    rows = [version_row(3, "azertag-ru")]  # news: another Russian version
    since = NOW - timedelta(days=1)
    assert choose_stories(rows, since, delivered={1, 2}, members=members) == []
    # the same version, had the story never been posted, brings the whole story
    [item] = choose_stories(rows, since, delivered=set(), members=members, labels=STORY_LABELS)
    assert {item.article_id, *(v.article_id for v in item.versions)} == {1, 2, 3}


def test_a_posted_story_comes_back_for_a_new_language_and_says_what_is_new():
    members = {
        1: [version_row(1, "azertag-az", score=9.0), version_row(2, "kazinform-ru")],
        2: [version_row(5, "azertag-ru", story=2)],
    }
    rows = [
        version_row(3, "azertag-ru"),  # ru was offered
        version_row(4, "kazinform-kk"),  # kk was not
        version_row(6, "azertag-az", story=2),  # story 2 posted in ru only: az is new too
    ]
    since = NOW - timedelta(days=1)
    chosen = choose_stories(rows, since, delivered={1, 2, 5}, members=members, labels=STORY_LABELS)
    assert [(i.story_id, i.new_languages) for i in chosen] == [(1, ("kk",)), (2, ("az",))]
    item = chosen[0]
    assert item.article_id == 1  # the best member still speaks for it
    assert [(v.article_id, v.new) for v in item.versions] == [(4, True), (3, True), (2, False)]
    assert item.news == (3, 4)
    [message] = render_telegram([item], zone="Asia/Baku", now=NOW, labels=STORY_LABELS)
    assert "· new in kk" in message.plain
    assert ">Kazinform (kk, new)</a>" in message.html and ">Kazinform (ru)</a>" in message.html


def test_news_under_an_instant_score_leaves_a_story_out():
    rows = [version_row(1, "azertag-az", score=2.0), version_row(2, "kazinform-kk", score=12.0)]
    [item] = choose_stories(rows, NOW - timedelta(hours=6), min_score=10.0, labels=STORY_LABELS)
    assert item.news == (2,) and item.score == 12.0
    assert {item.article_id, *(v.article_id for v in item.versions)} == {1, 2}
    rows = [version_row(1, "azertag-az", score=2.0), version_row(2, "kazinform-kk", score=3.0)]
    assert choose_stories(rows, NOW - timedelta(hours=6), min_score=10.0) == []


def test_the_limit_counts_stories_and_the_rest_wait():
    rows = [version_row(n, "azertag-az", story=n // 2) for n in range(2, 12)]
    chosen = choose_stories(rows, NOW - timedelta(days=1), limit=3)
    assert [i.story_id for i in chosen] == [1, 2, 3]
    assert sorted(i for item in chosen for i in item.item_ids) == [2, 3, 4, 5, 6, 7]


def test_version_links_are_escaped_bounded_and_counted():
    rows = [version_row(1, "azertag-az", score=9.0)]
    rows += [
        version_row(
            10 + n,
            "azertag-ru",
            source=f"site-{n}",
            url="javascript:alert(1)" if n == 8 else f'https://s{n}.example/a?x=1&y="<b>"',
        )
        for n in range(MAX_VERSIONS + 2)
    ]
    rows.append(version_row(30, "kazinform-kk", url="https://kaz.example/" + "a" * 9000))
    labels = replace(STORY_LABELS, sources={"site-9": "<i>Agency</i> & Co"})
    [item] = choose_stories(rows, NOW - timedelta(days=1), labels=labels)
    assert len(item.versions) == MAX_VERSIONS + 3  # 30 and 19..12 shown (earliest first)
    [message] = render_telegram([item], zone="Asia/Baku", now=NOW, labels=labels)
    assert utf16_len(message.html) <= TELEGRAM_LIMIT
    links = parse(message.html).links
    assert links[0] == "https://azertag-az.example/1" and len(links) == 1 + MAX_VERSIONS - 2
    assert "javascript:alert(1)" not in links and "javascript:" not in message.plain
    assert not any(url.startswith("https://kaz.example/") for url in links)
    assert "also: kazinform-kk (kk) · " in message.plain  # named, not linked
    assert 'https://s9.example/a?x=1&y="<b>"' in links
    assert '<a href="https://s9.example/a?x=1&amp;y=&quot;&lt;b&gt;&quot;">' in message.html
    assert "&lt;i&gt;Agency&lt;/i&gt; &amp; Co (ru)</a>" in message.html
    assert message.plain.endswith("+3 more") and message.html.endswith("+3 more")
    assert set(message.item_ids) == {1, 30, *range(10, 12 + MAX_VERSIONS)}


def test_markdown_shows_one_entry_per_story_with_its_versions():
    rows = [
        version_row(1, "azertag-az", score=9.0, title="Deal [signed]"),
        version_row(2, "kazinform-kk"),
        version_row(3, "kazinform-ru", story=2),
    ]
    items_ = choose_stories(rows, NOW - timedelta(days=1), labels=STORY_LABELS)
    text = render_markdown(items_, zone="Asia/Baku", now=NOW, labels=STORY_LABELS)
    assert "(Asia/Baku) · 2 stories" in text
    assert text.count("\n- ") == 2
    assert r"- [Deal \[signed\]](<https://azertag-az.example/1>) — *AZERTAC, 21 Nov 08:59*" in text
    assert r"  also: [Kazinform \(kk\)](<https://kazinform-kk.example/2>)" in text
    again = replace(items_[0], new_languages=("kk",))
    assert "*AZERTAC, 21 Nov 08:59* · new in kk" in render_markdown(
        [again], zone="Asia/Baku", now=NOW, labels=STORY_LABELS
    )


def test_the_weekly_summary_lists_stories_widest_told_first():
    start = date(2026, 11, 16)
    first, _ = week_bounds(start, "Asia/Baku")
    seen = first + timedelta(days=1)
    rows = [
        version_row(1, "azertag-az", story=1, first_seen_at=seen, score=9.0),
        version_row(2, "azertag-az", story=2, first_seen_at=seen, score=3.0),
        version_row(3, "kazinform-kk", story=2, first_seen_at=seen),
        version_row(4, "kazinform-ru", story=None, first_seen_at=seen, score=1.0),
    ]
    earlier = version_row(5, "azertag-ru", story=2, first_seen_at=first - timedelta(days=2))
    summary = build_weekly_summary(
        rows,
        week_start=start,
        zone="Asia/Baku",
        labels=STORY_LABELS,
        members={2: [rows[1], rows[2], earlier]},
    )
    assert summary.relevant == 4 and summary.stories == 3
    assert summary.by_topic == {"Diplomacy": 4}  # items, not stories
    top = summary.top_by_topic["Diplomacy"]
    assert [i.story_id for i in top] == [2, 1, None]  # 3 sites, then the best score
    assert (top[0].sites, top[0].languages) == (3, 3)
    assert top[0].article_id == 5  # first seen the week before, published first: it speaks
    assert [v.article_id for v in top[0].versions] == [3, 2]
