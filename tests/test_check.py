"""`monitor check`: the live self-check reports every recorded site healthy, and each deliberately
broken copy of one broken, naming the field."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import make_settings, monitor

from monitor.config.sources import Source
from monitor.crawl.fetch import Fetcher
from monitor.demo.server import SiteServer
from monitor.service.check import SourceCheck, check_each

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # the morning after the recordings

KAZINFORM_RU_PAGE = (
    "/ru/kazahstan-i-azerbaydzhan-uvelichat-paromnie-perevozki-mezhdu-aktau-i-alyatom-7c1e4b"
)
CLOUDFLARE = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1></body></html>"
)


def run_check(tmp_path: Path, sources: list[Source], **settings: object) -> list[SourceCheck]:
    async def main() -> list[SourceCheck]:
        async with Fetcher(make_settings(tmp_path, **settings)) as fetcher:
            return await check_each(sources, fetcher, NOW)

    return asyncio.run(main())


def one(sources: list[Source], name: str) -> list[Source]:
    return [source for source in sources if source.name == name]


def recorded(sites: SiteServer, host: str, path: str) -> str:
    return (sites.sites_dir / host / path.lstrip("/")).read_text(encoding="utf-8")


def states(result: SourceCheck) -> dict[str, str]:
    """The worst state of each field the check names."""
    rank = {"ok": 0, "fallback": 1, "broken": 2}
    worst: dict[str, str] = {}
    for check in result.fields:
        if rank[check.state] >= rank.get(worst.get(check.field, "ok"), 0):
            worst[check.field] = check.state
    return worst


@pytest.mark.slow
def test_every_recorded_site_is_healthy(
    tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    results = run_check(tmp_path, local_sources)
    assert [r.source for r in results] == [s.name for s in local_sources]
    for result in results:
        assert not result.broken, (result.source, result.problems())
        assert result.articles, result.source
        for article in result.articles:
            assert article.title and article.published_at and article.body_start, article.url
    by_name = {r.source: r for r in results}
    # the field's own selector found each part of a Kazinform page, and the label is shown
    kazinform = by_name["kazinform-ru"]
    assert kazinform.state == "ok"
    first = kazinform.articles[0]
    assert first.title_from == "selector h1" and first.method == "selectors"
    assert first.date_from == 'selector meta[name="article:published_time"]'
    assert states(kazinform) == {
        "listings.0": "ok",
        "article.title": "ok",
        "article.date": "ok",
        "article.body": "ok",
    }
    (listing,) = kazinform.entries
    assert listing.found == "4 article links" and (listing.label or "").startswith("confirmed: ")
    # what came from a fallback says so: AZERTAC's printed date, a dateless page's feed date
    azertag = by_name["azertag-az"].articles[0]
    assert azertag.method == "trafilatura" and azertag.published_at
    dateless = [a for a in by_name["azertag-en"].articles if a.date_from == "feed"]
    assert dateless and by_name["azertag-en"].state == "fallback"
    kazakh_latin = by_name["kazinform-qz"]
    assert {a.date_from for a in kazakh_latin.articles} >= {"page text"}


BROKEN_COPIES = [
    pytest.param(
        "kazinform-ru",
        ("www.inform.kz", "/ru/lenta"),
        lambda page: page.replace("news-card", "news-tile"),
        {"listings.0": "broken"},
        "matched nothing",
        id="listing-cards-renamed",
    ),
    pytest.param(
        "kazinform-kk",
        ("kaz.inform.kz", "/rss/kz.xml"),
        None,  # 404
        {"feeds.0": "broken", "listings.0": "ok"},
        "404",
        id="feed-gone-lenta-still-lists",
    ),
    pytest.param(
        "azertag-az",
        ("azertag.az", "/rss"),
        CLOUDFLARE,
        {"feeds.0": "broken"},
        "Cloudflare",
        id="feed-is-a-cloudflare-page",
    ),
    pytest.param(
        "kazinform-ru",
        ("www.inform.kz", KAZINFORM_RU_PAGE),
        lambda page: page.replace(
            'content="2026-11-20T16:05:00+05:00"', 'content="2027-11-20T16:05:00+05:00"'
        ),
        {"article.date": "broken"},
        "in the future",
        id="date-in-the-future",
    ),
    pytest.param(
        "kazinform-ru",
        ("www.inform.kz", KAZINFORM_RU_PAGE),
        lambda page: page.replace(
            '<h1 class="article__title">Казахстан и Азербайджан',
            '<h1 class="article__title">Киргизия ограничила импорт скота. Казахстан и Азербайджан',
        ),
        {"article.title": "broken"},
        "differs from og:title",
        id="title-differs-from-og-title",
    ),
    pytest.param(
        "kazinform-ru",
        ("www.inform.kz", KAZINFORM_RU_PAGE),
        lambda page: page.replace(
            '<div class="article__body-text">',
            '<div class="article__body-text">'
            + "".join(
                f'<p><a href="/ru/other-story-{n}-a1b2c3">Другая новость номер {n} о погоде в регионах</a></p>'
                for n in range(30)
            ),
        ),
        {"article.body": "broken"},
        "mostly links",
        id="body-mostly-links",
    ),
    pytest.param(
        "kazinform-ru",
        ("www.inform.kz", KAZINFORM_RU_PAGE),
        CLOUDFLARE,
        {"article page": "broken"},
        "Cloudflare",
        id="article-is-a-cloudflare-page",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "where", "change", "expected", "words"), BROKEN_COPIES)
def test_a_broken_copy_is_broken_naming_the_field(
    tmp_path: Path,
    sites: SiteServer,
    local_sources: list[Source],
    name: str,
    where: tuple[str, str],
    change: object,
    expected: dict[str, str],
    words: str,
) -> None:
    host, path = where
    if change is None:
        sites.set_override(host, path, status=404)
    elif isinstance(change, str):
        sites.set_override(host, path, body=change)
    else:
        sites.set_override(host, path, body=change(recorded(sites, host, path)))  # type: ignore[operator]
    (result,) = run_check(tmp_path, one(local_sources, name), retries=0)
    assert result.broken
    found = states(result)
    for field, state in expected.items():
        assert found.get(field) == state, (field, result.problems())
    problems = [p for p in result.problems() if p.state == "broken"]
    assert any(words in p.found for p in problems), problems


@pytest.mark.slow
def test_a_renamed_body_selector_falls_back_to_generic_extraction_and_says_so(
    tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    page = recorded(sites, "www.inform.kz", KAZINFORM_RU_PAGE)
    sites.set_override(
        "www.inform.kz", KAZINFORM_RU_PAGE, body=page.replace("article__content", "article__main")
    )
    (result,) = run_check(tmp_path, one(local_sources, "kazinform-ru"))
    assert not result.broken and result.state == "fallback"
    (problem,) = result.problems()
    assert problem.field == "article.body" and problem.url.endswith(KAZINFORM_RU_PAGE)
    assert "selector 'div.article__content' found nothing; generic extraction" in problem.found


@pytest.mark.slow
def test_the_command_prints_fields_and_exits_1_for_a_broken_source(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    base = ("--sources", str(local_sources_file), "--data-dir", str(tmp_path / "data"))
    healthy = monitor(*base, "check", "--source", "kazinform-ru", "--source", "report-az")
    assert healthy.returncode == 0, healthy.stderr
    assert "kazinform-ru: ok" in healthy.stdout and "report-az: ok" in healthy.stdout
    assert "listings.0 " in healthy.stdout and "(confirmed: " in healthy.stdout
    assert "title: 'Казахстан и Азербайджан увеличат паромные перевозки" in healthy.stdout
    assert not (tmp_path / "data" / "archive.db").exists()  # a check stores nothing

    sites.set_override("www.inform.kz", "/ru/lenta", status=404)
    broken = monitor(*base, "check", "--source", "kazinform-ru", "--json")
    assert broken.returncode == 1, broken.stderr
    (row,) = [json.loads(line) for line in broken.stdout.splitlines()]
    assert row["state"] == "broken" and row["source"] == "kazinform-ru"
    (entry,) = row["entries"]
    assert entry["field"] == "listings.0" and entry["state"] == "broken" and "404" in entry["found"]
