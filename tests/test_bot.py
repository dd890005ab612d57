"""The bot commands: pure renderers, then the real python-telegram-bot Application long-polling
the fake Bot API server (fakebotapi.py) over an archive filled by a real poll of the recorded
sites (whose pipeline links the stories /latest, /search and /story show), then `monitor bot` as
a subprocess.

pytest-asyncio is not a dependency: each conversation is one `asyncio.run`. A conversation queues
incoming messages on the fake server and waits until the expected number of answers arrived; the
Application handles updates one at a time in order, so once the answer to the last message is
there, every earlier message was handled (and those that got no answer never will).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT, MessageLogged, clean_env, make_settings, monitor
from fakebotapi import DeliveredMessage, FakeBotAPI
from pydantic import SecretStr
from sqlmodel import col, select

from monitor.bot.commands import REFUSAL
from monitor.bot.render import (
    LATEST_USAGE,
    SEARCH_USAGE,
    STORY_USAGE,
    render_help,
    render_latest,
    render_search,
    render_status,
    render_story,
    render_topics,
)
from monitor.bot.telegram_app import BOT_LEASE, keep_bot, start_bot
from monitor.config.rules import Rules, load_rules
from monitor.config.settings import Settings
from monitor.config.sources import Source, load_sources
from monitor.core.errors import ConfigError
from monitor.deliver.digest import Labels
from monitor.deliver.routing import labels_for
from monitor.deliver.telegram_text import utf16_len
from monitor.demo.server import SiteServer, rewrite_sources
from monitor.link.members import best_member
from monitor.search.highlight import Marked
from monitor.search.service import SearchHit, SearchResult, search
from monitor.search.stories import StoryView, story_view
from monitor.service.pipeline import poll_sources
from monitor.service.status import source_health
from monitor.service.wiring import open_deps
from monitor.store import SourceStatus, Store
from monitor.store.story_rows import StoryMember, newest_stories, story_members
from monitor.store.tables import Article, ArticleTopic

TOKEN = "4242:fake-SECRET-token"
SECRET = TOKEN.partition(":")[2]
ALLOWED = -1001001  # the group where the bot answers
ELSEWHERE = -1002002  # a group the bot was added to but must not answer in
ADMIN, MEMBER = 7001, 7002
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # the day after the recorded sites' news
BAKU = ZoneInfo("Asia/Baku")
TELEGRAM_MAX = 4096
# PTB's RetryAfter reads its own deprecated int-valued `retry_after` while being constructed.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


# --- checking what Telegram would parse ------------------------------------------------------


class TelegramHTML(HTMLParser):
    """Telegram's HTML parse mode: only some tags, properly nested, entities escaped."""

    ALLOWED: ClassVar[set[str]] = {"a", "b", "i", "code"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.ALLOWED:
            self.problems.append(f"tag <{tag}>")
        if tag == "a" and not any(k == "href" and v for k, v in attrs):
            self.problems.append("<a> without href")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(message: str) -> str:
    """The text Telegram would show; fails on markup it would refuse or on a too long message."""
    parser = TelegramHTML()
    parser.feed(message)
    parser.close()
    assert not parser.problems, parser.problems
    assert not parser.open, f"unclosed {parser.open}"
    shown = "".join(parser.text)
    assert utf16_len(shown) <= TELEGRAM_MAX
    assert utf16_len(message) <= TELEGRAM_MAX
    return shown


# --- the pure renderers ----------------------------------------------------------------------


def hit(n: int, title: str = "Aktau port", **changes: object) -> SearchHit:
    fields: dict[str, object] = {
        "article_id": n,
        "source": "kazinform-en",
        "url": f"https://en.inform.kz/news/item-{n}/",
        "title": title,
        "lang": "en",
        "published_at": datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
        "relevant": True,
        "score": 5.0,
        "topics": ("transport", "trade"),
        "duplicate_of": None,
        "rank": 1.0,
        "title_marked": Marked(((title, False),)),
        "snippet": Marked(),
    }
    fields.update(changes)
    return SearchHit(**fields)  # type: ignore[arg-type]


LABELS = Labels(
    sources={"kazinform-en": "Kazinform (English)"},
    topics={"trade": "Trade and investment", "transport": "Transport and logistics"},
)


def test_search_answer_marks_the_matches_in_bold_inside_the_link() -> None:
    found = hit(
        1,
        "Ferries between Aktau and Alat",
        title_marked=Marked((("Ferries between ", False), ("Aktau", True), (" and Alat", False))),
        snippet=Marked((("Cargo via ", False), ("Aktau", True), (" grew by 18%.", False))),
    )
    message = render_search(SearchResult("Aktau", 12, (found,)), LABELS, BAKU)

    assert (
        '<a href="https://en.inform.kz/news/item-1/">Ferries between <b>Aktau</b> and Alat</a>'
        in (message)
    )
    assert "Cargo via <b>Aktau</b> grew by 18%." in message
    assert "<b>12</b> results for <b>Aktau</b>" in message
    assert "Kazinform (English) · 20 Nov 2026, 14:30 · Trade and investment, Transport" in message
    assert "/search Aktau port" in message  # how to refine, since 11 are not shown
    check_html(message)


def test_search_answer_says_what_of_the_query_was_not_searched() -> None:
    stopped = SearchResult("Aktau*", 0, (), warnings=("the search was stopped after 2 s: <x>",))
    message = render_search(stopped, LABELS, BAKU)
    assert "Nothing found for <b>Aktau*</b>" in message
    assert "<i>the search was stopped after 2 s: &lt;x&gt;</i>" in message
    found = hit(1, "Ferries between Aktau and Alat")
    cut = SearchResult("Aktau", 1, (found,), warnings=("at most 16 terms are searched",))
    assert "<i>at most 16 terms are searched</i>" in render_search(cut, LABELS, BAKU)
    check_html(message)
    note = "25,000 articles match: the latest archived 1,000 are ranked and shown"
    capped = SearchResult("Aktau", 25_000, (found,), ranked=1_000, notes=(note,))
    assert f"<i>{note}</i>" in render_search(capped, LABELS, BAKU)


def test_search_answer_escapes_the_query_titles_snippets_and_links() -> None:
    query = '<script>alert("x")</script> & <b>'
    hostile = hit(
        1,
        "</a><b>Title & co",
        url='https://example.org/?a=1&b="2"',
        title_marked=Marked((("</a><b>", True), ("Title & co", False))),
        snippet=Marked((("<i>never closed", False),)),
    )
    message = render_search(SearchResult(query, 1, (hostile,)), LABELS, BAKU)

    shown = check_html(message)
    assert "<script>" not in message
    assert '<b>&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;</b>' in message
    assert 'href="https://example.org/?a=1&amp;b=&quot;2&quot;"' in message
    assert '<script>alert("x")</script> & <b>' in shown
    assert "</a><b>Title & co" in shown and "<i>never closed" in shown


def test_search_without_words_or_matches() -> None:
    assert render_search(SearchResult("  ", 0), LABELS, BAKU) == SEARCH_USAGE
    nothing = render_search(SearchResult("Xyzzy", 0), LABELS, BAKU)
    assert nothing.startswith("Nothing found for <b>Xyzzy</b>")


def test_a_link_only_for_web_addresses() -> None:
    message = render_latest([hit(1, url="javascript:alert(1)")], LABELS, BAKU)
    assert "<a " not in message and "Aktau port" in message


def huge_hit(n: int) -> SearchHit:
    """A hostile item: every piece long, full of characters that grow when escaped, and marked
    so often that bold tags alone would fill a message."""
    title = "&<>" * 400 + "🇦🇿" * 200
    pieces = tuple((f"{'&' * 3}{i}", i % 2 == 0) for i in range(600))
    return hit(
        n,
        title,
        url="https://example.org/" + "&" * 3000,
        title_marked=Marked(pieces),
        snippet=Marked(pieces),
        topics=tuple(f"topic-{i}" for i in range(40)),
    )


@pytest.mark.parametrize("count", [1, 5, 10])
def test_answers_stay_within_the_message_limits(count: int) -> None:
    hits = tuple(huge_hit(n) for n in range(count))
    for message in (
        render_latest(hits, LABELS, BAKU, asked=count),
        render_search(SearchResult("&" * 5000, 10_000, hits), LABELS, BAKU),
    ):
        check_html(message)
        assert utf16_len(message) <= 4000
        assert message.count("</") <= 90  # Telegram ignores formatting past ~100 entities
    statuses = [status_row(f"source-{n}", failures=n % 2, error="&" * 2000) for n in range(200)]
    message = render_status([source_health(row) for row in statuses], BAKU)
    check_html(message)
    assert "more not shown" in message


def status_row(
    name: str, failures: int = 0, error: str | None = None, **changes: object
) -> SourceStatus:
    fields: dict[str, object] = {
        "name": name,
        "last_attempt_at": NOW,
        "last_success_at": NOW - timedelta(hours=1),
        "next_check_at": NOW + timedelta(minutes=15),
        "consecutive_failures": failures,
        "last_error": error,
        "articles": 10,
        "new_24h": 2,
        "fetched_7d": 4,
        "empty_7d": 0,
        "recent_errors": [],
    }
    fields.update(changes)
    return SourceStatus(**fields)  # type: ignore[arg-type]


def test_status_lists_failing_sources_first() -> None:
    rows = [
        status_row("a-ok"),
        status_row("b-never", last_attempt_at=None, last_success_at=None),
        status_row("c-empty", empty_7d=4),
        status_row("d-down", failures=3, error="timeout <after 30 s>"),
    ]
    entries = [source_health(row, enabled=row.name != "b-never") for row in rows]
    message = render_status(entries, BAKU)
    lines = message.splitlines()
    assert lines[0] == "<b>Sources</b>: 4, 2 failing"
    names = [re.search(r"<b>([\w-]+)</b>", line).group(1) for line in lines[2:]]  # type: ignore[union-attr]
    assert names == ["d-down", "c-empty", "b-never", "a-ok"]
    assert "FAILING (3 in a row)" in lines[2] and "timeout &lt;after 30 s&gt;" in lines[2]
    assert "EXTRACTION FAILING" in lines[3] and "empty 4/4 in 7 d" in lines[3]
    assert "(disabled): never polled" in lines[4]
    assert lines[5] == "✅ <b>a-ok</b>: ok; last success 21 Nov 15:00; 2 new in 24 h"


def test_topics_in_the_rules_order_with_zero_counts() -> None:
    message = render_topics({"transport": 3, "retired-topic": 1}, 3, LABELS)
    assert message.splitlines()[2:5] == [
        "Trade and investment: <b>0</b>",
        "Transport and logistics: <b>3</b>",
        "Retired topic: <b>1</b>",
    ]
    assert message.endswith("3 relevant items in all (an item may have several topics).")


def member(n: int, lang: str = "en", **changes: object) -> StoryMember:
    fields: dict[str, object] = {
        "article_id": n,
        "story_id": 12,
        "source": "kazinform-en",
        "title": f"Aktau port {n}",
        "url": f"https://en.inform.kz/news/item-{n}/",
        "lang": lang,
        "published_at": datetime(2026, 11, 20, 10, n % 60, tzinfo=UTC),
        "first_seen_at": datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        "relevant": True,
        "score": 5.0,
        "duplicate_of": None,
    }
    fields.update(changes)
    return StoryMember(**fields)  # type: ignore[arg-type]


def story(*members: StoryMember) -> StoryView:
    view = story_view(12, members, None)
    assert view is not None
    return view


def test_a_story_answer_lists_its_versions_with_copies_marked() -> None:
    told = story(
        member(1, "en", score=9.0),
        member(2, "ru", source="kazinform-ru", title="Порт Актау"),
        member(3, "az", source="icma", title="Aktau limanı", duplicate_of="https://x/1"),
        member(4, "az", source="seed", title="the baseline"),  # never shown
    )
    message = render_story(told, 12, {1: "ASTANA. KAZINFORM – Cargo grew.\n\nMore."}, LABELS, BAKU)
    shown = check_html(message).splitlines()
    assert shown[0] == "Story 12: 3 versions, 3 sites (en, ru, az), 20 Nov 2026, 14:01–14:03"
    assert shown[1:3] == ["Aktau port 1", "ASTANA. KAZINFORM – Cargo grew."]
    assert '<a href="https://en.inform.kz/news/item-2/">Порт Актау</a>' in message
    assert "ru: kazinform-ru · 20 Nov 2026, 14:02" in shown
    assert "az: icma · 20 Nov 2026, 14:03 · copy of an earlier item" in shown
    assert "the baseline" not in message
    missing = render_story(None, 99, {}, LABELS, BAKU)
    assert missing.startswith("No story 99 in the archive.") and STORY_USAGE in missing


def test_a_hit_of_a_story_says_how_many_more_versions_and_how_to_see_them() -> None:
    others = (member(2, "ru", source="kazinform-ru"), member(3, "kk", source="kazinform-kk"))
    grouped = hit(1, story_id=12, versions=4, others=others)
    message = render_latest([grouped, hit(5)], LABELS, BAKU, asked=2)
    shown = check_html(message)
    assert "+3 versions (ru: kazinform-ru · kk: kazinform-kk) · /story_12" in shown
    assert shown.count("/story_") == 1  # a story of one version has nothing more to show
    assert shown.startswith("Latest 2 relevant stories")


def test_a_story_of_hostile_and_many_versions_fits_one_message() -> None:
    hostile = "</a><b>&" * 200
    told = story(*(member(n, title=hostile, url="https://x/?" + "&" * 900) for n in range(300)))
    message = render_story(told, 12, {0: hostile * 5}, LABELS, BAKU)
    check_html(message)
    assert "more not shown" in message and message.count("</") <= 90


def test_help_names_the_story_command() -> None:
    shown = check_html(render_help())
    assert "/story — every version of a story" in shown
    assert "list a story once" in shown


# --- the real bot against the fake Bot API ---------------------------------------------------


async def poll(settings: Settings, sources: list[Source]) -> None:
    async with open_deps(settings, sources) as deps:
        await poll_sources(sources, deps)


def broken_source(sources: list[Source]) -> Source:
    """A source whose server refuses connections: its poll fails, so /status has one failing."""
    model = next(s for s in sources if s.feeds)
    return model.model_copy(
        update={
            "name": "zz-broken",
            "title": "Broken site",
            "homepage": "http://127.0.0.1:9/",
            "feeds": ["http://127.0.0.1:9/rss"],
            "sitemaps": [],
            "listings": [],
        }
    )


@dataclass
class Archive:
    settings: Settings
    sources: list[Source]
    rules: Rules


def fill_archive(settings: Settings, site_server: SiteServer) -> Archive:
    site_server.clear_overrides()
    local = rewrite_sources(load_sources(ROOT / "sources.yaml"), site_server.url_map())
    sources = [*local, broken_source(local)]
    asyncio.run(poll(settings, sources))
    return Archive(settings, sources, load_rules(settings.topics))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, site_server: SiteServer) -> Archive:
    """One SQLite archive, polled once, for the conversations that only read it."""
    return fill_archive(make_settings(tmp_path_factory.mktemp("bot")), site_server)


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as server:
        yield server


def bot_settings(settings: Settings, api: FakeBotAPI, **changes: object) -> Settings:
    values: dict[str, object] = {
        "telegram_token": TOKEN,
        "telegram_api_url": api.url,
        "bot_chat_ids": f"{ALLOWED}",
        "bot_admin_ids": f"{ADMIN}",
    }
    values.update(changes)
    values["telegram_token"] = SecretStr(str(values["telegram_token"]))
    return settings.model_copy(update=values)


Said = tuple[str, int, int]  # text, chat, user


def converse(
    archive: Archive,
    api: FakeBotAPI,
    said: Sequence[Said],
    answers: int,
    **changes: object,
) -> list[DeliveredMessage]:
    """Start the bot, queue what was said, wait for `answers` replies, stop the bot."""
    settings = bot_settings(archive.settings, api, **changes)

    async def run() -> list[DeliveredMessage]:
        store = Store.open(settings.archive_url)
        stop = await start_bot(
            settings,
            store,
            lambda: archive.rules,
            sources_provider=lambda: archive.sources,
            clock=lambda: NOW,
        )
        try:
            for text, chat, user in said:
                api.incoming(text, chat_id=chat, user_id=user)
            return await asyncio.to_thread(api.wait_for_messages, answers, timeout=15)
        finally:
            await stop()
            store.close()

    return asyncio.run(run())


def relevant_originals(settings: Settings) -> list[Article]:
    store = Store.open(settings.archive_url)
    try:
        with store.session() as s:
            query = select(Article).where(
                col(Article.relevant).is_(True),
                col(Article.duplicate_of).is_(None),
                col(Article.source) != "seed",
            )
            return sorted(s.exec(query), key=lambda a: (a.published_at, a.id), reverse=True)
    finally:
        store.close()


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture
def polled(store: Store, tmp_path: Path, site_server: SiteServer) -> Archive:
    """A fresh archive on SQLite and on PostgreSQL, polled from the recorded sites."""
    url = store.engine.url.render_as_string(hide_password=False)
    return fill_archive(make_settings(tmp_path, database_url=url), site_server)


def test_search_answers_in_an_allowed_chat(polled: Archive, api: FakeBotAPI) -> None:
    [answer] = converse(polled, api, [("/search Aktau", ALLOWED, MEMBER)], 1)

    store = Store.open(polled.settings.archive_url)
    try:
        expected = search(store, "Aktau", limit=5, by_story=True)
    finally:
        store.close()
    assert expected.total >= 3, "the recorded sites have several Aktau stories"
    assert answer.chat_id == str(ALLOWED) and answer.parse_mode == "HTML"
    assert answer.link_preview_options == {"is_disabled": True}
    assert f"<b>{expected.total}</b> results for <b>Aktau</b>" in answer.text
    shown = check_html(answer.text)
    for found in expected.hits:  # as search() marked them (its pieces carry the spacing)
        assert f"{found.title_marked.plain('', '')}\n" in shown
        assert any(hit for _, hit in found.title_marked.pieces + found.snippet.pieces)
        if found.url.startswith("http"):  # seed documents have none
            assert f'href="{found.url}"' in answer.text
    assert api.pending_updates == [], "the update was acknowledged by the final getUpdates"
    assert api.calls("deleteWebhook") and api.calls("setMyCommands")
    menu = api.calls("setMyCommands")[0].params["commands"]
    assert {c["command"] for c in json.loads(menu)} >= {"search", "latest"}


def test_nothing_is_answered_in_other_chats(
    archive: Archive, api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.bot.telegram_app")
    said = [
        ("/search Aktau", ELSEWHERE, ADMIN),
        ("/latest", ELSEWHERE, MEMBER),
        ("/status", ELSEWHERE, ADMIN),
        ("/help", ALLOWED, MEMBER),
    ]
    answers = converse(archive, api, said, 1)

    assert [m.chat_id for m in api.messages] == [str(ALLOWED)]
    assert "/latest" in answers[0].text and "/status" not in answers[0].text  # not an admin
    ignored = [r for r in caplog.records if "not in MONITOR_BOT_CHAT_IDS" in r.getMessage()]
    assert len(ignored) == 1 and str(ELSEWHERE) in ignored[0].getMessage()  # once per chat


def test_status_is_refused_to_members_and_answered_to_admins(
    archive: Archive, api: FakeBotAPI
) -> None:
    said = [("/status", ALLOWED, MEMBER), ("/status", ALLOWED, ADMIN)]
    refusal, status = converse(archive, api, said, 2)

    assert refusal.text == REFUSAL
    lines = check_html(status.text).splitlines()
    assert lines[0] == f"Sources: {len(archive.sources)}, 1 failing"
    assert lines[2].startswith("❌ zz-broken: FAILING (1 in a row)")
    for source in archive.sources:
        assert sum(line.split(":")[0].endswith(f" {source.name}") for line in lines) == 1
    assert all(line.startswith("✅") for line in lines[3:]), lines


def shown_stories(settings: Settings) -> list[tuple[int | None, StoryMember | Article, int]]:
    """What /latest should list, worked out from the archive: one entry per story that has a
    relevant original (an unlinked one alone), the newest such original first; each as the
    story's best version (seeds left out), with its number of versions."""
    store = Store.open(settings.archive_url)
    try:
        originals = relevant_originals(settings)
        newest: dict[object, Article] = {}
        for article in originals:  # newest first already
            newest.setdefault(article.story_id or -(article.id or 0), article)
        stories = story_members(store, [a.story_id for a in newest.values() if a.story_id])
    finally:
        store.close()
    entries: list[tuple[int | None, StoryMember | Article, int]] = []
    for article in newest.values():
        if article.story_id is None:
            entries.append((None, article, 1))
            continue
        versions = [m for m in stories[article.story_id] if m.source != "seed"]
        entries.append((article.story_id, best_member(versions), len(versions)))
    return entries


def test_latest_lists_the_newest_relevant_stories_once_each(
    archive: Archive, api: FakeBotAPI
) -> None:
    said = [
        ("/latest 10", ALLOWED, MEMBER),
        ("/latest", ALLOWED, MEMBER),
        ("/latest x", ALLOWED, 1),
    ]
    ten, default, usage = converse(archive, api, said, 3)

    expected = shown_stories(archive.settings)[:10]
    assert len(expected) >= 6, "the recorded sites have enough relevant stories"
    assert any(count > 1 for _, _, count in expected), "some told on several sites"
    shown = check_html(ten.text)
    entries = re.split(r"\n\n(?=\d+\. )", shown)[1:]
    assert len(entries) == len(expected)
    for entry, (story_id, face, count) in zip(entries, expected, strict=True):
        assert entry.split("\n")[0].split(". ", 1)[1] == face.title
        assert f'href="{face.url}"' in ten.text
        if count > 1:
            assert f"+{count - 1} version" in entry and entry.endswith(f" · /story_{story_id}")
        else:
            assert "/story_" not in entry
    assert len(re.findall(r"^\d+\. ", check_html(default.text), flags=re.MULTILINE)) == 5
    store = Store.open(archive.settings.archive_url)
    try:
        others = [a for a in store.articles() if a.source != "seed" and not a.relevant]
    finally:
        store.close()
    assert others, "the recorded sites have irrelevant stories too"
    for article in others:
        assert f'href="{article.url}"' not in ten.text
    assert usage.text == LATEST_USAGE


def test_story_lists_every_version_however_it_is_asked_for(
    archive: Archive, api: FakeBotAPI
) -> None:
    store = Store.open(archive.settings.archive_url)
    try:
        headers = newest_stories(store, limit=None, shown_only=True)
        members = story_members(store, [h.id for h in headers])
    finally:
        store.close()
    told = {i: [m for m in found if m.source != "seed"] for i, found in members.items()}
    story_id, versions = max(told.items(), key=lambda item: (len(item[1]), -item[0]))
    assert len(versions) >= 3, "the recorded sites tell one event on three sites or more"
    said = [
        (f"/story {story_id}", ALLOWED, MEMBER),
        (f"/story_{story_id}", ALLOWED, MEMBER),  # as /latest prints it: one tap
        (f"/story_{story_id}@monitor_bot", ALLOWED, MEMBER),
        ("/story", ALLOWED, MEMBER),
        ("/story twelve", ALLOWED, MEMBER),
        ("/story 999999", ALLOWED, MEMBER),
        (f"/story {story_id}", ELSEWHERE, MEMBER),  # never answered there
        ("/help", ALLOWED, MEMBER),
    ]
    answer, tapped, addressed, bare, wrong, unknown, help_ = converse(archive, api, said, 7)

    shown = check_html(answer.text)
    assert shown.startswith(f"Story {story_id}: {len(versions)} versions, ")
    assert shown.split("\n")[1] == best_member(versions).title
    listed = re.findall(r"^(\d+)\. (.+)$", shown, flags=re.MULTILINE)
    assert [title for _, title in listed] == [m.title for m in versions]  # earliest first
    for m in versions:
        assert f'<a href="{m.url}">' in answer.text
    copies = [m for m in versions if m.copy]
    assert shown.count("copy of an earlier item") == len(copies)
    assert tapped.text == addressed.text == answer.text
    assert bare.text == wrong.text == STORY_USAGE
    assert unknown.text.startswith("No story 999999 in the archive.")
    assert "/story" in help_.text
    assert [m.chat_id for m in api.messages] == [str(ALLOWED)] * 7


def test_topics_count_the_relevant_items_of_the_last_week(
    archive: Archive, api: FakeBotAPI
) -> None:
    [answer] = converse(archive, api, [("/topics", ALLOWED, MEMBER)], 1)

    originals = relevant_originals(archive.settings)
    week = [a for a in originals if a.published_at >= NOW - timedelta(days=7)]
    store = Store.open(archive.settings.archive_url)
    try:
        with store.session() as s:
            rows = s.exec(
                select(ArticleTopic).where(col(ArticleTopic.article_id).in_([a.id for a in week]))
            )
            counts: dict[str, int] = {}
            for row in rows:
                counts[row.topic] = counts.get(row.topic, 0) + 1
    finally:
        store.close()
    labels = labels_for(archive.sources, archive.rules)
    shown = check_html(answer.text)
    assert sum(counts.values()) > 0
    for topic in archive.rules.topics:
        assert f"\n{labels.topic(topic)}: {counts.get(topic, 0)}\n" in f"{shown}\n"
    assert f"{len(week)} relevant items in all" in shown


def test_a_hostile_query_is_escaped_and_an_empty_one_gets_the_usage(
    archive: Archive, api: FakeBotAPI
) -> None:
    said = [("/search <b>Aktau</b> & <i", ALLOWED, MEMBER), ("/search", ALLOWED, MEMBER)]
    hostile, empty = converse(archive, api, said, 2)

    shown = check_html(hostile.text)
    assert "<b>Aktau</b> & <i" in shown
    assert "&lt;b&gt;Aktau&lt;/b&gt; &amp; &lt;i" in hostile.text
    assert empty.text == SEARCH_USAGE


@pytest.mark.slow
def test_the_token_never_reaches_the_logs(
    archive: Archive,
    api: FakeBotAPI,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    api.fail_next("server_error", method="getUpdates")  # an error the poller logs
    converse(archive, api, [("/search Aktau", ALLOWED, MEMBER)], 1)

    assert any("getUpdates" in r.getMessage() for r in caplog.records), "httpx logged requests"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (record.exc_text or "")
    assert SECRET not in caplog.text
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert all(r.token == TOKEN for r in api.requests)  # it was used all along


def test_no_chats_no_bot(
    archive: Archive, api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.bot.telegram_app")
    settings = bot_settings(archive.settings, api, bot_chat_ids=None)

    async def run() -> None:
        stop = await start_bot(settings, Store.open(settings.archive_url), lambda: archive.rules)
        await stop()

    asyncio.run(run())
    assert api.requests == []
    [why] = [r.getMessage() for r in caplog.records if "bot not started" in r.getMessage()]
    assert "MONITOR_BOT_CHAT_IDS is not set" in why


def test_a_rejected_token_is_named_but_not_shown(archive: Archive, api: FakeBotAPI) -> None:
    settings = bot_settings(archive.settings, api, telegram_token="4242:fake-WRONG-token")

    async def run() -> None:
        store = Store.open(settings.archive_url)
        try:
            await start_bot(settings, store, lambda: archive.rules, sources_provider=list)
        finally:
            store.close()

    with pytest.raises(ConfigError) as caught:
        asyncio.run(run())
    assert "MONITOR_TELEGRAM_TOKEN" in str(caught.value) and api.url in str(caught.value)
    assert "WRONG" not in str(caught.value)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("bot_chat_ids", "my-group", "MONITOR_BOT_CHAT_IDS"),
        ("bot_admin_ids", "@me", "MONITOR_BOT_ADMIN_IDS"),
    ],
)
def test_bad_ids_are_configuration_errors(
    archive: Archive, api: FakeBotAPI, setting: str, value: str, named: str
) -> None:
    settings = bot_settings(archive.settings, api, **{setting: value})
    with pytest.raises(ConfigError, match=named):
        asyncio.run(start_bot(settings, None, lambda: archive.rules, sources_provider=list))  # type: ignore[arg-type]
    assert api.requests == []


def test_one_worker_answers_however_many_run_and_the_next_takes_over(
    archive: Archive, api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram refuses two getUpdates pollers of one token: the bot's lease lets one answer.

    Each step waits for what shows the one before it done (a log line, the update acknowledged),
    never for a fixed time; stopping a worker's bot waits for the updates it is handling, so once
    both are stopped every answer either could give has been sent."""
    settings = bot_settings(archive.settings, api)
    store = Store.open(settings.archive_url)
    answering = MessageLogged("answering in")  # worker-a started its bot and polls
    deferring = MessageLogged("bot commands are answered by worker-a")  # worker-b looked

    def start(worker: str) -> asyncio.Task[None]:
        return asyncio.create_task(
            keep_bot(settings, store, worker, lambda: archive.rules, lambda: archive.sources)
        )

    async def seen(logged: MessageLogged, what: str) -> None:
        assert await asyncio.to_thread(logged.event.wait, 30), f"{what} after 30 s"

    async def main() -> tuple[list[DeliveredMessage], str | None]:
        first = start("worker-a")
        await seen(answering, "worker-a did not start the bot")
        second = start("worker-b")
        await seen(deferring, "worker-b did not find worker-a holding the bot's lease")
        update = api.incoming("/search Aktau", chat_id=ALLOWED, user_id=MEMBER)
        answers = await asyncio.to_thread(api.wait_for_messages, 1, chat_id=ALLOWED, timeout=30)
        await asyncio.to_thread(api.wait_for_acknowledged, update, timeout=30)
        holder = store.take_lease(BOT_LEASE, "probe", datetime.now(UTC), timedelta(seconds=1))
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        return answers, holder

    logger = logging.getLogger("monitor.bot.telegram_app")
    try:
        with caplog.at_level("DEBUG", logger="monitor.bot.telegram_app"):
            logger.addHandler(answering)
            logger.addHandler(deferring)
            try:
                answers, holder = asyncio.run(main())
            finally:
                logger.removeHandler(answering)
                logger.removeHandler(deferring)
        assert holder == "worker-a"
        assert len(answers) == 1 and "Aktau" in answers[0].text
        assert len(api.messages) == 1
        assert [r.method for r in api.requests].count("getMe") == 1  # worker-b never started
        assert store.take_lease(BOT_LEASE, "probe", datetime.now(UTC), timedelta(seconds=1)) is None
        store.drop_lease(BOT_LEASE, "probe")  # a `monitor bot` started next must not find it
    finally:
        store.close()


# --- `monitor bot` -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", ["bot", "run"])
def test_monitor_bot_answers_then_exits_on_sigterm(
    archive: Archive, api: FakeBotAPI, command: str, tmp_path: Path
) -> None:
    """`monitor bot` on its own, and the same commands inside `monitor run` (polling a site that
    refuses every connection, so the run is busy failing while the bot answers)."""
    import yaml

    broken = [s for s in archive.sources if s.name == "zz-broken"]
    sources_file = tmp_path / "sources.yaml"
    entries = [s.model_dump(mode="json", exclude_defaults=True) for s in broken]
    for entry, source in zip(entries, broken, strict=True):
        entry |= {"name": source.name, "interval": int(source.interval.total_seconds())}
    sources_file.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    env = clean_env() | {
        "MONITOR_SOURCES": str(sources_file),
        "MONITOR_ALLOW_PRIVATE_HOSTS": "1",
        "MONITOR_DATABASE_URL": archive.settings.archive_url,
        "MONITOR_DATA_DIR": str(archive.settings.data_dir),
        "MONITOR_TELEGRAM_TOKEN": TOKEN,
        "MONITOR_TELEGRAM_API_URL": api.url,
        "MONITOR_BOT_CHAT_IDS": f"{ALLOWED}",
        "MONITOR_BOT_ADMIN_IDS": f"{ADMIN}",
        "MONITOR_LOG_LEVEL": "DEBUG",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api.incoming("/search Aktau", chat_id=ALLOWED, user_id=MEMBER)
        [answer] = api.wait_for_messages(1, timeout=30)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "results for <b>Aktau</b>" in answer.text
    assert "bot stopped" in err
    assert SECRET not in out + err
    assert api.pending_updates == []


@pytest.mark.slow
def test_monitor_bot_without_chats_says_which_setting(tmp_path: Path) -> None:
    done = monitor("bot", env={"MONITOR_DATA_DIR": str(tmp_path), "MONITOR_TELEGRAM_TOKEN": TOKEN})
    assert done.returncode == 2
    assert "error: bot: MONITOR_BOT_CHAT_IDS is not set" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_an_answer_hit_by_flood_control_is_sent_again_after_the_wait(
    archive: Archive, api: FakeBotAPI
) -> None:
    """Replies go through PTB's AIORateLimiter: a 429 is waited out and the reply sent again."""
    api.fail_next("flood", retry_after=1)
    [answer] = converse(archive, api, [("/topics", ALLOWED, MEMBER)], 1)
    assert answer.chat_id == str(ALLOWED)
    assert len(api.calls("sendMessage")) == 2  # refused once with 429, then delivered
    assert "Sorry" not in answer.text and "topic" in answer.text.lower()
