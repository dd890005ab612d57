"""The replay server for the recorded sites, and the recordings against sources.yaml and
tests/fixtures/sites/expected.yaml."""

from __future__ import annotations

import html
import http.client
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import yaml
from selectolax.lexbor import LexborHTMLParser

from monitor.config.sources import Source, load_sources
from monitor.demo.server import RECORDED_AT, SITES_DIR, SiteServer, rewrite_sources, to_local
from monitor.text.dates import parse_datetime

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = yaml.safe_load((ROOT / "tests/fixtures/sites/expected.yaml").read_text("utf-8"))
ARTICLES: list[dict[str, Any]] = EXPECTED["articles"]
SOURCES = load_sources(ROOT / "sources.yaml")
BY_NAME = {source.name: source for source in SOURCES}


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: SiteServer) -> Iterator[None]:
    yield
    server.clear_overrides()
    server.clear_requests()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as session:
        yield session


def make_site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = root / "example.az" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def recorded(host: str, path: str) -> str:
    relative = path.lstrip("/") + ("index.html" if path.endswith("/") or path == "/" else "")
    return (SITES_DIR / host / relative).read_text("utf-8")


# ------------------------------------------------------------------------------ serving
def test_one_listener_per_host(server: SiteServer, client: httpx.Client) -> None:
    assert server.hosts == [
        "525.az",
        "apa.az",
        "az.trend.az",
        "azertag.az",
        "en.inform.kz",
        "en.trend.az",
        "icma.az",
        "kaz.inform.kz",
        "kaz.tengrinews.kz",
        "president.az",
        "qz.inform.kz",
        "report.az",
        "www.akorda.kz",
        "www.inform.kz",
    ]
    bases = {server.base_url(host) for host in server.hosts}
    assert len(bases) == len(server.hosts)
    for host in server.hosts:
        response = client.get(server.base_url(host) + "/robots.txt")
        assert response.status_code == 200, host
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "User-agent: *" in response.text


def test_url_map_covers_schemes_and_www(server: SiteServer) -> None:
    mapping = server.url_map()
    azertag = server.base_url("azertag.az")
    for origin in ("https://azertag.az", "http://azertag.az", "https://www.azertag.az"):
        assert mapping[origin] == azertag
    assert mapping["https://inform.kz"] == server.base_url("www.inform.kz")
    assert mapping["https://kaz.inform.kz"] == server.base_url("kaz.inform.kz")
    assert "https://www.kaz.inform.kz" not in mapping


def test_unknown_host_is_a_key_error(server: SiteServer) -> None:
    with pytest.raises(KeyError, match="not a recorded host"):
        server.base_url("kazpravda.kz")


def test_shipped_feeds_and_listings_are_served(server: SiteServer, client: httpx.Client) -> None:
    for source in rewrite_sources(SOURCES, server.url_map()):
        for url in source.feeds:
            response = client.get(url)
            assert response.status_code == 200, url
            assert "xml" in response.headers["content-type"], url
        for listing in source.listings:
            response = client.get(listing.url)
            assert response.status_code == 200, listing.url
            assert response.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: f"{a['source']}-{a['id']}")
def test_every_expected_article_is_served(
    server: SiteServer, client: httpx.Client, article: dict[str, Any]
) -> None:
    base = server.base_url(article["host"])
    for path in [article["path"], *article.get("also_served_at", [])]:
        response = client.get(base + path)
        assert response.status_code == 200, path
        text = html.unescape(response.text)
        for snippet in article["must_contain"]:
            assert snippet in text
    assert server.local_url(article["url"]) == base + article["path"]


def test_real_origins_are_rewritten_in_served_bodies(
    server: SiteServer, client: httpx.Client
) -> None:
    azertag = server.base_url("azertag.az")
    feed = client.get(azertag + "/rss").text
    assert "https://azertag.az" not in feed
    assert f"<link>{azertag}/xeber/" in feed
    copy = next(a for a in ARTICLES if a.get("republished_from"))
    page = client.get(server.base_url("icma.az") + copy["path"]).text
    assert f'href="{server.base_url("525.az")}"' in page  # the "Mənbə:" link to the original
    assert "https://fonts.googleapis.com/" in page  # hosts that are not recorded stay as they are
    kazinform = client.get(server.base_url("www.inform.kz") + "/ru/lenta").text
    assert 'href="https://cn.inform.kz/"' in kazinform
    assert 'href="/ru/' in kazinform  # root-relative links are left alone


@pytest.mark.parametrize(
    ("text", "host", "expected"),
    [
        ("https://azertag.az/xeber/a-1", "azertag.az", "http://{base}/xeber/a-1"),
        ("http://www.azertag.az/rss", "azertag.az", "http://{base}/rss"),
        ('src="//azertag.az/files/x.jpg"', "azertag.az", 'src="//{base}/files/x.jpg"'),
        (
            r'"url":"https:\/\/azertag.az\/xeber\/a-1"',
            "azertag.az",
            r'"url":"http:\/\/{base}\/xeber\/a-1"',
        ),
        ("Mənbə: https://525.az.", "525.az", "Mənbə: http://{base}."),
        ("https://inform.kz/ru", "www.inform.kz", "http://{base}/ru"),
        ("https://KAZ.INFORM.KZ/rss/kz.xml", "kaz.inform.kz", "http://{base}/rss/kz.xml"),
        ("https://azertag.az.example.com/", None, "https://azertag.az.example.com/"),
        ("https://video.azertag.az/video/1", None, "https://video.azertag.az/video/1"),
        ("https://www.facebook.com/sharer.php?u=https%3A%2F%2Fazertag.az", None, None),
        ("mailto:info@525.az", None, None),
    ],
)
def test_rewrite_text(
    server: SiteServer, text: str, host: str | None, expected: str | None
) -> None:
    if host is None:
        assert server.rewrite_text(text) == (expected or text)
    else:
        netloc = urlsplit(server.base_url(host)).netloc
        assert server.rewrite_text(text) == (expected or text).replace("{base}", netloc)


def test_conditional_get_answers_304(server: SiteServer, client: httpx.Client) -> None:
    url = server.base_url("azertag.az") + "/rss"
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]+(-gz)?"', etag)
    assert parsedate_to_datetime(modified) == RECORDED_AT
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    since = client.get(url, headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    older = format_datetime(datetime(2026, 11, 1, tzinfo=RECORDED_AT.tzinfo), usegmt=True)
    assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
    stale = client.get(url, headers={"If-None-Match": '"0000"', "If-Modified-Since": modified})
    assert stale.status_code == 200  # If-None-Match wins over If-Modified-Since
    logged = [r for r in server.requests if r.path == "/rss"]
    assert [r.conditional for r in logged] == [False, True, True, True, True]
    assert logged[1].headers["if-none-match"] == etag


def test_etag_revalidates_across_encodings(server: SiteServer, client: httpx.Client) -> None:
    url = server.base_url("icma.az") + "/"
    zipped = client.get(url)
    assert zipped.headers["content-encoding"] == "gzip"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == zipped.text
    assert plain.headers["etag"] != zipped.headers["etag"]
    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_head_sends_headers_only(server: SiteServer, client: httpx.Client) -> None:
    url = server.base_url("kaz.inform.kz") + "/rss/kz.xml"
    identity = {"Accept-Encoding": "identity"}
    head = client.head(url, headers=identity)
    get = client.get(url, headers=identity)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == "application/rss+xml; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    ["/no/such/page", "/xeber/unknown-1", "/rss.xml", "/%2e%2e/%2e%2e/pyproject.toml", "/../x"],
)
def test_missing_pages_are_404(server: SiteServer, path: str) -> None:
    target = urlsplit(server.base_url("azertag.az"))
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=5)
    connection.request("GET", path)  # raw, so the client cannot normalise the path
    response = connection.getresponse()
    assert response.status == 404
    assert response.getheader("content-type") == "text/html; charset=utf-8"
    connection.close()


def test_paths_map_to_files(tmp_path: Path, client: httpx.Client) -> None:
    make_site(
        tmp_path,
        {
            "index.html": "<p>home</p>",
            "rss": "<?xml version='1.0'?><rss version='2.0'><channel/></rss>",
            "ru/lenta": "<p>page 1</p>",
            "ru/lenta@page=2": "<p>page 2</p>",
            "news/story-ab12cd/index.html": "<p>story</p>",
            "sitemap.xml": '<?xml version="1.0"?>\n<!-- c -->\n<urlset xmlns="x"></urlset>',
            "atom": '<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
            "q@a=1&b=%2Fx": "<p>query with a slash</p>",
        },
    )
    with SiteServer(tmp_path) as local:
        base = local.base_url("example.az")
        cases = {
            "/": "home",
            "/ru/lenta": "page 1",
            "/ru/lenta/": "page 1",
            "/ru/lenta?page=2": "page 2",
            "/ru/lenta/?page=2": "page 2",
            "/news/story-ab12cd/": "story",
            "/news/story-ab12cd": "story",
            "/q?a=1&b=/x": "query with a slash",
        }
        for path, text in cases.items():
            response = client.get(base + path)
            assert response.status_code == 200, path
            assert text in response.text, path
        assert client.get(base + "/ru/lenta?page=3").status_code == 404
        types = {
            path: client.get(base + path).headers["content-type"]
            for path in ("/rss", "/sitemap.xml", "/atom", "/")
        }
        assert types == {
            "/rss": "application/rss+xml; charset=utf-8",
            "/sitemap.xml": "application/xml; charset=utf-8",
            "/atom": "application/atom+xml; charset=utf-8",
            "/": "text/html; charset=utf-8",
        }


def test_override_injects_a_failure(server: SiteServer, client: httpx.Client) -> None:
    url = server.base_url("azertag.az") + "/rss"
    server.set_override("azertag.az", "/rss", status=503, headers={"Retry-After": "120"})
    failing = client.get(url)
    assert failing.status_code == 503
    assert failing.headers["retry-after"] == "120"
    assert "etag" not in failing.headers
    server.remove_override("azertag.az", "/rss")
    assert client.get(url).status_code == 200


def test_override_changes_a_page(server: SiteServer, client: httpx.Client) -> None:
    base = server.base_url("icma.az")
    before = client.get(base + "/")
    changed = '<a href="https://icma.az/news/yeni-xeber-1318900">Yeni xəbər</a>'
    server.set_override("icma.az", "/", body=changed)
    after = client.get(base + "/", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.text == f'<a href="{base}/news/yeni-xeber-1318900">Yeni xəbər</a>'
    assert after.headers["etag"] != before.headers["etag"]
    assert parsedate_to_datetime(after.headers["last-modified"]) > RECORDED_AT
    again = client.get(base + "/", headers={"If-None-Match": after.headers["etag"]})
    assert again.status_code == 304


def test_override_can_answer_a_page_that_is_not_recorded(
    server: SiteServer, client: httpx.Client
) -> None:
    base = server.base_url("525.az")
    server.set_override("525.az", "/rss", body='<?xml version="1.0"?><rss version="2.0"/>')
    response = client.get(base + "/rss")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    server.set_override("525.az", "/old", status=301, headers={"Location": "/"})
    moved = client.get(base + "/old")
    assert moved.status_code == 301 and moved.headers["location"] == "/"


def test_override_delay_trips_a_client_timeout(server: SiteServer) -> None:
    server.set_override("azertag.az", "/en/rss", delay=0.5)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.base_url("azertag.az") + "/en/rss", timeout=0.1)
    assert time.monotonic() - started < 0.5


def test_request_log_is_thread_safe(server: SiteServer) -> None:
    url = server.base_url("www.inform.kz") + "/ru/lenta"
    with httpx.Client(timeout=5) as session, ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: session.get(url).status_code, range(24)))
    assert statuses == [200] * 24
    logged = server.requests
    assert len(logged) == 24
    assert {(r.host, r.method, r.path) for r in logged} == {("www.inform.kz", "GET", "/ru/lenta")}


def test_stop_is_idempotent_and_start_again_works(tmp_path: Path, client: httpx.Client) -> None:
    local = SiteServer(make_site(tmp_path, {"index.html": "<p>x</p>"}))
    local.start()
    with pytest.raises(RuntimeError):
        local.start()
    local.stop()
    local.stop()
    with pytest.raises(KeyError, match="not running"):
        local.base_url("example.az")
    with local:
        assert client.get(local.base_url("example.az") + "/").status_code == 200


# ------------------------------------------------------------------------------ rewrite_sources
def test_rewrite_sources_maps_every_url(server: SiteServer) -> None:
    mapping = server.url_map()
    local = rewrite_sources(SOURCES, mapping)
    assert [source.name for source in local] == [source.name for source in SOURCES]
    for before, after in zip(SOURCES, local, strict=True):
        urls = [
            after.homepage,
            *after.feeds,
            *after.sitemaps,
            *(item.url for item in after.listings),
        ]
        assert urls and all(url.startswith("http://127.0.0.1:") for url in urls), after.name
        assert after.model_dump(exclude={"homepage", "feeds", "sitemaps", "listings"}) == (
            before.model_dump(exclude={"homepage", "feeds", "sitemaps", "listings"})
        )
        selectors = [[item.selector for item in s.listings] for s in (before, after)]
        assert selectors[0] == selectors[1]
    assert SOURCES[0].feeds == ["https://azertag.az/rss"]  # the originals are untouched


def test_rewrite_sources_leaves_unknown_hosts_alone() -> None:
    source = Source.model_validate(
        {
            "name": "other",
            "homepage": "https://report.az/",
            "language": "az",
            "feeds": ["https://report.az/rss/", "https://azertag.az/rss"],
        }
    )
    (local,) = rewrite_sources([source], {"https://azertag.az": "http://127.0.0.1:9"})
    assert local.homepage == "https://report.az/"
    assert local.feeds == ["https://report.az/rss/", "http://127.0.0.1:9/rss"]
    assert (
        to_local("https://AZERTAG.az/x?y=1", {"https://azertag.az": "http://h:1"})
        == "http://h:1/x?y=1"
    )


# ------------------------------------------------------------------------------ the recordings
def feed_links(text: str) -> list[str]:
    return [item.findtext("link") or "" for item in ET.fromstring(text).iter("item")]


def listing_links(source: Source) -> list[str]:
    listing = source.listings[0]  # the first; any other is a fallback
    parts = urlsplit(listing.url)
    page = LexborHTMLParser(recorded(parts.netloc, parts.path or "/"))
    found = []
    for node in page.css(listing.selector):
        link = node if node.tag == "a" else node.css_first("a[href]")
        href = link.attributes.get("href") if link is not None else None
        if href:
            found.append(urljoin(listing.url, href))
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED["discovery"]))
def test_discovery_finds_what_expected_yaml_says(name: str) -> None:
    source = BY_NAME[name]
    wanted = [entry["url"] for entry in EXPECTED["discovery"][name]["entries"]]
    if source.feeds:
        parts = urlsplit(source.feeds[0])
        found = feed_links(recorded(parts.netloc, parts.path))
    else:
        found = listing_links(source)
    assert source.article_url
    articles = [url for url in found if re.search(source.article_url, url)]
    assert articles == wanted
    recorded_urls = {a["url"] for a in ARTICLES if a["source"] == name}
    ids = {re.search(source.id_pattern or "", url).group(1) for url in articles}  # type: ignore[union-attr]
    assert len(ids) == len(recorded_urls)  # every distinct article found is recorded


def test_azertag_feed_keeps_an_updated_item_under_its_old_id() -> None:
    links = feed_links(recorded("azertag.az", "/rss"))
    by_id: dict[str, list[str]] = {}
    for link in links:
        by_id.setdefault(link.rsplit("-", 1)[1], []).append(link)
    (updated,) = [group for group in by_id.values() if len(group) == 2]
    assert updated[0].endswith("_yenilenib-4503188")
    assert "&quot;" in recorded("azertag.az", "/rss")
    assert any("_quot" in link for link in links)


@pytest.mark.parametrize(
    "article",
    [a for a in ARTICLES if a["date_from"] == "feed"],
    ids=lambda a: f"{a['source']}-{a['id']}",
)
def test_the_dateless_pages_state_no_date(article: dict[str, Any]) -> None:
    page = recorded(article["host"], article["path"])
    text = re.sub(r"© (?:\d{4}-)?2026", "", page)
    assert not re.search(
        r"\d{2}\.\d{2}\.\d{4}|20\d\d-\d\d|/20\d\d/|November 20|20 November|published_time", text
    )


@pytest.mark.parametrize(
    "article",
    [a for a in ARTICLES if BY_NAME[a["source"]].article.body],
    ids=lambda a: f"{a['source']}-{a['id']}",
)
def test_article_selectors_match_the_markup(article: dict[str, Any]) -> None:
    """Each selector the source has finds its part of the page; the date is in the date
    selector's element when the page states it machine-readably, else in the page's text where
    a `date_text` pattern finds it."""
    rules = BY_NAME[article["source"]].article
    page = LexborHTMLParser(recorded(article["host"], article["path"]))
    assert rules.body
    body = page.css_first(rules.body)
    assert body is not None
    if rules.title:
        title = page.css_first(rules.title)
        assert title is not None and title.text(strip=True) == article["title"]
    if article["date_from"] == "page":
        date = page.css_first(rules.date or "-")
        assert date is not None
        stated = datetime.fromisoformat(date.attributes["content"] or "")
        assert stated == datetime.fromisoformat(article["published_at"])
    elif article["date_from"] == "page-text":
        zone = BY_NAME[article["source"]].zone
        printed = [
            match.group()
            for pattern in rules.date_text
            for match in re.finditer(pattern, page.body.text(separator=" ") if page.body else "")
        ]
        assert printed, article["path"]
        assert parse_datetime(printed[0], zone) == datetime.fromisoformat(article["published_at"])
    whole = page.text()
    for selector in rules.remove:
        for node in body.css(selector):
            node.decompose()
    text = body.text(separator="\n")
    for snippet in article["must_contain"]:
        assert snippet in text
    for chrome in article["must_not_contain"]:
        if chrome in article.get("cross_link", ""):
            continue  # the source's cross_links drop it, not its selectors
        assert chrome not in text
        assert chrome in whole, "must_not_contain should name text that is on the page"


def test_icma_copies_open_with_a_line_drop_lines_removes() -> None:
    rules = BY_NAME["icma"].article.drop_lines
    for article in (a for a in ARTICLES if a["source"] == "icma"):
        assert any(re.search(rule, article["attribution"]) for rule in rules), article["id"]


def test_expected_dates_are_in_the_source_zone() -> None:
    for article in ARTICLES:
        stated = datetime.fromisoformat(article["published_at"])
        zone = BY_NAME[article["source"]].zone
        assert stated.utcoffset() == stated.astimezone(zone).utcoffset(), article["id"]


def test_recordings_stay_small() -> None:
    total = sum(path.stat().st_size for path in SITES_DIR.rglob("*") if path.is_file())
    assert total < 1_500_000


def test_robots_allow_everything_the_sources_fetch() -> None:
    from protego import Protego

    urls = [url for s in SOURCES for url in (*s.feeds, *(item.url for item in s.listings))]
    for url in [*urls, *(a["url"] for a in ARTICLES)]:
        robots = Protego.parse(recorded(urlsplit(url).netloc, "/robots.txt"))
        assert robots.can_fetch(url, "az-kz-monitor/0.1"), url
    assert not Protego.parse(recorded("azertag.az", "/robots.txt")).can_fetch(
        "https://azertag.az/axtarish?search=Qazaxıstan", "az-kz-monitor/0.1"
    )
