"""The whole pipeline against the recorded sites served on 127.0.0.1, on SQLite and PostgreSQL:
what it archives, what a second poll costs, updated stories, and every kind of broken site."""

from __future__ import annotations

import asyncio
import gzip
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXPECTED_SITES, make_settings
from sqlmodel import Session, select

from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.core.records import SourceReport
from monitor.crawl.urls import article_key, canonical_url
from monitor.demo.server import SiteServer
from monitor.search.export import article_row
from monitor.service import pipeline
from monitor.service.pipeline import poll_sources
from monitor.service.wiring import open_deps
from monitor.store import Article, Store
from monitor.store.fulltext import FTS_TABLE, PG_TABLE, index_params
from monitor.store.tables import FetchLog

EXPECTED = yaml.safe_load(EXPECTED_SITES.read_text(encoding="utf-8"))


def cycle(
    settings: Settings, sources: list[Source], configured: list[Source] | None = None
) -> dict[str, SourceReport]:
    """One poll of `sources`; `configured` is the whole sources file (default: `sources`)."""

    async def run() -> list[SourceReport]:
        async with open_deps(settings, configured or sources) as deps:
            return await poll_sources(sources, deps)

    return {report.source: report for report in asyncio.run(run())}


def archived(settings: Settings, *, seeds: bool = False) -> list[Article]:
    """What the archive holds; the seed corpus (archived before the first poll) left out."""
    store = Store.open(settings.archive_url)
    try:
        return [a for a in store.articles() if seeds or a.source != "seed"]
    finally:
        store.close()


def find(articles: list[Article], source: Source, url: str) -> Article:
    key = article_key(canonical_url(url), source.id_pattern)
    url_key = article_key(canonical_url(url), None)
    matches = [
        a for a in articles if a.source == source.name and (a.key == key or a.key == url_key)
    ]
    assert len(matches) == 1, f"{url}: {len(matches)} archived copies"
    return matches[0]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(tmp_path)
    from conftest import _reset_postgres

    url = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return make_settings(tmp_path, database_url=url)


@pytest.mark.slow
def test_every_recorded_article_is_archived_with_title_date_and_clean_body(
    settings: Settings, sites: SiteServer, local_sources: list[Source]
) -> None:
    reports = cycle(settings, local_sources)
    assert all(report.ok for report in reports.values()), {
        name: r.errors for name, r in reports.items()
    }
    steps = {"fetch", "analyse", "capture", "store", "dedupe", "tag", "link"}
    for report in reports.values():  # where each poll's time went, step by step
        assert set(report.stage_seconds) == (steps if report.new else set()), report
        assert all(seconds > 0 for seconds in report.stage_seconds.values()), report
    articles = archived(settings)
    by_name = {source.name: source for source in local_sources}
    distinct = {(e["source"], e["id"]) for e in EXPECTED["articles"]}
    assert len(articles) == len(distinct)
    for expected in EXPECTED["articles"]:
        source = by_name[expected["source"]]
        article = find(articles, source, sites.local_url(expected["url"]))
        where = expected["path"]
        assert article.title == expected["title"], where
        row = article_row(article)
        assert row["published_at"] == expected["published_at"], where
        assert article.date_source == ("feed" if expected["date_from"] == "feed" else "page"), where
        assert article.lang == expected["language"], where
        for snippet in expected["must_contain"]:
            assert snippet in article.text, f"{where}: missing {snippet!r}"
        for snippet in expected["must_not_contain"]:
            assert snippet not in article.text, f"{where}: boilerplate {snippet!r} in body"
        assert article.warc_file and article.content_hash
        assert article.relevant == expected["about_az_kz"], f"{where}: {article.reasons}"
        assert article.tagged_with and article.score is not None
    kazakh_pages = [
        r.path for r in sites.requests if r.host == "kaz.inform.kz" and "/news/" in r.path
    ]
    assert kazakh_pages and all(path.endswith("/") for path in kazakh_pages)  # asked as linked


@pytest.mark.slow
def test_rows_claimed_while_others_are_in_flight_are_each_archived_once(
    settings: Settings,
    sites: SiteServer,
    local_sources: list[Source],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poll claims its next rows whenever fewer than a batch are in flight; with batches of
    two every source's pages are claimed in several rounds, and none is fetched twice."""
    monkeypatch.setattr(pipeline, "CLAIM_BATCH", 2)
    reports = cycle(settings, local_sources)
    assert all(report.ok for report in reports.values())
    distinct = {(e["source"], e["id"]) for e in EXPECTED["articles"]}
    assert sum(r.new for r in reports.values()) == len(distinct) == len(archived(settings))
    assert sum(r.unchanged + r.updated for r in reports.values()) == 0
    assert any(r.new > 2 for r in reports.values())  # a source took more than one round
    store = Store.open(settings.archive_url)
    try:
        with Session(store.engine) as s:
            fetched = s.exec(select(FetchLog.url).where(FetchLog.purpose == "article")).all()
    finally:
        store.close()
    assert len(fetched) == len(set(fetched)) == len(distinct)


@pytest.mark.slow
def test_the_index_rows_made_by_the_analysis_workers_are_those_the_store_would_make(
    settings: Settings, sites: SiteServer, local_sources: list[Source]
) -> None:
    """The workers make each page's full-text index row beside its tags; the archive must hold
    exactly what indexing the stored title, text and language makes (`monitor reindex`)."""
    cycle(settings, local_sources)
    store = Store.open(settings.archive_url)
    try:
        rows = [(a.id or 0, a.title, a.text, a.lang) for a in store.articles()]
        sqlite = store.engine.dialect.name == "sqlite"
        expected = {row["id"]: row for row in index_params(rows, sqlite=sqlite)}
        with store.engine.connect() as conn:
            if sqlite:
                stored = conn.exec_driver_sql(
                    f"SELECT rowid AS id, title, body, title_more, body_more, version "
                    f"FROM {FTS_TABLE}"
                ).mappings()
                held = {row["id"]: dict(row) for row in stored}
                assert held == expected
            else:
                for article_id, row in expected.items():
                    same = conn.exec_driver_sql(
                        f"SELECT vector = CAST(%(vector)s AS tsvector) AND version = %(version)s "
                        f"FROM {PG_TABLE} WHERE article_id = %(id)s",
                        {"vector": row["vector"], "version": row["version"], "id": article_id},
                    ).scalar()
                    assert same, article_id
    finally:
        store.close()
    assert len(expected) > len(EXPECTED["articles"]) / 2


@pytest.mark.slow
def test_second_poll_of_unchanged_sites_sends_only_conditional_requests(
    tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    settings = make_settings(tmp_path)
    cycle(settings, local_sources)
    before = {
        a.id: (a.content_hash, a.revisions, a.duplicate_of, a.similarity)
        for a in archived(settings, seeds=True)
    }
    sites.clear_requests()
    reports = cycle(settings, local_sources)
    requests = sites.requests
    entry_points = sum(len(s.feeds) + len(s.sitemaps) + len(s.listings) for s in local_sources)
    assert len(requests) == entry_points
    assert all(request.conditional for request in requests), requests
    assert not any(request.path.endswith("robots.txt") for request in requests)
    assert sum(r.new + r.updated for r in reports.values()) == 0
    assert sum(r.not_modified for r in reports.values()) == entry_points
    assert not any(r.stage_seconds for r in reports.values())  # no page was archived
    assert {
        a.id: (a.content_hash, a.revisions, a.duplicate_of, a.similarity)
        for a in archived(settings, seeds=True)
    } == before


@pytest.mark.slow
def test_updated_story_with_a_new_slug_updates_the_one_archived_article(
    tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    settings = make_settings(tmp_path)
    azertag = [s for s in local_sources if s.name == "azertag-az"]
    cycle(settings, azertag)
    count = len(archived(settings))
    feed = (sites.sites_dir / "azertag.az" / "rss").read_text(encoding="utf-8")
    updated_slug = "_yenilenib-4503188"
    assert "Fri, 20 Nov 2026 14:05:00 +0400" in feed
    sites.set_override(
        "azertag.az",
        "/rss",
        body=feed.replace("Fri, 20 Nov 2026 14:05:00 +0400", "Fri, 20 Nov 2026 17:45:00 +0400"),
    )
    page_path = next(e["path"] for e in EXPECTED["articles"] if e["path"].endswith(updated_slug))
    page = (sites.sites_dir / "azertag.az" / page_path.lstrip("/")).read_text(encoding="utf-8")
    sites.set_override(
        "azertag.az",
        page_path,
        body=page.replace("Ceyhun Bayramov", "Ceyhun Bayramov (yenilənmiş məlumat)"),
    )
    report = cycle(settings, azertag)["azertag-az"]
    assert (report.new, report.updated) == (0, 1)
    articles = archived(settings)
    assert len(articles) == count
    [story] = [a for a in articles if a.key == "id:4503188"]
    assert story.revisions == 2
    assert "yenilənmiş məlumat" in story.text


@pytest.mark.slow
@pytest.mark.parametrize("order", ["outlet first", "aggregator first"])
def test_seeds_come_first_and_a_republication_links_to_its_original(
    order: str, tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    settings = make_settings(tmp_path)
    by_name = {source.name: source for source in local_sources}
    first, second = ("525az", "icma") if order == "outlet first" else ("icma", "525az")
    cycle(settings, [by_name[first]], local_sources)
    cycle(settings, [by_name[second]], local_sources)
    articles = archived(settings, seeds=True)
    seeds = [a for a in articles if a.source == "seed"]
    assert len(seeds) == 5 and all(a.duplicate_of is None for a in seeds)
    assert max(a.id for a in seeds) < min(a.id for a in articles if a.source != "seed")
    [copy] = [e for e in EXPECTED["articles"] if e.get("republished_from")]
    original = find(articles, by_name["525az"], sites.local_url(copy["republished_from"]))
    republished = find(articles, by_name["icma"], sites.local_url(copy["url"]))
    assert original.duplicate_of is None
    assert republished.duplicate_of == original.url
    assert republished.similarity is not None and republished.similarity > 0.9
    others = [a for a in articles if a.source in {"525az", "icma"} and a.id != republished.id]
    assert all(a.duplicate_of is None for a in others)  # same subject, different text: kept


GZIP_BOMB = gzip.compress(b"\0" * 30_000_000)

BROKEN_FEEDS: dict[str, dict[str, Any]] = {
    "404": {"status": 404},
    "500": {"status": 500},
    "timeout": {"delay": 3.0},
    "redirect-loop": {"status": 302, "headers": {"Location": "/rss/kz.xml"}},
    "not-a-feed": {
        "body": "<html><body><h1>Техникалық жұмыстар</h1></body></html>",
        "headers": {"Content-Type": "text/html"},
    },
    "malformed-xml": {"body": "<?xml version='1.0'?><rss><channel><item><title>x</titl"},
    "empty": {"body": b""},
    "huge": {"body": b"<rss>" + b" " * 6_000_000 + b"</rss>"},
    "gzip-bomb": {"body": GZIP_BOMB, "headers": {"Content-Encoding": "gzip"}},
    "wrong-charset": {
        "body": "<?xml version='1.0' encoding='utf-8'?><rss><channel></channel></rss>".encode(
            "utf-16"
        ),
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BROKEN_FEEDS))
def test_a_broken_feed_is_logged_and_the_other_sources_go_on(
    case: str, tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    settings = make_settings(tmp_path)
    cycle(settings, [s for s in local_sources if s.name != "icma"])  # icma joins in the bad cycle
    stored = {a.id: a.content_hash for a in archived(settings)}
    feed = next(s for s in local_sources if s.name == "kazinform-kk").feeds[0]
    sites.set_override("kaz.inform.kz", "/rss/kz.xml", **BROKEN_FEEDS[case])
    reports = cycle(settings, local_sources)
    broken = reports["kazinform-kk"]
    if case != "wrong-charset":  # an empty but valid feed is not an error
        assert not broken.ok
        assert feed in broken.errors[0]
    assert all(r.ok for name, r in reports.items() if name != "kazinform-kk")
    assert reports["icma"].new >= 1  # the cycle went on with the other sources
    after = {a.id: a.content_hash for a in archived(settings)}
    assert {k: v for k, v in after.items() if k in stored} == stored  # nothing stored is lost
    store = Store.open(settings.archive_url)
    try:
        with Session(store.engine) as s:
            last = s.exec(
                select(FetchLog).where(FetchLog.url == feed).order_by(FetchLog.id.desc())  # type: ignore[union-attr]
            ).first()
        [status] = store.status(["kazinform-kk"], datetime.now(last.at.tzinfo) if last else None)  # type: ignore[arg-type]
    finally:
        store.close()
    assert last is not None
    if case == "wrong-charset":
        return
    if case in {"404", "500"}:
        assert (last.status, last.error_kind) == (int(case), "http-status")
    elif case in {"timeout", "redirect-loop", "huge", "gzip-bomb"}:
        assert (
            last.error_kind
            == {
                "timeout": "timeout",
                "redirect-loop": "redirects",
                "huge": "too-large",
                "gzip-bomb": "too-large",
            }[case]
        )
    assert status.consecutive_failures == 1
    assert status.last_error and feed in status.last_error


BROKEN_PAGES: dict[str, dict[str, Any]] = {
    "404": {"status": 404},
    "500": {"status": 500},
    "not-html": {"body": b"%PDF-1.7 binary", "headers": {"Content-Type": "application/pdf"}},
    "empty-page": {"body": "<html><head></head><body></body></html>"},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BROKEN_PAGES))
def test_a_broken_article_page_is_logged_and_the_rest_archived(
    case: str, tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    settings = make_settings(tmp_path)
    source = next(s for s in local_sources if s.name == "kazinform-ru")
    expected = [e for e in EXPECTED["articles"] if e["source"] == "kazinform-ru"]
    victim = expected[0]
    sites.set_override("www.inform.kz", victim["path"], **BROKEN_PAGES[case])
    report = cycle(settings, [source])["kazinform-ru"]
    articles = archived(settings)
    if case in {"404", "500"}:
        assert not report.ok and victim["path"] in report.errors[0]
        assert len(articles) == len(expected) - 1
    else:  # kept, marked empty, so `monitor status` shows it and `reextract` can repair it
        assert report.empty == 1
        assert len(articles) == len(expected)
        empty = [a for a in articles if a.extraction == "empty"]
        assert len(empty) == 1 and empty[0].text == ""
    store = Store.open(settings.archive_url)
    try:
        [status] = store.status(["kazinform-ru"], datetime.now(articles[0].fetched_at.tzinfo))
    finally:
        store.close()
    if case in {"404", "500"}:
        assert status.recent_errors and victim["path"].split("/")[-1] in status.recent_errors[0]
    else:
        assert status.empty_7d == 1
