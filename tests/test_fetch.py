"""The fetcher against a real, badly behaved HTTP server on 127.0.0.1 (tests/badsite.py).

pytest-asyncio is not a dependency: each test drives its coroutine with `asyncio.run`. Retry and
spacing waits go through an injected `sleep` that only records, so no test waits for real seconds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from badsite import (
    AZ_TEXT,
    ETAG,
    LAST_MODIFIED,
    RU_TEXT,
    BadSite,
    gzip_bomb,
)

from monitor.config.settings import Settings
from monitor.core.errors import (
    BodyTooLarge,
    ChallengePage,
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    PrivateAddressRefused,
    RobotsDisallowed,
    TooManyRedirects,
)
from monitor.core.records import FetchOutcome, Page, Validators
from monitor.crawl.addresses import is_public_address
from monitor.crawl.fetch import Fetcher
from monitor.crawl.retry import retry_after_header_seconds

T = TypeVar("T")


@pytest.fixture
def site() -> Iterator[BadSite]:
    with BadSite() as running:
        yield running


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "allow_private_hosts": True,  # the test server is on 127.0.0.1
        "retries": 2,
        "retry_base_delay": 0.01,
        "retry_max_delay": 5.0,
        "per_host_delay": 0.0,
        "per_host_concurrency": 4,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "max_redirects": 3,
        "max_body_bytes": 5_000_000,
        "robots_ttl": 3600,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Recorder:
    """Stands in for asyncio.sleep (records, does not wait) and collects fetch outcomes."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.outcomes: list[FetchOutcome] = []
        self.threads: set[int] = set()  # the threads the outcomes were reported on

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)

    def outcome(self, outcome: FetchOutcome) -> None:
        self.outcomes.append(outcome)
        self.threads.add(threading.get_ident())


class DictRobotsCache:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, datetime]] = {}
        self.threads: set[int] = set()  # the threads it was read and written on

    def load_robots(self, origin: str) -> tuple[str, datetime] | None:
        self.threads.add(threading.get_ident())
        return self.entries.get(origin)

    def save_robots(self, origin: str, body: str, fetched_at: datetime) -> None:
        self.threads.add(threading.get_ident())
        self.entries[origin] = (body, fetched_at)


def run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


def fetch(
    url: str,
    settings: Settings | None = None,
    recorder: Recorder | None = None,
    **kwargs: Any,
) -> Page:
    """One Fetcher, one GET (robots.txt not checked unless asked), closed afterwards."""
    recorder = recorder or Recorder()
    kwargs.setdefault("check_robots", False)

    async def main() -> Page:
        async with Fetcher(
            settings or make_settings(), sleep=recorder.sleep, on_outcome=recorder.outcome
        ) as fetcher:
            return await fetcher.get(url, **kwargs)

    return asyncio.run(main())


def fails(error: type[FetchError], call: Callable[[], object]) -> FetchError:
    with pytest.raises(error) as info:
        call()
    return info.value


# -- pages and conditional GET -------------------------------------------------------------------


def test_page_carries_text_validators_and_decoded_headers(site: BadSite) -> None:
    page = fetch(site.url("/page.html"))
    assert page.status == 200 and page.attempts == 1
    assert AZ_TEXT in page.text and page.encoding == "utf-8"
    assert page.content_type == "text/html"
    assert page.validators == Validators(etag=ETAG, last_modified=LAST_MODIFIED)
    assert page.header("content-length") == str(len(page.body))
    assert page.final_url == page.url == site.url("/page.html")


def test_validators_are_sent_and_304_keeps_them(site: BadSite) -> None:
    sent = Validators(etag=ETAG, last_modified=LAST_MODIFIED)
    page = fetch(site.url("/page.html"), validators=sent)
    assert page.status == 304 and page.not_modified
    assert page.body == b"" and page.text == "" and page.encoding is None
    assert page.validators == sent
    seen = site.request_headers["/page.html"]
    assert seen["if-none-match"] == ETAG and seen["if-modified-since"] == LAST_MODIFIED


def test_304_with_new_validators_replaces_only_those() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["if-none-match"] == '"old"'
        return httpx.Response(304, headers={"ETag": '"new"'})

    async def main() -> Page:
        transport = httpx.MockTransport(answer)
        async with Fetcher(make_settings(), transport=transport) as fetcher:
            sent = Validators(etag='"old"', last_modified=LAST_MODIFIED)
            return await fetcher.get(
                "http://93.184.216.34/feed", validators=sent, check_robots=False
            )

    page = run(main())
    assert page.validators == Validators(etag='"new"', last_modified=LAST_MODIFIED)


def test_request_headers_name_us_and_limit_encodings(site: BadSite) -> None:
    settings = make_settings()
    sent = json.loads(fetch(site.url("/headers"), settings).text)
    assert sent["user-agent"] == settings.effective_user_agent
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["accept-language"].startswith("az")


def test_redirect_is_followed_and_final_url_kept(site: BadSite) -> None:
    page = fetch(site.url("/redirect-to-page"))
    assert page.url == site.url("/redirect-to-page")
    assert page.final_url == site.url("/page.html")
    assert page.status == 200 and AZ_TEXT in page.text


# -- status codes and retries --------------------------------------------------------------------


def test_404_is_not_retried(site: BadSite) -> None:
    recorder = Recorder()
    error = fails(HTTPStatusError, lambda: fetch(site.url("/missing"), recorder=recorder))
    assert error.status == 404 and error.attempts == 1
    assert recorder.delays == [] and site.hits["/missing"] == 1


def test_500_then_200_succeeds_on_retry(site: BadSite) -> None:
    recorder = Recorder()
    page = fetch(site.url("/flaky"), recorder=recorder)
    assert page.status == 200 and page.text == "recovered"
    assert page.attempts == 2 and site.hits["/flaky"] == 2 and len(recorder.delays) == 1


def test_always_500_gives_up_after_retries_with_exponential_backoff(site: BadSite) -> None:
    recorder = Recorder()
    settings = make_settings(retries=3, retry_base_delay=0.01)
    error = fails(
        HTTPStatusError, lambda: fetch(site.url("/always-500"), settings, recorder=recorder)
    )
    assert error.status == 500 and error.attempts == 4 and site.hits["/always-500"] == 4
    assert error.elapsed > 0
    assert len(recorder.delays) == 3
    for attempt, delay in enumerate(recorder.delays):
        nominal = 0.01 * 2**attempt
        assert nominal <= delay <= nominal * 1.5
    assert any(delay != 0.01 * 2**n for n, delay in enumerate(recorder.delays))  # jittered


def test_backoff_is_capped_at_retry_max_delay(site: BadSite) -> None:
    recorder = Recorder()
    settings = make_settings(retries=4, retry_base_delay=1.0, retry_max_delay=2.0)
    fails(HTTPStatusError, lambda: fetch(site.url("/always-500"), settings, recorder=recorder))
    assert len(recorder.delays) == 4 and max(recorder.delays) == 2.0


def test_cloudflare_403_page_is_retried_then_raises_challenge(site: BadSite) -> None:
    recorder = Recorder()
    error = fails(ChallengePage, lambda: fetch(site.url("/cloudflare"), recorder=recorder))
    assert isinstance(error, HTTPStatusError) and error.status == 403
    assert error.attempts == 3 and site.hits["/cloudflare"] == 3 and len(recorder.delays) == 2


def test_cf_mitigated_header_marks_a_challenge(site: BadSite) -> None:
    error = fails(ChallengePage, lambda: fetch(site.url("/cf-header")))
    assert error.status == 503 and error.attempts == 3


def test_plain_403_is_not_retried(site: BadSite) -> None:
    error = fails(HTTPStatusError, lambda: fetch(site.url("/forbidden")))
    assert not isinstance(error, ChallengePage)
    assert error.status == 403 and error.attempts == 1 and site.hits["/forbidden"] == 1


def test_429_retry_after_is_honoured(site: BadSite) -> None:
    recorder = Recorder()
    page = fetch(site.url("/ratelimited"), recorder=recorder)
    assert page.status == 200 and page.attempts == 2
    assert recorder.delays == [pytest.approx(1.0)]


def test_retry_after_beyond_the_max_stops_and_is_reported(site: BadSite) -> None:
    recorder = Recorder()
    settings = make_settings(retry_max_delay=60.0)
    error = fails(
        HTTPStatusError, lambda: fetch(site.url("/ratelimited-long"), settings, recorder=recorder)
    )
    assert error.status == 429 and error.retry_after == 3600.0
    assert error.attempts == 1 and recorder.delays == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Wed, 01 Jan 2025 00:00:30 GMT", 30.0),
        ("Tue, 31 Dec 2024 23:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds_reads_numbers_and_dates(
    value: str | None, expected: float | None
) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry_after_header_seconds(value, now) == expected


# -- network failures ----------------------------------------------------------------------------


def test_slow_response_times_out_and_is_retried(site: BadSite) -> None:
    recorder = Recorder()
    settings = make_settings(read_timeout=0.2, retries=1)
    error = fails(FetchTimeout, lambda: fetch(site.url("/slow"), settings, recorder=recorder))
    assert error.attempts == 2 and site.hits["/slow"] == 2
    assert recorder.outcomes[-1].error_kind == "timeout"


def test_trickling_body_hits_the_overall_deadline(site: BadSite) -> None:
    settings = make_settings(connect_timeout=0.2, read_timeout=0.3, retries=0)
    started = time.monotonic()
    error = fails(FetchTimeout, lambda: fetch(site.url("/trickle"), settings))
    assert "no complete response" in str(error)
    assert time.monotonic() - started < 2.5  # the server would trickle for 5 s


def test_connection_reset_mid_body_is_retried_then_fails(site: BadSite) -> None:
    recorder = Recorder()
    error = fails(ConnectionFailed, lambda: fetch(site.url("/reset"), recorder=recorder))
    assert error.attempts == 3 and site.hits["/reset"] == 3 and len(recorder.delays) == 2


def test_connection_refused_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe is closed
    error = fails(ConnectionFailed, lambda: fetch(f"http://127.0.0.1:{port}/"))
    assert error.attempts == 3 and error.__cause__ is not None


def test_redirect_loop_names_the_url(site: BadSite) -> None:
    error = fails(TooManyRedirects, lambda: fetch(site.url("/loop-a")))
    assert f"redirect loop: {site.url('/loop-a')} was already visited" in str(error)
    assert error.attempts == 1 and site.hits["/loop-a"] == 1 and site.hits["/loop-b"] == 1


def test_redirect_chain_longer_than_the_cap(site: BadSite) -> None:
    error = fails(TooManyRedirects, lambda: fetch(site.url("/chain/0"), make_settings()))
    assert "more than 3 redirects" in str(error)
    assert sum(n for path, n in site.hits.items() if path.startswith("/chain/")) == 4


def test_redirect_chain_within_the_cap(site: BadSite) -> None:
    page = fetch(site.url("/chain/7"))  # three redirects, the cap
    assert page.final_url == site.url("/chain/10") and page.text == "end of the chain"


def test_unsupported_scheme_is_refused() -> None:
    error = fails(FetchError, lambda: fetch("ftp://example.com/file"))
    assert error.kind == "fetch-error" and error.attempts == 0


# -- bodies --------------------------------------------------------------------------------------


def test_big_body_with_content_length_is_refused_before_reading(site: BadSite) -> None:
    error = fails(BodyTooLarge, lambda: fetch(site.url("/big")))
    assert "Content-Length 20000000" in str(error) and error.attempts == 1


def test_big_body_without_content_length_is_cut_off(site: BadSite) -> None:
    error = fails(BodyTooLarge, lambda: fetch(site.url("/big-unsized")))
    assert "after decoding" in str(error)


def test_gzip_bomb_is_refused_with_bounded_memory(site: BadSite) -> None:
    gzip_bomb()  # build (and cache) the server's bomb before measuring
    tracemalloc.start()
    try:
        error = fails(BodyTooLarge, lambda: fetch(site.url("/bomb")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "after decoding" in str(error)
    assert peak < 30_000_000  # cap 5 MB; inflating the bomb would need 1 GiB


@pytest.mark.parametrize("path", ["/gzip", "/deflate-zlib", "/deflate-raw", "/chunked-gzip"])
def test_compressed_bodies_are_decoded_and_headers_describe_them(site: BadSite, path: str) -> None:
    page = fetch(site.url(path))
    assert AZ_TEXT in page.text
    assert page.header("content-encoding") is None and page.header("transfer-encoding") is None
    assert page.header("content-length") == str(len(page.body))
    assert sum(1 for name, _ in page.headers if name.lower() == "content-length") == 1


def test_pdf_has_no_text(site: BadSite) -> None:
    page = fetch(site.url("/doc.pdf"))
    assert page.content_type == "application/pdf"
    assert page.text == "" and page.body.startswith(b"%PDF")


# -- charsets ------------------------------------------------------------------------------------


def test_utf8_azerbaijani_labelled_latin1_is_read_as_utf8(site: BadSite) -> None:
    page = fetch(site.url("/az-labelled-latin1"))
    assert page.encoding == "utf-8"
    assert "əməkdaşlıq" in page.text and "Qazaxıstan" in page.text


def test_cp1251_russian_labelled_utf8_is_detected(site: BadSite) -> None:
    page = fetch(site.url("/ru-cp1251-labelled-utf8"))
    assert page.encoding == "cp1251" and RU_TEXT in page.text


def test_meta_charset_is_used_when_the_header_has_none(site: BadSite) -> None:
    page = fetch(site.url("/ru-meta-cp1251"))
    assert page.encoding == "cp1251" and RU_TEXT in page.text


# -- robots.txt ----------------------------------------------------------------------------------


def test_robots_disallowed_path_is_refused_and_allowed_path_fetched(site: BadSite) -> None:
    async def main() -> tuple[Page, RobotsDisallowed]:
        async with Fetcher(make_settings()) as fetcher:
            page = await fetcher.get(site.url("/page.html"))
            with pytest.raises(RobotsDisallowed) as info:
                await fetcher.get(site.url("/private/secret"))
            return page, info.value

    page, error = run(main())
    assert page.status == 200
    assert error.attempts == 0 and "az-kz-monitor" in str(error)
    assert site.hits["/private/secret"] == 0
    assert site.hits["/robots.txt"] == 1  # remembered for the Fetcher's lifetime


def test_robots_is_fetched_once_for_concurrent_requests(site: BadSite) -> None:
    async def main() -> None:
        async with Fetcher(make_settings()) as fetcher:
            await asyncio.gather(*(fetcher.get(site.url("/page.html")) for _ in range(4)))

    run(main())
    assert site.hits["/robots.txt"] == 1 and site.hits["/page.html"] == 4


def test_robots_cache_spares_the_next_fetcher_a_request(site: BadSite) -> None:
    cache = DictRobotsCache()

    async def one_fetcher() -> None:
        async with Fetcher(make_settings(), robots_cache=cache) as fetcher:
            await fetcher.get(site.url("/page.html"))

    run(one_fetcher())
    run(one_fetcher())
    assert site.hits["/robots.txt"] == 1 and site.hits["/page.html"] == 2
    assert cache.entries[site.origin][0] == site.robots_body
    # the cache is the archive's: read and written in a thread, never on the event loop's
    assert cache.threads and threading.get_ident() not in cache.threads


def test_stale_cached_robots_is_fetched_again(site: BadSite) -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    cache = DictRobotsCache()
    cache.save_robots(site.origin, "User-agent: *\nDisallow: /\n", now - timedelta(hours=2))

    async def main() -> Page:
        async with Fetcher(make_settings(), robots_cache=cache, now=lambda: now) as fetcher:
            return await fetcher.get(site.url("/page.html"))

    assert run(main()).status == 200  # the stale copy would have disallowed everything
    assert site.hits["/robots.txt"] == 1 and cache.entries[site.origin] == (site.robots_body, now)


def test_fresh_cached_robots_is_obeyed_without_a_request(site: BadSite) -> None:
    cache = DictRobotsCache()
    cache.save_robots(site.origin, "User-agent: *\nDisallow: /\n", datetime.now(UTC))

    async def main() -> None:
        async with Fetcher(make_settings(), robots_cache=cache) as fetcher:
            await fetcher.get(site.url("/page.html"))

    with pytest.raises(RobotsDisallowed):
        run(main())
    assert site.hits["/robots.txt"] == 0 and site.hits["/page.html"] == 0


def test_robots_5xx_disallows_everything_and_is_not_cached(site: BadSite) -> None:
    site.robots_status = 503
    cache = DictRobotsCache()

    async def main() -> None:
        async with Fetcher(make_settings(retries=0), robots_cache=cache) as fetcher:
            await fetcher.get(site.url("/page.html"))

    error = fails(RobotsDisallowed, lambda: run(main()))
    assert "unreachable" in str(error) and "RFC 9309" in str(error)
    assert site.hits["/page.html"] == 0 and cache.entries == {}


@pytest.mark.parametrize("status", [404, 410, 401, 403])
def test_robots_4xx_allows_everything(site: BadSite, status: int) -> None:
    site.robots_status = status
    site.robots_body = "User-agent: *\nDisallow: /\n"  # an error page's body is not rules
    cache = DictRobotsCache()

    async def main() -> Page:
        async with Fetcher(make_settings(), robots_cache=cache) as fetcher:
            return await fetcher.get(site.url("/private/secret"))

    assert run(main()).text == "secret"
    assert cache.entries[site.origin][0] == ""


# -- politeness ----------------------------------------------------------------------------------


def test_per_host_concurrency_is_limited(site: BadSite) -> None:
    async def main() -> None:
        async with Fetcher(make_settings(per_host_concurrency=2)) as fetcher:
            urls = [site.url("/hold") for _ in range(6)]
            await asyncio.gather(*(fetcher.get(u, check_robots=False) for u in urls))

    run(main())
    assert site.hits["/hold"] == 6 and site.max_in_flight == 2


def test_request_starts_to_one_host_are_spaced(site: BadSite) -> None:
    recorder = Recorder()

    async def main() -> None:
        settings = make_settings(per_host_delay=0.5)
        async with Fetcher(settings, sleep=recorder.sleep) as fetcher:
            for _ in range(3):
                await fetcher.get(site.url("/page.html"), check_robots=False)

    run(main())
    assert len(recorder.delays) == 2 and all(0.3 < d <= 0.5 for d in recorder.delays)


# -- private addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_is_refused_by_default(site: BadSite, host: str) -> None:
    url = f"http://{host}:{site.port}/page.html"
    settings = make_settings(allow_private_hosts=False)
    error = fails(PrivateAddressRefused, lambda: fetch(url, settings, check_robots=True))
    assert error.attempts == 0 and sum(site.hits.values()) == 0


def test_private_address_is_allowed_when_configured(site: BadSite) -> None:
    page = fetch(site.url("/page.html"), make_settings(allow_private_hosts=True))
    assert page.status == 200


def test_redirect_to_a_private_address_is_refused() -> None:
    requested: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://10.1.2.3/admin"})

    async def main() -> None:
        settings = make_settings(allow_private_hosts=False)
        async with Fetcher(settings, transport=httpx.MockTransport(answer)) as fetcher:
            await fetcher.get("http://93.184.216.34/news", check_robots=False)

    error = fails(PrivateAddressRefused, lambda: run(main()))
    assert "10.1.2.3" in str(error) and requested == ["http://93.184.216.34/news"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::6810:85e5", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:c0a8:0101::1", False),  # 6to4 wrapping 192.168.1.1
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# -- fetch log -----------------------------------------------------------------------------------


def test_every_fetch_is_reported_once_including_failures(site: BadSite) -> None:
    recorder = Recorder()

    async def main() -> None:
        settings = make_settings(retries=1)
        async with Fetcher(settings, on_outcome=recorder.outcome, sleep=recorder.sleep) as f:
            await f.get(site.url("/page.html"), source="azertag", purpose="article")
            for path in ("/missing", "/private/secret", "/always-500"):
                with pytest.raises(FetchError):
                    await f.get(site.url(path), source="azertag", purpose="article")

    run(main())
    # told on the event loop, no thread per fetch: the monitor's journal only gathers the lines
    # and writes them in batches in a thread of its own (tests/test_fetch_journal.py)
    assert recorder.threads == {threading.get_ident()}
    summary = [
        (o.url.removeprefix(site.origin), o.purpose, o.status, o.error_kind, o.attempts)
        for o in recorder.outcomes
    ]
    assert summary == [
        ("/robots.txt", "robots", 200, None, 1),
        ("/page.html", "article", 200, None, 1),
        ("/missing", "article", 404, "http-status", 1),
        ("/private/secret", "article", None, "robots", 0),
        ("/always-500", "article", 500, "http-status", 2),
    ]
    assert all(o.source == "azertag" and o.at.tzinfo is not None for o in recorder.outcomes)
    assert recorder.outcomes[1].bytes > 0 and recorder.outcomes[2].bytes == 0
    assert "404" in (recorder.outcomes[2].error or "")
