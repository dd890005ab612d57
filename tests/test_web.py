"""The web page over real archives, served by a real uvicorn on 127.0.0.1 and read with httpx:
the demo archive (made by `monitor demo`, then served by the `monitor web` it tells you to run),
every page, the filters, the error pages, basic auth, the refusals to start, escaping of hostile
text from crawled sites, and the sandbox around replayed captures. Stories (one event told by
several sites in several languages) are the demo's own, linked by the real pipeline: a story's
page, the newest stories, an article's link to its story, search results one per story."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import ROOT, clean_env, make_settings, monitor
from sqlmodel import col, func, select
from starlette.types import ASGIApp

from monitor.config.rules import load_rules
from monitor.config.sources import load_sources
from monitor.core.errors import ConfigError
from monitor.core.records import SourceReport
from monitor.deliver.digest import snippet_of
from monitor.deliver.routing import labels_for
from monitor.link.members import best_member, other_versions
from monitor.search.highlight import Marked
from monitor.search.query import SearchFilters
from monitor.search.service import search
from monitor.search.trends import period_name, trend
from monitor.service.link import Linker, link_article
from monitor.store import Article, ArticleRecord, EntityRow, Store
from monitor.store.story_rows import StoryMember, newest_stories, story_members
from monitor.store.tables import ArticleTopic
from monitor.store.warc import WarcArchive, WarcRef
from monitor.web import create_app
from monitor.web.app import marked
from monitor.web.pages import LANGUAGES
from monitor.web.serve import bind, check_exposure, is_loopback

pytestmark = pytest.mark.slow
SOURCES = load_sources(ROOT / "sources.yaml")
LABELS = labels_for(SOURCES, load_rules(ROOT / "topics.yaml"))


# --- a real server in a thread ------------------------------------------------------------------


@contextmanager
def running(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def newest_published(store: Store) -> datetime:
    with store.session() as s:
        newest = s.exec(select(func.max(Article.published_at))).one()
    assert newest is not None
    # the column type gives UTC back on both databases; func.max on SQLite may come back naive
    return newest if newest.tzinfo else newest.replace(tzinfo=UTC)


# --- the demo archive, as `monitor demo` leaves it ----------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    result = monitor("--data-dir", str(folder), "demo")
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


@pytest.fixture(scope="module")
def archive(demo: tuple[Path, str]) -> Iterator[Store]:
    store = Store.open(make_settings(demo[0]).archive_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def site(demo: tuple[Path, str], archive: Store) -> Iterator[httpx.Client]:
    now = newest_published(archive) + timedelta(hours=1)  # the recordings' days, whenever run
    app = create_app(
        make_settings(demo[0]), archive, sources=SOURCES, labels=LABELS, clock=lambda: now
    )
    with running(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client


def hits(page: str) -> list[tuple[int, str]]:
    """(article id, title as shown) of each result on a page."""
    found = re.findall(r'<a class="title" href="/article/(\d+)">(.*?)</a>', page, re.S)
    return [(int(i), unescape(re.sub("<[^>]+>", "", title))) for i, title in found]


def metas(page: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<div class="meta">(.*?)</div>', page, re.S)]


def story_key(archive: Store, article_id: int) -> int:
    """The story an article is listed under: its own when it is not linked to one."""
    article = archive.article(article_id)
    assert article is not None
    return article.story_id if article.story_id is not None else -article_id


def versions_of(archive: Store, story_id: int) -> list[StoryMember]:
    """A story's members as readers see them (seeds left out), earliest first."""
    return [m for m in story_members(archive, [story_id])[story_id] if m.source != "seed"]


def told_twice(archive: Store) -> dict[int, list[StoryMember]]:
    """The stories of more than one version."""
    every = newest_stories(archive, limit=None, shown_only=False)
    found = {story.id: versions_of(archive, story.id) for story in every}
    return {story_id: versions for story_id, versions in found.items() if len(versions) > 1}


def test_home_lists_the_newest_stories_under_the_search_form(
    site: httpx.Client, archive: Store
) -> None:
    page = site.get("/")
    assert page.status_code == 200
    assert '<form class="search" action="/search" method="get"' in page.text
    stories = {story_key(archive, a.id or 0) for a in archive.articles()}
    assert len(stories) < archive.count_articles(), "the demo tells some stories twice"
    assert f"{archive.count_articles()} articles archived, {len(stories)} stories" in page.text
    shown = hits(page.text)
    assert len(shown) == 20
    keys = [story_key(archive, i) for i, _ in shown]
    assert len(set(keys)) == len(keys), "one result per story"

    def newest(key: int) -> datetime | None:  # a story's place: its newest version
        members = story_members(archive, [key])[key] if key > 0 else []
        dates = [m.published_at for m in members if m.published_at]
        if key < 0:
            dates = [archive.article(-key).published_at]  # type: ignore[union-attr]
        return max((d for d in dates if d), default=None)

    dated = [newest(key) for key in keys]
    assert all(d is not None for d in dated[:10])
    known = [d for d in dated if d is not None]
    assert known == sorted(known, reverse=True)
    for source in SOURCES:  # every source can be chosen as a filter
        assert f'<option value="{source.name}">' in page.text


def test_search_marks_the_matched_words_and_keeps_the_query_in_the_form(
    site: httpx.Client,
) -> None:
    page = site.get("/search", params={"q": "Qazaxıstan"})
    assert page.status_code == 200
    assert 'value="Qazaxıstan"' in page.text
    marks = re.findall(r"<mark>(.*?)</mark>", page.text)
    assert marks and all(m.lower().startswith("qazax") for m in marks)
    total = int(re.search(r'id="total">(\d+) match', page.text).group(1))  # type: ignore[union-attr]
    assert total == len(hits(page.text)) > 0


def test_a_pasted_thousand_word_query_searches_its_first_words_and_says_so(
    site: httpx.Client,
) -> None:
    page = site.get("/search", params={"q": " ".join(["Qazaxıstan"] + ["neft"] * 999)})
    assert page.status_code == 200
    assert "the query has 1000 words: at most 16 are searched" in page.text
    assert 'id="warnings"' in page.text


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"lang": "ru"}, " · ru"),
        ({"source": "icma"}, "icma"),
        ({"relevant": "1"}, "relevant"),
    ],
)
def test_filters_narrow_the_results_and_stay_selected(
    site: httpx.Client, archive: Store, params: dict[str, str], expect: str
) -> None:
    everything = site.get("/search", params={"q": ""})
    page = site.get("/search", params={"q": ""} | params)
    assert page.status_code == 200
    total = int(re.search(r'id="total">(\d+)', page.text).group(1))  # type: ignore[union-attr]
    all_total = int(re.search(r'id="total">(\d+)', everything.text).group(1))  # type: ignore[union-attr]
    assert 0 < total < all_total
    for article_id, _ in hits(page.text):
        article = archive.article(article_id)
        assert article is not None
        if "lang" in params:
            assert article.lang == params["lang"]
        if "source" in params:
            assert article.source == params["source"]
        if "relevant" in params:
            assert article.relevant is True
    if "relevant" in params:
        assert 'name="relevant" id="relevant" value="1" checked' in page.text
    else:
        name, value = next(iter(params.items()))
        assert re.search(
            rf'<select name="{name}".*?<option value="{value}" selected>', page.text, re.S
        )


def test_date_filters_include_the_until_day_and_pages_keep_every_filter(
    site: httpx.Client, archive: Store
) -> None:
    newest = newest_published(archive).date()
    same_day = site.get(
        "/search", params={"since": newest.isoformat(), "until": newest.isoformat()}
    )
    day_total = int(re.search(r'id="total">(\d+)', same_day.text).group(1))  # type: ignore[union-attr]
    with archive.session() as s:
        start = datetime.combine(newest, datetime.min.time(), UTC)
        that_day = s.exec(
            select(Article.id)
            .where(col(Article.published_at) >= start)
            .where(col(Article.published_at) < start + timedelta(days=1))
        ).all()
    assert day_total == len({story_key(archive, i or 0) for i in that_day}) > 0
    before = site.get("/search", params={"until": (newest - timedelta(days=400)).isoformat()})
    assert 'id="total">0 matches' in before.text

    first = site.get("/search", params={"q": "", "lang": "az"})
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    total = int(re.search(r'id="total">(\d+)', first.text).group(1))  # type: ignore[union-attr]
    if total <= 20:
        assert next_link is None
        return
    assert next_link is not None
    second = site.get(unescape(next_link.group(1)))
    assert "lang=az" in unescape(next_link.group(1)) and "page=2" in unescape(next_link.group(1))
    assert len(hits(second.text)) == total - 20
    assert not {i for i, _ in hits(first.text)} & {i for i, _ in hits(second.text)}


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/search?since=20-11-2026", 400, "since: &#39;20-11-2026&#39; is not a date"),
        ("/search?until=tomorrow", 400, "until: &#39;tomorrow&#39; is not a date"),
        ("/search?page=0", 400, "page: &#39;0&#39;"),
        ("/chart?weeks=x", 400, "weeks: &#39;x&#39;"),
        ("/article/999999", 404, "no article 999999"),
        ("/article/999999/capture", 404, "no article 999999"),
        ("/story/999999", 404, "no story 999999"),
        ("/story/1?lang=de", 400, "lang: &#39;de&#39; is not one of az, kk, ru, en"),
        ("/stories?lang=xx", 400, "lang: &#39;xx&#39;"),
        ("/stories?page=0", 400, "page: &#39;0&#39;"),
        ("/nowhere", 404, "Not Found"),
        (
            "/search?q=Baku&split=country",
            400,
            "split: &#39;country&#39; is not one of lang, source",
        ),
        ("/search?q=Baku&by=year", 400, "by: &#39;year&#39; is not one of day, week, month"),
        ("/trends?q=a&q=b&q=c&q=d", 400, "q: at most 3 queries, got 4"),
        ("/trends?q=a&by=hour", 400, "by: &#39;hour&#39; is not one of day, week, month"),
    ],
)
def test_bad_requests_get_a_page_naming_what_was_wrong(
    site: httpx.Client, path: str, status: int, says: str
) -> None:
    page = site.get(path)
    assert page.status_code == status
    assert says in page.text
    assert "text/html" in page.headers["content-type"]


def test_the_page_is_read_only_and_allows_no_script(site: httpx.Client) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert site.request(method, "/search").status_code == 405
    head = site.head("/search?q=Baku")
    assert head.status_code == 200 and head.content == b""
    policy = site.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "<script" not in site.get("/search?q=Baku").text


def test_article_page_shows_text_metadata_topics_reasons_and_source_link(
    site: httpx.Client, archive: Store
) -> None:
    with archive.session() as s:
        article = s.exec(
            select(Article)
            .where(col(Article.relevant).is_(True), Article.source != "seed")
            .where(col(Article.warc_file).is_not(None))
            .order_by(col(Article.id))
        ).first()
    assert article is not None and article.id is not None
    topics = archive.tags_for([article.id])[article.id][0]
    page = site.get(f"/article/{article.id}")
    assert page.status_code == 200
    text = unescape(page.text)
    assert f'<h1 id="title">{article.title}</h1>' in text
    assert f'<a id="source-link" href="{article.url}"' in text
    assert f'href="/article/{article.id}/capture"' in text
    assert article.text.split("\n")[0].strip() in text
    assert topics and all(LABELS.topic(t) in text for t in topics)
    for reason in json.loads(article.reasons or "[]"):
        assert f"<li>{reason}</li>" in text


def test_a_copy_links_to_its_original_and_the_original_to_its_copies(
    site: httpx.Client, archive: Store
) -> None:
    with archive.session() as s:
        copy = s.exec(
            select(Article).where(col(Article.duplicate_of).is_not(None), Article.source != "seed")
        ).first()
        assert copy is not None, "the demo archive has a copy (icma repeats 525.az)"
        original = s.exec(select(Article).where(Article.url == copy.duplicate_of)).first()
    assert original is not None
    copy_page = site.get(f"/article/{copy.id}").text
    assert re.search(rf'This text repeats\s*<a href="/article/{original.id}">', copy_page)
    original_page = site.get(f"/article/{original.id}").text
    assert "Repeated by:" in original_page
    assert f'<a href="/article/{copy.id}">' in original_page


def test_capture_is_replayed_from_its_warc_record_inside_a_sandbox(
    site: httpx.Client, archive: Store, demo: tuple[Path, str]
) -> None:
    with archive.session() as s:
        article = s.exec(select(Article).where(col(Article.warc_file).is_not(None))).first()
    assert article is not None and article.warc_file and article.warc_offset is not None
    assert article.warc_length is not None
    stored = WarcArchive(make_settings(demo[0]).warc_dir).read(
        WarcRef(article.warc_file, article.warc_offset, article.warc_length)
    )
    wrapper = site.get(f"/article/{article.id}/capture")
    assert wrapper.status_code == 200
    frame = re.search(r"<iframe[^>]*>", wrapper.text)
    assert frame is not None
    assert " sandbox " in frame.group(0) and "allow-scripts" not in frame.group(0)
    assert unescape(stored.url) in unescape(wrapper.text)

    body = site.get(f"/article/{article.id}/capture/body")
    assert body.status_code == 200
    assert body.content == stored.body
    policy = body.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    assert "script-src" not in policy
    assert body.headers["x-content-type-options"] == "nosniff"
    assert body.headers["content-type"].startswith("text/html")
    as_text = site.get(f"/article/{article.id}/capture/body?as=text")
    assert as_text.headers["content-type"].startswith("text/plain")
    assert as_text.content == stored.body


def test_sources_page_shows_each_source_health_like_monitor_status(
    site: httpx.Client, archive: Store
) -> None:
    page = site.get("/sources")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="(ok|bad)">\s*<td><a href="/search\?source=([^"]+)"', page.text)
    assert {name for _, name in rows} == {s.name for s in SOURCES}
    assert all(state == "ok" for state, _ in rows)
    assert "outbox:" in page.text

    broken = SOURCES[0].name
    now = newest_published(archive) + timedelta(hours=1)
    for _ in range(2):
        report = SourceReport(source=broken, started_at=now, finished_at=now)
        report.errors.append("http: 503 from https://example.invalid/rss")
        archive.record_poll(report, now + timedelta(minutes=15))
    try:
        page = site.get("/sources")
        assert "FAILING (2 in a row)" in page.text
        assert "last error: http: 503 from https://example.invalid/rss" in page.text
    finally:
        report = SourceReport(source=broken, started_at=now, finished_at=now)
        archive.record_poll(report, now + timedelta(minutes=15))


def test_chart_counts_relevant_originals_per_week_by_topic(
    site: httpx.Client, archive: Store
) -> None:
    from zoneinfo import ZoneInfo

    from monitor.extract.seeds import SEED_SOURCE

    zone = ZoneInfo("Asia/Baku")  # weeks as the weekly email counts them: the digest time zone
    newest = newest_published(archive).astimezone(zone)
    monday = newest.date() - timedelta(days=newest.weekday())
    start = datetime.combine(monday, datetime.min.time(), zone)
    with archive.session() as s:
        rows = s.exec(
            select(ArticleTopic.topic, func.count())
            .join(Article, col(Article.id) == ArticleTopic.article_id)
            .where(col(Article.relevant).is_(True), col(Article.duplicate_of).is_(None))
            .where(col(Article.published_at) >= start, col(Article.source) != SEED_SOURCE)
            .group_by(col(ArticleTopic.topic))
        ).all()
    expected = {topic: count for topic, count in rows}
    assert expected
    page = site.get("/chart", params={"weeks": "4"})
    assert page.status_code == 200
    assert '<svg class="chart"' in page.text
    year, week, _ = monday.isocalendar()
    titles = dict(
        (unescape(label), int(count))
        for label, count in re.findall(
            rf"<title>{year}-W{week:02d} · ([^<]+): (\d+)</title>", page.text
        )
    )
    assert titles == {LABELS.topic(t): n for t, n in expected.items()}


# --- attention over time ------------------------------------------------------------------------


def bars(page: str) -> list[tuple[str, str, int]]:
    """(link, period · split value, count) of each bar segment of a page's attention chart."""
    found = re.findall(
        r'<a href="([^"]+)" class="bar"><rect [^>]*><title>([^<]+): (\d+)</title>', page
    )
    return [(unescape(href), unescape(label), int(count)) for href, label, count in found]


def table_rows(page: str) -> list[list[str]]:
    """The cells of the chart's table, behind its disclosure."""
    table = re.search(r'<table class="trend" id="trend-table">(.*?)</table>', page, re.S)
    assert table, "no table of the chart's numbers"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [[unescape(c) for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)] for row in rows]


@pytest.mark.parametrize(
    ("query", "by"), [("Qazaxıstan", "day"), ("Kazakhstan", "week"), ("", "month")]
)
def test_the_search_chart_counts_what_search_and_monitor_trends_count(
    site: httpx.Client, archive: Store, query: str, by: str
) -> None:
    page = site.get("/search", params={"q": query, "by": by})
    assert page.status_code == 200
    assert '<svg class="chart" id="trend-chart"' in page.text
    assert '<details id="trend-numbers">' in page.text  # the numbers, readable without script
    found = trend(archive, query, by=by, split="lang")
    header, *rows = table_rows(page.text)
    assert header[1 : 1 + len(found.parts)] == [LANGUAGES[p] for p in found.parts if p]
    assert [row[0] for row in rows] == [period_name(p, by) for p in found.periods]
    for row, period in zip(rows, found.periods, strict=True):
        assert [int(n) for n in row[1 : 1 + len(found.parts)]] == [
            found.count(period, part) for part in found.parts
        ]
    drawn = bars(page.text)
    assert sum(count for *_, count in drawn) == sum(found.counts.values()) > 0
    for href, label, count in drawn:  # each bar leads to the originals it counts
        assert href.startswith("/search?")
        params = dict(httpx.URL(href).params)
        lang = next(code for code, name in LANGUAGES.items() if label.endswith(name))
        assert params["lang"] == lang and params.get("by", "week") == by
        narrowed = SearchFilters(
            langs=(lang,),
            since=datetime.fromisoformat(params["since"]).replace(tzinfo=UTC),
            until=datetime.fromisoformat(params["until"]).replace(tzinfo=UTC) + timedelta(days=1),
        )
        hits = search(archive, query, narrowed, limit=500).hits
        assert sum(1 for hit in hits if hit.duplicate_of is None) == count, (href, label)


def test_the_search_chart_shows_shares_and_says_when_a_range_is_empty(
    site: httpx.Client, archive: Store
) -> None:
    shares = site.get("/search", params={"q": "Qazaxıstan", "share": "1", "split": "source"})
    assert shares.status_code == 200
    titles = re.findall(r"<title>([^<]+ of \d+ articles \(\d+\.\d%\))</title>", shares.text)
    assert titles and '<strong aria-current="true">share of all articles</strong>' in shares.text
    assert '<a href="/search?q=Qazax%C4%B1stan&amp;split=source">counts</a>' in shares.text
    quiet = site.get(
        "/search", params={"q": "Qazaxıstan", "since": "2001-01-01", "until": "2001-02-01"}
    )
    assert quiet.status_code == 200
    assert 'id="trend-empty">No matching articles in this range' in quiet.text
    assert "No matching articles in this range</text>" in quiet.text  # drawn, and said
    too_long = site.get("/search", params={"q": "Baku", "by": "day", "since": "1990-01-01"})
    assert too_long.status_code == 200 and 'id="trend-problem">by day: more than' in too_long.text
    assert 'class="hits"' in too_long.text  # the results still show


def test_the_trends_page_compares_queries_on_one_chart(site: httpx.Client, archive: Store) -> None:
    queries = ["Qazaxıstan", "Kazakhstan", "Казахстан"]
    page = site.get("/trends", params=[("q", q) for q in queries] + [("by", "month")])
    assert page.status_code == 200
    assert page.text.count("<polyline") == 3
    header, *rows = table_rows(page.text)
    assert header[1:] == [f"“{q}”" for q in queries]
    for n, q in enumerate(queries):
        assert sum(int(row[1 + n]) for row in rows) == sum(
            trend(archive, q, by="month").counts.values()
        )
    points = re.findall(r'<a href="([^"]+)" class="point">', page.text)
    assert len(points) == 3 * len(rows)
    assert unescape(points[0]).startswith("/search?q=Qazax%C4%B1stan&since=")
    everything = site.get("/trends")  # no query: every article
    assert everything.status_code == 200 and "every article" in everything.text


# --- stories ----------------------------------------------------------------------------------


def sections(page: str) -> list[tuple[set[str], int, str]]:
    """(classes, article id, inner HTML) of each version on a story's page."""
    found = re.findall(
        r'<section class="(version[^"]*)" id="version-(\d+)">(.*?)</section>', page, re.S
    )
    return [(set(classes.split()), int(i), body) for classes, i, body in found]


def test_a_story_page_shows_its_versions_side_by_side(site: httpx.Client, archive: Store) -> None:
    stories = told_twice(archive)
    assert len(stories) >= 3, "the demo tells several stories on several sites"
    assert any(len({m.lang for m in v}) >= 2 for v in stories.values()), "the fibre-optic one"
    assert any(m.copy for v in stories.values() for m in v), "icma copies 525.az"
    for story_id, versions in stories.items():
        page = site.get(f"/story/{story_id}")
        assert page.status_code == 200
        text = unescape(page.text)
        best = best_member(versions)
        assert f"<title>{best.title} · az-kz-monitor</title>" in text
        assert re.search(rf'<h1 id="title" lang="{best.lang}">{re.escape(best.title)}</h1>', text)
        assert f"{len(versions)} versions · " in text
        shown = sections(page.text)
        assert [i for _, i, _ in shown] == [m.article_id for m in versions]  # earliest first
        for (classes, _, body), member in zip(shown, versions, strict=True):
            body = unescape(body)
            article = archive.article(member.article_id)
            assert article is not None
            assert (
                f'<a class="title" href="/article/{member.article_id}">{member.title}</a>' in body
            )
            assert f'class="original" href="{member.url}"' in body
            assert f'<span class="site">{LABELS.source(member.source)}</span>' in body
            assert f'<span class="language">{LANGUAGES[member.lang or ""]}</span>' in body
            assert snippet_of(article.text, 400, LABELS.agencies) in body  # the lead
            assert ("copy" in classes) == member.copy == ('class="badge copy"' in body)
            assert ("best" in classes) == (member.article_id == best.article_id)


def test_a_story_title_comes_in_the_language_asked_for(site: httpx.Client, archive: Store) -> None:
    story_id, versions = max(told_twice(archive).items(), key=lambda s: len({m.lang for m in s[1]}))
    langs = {m.lang for m in versions if m.lang}
    assert len(langs) >= 2
    for lang in sorted(langs):
        page = unescape(site.get(f"/story/{story_id}", params={"lang": lang}).text)
        best = best_member(versions, lang)
        assert best.lang == lang
        assert f'<h1 id="title" lang="{lang}">{best.title}</h1>' in page
        assert f"<strong>{LANGUAGES[lang]}</strong>" in page  # the language chosen, not a link
        others = langs - {lang}
        assert all(f'href="/story/{story_id}?lang={o}"' in page for o in others)


def listed_stories(page: str) -> list[tuple[int, str, str]]:
    """(story id, title, meta line) of each story on the stories page."""
    found = re.findall(
        r'<a class="title" href="/story/(\d+)[^"]*"[^>]*>(.*?)</a>\s*<div class="meta">(.*?)</div>',
        page,
        re.S,
    )
    return [
        (int(i), unescape(title), unescape(re.sub("<[^>]+>", "", meta))) for i, title, meta in found
    ]


def test_the_stories_page_lists_the_newest_stories(site: httpx.Client, archive: Store) -> None:
    for path in ("/", "/stories", "/chart", "/sources"):
        assert '<a href="/stories">Stories</a>' in site.get(path).text, path
    page = site.get("/stories")
    assert page.status_code == 200
    listed = listed_stories(page.text)
    expected = newest_stories(archive, limit=30, shown_only=True)
    assert [i for i, _, _ in listed] == [story.id for story in expected]
    assert any(len(versions_of(archive, i)) > 1 for i, _, _ in listed)
    for story_id, title, meta in listed:
        versions = versions_of(archive, story_id)
        assert title == best_member(versions).title
        count = len(versions)
        assert meta.startswith(f"{count} version{'' if count == 1 else 's'} · ")
        assert all(LABELS.source(m.source) in meta for m in versions)
        assert all(f"{m.lang}" in meta for m in versions if m.lang)
        assert "UTC" in meta  # the days it was told over

    everything = [i for i, _, _ in listed_stories(site.get("/stories?all=1").text)]
    unshown = set(everything) - {i for i, _, _ in listed}
    assert unshown, "the demo has stories nobody would be shown (the weather)"
    for story_id in unshown:
        assert not any(m.relevant and not m.copy for m in versions_of(archive, story_id))

    in_russian = listed_stories(site.get("/stories", params={"lang": "ru"}).text)
    for story_id, title, _ in in_russian:
        versions = versions_of(archive, story_id)
        assert title == best_member(versions, "ru").title
        if any(m.lang == "ru" for m in versions):
            assert title in {m.title for m in versions if m.lang == "ru"}


def test_an_article_page_links_to_the_other_versions_of_its_story(
    site: httpx.Client, archive: Store
) -> None:
    for story_id, versions in told_twice(archive).items():
        for member in versions:
            page = unescape(site.get(f"/article/{member.article_id}").text)
            assert (
                f'<a id="story-link" href="/story/{story_id}">{len(versions)} versions</a>' in page
            )
            for other in versions:
                linked = f'<a href="/article/{other.article_id}">{other.title}</a>' in page
                assert linked == (other.article_id != member.article_id)
    alone = next(
        story
        for story in newest_stories(archive, limit=None, shown_only=False)
        if len(versions_of(archive, story.id)) == 1
    )
    [member] = versions_of(archive, alone.id)
    assert 'id="story"' not in site.get(f"/article/{member.article_id}").text


def test_search_gives_one_result_per_story_saying_how_many_versions(
    site: httpx.Client, archive: Store
) -> None:
    flat = search(archive, "Aktau", limit=100)
    stories = {story_key(archive, hit.article_id) for hit in flat.hits}
    assert len(stories) < flat.total, "several versions of one story match"
    page = site.get("/search", params={"q": "Aktau"})
    assert f'id="total">{len(stories)} matches for' in page.text
    assert f'<span id="articles">({flat.total} articles:' in page.text
    results = re.findall(r'<li class="hit">(.*?)</li>', page.text, re.S)
    shown = hits(page.text)
    assert len(results) == len(shown) == len(stories)
    assert {story_key(archive, i) for i, _ in shown} == stories
    told = 0
    for (article_id, _), result in zip(shown, results, strict=True):
        key = story_key(archive, article_id)
        versions = versions_of(archive, key) if key > 0 else []
        if len(versions) < 2:
            assert "versions</a>" not in result
            continue
        told += 1
        assert f'<a class="versions" href="/story/{key}">{len(versions)} versions</a>' in result
        member = next(m for m in versions if m.article_id == article_id)
        also = [int(i) for i in re.findall(r'<a href="/article/(\d+)" title=', result)]
        assert also == [m.article_id for m in other_versions(versions, member)]
        assert (f'<a href="/story/{key}">all side by side</a>' in result) == bool(also)
    assert told >= 1  # at least 525.az's corridor story and icma's copy of it
    # the best match of each story speaks for it: the first of its versions in the flat ranking
    firsts: dict[int, int] = {}
    for hit in flat.hits:
        firsts.setdefault(story_key(archive, hit.article_id), hit.article_id)
    assert {i for i, _ in shown} == set(firsts.values())


# --- what crawled sites send is escaped -----------------------------------------------------------

HOSTILE = '<script>alert("t")</script> Baku & <b onmouseover=x>Astana</b>'


def test_hostile_text_from_a_site_is_escaped_on_every_page(store: Store, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    saved = store.save_article(
        ArticleRecord(
            source="icma",
            key="id:1",
            aliases=("id:1",),
            url="javascript:alert(1)",
            title=HOSTILE,
            text=f"{HOSTILE}\n<img src=x onerror=alert(2)>",
            author="<i>author</i>",
            lang="az",
            published_at=now - timedelta(hours=1),
            date_source="page",
            listed_at=None,
            fetched_at=now,
            content_hash="h",
            extraction="selectors",
            http_status=200,
            warc=None,
        )
    )
    store.save_tagging(
        saved.article_id,
        relevant=True,
        score=9.0,
        reasons=["<u>reason</u>"],
        topics=["transport"],
        entities=[EntityRow("org", "x", "<svg onload=alert(3)>", 1)],
        tagged_with="test",
    )
    story = link_article(
        store, Linker.default(), load_rules(ROOT / "topics.yaml"), saved.article_id, now
    )  # the real stage
    app = create_app(make_settings(tmp_path), store, sources=SOURCES, labels=LABELS)
    with running(app) as url, httpx.Client(base_url=url) as client:
        pages = {
            path: client.get(path).text
            for path in (
                "/",
                "/search?q=",
                f"/article/{saved.article_id}",
                "/chart",
                f"/story/{story}",
                "/stories",
            )
        }
        missing_capture = client.get(f"/article/{saved.article_id}/capture")
    for path, page in pages.items():
        for raw in ("<script", "<b onmouseover", "<img src=x", "<svg onload", "<u>", "<i>auth"):
            assert raw not in page, (path, raw)
        assert 'href="javascript:' not in page, path
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; Baku &amp;" in pages["/"]
    for path in (f"/story/{story}", "/stories"):
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; Baku &amp;" in pages[path]
    article = pages[f"/article/{saved.article_id}"]
    assert "&lt;u&gt;reason&lt;/u&gt;" in article and "javascript:alert(1)" in article
    assert missing_capture.status_code == 404
    assert "has no raw capture" in missing_capture.text


def test_marked_text_is_escaped_piece_by_piece() -> None:
    text = Marked((("<b>", False), ("Baku<", True), (" & ", False), ("Astana", True)))
    assert str(marked(text)) == "&lt;b&gt;<mark>Baku&lt;</mark> &amp; <mark>Astana</mark>"


# --- basic auth and the refusals to start ---------------------------------------------------------


def test_basic_auth_guards_every_page_when_a_user_is_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, web_user="analyst", web_password="pässword:1")
    store = Store.open(settings.archive_url)
    try:
        with running(create_app(settings, store)) as url:
            for path in ("/", "/search?q=x", "/style.css", "/article/1", "/nowhere"):
                denied = httpx.get(url + path)
                assert denied.status_code == 401, path
                assert denied.headers["www-authenticate"].startswith("Basic realm=")
            assert httpx.get(url + "/", auth=("analyst", "wrong")).status_code == 401
            assert httpx.get(url + "/", auth=("other", "pässword:1")).status_code == 401
            bad = {"Authorization": "Basic !!!notbase64"}
            assert httpx.get(url + "/", headers=bad).status_code == 401
            token = base64.b64encode("analyst:pässword:1".encode()).decode()
            ok = httpx.get(url + "/", headers={"Authorization": f"Basic {token}"})
            assert ok.status_code == 200 and "articles archived" in ok.text
    finally:
        store.close()


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"web_host": "0.0.0.0"}, "refusing to listen on 0.0.0.0 without a password"),
        ({"web_host": "192.0.2.10"}, "refusing to listen on 192.0.2.10"),
        ({"web_user": "analyst"}, "MONITOR_WEB_PASSWORD"),
        ({"web_password": "secret"}, "MONITOR_WEB_USER"),
    ],
)
def test_unsafe_settings_are_refused(tmp_path: Path, changes: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        check_exposure(make_settings(tmp_path, **changes))


def test_beyond_loopback_with_a_password_is_allowed(tmp_path: Path) -> None:
    check_exposure(make_settings(tmp_path, web_host="0.0.0.0", web_user="a", web_password="b"))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_the_web_command_refuses_an_open_address_and_a_busy_port(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path))
    Store.open(make_settings(tmp_path).archive_url).close()  # `web` makes no archive: it reads one
    refused = monitor(*data, "web", "--host", "0.0.0.0")
    assert refused.returncode == 2
    assert "error: web: refusing to listen on 0.0.0.0 without a password" in refused.stderr
    assert "Traceback" not in refused.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = monitor(*data, "web", "--port", str(port))
    assert taken.returncode == 2
    assert f"error: web: cannot listen on 127.0.0.1:{port}: the port is in use" in taken.stderr
    assert "Traceback" not in taken.stderr


# --- `monitor demo`, then the `monitor web` it prints -------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_then_the_web_command_it_prints_serves_a_searchable_archive(
    demo: tuple[Path, str],
) -> None:
    folder, printed = demo
    command = re.search(r"Browse and search it: \S*monitor (--data-dir \S+) web", printed)
    assert command is not None, printed[-600:]
    assert Path(command.group(1).split()[1]) == folder.resolve()
    password = "never-in-the-log-9431"
    env = clean_env()
    env |= {"MONITOR_WEB_USER": "analyst", "MONITOR_WEB_PASSWORD": password}
    port = free_port()
    args = ["-v", *command.group(1).split(), "web", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert f"at http://127.0.0.1:{port}/" in ready, ready
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/search?q=Kazakhstan").status_code == 401
        assert httpx.get(url + "/", auth=("analyst", "nope")).status_code == 401
        page = httpx.get(url + "/search", params={"q": "Kazakhstan"}, auth=("analyst", password))
        assert page.status_code == 200
        assert len(hits(page.text)) > 0 and "<mark>" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert password not in out + err
    assert "GET /search?q=Kazakhstan" in err  # the access log is on, the password is not in it


def test_demo_without_keep_says_how_to_keep_it_for_the_web_page() -> None:
    from monitor.demo.run import _next_steps

    said = _next_steps(Path("/tmp/x"), kept=False, settings=make_settings(Path("/tmp/x")))
    assert "monitor demo --keep" in said and "web" in said


def test_search_says_when_only_the_latest_matches_are_ranked_and_pages_end_there(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search ranks the latest archived RANKED_MATCHES of its matches: the page says so, and
    its pages stop at them."""
    monkeypatch.setattr("monitor.search.backend.RANKED_MATCHES", 3)
    monkeypatch.setattr("monitor.web.pages.PAGE_SIZE", 2)
    now = datetime.now(UTC)
    for n in range(6):
        store.save_article(
            ArticleRecord(
                source="icma",
                key=f"id:{n}",
                aliases=(f"id:{n}",),
                url=f"https://icma.az/{n}",
                title=f"Neft xəbəri {n}",
                text="Qazaxıstan neft ixracını artırır.",
                author=None,
                lang="az",
                published_at=now - timedelta(hours=n + 1),
                date_source="page",
                listed_at=None,
                fetched_at=now,
                content_hash=f"h{n}",
                extraction="selectors",
                http_status=200,
                warc=None,
            )
        )
    app = create_app(make_settings(tmp_path), store, sources=SOURCES, labels=LABELS)
    with running(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        first = client.get("/search", params={"q": "neft"})
        second = client.get("/search", params={"q": "neft", "page": 2})
        third = client.get("/search", params={"q": "neft", "page": 3})
    assert 'id="total">6 matches' in first.text
    note = "6 articles match: the latest archived 3 are ranked and shown; narrow the dates"
    assert note in first.text and 'id="notes"' in first.text
    assert 'rel="next"' in first.text
    assert 'rel="next"' not in second.text  # 3 ranked: two pages of 2
    assert (len(hits(first.text)), len(hits(second.text)), len(hits(third.text))) == (2, 1, 0)
