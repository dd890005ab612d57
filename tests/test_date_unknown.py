"""A date is what the source says, or unknown (issue 12, point 2).

The page, the feed or listing, or the seed manifest may give an article's date; when none does,
`published_at` stays empty and `date_source` says "unknown". Undated items sort after dated ones
wherever the archive is listed, and the digests, the weekly email and the web page say "date
unknown" instead of putting the day the monitor found an item in place of its publication day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from conftest import ROOT, make_settings
from sqlalchemy import text

from monitor.config.rules import load_rules
from monitor.config.sources import load_sources
from monitor.core.records import Candidate, ExtractedArticle, Page, Validators
from monitor.deliver.digest import Labels, local_time, render_markdown
from monitor.deliver.stories import choose_stories
from monitor.extract.seeds import load_seeds
from monitor.search.query import SearchFilters
from monitor.search.service import search
from monitor.service.advance import archive_seeds
from monitor.service.decisions import build_record
from monitor.store import ArticleRecord, Store
from monitor.store.db import alembic_config, make_engine, migrate
from monitor.store.queries import DigestRow
from monitor.text.normalise import content_hash
from monitor.web.app import templates

BAKU = timezone(timedelta(hours=4))
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def record(key: str, published_at: datetime | None, **changes: object) -> ArticleRecord:
    base: dict[str, object] = {
        "source": "azertag-az",
        "key": key,
        "aliases": (key,),
        "url": f"https://azertag.az/xeber/{key.removeprefix('id:')}",
        "title": f"Qazaxıstan {key}",
        "text": "Azərbaycan və Qazaxıstan əməkdaşlığı.",
        "author": None,
        "lang": "az",
        "published_at": published_at,
        "date_source": "page" if published_at else "unknown",
        "listed_at": None,
        "fetched_at": T0,
        "content_hash": f"h-{key}",
        "extraction": "selectors",
        "http_status": 200,
        "warc": None,
    }
    base.update(changes)
    return ArticleRecord(**base)  # type: ignore[arg-type]


# --- the pipeline decides: page, feed, or unknown -----------------------------------------------


def _page(fetched_at: datetime) -> Page:
    return Page(
        url="https://azertag.az/xeber/1",
        final_url="https://azertag.az/xeber/1",
        status=200,
        headers=(),
        body=b"<html></html>",
        text="<html></html>",
        encoding="utf-8",
        content_type="text/html",
        fetched_at=fetched_at,
        elapsed=0.1,
        attempts=1,
        validators=Validators(),
    )


def _extracted(published_at: datetime | None) -> ExtractedArticle:
    return ExtractedArticle(
        title="Başlıq",
        text="Mətn.",
        published_at=published_at,
        author=None,
        lang="az",
        canonical_url=None,
        method="selectors",
    )


PAGE_DATE = datetime(2026, 11, 20, 13, 35, tzinfo=BAKU)
FEED_DATE = datetime(2026, 11, 20, 13, 0, tzinfo=BAKU)


@pytest.mark.parametrize(
    ("page_date", "feed_date", "expected", "source_of_date"),
    [
        (PAGE_DATE, FEED_DATE, PAGE_DATE, "page"),
        (None, FEED_DATE, FEED_DATE, "feed"),
        (None, None, None, "unknown"),
    ],
)
def test_an_article_is_dated_by_its_page_or_feed_or_not_at_all(
    page_date: datetime | None,
    feed_date: datetime | None,
    expected: datetime | None,
    source_of_date: str,
) -> None:
    [source] = [s for s in load_sources(ROOT / "sources.yaml") if s.name == "azertag-az"]
    candidate = Candidate(url="https://azertag.az/xeber/1", via="feed", published_at=feed_date)
    fetched = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # never the date of the article
    built = build_record(source, "id:1", candidate, _page(fetched), _extracted(page_date), None)
    assert built.published_at == expected
    assert built.date_source == source_of_date


def test_a_record_takes_the_analysis_hash_only_for_the_title_it_was_made_of() -> None:
    """The content hash is made off the event loop, of the title the analysis read; a record
    whose title came out otherwise gets its own."""
    [source] = [s for s in load_sources(ROOT / "sources.yaml") if s.name == "azertag-az"]
    candidate = Candidate(url="https://azertag.az/xeber/1", via="feed", title="Lentdəki başlıq")
    page, fetched = _page(datetime(2027, 3, 1, 9, 0, tzinfo=UTC)), _extracted(None)
    own = content_hash("Başlıq", "Mətn.")
    built = build_record(source, "id:1", candidate, page, fetched, None, ("Başlıq", own))
    assert built.content_hash == own
    made_apart = build_record(source, "id:1", candidate, page, fetched, None, ("Başlıq", "x" * 64))
    assert made_apart.content_hash == "x" * 64  # taken as given: the analysis made it
    untitled = replace(fetched, title="")  # the record's title is the feed's, not the one hashed
    other = build_record(source, "id:1", candidate, page, untitled, None, ("Başlıq", own))
    assert other.title == "Lentdəki başlıq"
    assert other.content_hash == content_hash("Lentdəki başlıq", "Mətn.") != own


def test_seeds_are_dated_by_their_manifest_or_unknown(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'archive.db'}")
    try:
        rules = load_rules(ROOT / "topics.yaml")
        archive_seeds(
            store, load_seeds(ROOT / "seeds", load_sources(ROOT / "sources.yaml")), T0, rules
        )
        seeds = {a.key: a for a in store.articles() if a.source == "seed"}
    finally:
        store.close()
    assert len(seeds) == 5
    dated = {key: a.published_at for key, a in seeds.items() if a.published_at is not None}
    # only the icma.az copy states its day (its archive footer); the rest give none
    assert dated == {"seed:003_50356239f90487a7": datetime(2025, 10, 20, tzinfo=UTC)}
    assert {a.date_source for a in seeds.values()} == {"manifest", "unknown"}
    assert all(a.date_source == "unknown" for a in seeds.values() if a.published_at is None), (
        "an undated seed must say its date is unknown"
    )
    assert all(a.fetched_at == T0 for a in seeds.values())  # when it was loaded stays known


# --- the archive stores no date, keeps one it had, lists undated items last --------------------


def test_an_undated_article_is_stored_without_a_date(store: Store) -> None:
    saved = store.save_article(record("id:1", None))
    article = store.article(saved.article_id)
    assert article is not None
    assert article.published_at is None and article.date_source == "unknown"


def test_a_refetch_without_a_date_keeps_the_date_the_source_gave(store: Store) -> None:
    saved = store.save_article(record("id:1", PAGE_DATE))
    store.save_article(record("id:1", None, content_hash="changed", text="Yeni mətn."))
    article = store.article(saved.article_id)
    assert article is not None and article.revisions == 2
    assert article.published_at == PAGE_DATE and article.date_source == "page"
    assert article.published_offset_min == 240


def test_search_lists_undated_articles_after_dated_ones(store: Store) -> None:
    store.save_article(record("id:1", None))
    store.save_article(record("id:2", PAGE_DATE - timedelta(days=30)))
    store.save_article(record("id:3", PAGE_DATE))
    store.save_article(record("id:4", None))
    newest = search(store, "")
    assert [h.url.rsplit("/", 1)[1] for h in newest.hits] == ["3", "2", "4", "1"]
    assert [h.published_at is None for h in newest.hits] == [False, False, True, True]
    since = search(store, "Qazaxıstan", SearchFilters(since=PAGE_DATE - timedelta(days=1)))
    assert [h.url.rsplit("/", 1)[1] for h in since.hits] == ["3"]  # no date: not in a range


# --- an archive made before: invented dates are dropped by the migration ------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.db'}"
        return
    from conftest import _reset_postgres

    url = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    yield url


def test_migration_forgets_fetch_and_load_times_taken_for_dates(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), "0008")
        with engine.begin() as conn:
            for key, source_of_date in [("a", "page"), ("b", "fetched"), ("c", "loaded")]:
                conn.execute(
                    text(
                        "INSERT INTO article (source, key, url, title, text, published_at, "
                        "published_offset_min, date_source, fetched_at, first_seen_at, "
                        "last_seen_at, content_hash, extraction, http_status, revisions) VALUES "
                        "('s', :key, :url, 't', 'x', :at, 240, :ds, :at, :at, :at, 'h', "
                        "'selectors', 200, 1)"
                    ),
                    {"key": key, "url": f"https://x.az/{key}", "at": T0, "ds": source_of_date},
                )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT key, published_at, date_source FROM article ORDER BY key")
            ).all()
    finally:
        engine.dispose()
    assert [(k, at is not None, ds) for k, at, ds in rows] == [
        ("a", True, "page"),
        ("b", False, "unknown"),
        ("c", False, "unknown"),
    ]


# --- what readers see ----------------------------------------------------------------------------


def _row(article_id: int, published_at: datetime | None, seen: datetime) -> DigestRow:
    return DigestRow(
        article_id=article_id,
        source="azertag-az",
        title=f"Item {article_id}",
        url=f"https://azertag.az/xeber/{article_id}",
        published_at=published_at,
        lang="az",
        first_seen_at=seen,
        relevant=True,
        duplicate_of=None,
        score=1.0,
        topics=("diplomacy",),
        lead="Azərbaycan və Qazaxıstan əməkdaşlığı genişlənir.",
    )


def test_digest_puts_undated_items_after_dated_ones_and_says_so() -> None:
    rows = [
        _row(1, None, T0 + timedelta(hours=3)),  # seen last, but no date
        _row(2, T0 - timedelta(days=2), T0),
        _row(3, T0, T0 + timedelta(hours=1)),
        _row(4, None, T0 + timedelta(hours=2)),
    ]
    items = choose_stories(rows, T0 - timedelta(days=7))
    assert [i.article_id for i in items] == [3, 2, 1, 4]
    zone = ZoneInfo("Asia/Baku")
    assert local_time(None, zone) == "date unknown"
    assert local_time(T0, zone).endswith(" 14:00")  # 10:00 UTC is 14:00 in Baku
    page = render_markdown(items, zone=zone, now=T0 + timedelta(hours=4), labels=Labels())
    assert page.count("date unknown") == 2
    assert "2026" not in page.split("Item 1", 1)[1].split("\n", 1)[0]


def test_weekly_email_says_date_unknown_for_an_undated_story() -> None:
    from monitor.deliver.weekly import _story_date

    zone = ZoneInfo("Asia/Baku")
    assert _story_date(None, zone) == "date unknown"
    assert _story_date(datetime(2026, 11, 18, 9, 0, tzinfo=UTC), zone) == "Wed 18 Nov"


def test_web_page_says_date_unknown() -> None:
    published = templates().filters["published"]
    assert published(None) == "date unknown"
    assert published(datetime(2026, 11, 20, 10, 5, tzinfo=UTC)) == "2026-11-20 10:05 UTC"


def test_export_leaves_an_unknown_date_empty(store: Store) -> None:
    from monitor.search.export import export_rows

    store.save_article(record("id:1", None))
    store.save_article(record("id:2", PAGE_DATE))
    rows = list(export_rows(store))  # oldest first
    assert [r["published_at"] for r in rows] == [None, "2026-11-20T13:35:00+04:00"]
    assert [r["date_source"] for r in rows] == ["unknown", "page"]


def test_demo_archive_is_not_dated_by_the_day_it_runs(tmp_path: Path) -> None:
    """The seeds no longer take the load time: nothing in a fresh archive is dated after the
    newest recorded page, whatever day the test runs."""
    settings = make_settings(tmp_path)
    store = Store.open(settings.archive_url)
    try:
        rules = load_rules(ROOT / "topics.yaml")
        archive_seeds(
            store,
            load_seeds(ROOT / "seeds", load_sources(ROOT / "sources.yaml")),
            datetime.now(UTC),
            rules,
        )
        dates = [a.published_at for a in store.articles() if a.published_at is not None]
    finally:
        store.close()
    assert dates and max(dates).date() <= date(2025, 10, 20)
