"""The web page in a real headless browser (Debian's chromium and chromedriver, started here):
search from the box, see the marked matches, narrow by language and source, open an article and
its topics and reasons, and its raw capture; see a result stand for a story's "N versions", open
the story and its versions side by side, find it among the newest stories, and go from a
version's article back to its story. The archive is filled by a real poll of the recorded sites
on 127.0.0.1, on SQLite and PostgreSQL, so the search index and the stories are the ones a poll
builds.

The attention chart above the results: drawn, its numbers behind a disclosure, its tallest bar
leading to that month's results in that language, and its switch to shares.

Without chromium the tests are skipped with the reason, except under CI (CI=true), where a
missing browser is a failure: `.ci/run` installs it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, make_settings, missing
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_web import LABELS, running

from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.demo.server import SiteServer
from monitor.link.members import best_member
from monitor.service.pipeline import poll_sources
from monitor.service.wiring import open_deps
from monitor.store import Store
from monitor.store.story_rows import story_members
from monitor.web import create_app
from monitor.web.pages import LANGUAGES

pytestmark = pytest.mark.slow
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--window-size=1280,1000",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        missing("chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    started = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    started.set_page_load_timeout(30)
    try:
        yield started
    finally:
        started.quit()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def polled(
    request: pytest.FixtureRequest, tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> Iterator[tuple[Settings, Store]]:
    """An archive filled by one poll of every recorded site."""
    if request.param == "sqlite":
        settings = make_settings(tmp_path)
    else:
        from conftest import _reset_postgres

        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
        settings = make_settings(tmp_path, database_url=url)
    settings = settings.model_copy(update={"topics": ROOT / "topics.yaml"})

    async def poll() -> None:
        async with open_deps(settings, local_sources) as deps:
            reports = await poll_sources(local_sources, deps)
        assert all(r.ok for r in reports), {r.source: r.errors for r in reports}

    asyncio.run(poll())
    store = Store.open(settings.archive_url)
    try:
        yield settings, store
    finally:
        store.close()


def submit(browser: WebDriver) -> None:
    before = browser.current_url
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 20).until(lambda b: b.current_url != before)


def test_search_filter_and_open_an_article_in_a_browser(
    browser: WebDriver, polled: tuple[Settings, Store], local_sources: list[Source]
) -> None:
    settings, store = polled
    app = create_app(settings, store, sources=local_sources, labels=LABELS)
    with running(app) as url:
        browser.get(url + "/")
        assert "articles archived" in browser.find_element(By.TAG_NAME, "main").text

        # 1. a query typed in the box finds articles, with the matched words marked
        box = browser.find_element(By.ID, "q")
        box.clear()
        box.send_keys("Kazakhstan")
        submit(browser)
        assert "/search?" in browser.current_url
        everything = int(browser.find_element(By.ID, "total").text.split()[0])
        marks = browser.find_elements(By.CSS_SELECTOR, "li.hit mark")
        assert everything > 0 and marks
        assert all("kazakhstan" in m.text.lower() for m in marks)

        # 2. a language filter narrows the list, and the form keeps query and filter
        Select(browser.find_element(By.ID, "lang")).select_by_value("en")
        submit(browser)
        in_english = int(browser.find_element(By.ID, "total").text.split()[0])
        assert 0 < in_english < everything
        metas = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "li.hit .meta")]
        assert metas and all(" · en" in meta for meta in metas)
        assert browser.find_element(By.ID, "q").get_attribute("value") == "Kazakhstan"
        language = Select(browser.find_element(By.ID, "lang")).first_selected_option
        assert language.get_attribute("value") == "en"

        # 3. and a source filter on top of it
        Select(browser.find_element(By.ID, "source")).select_by_value("kazinform-en")
        submit(browser)
        from_kazinform = int(browser.find_element(By.ID, "total").text.split()[0])
        assert 0 < from_kazinform <= in_english
        label = LABELS.source("kazinform-en")
        metas = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "li.hit .meta")]
        assert all(meta.startswith(label) and " · en" in meta for meta in metas)

        # 4. opening a result shows the article, its topics and the reasons for them
        first = browser.find_element(By.CSS_SELECTOR, "li.hit a.title")
        title = first.text
        first.click()
        WebDriverWait(browser, 20).until(lambda b: "/article/" in b.current_url)
        assert browser.find_element(By.ID, "title").text == title
        article_id = int(browser.current_url.rsplit("/", 1)[1])
        topics = store.tags_for([article_id])[article_id][0]
        tags = browser.find_element(By.ID, "tags").text
        assert topics and all(LABELS.topic(t) in tags for t in topics)
        reasons = browser.find_elements(By.CSS_SELECTOR, "#reasons li")
        assert reasons and reasons[0].text.startswith("relevant: score")
        source_link = browser.find_element(By.ID, "source-link").get_attribute("href")
        assert source_link == store.article(article_id).url  # type: ignore[union-attr]

        # 5. the raw capture is replayed in a sandboxed frame that runs none of its scripts
        browser.find_element(By.ID, "capture-link").click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/capture"))
        frame = browser.find_element(By.CSS_SELECTOR, "iframe.capture")
        assert frame.get_attribute("sandbox") == ""
        browser.switch_to.frame(frame)
        try:
            words = [w for w in title.split() if len(w) > 4][:3]
            shown = browser.find_element(By.TAG_NAME, "body").text
            assert all(w in shown for w in words), (words, shown[:300])
        finally:
            browser.switch_to.default_content()


def test_a_story_and_its_versions_in_a_browser(
    browser: WebDriver, polled: tuple[Settings, Store], local_sources: list[Source]
) -> None:
    settings, store = polled
    app = create_app(settings, store, sources=local_sources, labels=LABELS)
    with running(app) as url:
        browser.get(url + "/")

        # 1. a search shows a story once, with how many versions it has
        box = browser.find_element(By.ID, "q")
        box.clear()
        box.send_keys("Aktau")
        submit(browser)
        results = browser.find_elements(By.CSS_SELECTOR, "li.hit")
        told = browser.find_elements(By.CSS_SELECTOR, "li.hit a.versions")
        assert results and told, "several sites tell an Aktau story"
        assert (
            "articles: a story's versions are one match"
            in browser.find_element(By.ID, "total").text
        )
        count = int(told[0].text.split()[0])
        assert count > 1 and told[0].text == f"{count} versions"
        story_id = int(str(told[0].get_attribute("href")).rsplit("/", 1)[1])

        # 2. its page puts the versions side by side, under the best one's title
        told[0].click()
        WebDriverWait(browser, 20).until(lambda b: f"/story/{story_id}" in b.current_url)
        versions = [m for m in story_members(store, [story_id])[story_id] if m.source != "seed"]
        best = best_member(versions)
        assert browser.find_element(By.ID, "title").text == best.title
        assert browser.title.startswith(best.title)
        cards = browser.find_elements(By.CSS_SELECTOR, "#versions section.version")
        assert len(cards) == count == len(versions)
        for card, member in zip(cards, versions, strict=True):
            assert card.find_element(By.CSS_SELECTOR, "h2 a.title").text == member.title
            original = card.find_element(By.CSS_SELECTOR, "a.original").get_attribute("href")
            assert original == member.url
            assert ("copy" in str(card.get_attribute("class")).split()) == member.copy
        tops = {card.location["y"] for card in cards[:2]}
        lefts = {card.location["x"] for card in cards[:2]}
        assert len(tops) == 1 and len(lefts) == 2, "the first two versions side by side"

        # 3. the navigation's Stories lists it, with the same count
        browser.find_element(By.LINK_TEXT, "Stories").click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/stories"))
        row = browser.find_element(By.CSS_SELECTOR, f'li.story a.title[href="/story/{story_id}"]')
        meta = row.find_element(By.XPATH, "following-sibling::div[@class='meta']").text
        assert row.text == best.title and meta.startswith(f"{count} versions · ")

        # 4. a version's article page leads back to its story
        other = next(m for m in versions if m.article_id != best.article_id)
        browser.get(f"{url}/article/{other.article_id}")
        link = browser.find_element(By.ID, "story-link")
        assert link.text == f"{count} versions"
        link.click()
        WebDriverWait(browser, 20).until(lambda b: f"/story/{story_id}" in b.current_url)
        assert len(browser.find_elements(By.CSS_SELECTOR, "section.version")) == count


def test_the_attention_chart_renders_and_its_bars_lead_to_their_results(
    browser: WebDriver, polled: tuple[Settings, Store], local_sources: list[Source]
) -> None:
    settings, store = polled
    app = create_app(settings, store, sources=local_sources, labels=LABELS)
    with running(app) as url:
        # 1. the chart above the results: bars drawn with a size, the numbers behind a disclosure
        browser.get(url + "/search?q=Kazakhstan&by=month")
        chart = browser.find_element(By.ID, "trend-chart")
        assert chart.is_displayed() and chart.size["width"] > 300 and chart.size["height"] > 100
        drawn = browser.find_elements(By.CSS_SELECTOR, "#trend-chart a.bar rect")
        assert drawn and all(rect.size["height"] > 0 for rect in drawn)
        table = browser.find_element(By.ID, "trend-table")
        browser.find_element(By.CSS_SELECTOR, "#trend-numbers summary").click()
        WebDriverWait(browser, 10).until(lambda b: table.is_displayed())

        # 2. the tallest bar leads to its month's results in its language, and they agree
        tallest = max(drawn, key=lambda rect: rect.size["height"])
        title = tallest.find_element(By.TAG_NAME, "title").get_attribute("textContent") or ""
        period_and_language, count = title.rsplit(": ", 1)
        language = period_and_language.split(" · ")[1]
        code = next(c for c, name in LANGUAGES.items() if name == language)
        before = browser.current_url
        tallest.click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url != before)
        assert "since=" in browser.current_url and f"lang={code}" in browser.current_url
        assert (
            Select(browser.find_element(By.ID, "lang")).first_selected_option.get_attribute("value")
            == code
        )
        metas = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "li.hit .meta")]
        assert metas and all(f" · {code}" in meta for meta in metas)
        narrowed = [
            rect.find_element(By.TAG_NAME, "title").get_attribute("textContent")
            for rect in browser.find_elements(By.CSS_SELECTOR, "#trend-chart a.bar rect")
        ]
        assert narrowed == [title]  # the same bar, alone: the same count of the same articles

        # 3. the switch to shares redraws the scale in per cent
        browser.find_element(By.LINK_TEXT, "share of all articles").click()
        WebDriverWait(browser, 20).until(lambda b: "share=1" in b.current_url)
        scale = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#trend-chart text.axis")]
        assert any(label.endswith("%") for label in scale), scale
        assert int(count) > 0
