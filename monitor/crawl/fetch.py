"""Every HTTP request the monitor makes, made politely and defensively; the one module that imports
httpx.

One `Fetcher` owns one connection pool and enforces, for every logical fetch: robots.txt, a limit
on requests in flight per host and a pause between request starts to one host
(`monitor.crawl.politeness`), refusal of hosts that resolve to private addresses (on every
redirect hop, since a public page can redirect inward; `monitor.crawl.addresses`), retries with
backoff for failures that may pass (timeouts, resets, 5xx, 429, Cloudflare challenges;
`monitor.crawl.retry` decides), and a body cap that counts decompressed bytes so a gzip bomb cannot
exhaust memory.
It returns a `Page` whose body is already decoded from its content-encoding (`monitor.crawl.bodies`,
which also enforces the cap) and whose text is decoded with a charset we verified
(`monitor.crawl.charset`), because the sites we follow often mislabel theirs. The page also keeps
the exchange as it was on the wire, for the WARC capture: the request line and headers sent, the
headers received and the still-encoded body (held to the same cap, and marked when cut). Failures
leave as `monitor.core.errors` classes carrying url, attempts and elapsed; no httpx exception escapes.
Each logical fetch, robots.txt included, is reported once through `on_outcome` for the fetch log.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Self

import httpx

from monitor.config.settings import Settings
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import (
    ChallengePage,
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RobotsDisallowed,
    TooManyRedirects,
)
from monitor.core.records import FetchOutcome, Page, Validators
from monitor.crawl.addresses import refuse_private_host
from monitor.crawl.bodies import ACCEPT_ENCODING, decoded_headers, read_capped_body
from monitor.crawl.charset import decode_text, parse_content_type
from monitor.crawl.politeness import HostGate, RobotsCache, RobotsGate
from monitor.crawl.retry import retry_after_header_seconds, retry_delay
from monitor.crawl.robots import origin_of

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Enough of an error body to recognise a challenge page; the rest of an error page is never used.
_ERROR_BODY_LIMIT = 64 * 1024
_CHALLENGE_MARKERS = (
    b"attention required! | cloudflare",
    b"just a moment...",
    "just a moment\u2026".encode(),
)
_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    # The sites publish in Azerbaijani, Russian, Kazakh and English; ask for them in that order.
    "Accept-Language": "az,ru;q=0.9,kk;q=0.8,en;q=0.7",
    "Accept-Encoding": ACCEPT_ENCODING,
}


@dataclass(frozen=True)
class _Exchange:
    """One request/response on the wire, body already decoded and capped."""

    url: str
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    location: str | None  # set only when the response is a redirect we may follow
    request_line: str
    request_headers: tuple[tuple[str, str], ...]
    raw_body: bytes  # as received, content-encoding intact, cut at the cap
    truncated: bool


class Fetcher:
    """The monitor's HTTP client: one per process (or per test), closed with `aclose()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        robots_cache: RobotsCache | None = None,
        on_outcome: Callable[[FetchOutcome], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._on_outcome = on_outcome
        self._sleep = sleep
        self._now = now
        # Redirects are followed by hand so every hop passes the private-address check; the
        # environment's proxy settings are ignored so that check sees the real destination.
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.effective_user_agent, **_REQUEST_HEADERS},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.connect_timeout,
            ),
        )
        # The read timeout restarts with every byte; this caps a server that trickles them.
        self._attempt_deadline = settings.connect_timeout + 2 * settings.read_timeout
        self._gates: dict[str, HostGate] = {}
        self._robots = RobotsGate(
            settings.robots_ttl,
            robots_cache,
            lambda url, source: self.get(url, source=source, purpose="robots", check_robots=False),
            now,
        )
        self._random = random.Random()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        source: str = "",
        purpose: str = "page",
        validators: Validators | None = None,
        check_robots: bool = True,
    ) -> Page:
        """GET `url` with every rule applied; raise a FetchError subclass when it fails for good."""
        started_at, started = self._now(), time.monotonic()
        try:
            limit = _body_limit(self._settings, purpose)
            page = await self._get(url, source, validators, check_robots, started, limit)
        except FetchError as error:
            error.elapsed = time.monotonic() - started
            self._report(source, url, purpose, started_at, error)
            raise
        self._report(source, url, purpose, started_at, page)
        return page

    async def _get(
        self,
        url: str,
        source: str,
        validators: Validators | None,
        check_robots: bool,
        started: float,
        limit: int,
    ) -> Page:
        _checked_url(url)
        await self._refuse_private(url)
        if check_robots:
            policy = await self._robots.policy(origin_of(url), source)
            if not policy.allows(url):
                raise RobotsDisallowed(url, policy.reason, attempts=0)
        return await self._fetch_with_retries(url, validators, started, limit)

    # -- retries and redirects -------------------------------------------------------------------

    async def _fetch_with_retries(
        self, url: str, validators: Validators | None, started: float, limit: int
    ) -> Page:
        attempt = 0
        while True:
            attempt += 1
            try:
                exchange = await self._follow_redirects(url, validators, limit)
            except FetchError as error:
                error.attempts = attempt
                delay = retry_delay(error, attempt, self._settings, self._random.random)
                if delay is None:
                    raise
                await self._sleep(delay)
                continue
            return self._page(url, exchange, validators, attempt, time.monotonic() - started)

    async def _follow_redirects(
        self, url: str, validators: Validators | None, limit: int
    ) -> _Exchange:
        seen = {_without_fragment(url)}
        current = url
        for hop in range(self._settings.max_redirects + 1):
            if hop:
                await self._refuse_private(current)
            exchange = await self._request(current, validators, limit)
            if exchange.location is None:
                return exchange
            target = _redirect_target(current, exchange.location)
            if _without_fragment(target) in seen:
                raise TooManyRedirects(current, f"redirect loop: {target} was already visited")
            seen.add(_without_fragment(target))
            current = target
        raise TooManyRedirects(
            url, f"more than {self._settings.max_redirects} redirects (last to {current})"
        )

    # -- one request -----------------------------------------------------------------------------

    async def _request(self, url: str, validators: Validators | None, limit: int) -> _Exchange:
        settings = self._settings
        gate = self._gates.setdefault(
            origin_of(url),
            HostGate(settings.per_host_concurrency, settings.per_host_delay, self._sleep),
        )
        async with gate.slot():
            try:
                async with (
                    asyncio.timeout(self._attempt_deadline),
                    self._client.stream("GET", url, headers=_conditional(validators)) as response,
                ):
                    return await self._exchange(url, response, limit)
            except TimeoutError as exc:
                message = f"no complete response within {self._attempt_deadline:g} s"
                raise FetchTimeout(url, message) from exc
            except httpx.TimeoutException as exc:
                raise FetchTimeout(url, _describe(exc)) from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise ConnectionFailed(url, _describe(exc)) from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(url, _describe(exc)) from exc

    async def _exchange(self, url: str, response: httpx.Response, limit: int) -> _Exchange:
        status = response.status_code
        location = response.headers.get("location") if status in _REDIRECT_STATUSES else None
        wire = _WireCopy(limit)
        if location is not None or status == 304:
            body = b""
        elif 200 <= status < 300:
            body = await _read_body(response, url, limit, wire=wire)
        else:
            try:
                body = await _read_body(response, url, _ERROR_BODY_LIMIT, truncate=True)
            except (FetchError, httpx.TransportError):
                body = b""  # the status says enough; the body only serves to spot challenges
            raise _status_error(url, response, body, self._now())
        return _Exchange(
            url=url,
            status=status,
            reason=response.reason_phrase,
            http_version=response.http_version,
            headers=_latin1(response.headers.raw),
            body=body,
            location=location,
            request_line=_request_line(response.request, response.http_version),
            request_headers=tuple(_latin1(response.request.headers.raw)),
            raw_body=bytes(wire.kept),
            truncated=wire.truncated,
        )

    def _page(
        self,
        url: str,
        exchange: _Exchange,
        sent: Validators | None,
        attempts: int,
        elapsed: float,
    ) -> Page:
        headers = httpx.Headers(exchange.headers)
        media_type, declared_charset = parse_content_type(headers.get("content-type"))
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if exchange.status == 304:
            sent = sent or Validators()
            validators = Validators(etag or sent.etag, last_modified or sent.last_modified)
            text, encoding = "", None
        else:
            validators = Validators(etag, last_modified)
            text, encoding = decode_text(exchange.body, media_type, declared_charset)
        return Page(
            url=url,
            final_url=exchange.url,
            status=exchange.status,
            headers=decoded_headers(exchange.headers, len(exchange.body)),
            body=exchange.body,
            text=text,
            encoding=encoding,
            content_type=media_type,
            fetched_at=self._now(),
            elapsed=elapsed,
            attempts=attempts,
            validators=validators,
            http_version=exchange.http_version,
            reason=exchange.reason,
            request_line=exchange.request_line,
            request_headers=exchange.request_headers,
            raw_headers=tuple(exchange.headers),
            raw_body=exchange.raw_body,
            truncated=exchange.truncated,
        )

    # -- private addresses -----------------------------------------------------------------------

    async def _refuse_private(self, url: str) -> None:
        """Raise PrivateAddressRefused if the URL's host resolves inward, unless allowed."""
        if self._settings.allow_private_hosts:
            return
        parsed = _checked_url(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        await refuse_private_host(url, parsed.host, port)

    # -- fetch log -------------------------------------------------------------------------------

    def _report(
        self, source: str, url: str, purpose: str, at: datetime, result: Page | FetchError
    ) -> None:
        """One line of the fetch log: the page got, or the error the fetch ended with. Told on
        the event loop: `on_outcome` must not block (the monitor's gathers the lines and writes
        them in batches, `monitor.service.fetch_journal`)."""
        if self._on_outcome is None:
            return
        error = result if isinstance(result, FetchError) else None
        self._on_outcome(
            FetchOutcome(
                source=source,
                url=url,
                purpose=purpose,
                at=at,
                status=result.status,
                bytes=0 if isinstance(result, FetchError) else len(result.body),
                duration=result.elapsed,
                attempts=result.attempts,
                error_kind=error.kind if error else None,
                error=str(error) if error else None,
            )
        )


# -- response bodies ------------------------------------------------------------------------------


async def _read_body(
    response: httpx.Response,
    url: str,
    limit: int,
    *,
    truncate: bool = False,
    wire: _WireCopy | None = None,
) -> bytes:
    """The decoded body, at most `limit` bytes: BodyTooLarge beyond it, or cut when `truncate`.
    With `wire`, the raw bytes read are copied into it on the way through."""
    raw = response.aiter_raw()
    return await read_capped_body(
        wire.tee(raw) if wire is not None else raw,
        url,
        limit,
        content_length=response.headers.get("content-length", ""),
        content_encoding=response.headers.get("content-encoding", ""),
        truncate=truncate,
    )


class _WireCopy:
    """The body's bytes as they came off the wire, content-encoding intact, for the WARC capture.

    The decoded body is capped by `read_capped_body`; this copy has its own cap of the same size
    because the two can differ: a compressed body of incompressible bytes, or junk after the end of
    the gzip stream, is longer on the wire than decoded. Beyond the cap it stops keeping bytes and
    says so (the archive marks the record `WARC-Truncated: length`) rather than failing a page whose
    decoded body was fine.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.truncated = False

    async def tee(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            room = max(self.limit - len(self.kept), 0)
            if len(chunk) > room:
                self.truncated = True
            self.kept += chunk[:room]
            yield chunk


# -- pure helpers ---------------------------------------------------------------------------------


def _body_limit(settings: Settings, purpose: str) -> int:
    """The largest body a fetch for `purpose` accepts: a sitemap is parsed as a stream and may
    be far larger than a page (MONITOR_MAX_SITEMAP_BYTES against MONITOR_MAX_BODY_BYTES)."""
    return settings.max_sitemap_bytes if purpose == "sitemap" else settings.max_body_bytes


def _latin1(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Header bytes as text without loss: latin-1 maps each byte to one character and back."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def _request_line(request: httpx.Request, http_version: str) -> str:
    """The request line as sent: the target is the path and query, not the absolute URL."""
    return f"{request.method} {request.url.raw_path.decode('ascii')} {http_version}"


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"invalid URL: {exc}", attempts=0) from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchError(url, f"unsupported URL scheme {parsed.scheme!r}", attempts=0)
    if not parsed.host:
        raise FetchError(url, "URL has no host", attempts=0)
    return parsed


def _redirect_target(current: str, location: str) -> str:
    try:
        target = str(httpx.URL(current).join(location.strip()))
    except httpx.InvalidURL as exc:
        raise FetchError(current, f"invalid redirect Location {location!r}") from exc
    _checked_url(target)
    return target


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _conditional(validators: Validators | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if validators is not None and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators is not None and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _describe(exc: Exception) -> str:
    """A line a person reading the fetch log understands; httpx messages are often empty."""
    phrases: list[tuple[type[Exception], str]] = [
        (httpx.ConnectTimeout, "connect timed out"),
        (httpx.TimeoutException, "timed out waiting for the server"),
        (httpx.ConnectError, "could not connect"),
        (httpx.ReadError, "connection broken while reading"),
        (httpx.WriteError, "connection broken while sending"),
        (httpx.RemoteProtocolError, "server closed or broke the connection"),
    ]
    phrase = next((text for kind, text in phrases if isinstance(exc, kind)), "request failed")
    detail = str(exc)
    return (
        f"{phrase} ({type(exc).__name__}: {detail})"
        if detail
        else f"{phrase} ({type(exc).__name__})"
    )


def _status_error(url: str, response: httpx.Response, body: bytes, now: datetime) -> FetchError:
    status = response.status_code
    retry_after = retry_after_header_seconds(response.headers.get("retry-after"), now)
    message = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status in (403, 503) and _is_challenge(response.headers, body):
        return ChallengePage(
            url, f"challenge page, {message}", status=status, retry_after=retry_after
        )
    return HTTPStatusError(url, message, status=status, retry_after=retry_after)


def _is_challenge(headers: httpx.Headers, body: bytes) -> bool:
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    return looks_like_challenge(body)


def looks_like_challenge(body: bytes) -> bool:
    """Whether a body is a bot check ("Attention Required! | Cloudflare", "Just a moment..."),
    whatever its status: such a page is never an article."""
    lowered = body.lower()
    return any(marker in lowered for marker in _CHALLENGE_MARKERS)
