"""sources.yaml: the shipped file loads and holds together; a bad file fails with a message that
names the file, the source and the field."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config.sources import Source, load_sources
from monitor.core.errors import SourcesFileError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "sources.yaml"
EXPECTED = ROOT / "tests/fixtures/sites/expected.yaml"

DROP = object()  # marks a key to remove from the example source


def example(**changes: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "name": "example-az",
        "title": "Example",
        "homepage": "https://example.az/",
        "language": "az",
        "timezone": "Asia/Baku",
        "interval": "15m",
        "feeds": ["https://example.az/rss"],
    }
    source.update(changes)
    return {key: value for key, value in source.items() if value is not DROP}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped() -> list[Source]:
    return load_sources(SHIPPED)


@pytest.fixture(scope="module")
def by_name(shipped: list[Source]) -> dict[str, Source]:
    return {source.name: source for source in shipped}


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the shipped file
def test_shipped_file_loads(shipped: list[Source]) -> None:
    assert {source.name for source in shipped} == {
        "azertag-az",
        "azertag-ru",
        "azertag-en",
        "525az",
        "kazinform-kk",
        "kazinform-ru",
        "kazinform-en",
        "kazinform-qz",
        "icma",
        "report-az",
        "report-ru",
        "report-en",
        "apa-az",
        "trend-az",
        "trend-en",
        "president-az",
        "akorda-kk",
        "tengrinews-kk",
    }


def test_every_enabled_source_has_a_feed_or_a_listing(shipped: list[Source]) -> None:
    for source in shipped:
        if source.enabled:
            assert source.feeds or source.listings, source.name


def test_every_source_is_described_and_polled_politely(shipped: list[Source]) -> None:
    for source in shipped:
        assert source.title, source.name
        assert timedelta(minutes=10) <= source.interval <= timedelta(minutes=30), source.name
        assert source.timezone in ("Asia/Baku", "Asia/Almaty"), source.name
        assert source.article_url and source.id_pattern, source.name
        assert re.compile(source.id_pattern).groups == 1, source.name


def test_kazakhstan_is_utc_plus_5(by_name: dict[str, Source], expected: dict[str, Any]) -> None:
    """Asia/Almaty moved to UTC+5 in March 2024; an older tzdata would say +6."""
    stated = expected["discovery"]["kazinform-kk"]["entries"][0]["published_at"]
    moment = datetime.fromisoformat(stated).astimezone(by_name["kazinform-kk"].zone)
    assert moment.utcoffset() == timedelta(hours=5)


def test_rules_match_every_recorded_article(
    by_name: dict[str, Source], expected: dict[str, Any]
) -> None:
    """article_url and id_pattern hold for the real URL and for its local copy alike."""
    for article in expected["articles"]:
        source = by_name[article["source"]]
        assert source.article_url and source.id_pattern
        local = re.sub(r"^https://[^/]+", "http://127.0.0.1:8123", article["url"])
        for url in (article["url"], local):
            assert re.search(source.article_url, url), (source.name, url)
            match = re.search(source.id_pattern, url)
            assert match and match.group(1) == article["id"], (source.name, url)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("azertag-az", "https://azertag.az/ru/xeber/v_baku_obsudili-4503305"),
        ("azertag-az", "https://azertag.az/bolme/politics"),
        ("azertag-az", "https://azertag.az/xeber"),
        ("azertag-ru", "https://azertag.az/xeber/some_news-4503305"),
        ("525az", "https://525.az/news"),
        ("525az", "https://525.az/category/siyaset"),
        ("kazinform-ru", "https://www.inform.kz/ru/lenta"),
        ("kazinform-ru", "https://www.inform.kz/ru/category/politika_s1"),
        ("kazinform-ru", "https://www.inform.kz/ru/lenta/?page=2"),
        ("kazinform-en", "https://en.inform.kz/lenta/"),
        ("icma", "https://icma.az/ru"),
        ("icma", "https://icma.az/login"),
    ],
)
def test_rules_reject_pages_that_are_not_articles(
    by_name: dict[str, Source], name: str, url: str
) -> None:
    rule = by_name[name].article_url
    assert rule and not re.search(rule, url)


@pytest.mark.parametrize(
    "line",
    [
        "Demokrat.az saytından alınan məlumatlara görə, Icma.az xəbər verir.",  # sites.md §4
        "Modern.az saytından verilən məlumata görə, Icma.az xəbər verir.",  # sites.md §4
        "Ses qazeti saytından verilən məlumata görə, Icma.az xəbər verir.",
        "Ses qazeti saytından verilən məlumata görə, Icma.az xəbər verir",
        "Icma.az bildirir, 525.az portalına istinadən.",  # seed 003
        "Icma.az bildirir, Report.az saytına istinadən.",
        "Sonrakı hadisələr barədə daha çox məlumat almaq üçün Icma.az saytını izləyin.",
        "seeBaxış sayı:121",
        "Mənbə: https://525.az",
        "embedMənbə:https://525.az",
        "archiveBu xəbər 20 Oktyabr 2025 12:24 mənbədən arxivləşdirilmişdir",
        "0 Şərh",
        "Daxil olun, şərh yazmaq üçün...",
        "İlk cavab verən siz olun...",
        "close up RU",  # icon-font words of the page chrome
        "close",
        "up",
    ],
)
def test_icma_drop_lines_remove_its_chrome(by_name: dict[str, Source], line: str) -> None:
    assert any(re.search(rule, line) for rule in by_name["icma"].article.drop_lines)


@pytest.mark.parametrize(
    "line",
    [
        "Modern.az-ın məlumatına görə, dekabrın 1-dən etibarən reyslərin sayı artırılacaq.",
        "Azərbaycan ilə Qazaxıstan arasında münasibətlər yeni mərhələyə yüksəlir.",
        "Rəşad Quliyev",
        "Prezident Icma.az bildirir ki, deyə yazılmayıb.",
        "Bu xəbər Astanadan gəlib.",
        "Newscenter.az-ın xəbərinə görə, Bakıda yeni park açılıb.",  # carries the story: stays
        "close to 20 flights a week",
    ],
)
def test_icma_drop_lines_keep_the_text(by_name: dict[str, Source], line: str) -> None:
    assert not any(re.search(rule, line) for rule in by_name["icma"].article.drop_lines)


# ----------------------------------------------------------------------------- bad files
BAD_SOURCES = [
    pytest.param(
        example(interval="5s"), ("example-az", "'interval'", "one minute"), id="short-interval"
    ),
    pytest.param(
        example(interval="soon"), ("example-az", "'interval'", "duration"), id="bad-interval"
    ),
    pytest.param(
        example(timezone="Asia/Nowhere"), ("example-az", "'timezone'", "IANA"), id="timezone"
    ),
    pytest.param(example(language="tr"), ("example-az", "'language'", "'tr'"), id="language"),
    pytest.param(
        example(colour="blue"), ("example-az", "'colour'", "not permitted"), id="unknown-field"
    ),
    pytest.param(
        example(id_pattern=r"-(\d+$"),
        ("example-az", "'id_pattern'", "regular expression"),
        id="regex",
    ),
    pytest.param(
        example(article={"drop_lines": ["(["]}),
        ("example-az", "'article.drop_lines.0'", "regular expression"),
        id="drop-lines-regex",
    ),
    pytest.param(
        example(article={"datelines": ["^(KAZINFORM"]}),
        ("example-az", "'article.datelines.0'", "regular expression"),
        id="datelines-regex",
    ),
    pytest.param(
        example(article={"cross_links": ["^Ранее (сообщалось"]}),
        ("example-az", "'article.cross_links.0'", "regular expression"),
        id="cross-links-regex",
    ),
    pytest.param(
        example(article={"agency": [" AZERTAC"]}),
        ("example-az", "'article.agency.0'", "agency name"),
        id="agency-name-blank-around",
    ),
    pytest.param(
        example(article={"agency": [""]}),
        ("example-az", "'article.agency.0'", "agency name"),
        id="agency-name-empty",
    ),
    pytest.param(
        example(article={"agency": "AZERTAC"}),
        ("example-az", "'article.agency'", "list"),
        id="agency-not-a-list",
    ),
    pytest.param(
        example(feeds=DROP, listings=[{"url": "https://example.az/", "selector": "a["}]),
        ("example-az", "'listings.0.selector'", "CSS selector"),
        id="listing-selector",
    ),
    pytest.param(
        example(article={"body": "div >> p"}),
        ("example-az", "'article.body'", "CSS selector"),
        id="article-selector",
    ),
    pytest.param(
        example(article={"headline": "h1"}),
        ("example-az", "'article.headline'", "not permitted"),
        id="unknown-article-field",
    ),
    pytest.param(
        example(homepage=DROP), ("example-az", "'homepage'", "required"), id="no-homepage"
    ),
    pytest.param(example(feeds=["not a url"]), ("example-az", "'feeds.0'", "URL"), id="feed-url"),
    pytest.param(
        example(feeds=DROP), ("example-az", "feeds, sitemaps or listings"), id="no-way-in"
    ),
    pytest.param(example(max_articles=0), ("example-az", "'max_articles'"), id="max-articles"),
    pytest.param(example(name="Bad Name"), ("'Bad Name'", "'name'"), id="name-pattern"),
    pytest.param(example(name=DROP), ("source #1", "'name'", "required"), id="no-name"),
    pytest.param(
        example(backfill={"pages": "https://example.az/news?page=2", "selector": "a"}),
        ("example-az", "'backfill.pages'", "{page}"),
        id="backfill-without-page-number",
    ),
    pytest.param(
        example(backfill={"pages": "ftp://example.az/{page}", "selector": "a"}),
        ("example-az", "'backfill.pages'", "http(s) URL"),
        id="backfill-not-http",
    ),
    pytest.param(
        example(backfill={"pages": "https://example.az/?page={page}"}),
        ("example-az", "backfill needs a selector"),
        id="backfill-without-selector",
    ),
    pytest.param(
        example(
            backfill={"pages": "https://example.az/?p={page}", "selector": "a", "max_pages": 0}
        ),
        ("example-az", "'backfill.max_pages'"),
        id="backfill-max-pages",
    ),
    pytest.param(
        example(evidence={"feeds": "probably"}),
        ("example-az", "'evidence.feeds'", "'confirmed: <where it was seen>' or 'guess'"),
        id="evidence-bad-label",
    ),
    pytest.param(
        example(evidence={"feeds": "confirmed:"}),
        ("example-az", "'evidence.feeds'", "evidence label"),
        id="evidence-confirmed-without-where",
    ),
    pytest.param(
        example(evidence={"interval": "guess"}),
        ("example-az", "evidence for 'interval'", "not a site fact"),
        id="evidence-for-a-policy-field",
    ),
    pytest.param(
        example(evidence={"article.body": "guess"}),
        ("example-az", "evidence for 'article.body'", "does not set"),
        id="evidence-for-an-unset-field",
    ),
    pytest.param(
        example(article={"date_text": ["(\\d"]}),
        ("example-az", "'article.date_text.0'", "regular expression"),
        id="date-text-regex",
    ),
    pytest.param(
        example(backfill={"pages": "https://example.az/?p={page}", "selector": "a", "next": "a"}),
        ("example-az", "'backfill.next'", "not permitted"),
        id="backfill-unknown-field",
    ),
]


@pytest.mark.parametrize(("source", "fragments"), BAD_SOURCES)
def test_bad_source_names_file_source_and_field(
    tmp_path: Path, source: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    path = write(tmp_path, {"sources": [source]})
    with pytest.raises(SourcesFileError) as caught:
        load_sources(path)
    message = str(caught.value)
    assert caught.value.path == str(path)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_error_names_the_right_source_among_several(tmp_path: Path) -> None:
    path = write(tmp_path, {"sources": [example(), example(name="second", timezone="Baku")]})
    with pytest.raises(SourcesFileError, match=r"source 'second', field 'timezone'"):
        load_sources(path)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"sources": [example(), example()]})
    with pytest.raises(SourcesFileError, match=r"'example-az' is used twice") as caught:
        load_sources(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("sources:\n  - name: [unclosed\n", "not valid YAML", id="not-yaml"),
        pytest.param("- name: example-az\n", "top level", id="list-at-top"),
        pytest.param("feeds: []\n", "top level", id="no-sources-key"),
        pytest.param("", "top level", id="empty"),
    ],
)
def test_unreadable_file_is_named(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourcesFileError) as caught:
        load_sources(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert fragment in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(SourcesFileError, match="file not found") as caught:
        load_sources(path)
    assert caught.value.path == str(path)


def test_a_minimal_source_gets_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, {"sources": [example(title=DROP, timezone=DROP, interval=DROP)]})
    (source,) = load_sources(path)
    assert source.display_title == "example-az"
    assert source.timezone == "UTC"
    assert source.interval == timedelta(minutes=30)
    assert source.article.body is None


def test_a_backfill_block_numbers_its_pages_and_borrows_the_listing_selector(
    tmp_path: Path,
) -> None:
    listing = {"url": "https://example.az/news", "selector": "a.card"}
    block = {"pages": "https://example.az/news?page={page}", "first_page": 2}
    path = write(tmp_path, {"sources": [example(listings=[listing], backfill=block)]})
    (source,) = load_sources(path)
    assert source.backfill is not None
    assert source.backfill.page_url(7) == "https://example.az/news?page=7"
    assert (source.backfill.first_page, source.backfill.max_pages) == (2, 500)
    assert source.backfill_selector == "a.card"
    own = write(tmp_path, {"sources": [example(backfill=block | {"selector": "h3 a"})]})
    assert load_sources(own)[0].backfill_selector == "h3 a"


def test_every_site_fact_of_the_shipped_file_carries_an_evidence_label(
    shipped: list[Source],
) -> None:
    for source in shipped:
        assert source.unlabelled() == [], source.name
        assert source.label("feeds" if source.feeds else "listings"), source.name


def test_the_corrections_the_evidence_asks_for_hold(by_name: dict[str, Source]) -> None:
    azertag = by_name["azertag-az"]
    assert azertag.backfill is not None
    assert azertag.backfill.page_url(2) == "https://azertag.az/?page=2"  # the homepage, paged
    assert azertag.backfill.first_page == 2  # page 1 has no parameter; the feed covers it
    assert (azertag.label("article.date") or "").startswith("confirmed: pre-2023")
    assert azertag.article.date_text  # the printed "DD.MM.YYYY [HH:MM]", before the feed's date
    kazakh = by_name["kazinform-kk"]
    assert kazakh.feeds and [listing.url for listing in kazakh.listings] == [
        "https://kaz.inform.kz/lenta/"
    ]
    assert by_name["kazinform-ru"].listings[0].selector == "a.news-card, .allNewsCard a[href]"
    assert len(by_name["kazinform-en"].listings) == 2


def test_unlabelled_facts_are_listed_and_labels_are_inherited_by_items(tmp_path: Path) -> None:
    listing = {"url": "https://example.az/news", "selector": "a.card"}
    path = write(
        tmp_path,
        {
            "sources": [
                example(
                    listings=[listing, listing],
                    article={"body": "div.text", "date": "time"},
                    evidence={"feeds": "confirmed: the site's own link", "listings.1": "guess"},
                )
            ]
        },
    )
    (source,) = load_sources(path)
    assert source.unlabelled() == [
        "homepage",
        "language",
        "timezone",
        "listings.0",
        "article.body",
        "article.date",
    ]
    assert source.label("listings.1") == "guess"
    assert source.label("feeds") == "confirmed: the site's own link"
    assert source.label("article.body") is None
