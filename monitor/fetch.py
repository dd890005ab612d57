"""Every HTTP request the monitor makes, made politely and defensively; the one module that imports
httpx (and charset_normalizer).

One `Fetcher` owns one connection pool and enforces, for every logical fetch: robots.txt, a limit
on requests in flight per host and a pause between request starts to one host, refusal of hosts
that resolve to private addresses (on every redirect hop, since a public page can redirect
inward), retries with backoff for failures that may pass (timeouts, resets, 5xx, 429, Cloudflare
challenges), and a body cap that counts decompressed bytes so a gzip bomb cannot exhaust memory.
It returns a `Page` whose body is already decoded from its content-encoding and whose text is
decoded with a charset we verified, because the sites we follow often mislabel theirs. Failures
leave as `monitor.errors` classes carrying url, attempts and elapsed; no httpx exception escapes.
Each logical fetch, robots.txt included, is reported once through `on_outcome` for the fetch log.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import random
import re
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Protocol, Self

import httpx
from charset_normalizer import from_bytes

from monitor.errors import (
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
from monitor.models import FetchOutcome, Page, Validators
from monitor.robots import (
    RobotsPolicy,
    origin_of,
    parse_robots,
    policy_for_failure,
    robots_url,
)
from monitor.settings import Settings

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
    # Only what `_Inflater` can undo with a bounded output (no br/zstd).
    "Accept-Encoding": "gzip, deflate",
}
# Headers that describe the bytes on the wire, not the decoded body we hand on (and archive).
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_TEXT_MEDIA_TYPES = frozenset(
    {
        "application/xml",
        "application/json",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
    }
)
# Charsets worth guessing between for az, kk and ru pages when the label cannot be trusted.
_GUESSABLE_CHARSETS = (
    "utf_8",
    "cp1251",
    "koi8_r",
    "kz1048",
    "cp1254",
    "iso8859_9",
    "utf_16",
    "cp1252",
    "latin_1",
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# WHATWG: these labels mean windows-1252, whose undefined bytes at least let a wrong label fail.
_WINDOWS_1252_LABELS = frozenset(
    {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"}
)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([a-z0-9_.\-]+)""", re.IGNORECASE
)


class RobotsCache(Protocol):
    """Where robots.txt bodies outlive one Fetcher (the store implements it)."""

    def load_robots(self, origin: str) -> tuple[str, datetime] | None: ...

    def save_robots(self, origin: str, body: str, fetched_at: datetime) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


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


class _HostGate:
    """At most `concurrency` requests in flight to one host, and starts at least `interval` apart.

    Spacing is measured between request starts, not ends, because that is what a site's rate
    limiter sees; AZERTAC's Cloudflare needs ≥1.2 s between page fetches.
    """

    def __init__(
        self, concurrency: int, interval: float, sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._in_flight = asyncio.Semaphore(max(1, concurrency))
        self._spacing = asyncio.Lock()
        self._interval = interval
        self._sleep = sleep
        self._last_start: float | None = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._in_flight:
            async with self._spacing:
                if self._last_start is not None:
                    wait = self._last_start + self._interval - time.monotonic()
                    if wait > 0:
                        await self._sleep(wait)
                self._last_start = time.monotonic()
            yield


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
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._settings = settings
        self._robots_cache = robots_cache
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
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, tuple[RobotsPolicy, datetime]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._random = random.Random()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
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
            page = await self._get(url, source, validators, check_robots, started)
        except FetchError as error:
            error.elapsed = time.monotonic() - started
            self._report(source, url, purpose, started_at, error.elapsed, error=error)
            raise
        self._report(source, url, purpose, started_at, page.elapsed, page=page)
        return page

    async def _get(
        self,
        url: str,
        source: str,
        validators: Validators | None,
        check_robots: bool,
        started: float,
    ) -> Page:
        _checked_url(url)
        await self._refuse_private(url)
        if check_robots:
            policy = await self._robots_policy(origin_of(url), source)
            if not policy.allows(url):
                raise RobotsDisallowed(url, policy.reason, attempts=0)
        return await self._fetch_with_retries(url, validators, started)

    # -- retries and redirects -------------------------------------------------------------------

    async def _fetch_with_retries(
        self, url: str, validators: Validators | None, started: float
    ) -> Page:
        attempt = 0
        while True:
            attempt += 1
            try:
                exchange = await self._follow_redirects(url, validators)
            except FetchError as error:
                error.attempts = attempt
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    raise
                await self._sleep(delay)
                continue
            return self._page(url, exchange, validators, attempt, time.monotonic() - started)

    def _retry_delay(self, error: FetchError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if not _is_retryable(error) or attempt > self._settings.retries:
            return None
        retry_after = error.retry_after
        if retry_after is not None:
            # A wait longer than we are willing to spend is the scheduler's business.
            return retry_after if retry_after <= self._settings.retry_max_delay else None
        nominal = self._settings.retry_base_delay * 2 ** (attempt - 1)
        # Jitter only upwards: AZERTAC's Cloudflare let retries through only after several seconds.
        return min(self._settings.retry_max_delay, nominal * self._random.uniform(1.0, 1.5))

    async def _follow_redirects(self, url: str, validators: Validators | None) -> _Exchange:
        seen = {_without_fragment(url)}
        current = url
        for hop in range(self._settings.max_redirects + 1):
            if hop:
                await self._refuse_private(current)
            exchange = await self._request(current, validators)
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

    async def _request(self, url: str, validators: Validators | None) -> _Exchange:
        settings = self._settings
        gate = self._gates.setdefault(
            origin_of(url),
            _HostGate(settings.per_host_concurrency, settings.per_host_delay, self._sleep),
        )
        async with gate.slot():
            try:
                async with (
                    asyncio.timeout(self._attempt_deadline),
                    self._client.stream("GET", url, headers=_conditional(validators)) as response,
                ):
                    return await self._exchange(url, response)
            except TimeoutError as exc:
                message = f"no complete response within {self._attempt_deadline:g} s"
                raise FetchTimeout(url, message) from exc
            except httpx.TimeoutException as exc:
                raise FetchTimeout(url, _describe(exc)) from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise ConnectionFailed(url, _describe(exc)) from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(url, _describe(exc)) from exc

    async def _exchange(self, url: str, response: httpx.Response) -> _Exchange:
        status = response.status_code
        location = response.headers.get("location") if status in _REDIRECT_STATUSES else None
        if location is not None or status == 304:
            body = b""
        elif 200 <= status < 300:
            body = await _read_body(response, url, self._settings.max_body_bytes)
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
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
            body=body,
            location=location,
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
        media_type, declared_charset = _media_type(headers.get("content-type"))
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
            headers=_decoded_headers(exchange.headers, len(exchange.body)),
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
        )

    # -- private addresses -----------------------------------------------------------------------

    async def _refuse_private(self, url: str) -> None:
        """Raise PrivateAddressRefused if the host resolves to any non-public address.

        httpx resolves the name again when it connects, so a hostile DNS server could still answer
        differently then; this guards against redirects and misconfigured sources, not rebinding.
        """
        if self._settings.allow_private_hosts:
            return
        parsed = _checked_url(url)
        host = parsed.host
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                raise ConnectionFailed(url, f"cannot resolve {host}: {exc}", attempts=0) from exc
            addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            if not is_public_address(address):
                message = f"{host} resolves to non-public address {address}"
                raise PrivateAddressRefused(url, message, attempts=0)

    # -- robots.txt ------------------------------------------------------------------------------

    async def _robots_policy(self, origin: str, source: str) -> RobotsPolicy:
        """From memory, else the RobotsCache, else the site; one download per origin at a time."""
        async with self._robots_locks.setdefault(origin, asyncio.Lock()):
            now = self._now()
            remembered = self._robots.get(origin)
            if remembered is not None and self._robots_fresh(remembered[1], now):
                return remembered[0]
            cached = self._robots_cache.load_robots(origin) if self._robots_cache else None
            if cached is not None and self._robots_fresh(cached[1], now):
                policy, fetched_at = parse_robots(cached[0]), cached[1]
            else:
                policy, fetched_at = await self._download_robots(origin, source), now
            self._robots[origin] = (policy, fetched_at)
            return policy

    def _robots_fresh(self, fetched_at: datetime, now: datetime) -> bool:
        return (now - fetched_at).total_seconds() < self._settings.robots_ttl

    async def _download_robots(self, origin: str, source: str) -> RobotsPolicy:
        fetched_at = self._now()
        try:
            page = await self.get(
                robots_url(origin), source=source, purpose="robots", check_robots=False
            )
        except TooManyRedirects:
            body = ""  # RFC 9309 §2.3.1.2: too many redirects may count as "unavailable"
        except FetchError as error:
            policy = policy_for_failure(error.status, str(error))
            if not policy.allow_everything:
                return policy  # not cached: the next Fetcher should try again
            body = ""
        else:
            body = page.body.decode("utf-8", errors="replace")  # RFC 9309: robots.txt is UTF-8
        if self._robots_cache is not None:
            self._robots_cache.save_robots(origin, body, fetched_at)
        return parse_robots(body)

    # -- fetch log -------------------------------------------------------------------------------

    def _report(
        self,
        source: str,
        url: str,
        purpose: str,
        at: datetime,
        duration: float,
        *,
        page: Page | None = None,
        error: FetchError | None = None,
    ) -> None:
        if self._on_outcome is None:
            return
        self._on_outcome(
            FetchOutcome(
                source=source,
                url=url,
                purpose=purpose,
                at=at,
                status=page.status if page else error.status if error else None,
                bytes=len(page.body) if page else 0,
                duration=duration,
                attempts=page.attempts if page else error.attempts if error else 0,
                error_kind=error.kind if error else None,
                error=str(error) if error else None,
            )
        )


# -- pure helpers ---------------------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; IPv4-mapped and 6to4 ones are unwrapped."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


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


def _is_retryable(error: FetchError) -> bool:
    if isinstance(error, FetchTimeout | ConnectionFailed | ChallengePage):
        return True
    status = error.status if isinstance(error, HTTPStatusError) else None
    return status is not None and (status == 429 or status >= 500)


def _status_error(url: str, response: httpx.Response, body: bytes, now: datetime) -> FetchError:
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
    message = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status in (403, 503) and _is_challenge(response.headers, body):
        return ChallengePage(
            url, f"challenge page, {message}", status=status, retry_after=retry_after
        )
    return HTTPStatusError(url, message, status=status, retry_after=retry_after)


def _is_challenge(headers: httpx.Headers, body: bytes) -> bool:
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    lowered = body.lower()
    return any(marker in lowered for marker in _CHALLENGE_MARKERS)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`; it may be a number of seconds or an HTTP-date."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():  # RFC 9110: delay-seconds = 1*DIGIT
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# -- bodies ---------------------------------------------------------------------------------------


class _Inflater:
    """Undoes a gzip or deflate content-encoding, never producing more bytes than asked for.

    Each call inflates at most `max_out` bytes, so a gzip bomb reaches the size cap after bounded
    work and memory instead of expanding first and being measured afterwards.
    """

    def __init__(self, url: str, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(url, f"unsupported Content-Encoding {content_encoding!r}")
        self._url = url
        self._coding = codings[0] if codings else None
        self._inflate: zlib._Decompress | None = None
        self._pending = b""

    def feed(self, chunk: bytes, max_out: int) -> bytes:
        if self._coding is None:
            return chunk
        if self._inflate is None:
            self._pending += chunk
            if self._coding == "deflate" and len(self._pending) < 2:
                return b""  # need the first two bytes to tell zlib-wrapped from raw deflate
            self._inflate = zlib.decompressobj(self._window_bits(self._pending))
            chunk, self._pending = self._pending, b""
        if self._inflate.eof:
            return b""  # trailing garbage after the compressed stream
        try:
            return self._inflate.decompress(chunk, max(1, max_out))
        except zlib.error as exc:
            raise FetchError(self._url, f"cannot decode {self._coding} body: {exc}") from exc

    def finish(self) -> bytes:
        if self._inflate is None:
            return b""
        try:
            return self._inflate.flush()
        except zlib.error as exc:
            raise FetchError(self._url, f"cannot decode {self._coding} body: {exc}") from exc

    def _window_bits(self, head: bytes) -> int:
        if self._coding != "deflate":
            return 32 + zlib.MAX_WBITS  # gzip, or zlib sent as "gzip": zlib detects which
        # "deflate" is meant to be zlib-wrapped (RFC 9110) but many servers send raw deflate.
        wrapped = head[0] & 0x0F == 8 and ((head[0] << 8) | head[1]) % 31 == 0
        return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


async def _read_body(
    response: httpx.Response, url: str, limit: int, *, truncate: bool = False
) -> bytes:
    """The decoded body, at most `limit` bytes: BodyTooLarge beyond it, or cut when `truncate`."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(url, f"Content-Length {declared} is over the cap of {limit} bytes")
    inflater = _Inflater(url, response.headers.get("content-encoding", ""))
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += inflater.feed(chunk, limit + 1 - len(body))
        if len(body) > limit:
            break
    else:
        body += inflater.finish()
    if len(body) <= limit:
        return bytes(body)
    if truncate:
        return bytes(body[:limit])
    raise BodyTooLarge(url, f"body is over the cap of {limit} bytes after decoding")


def _decoded_headers(raw: list[tuple[str, str]], body_length: int) -> tuple[tuple[str, str], ...]:
    """Headers as received, but describing the decoded body (which is what gets archived)."""
    kept = [(name, value) for name, value in raw if name.lower() not in _WIRE_HEADERS]
    return (*kept, ("Content-Length", str(body_length)))


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """("text/html", "utf-8") from "text/html; charset=UTF-8"."""
    if not content_type:
        return "", None
    media_type, *parameters = content_type.split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def _is_textual(media_type: str) -> bool:
    return (
        not media_type  # unlabelled: try to read it
        or media_type.startswith("text/")
        or media_type in _TEXT_MEDIA_TYPES
        or media_type.endswith(("+xml", "+json"))
    )


def decode_text(body: bytes, media_type: str, declared: str | None) -> tuple[str, str | None]:
    """(text, charset) for a body whose label may lie; ("", None) for binary media types.

    The order matters: valid UTF-8 with non-ASCII bytes is almost never anything else, so it wins
    over any label (Azerbaijani UTF-8 pages labelled iso-8859-1); a label is trusted only when it
    decodes cleanly (Russian cp1251 pages labelled utf-8 fail); guessing comes last.
    """
    if not body or not _is_textual(media_type):
        return "", None
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), codec
    if b"\x00" not in body[:4096]:  # NULs would mean UTF-16/32, which pass both checks below
        if body.isascii():
            return body.decode("ascii"), "ascii"
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    for codec in _declared_charsets(body, declared):
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue
    best = from_bytes(body, cp_isolation=list(_GUESSABLE_CHARSETS)).best()
    if best is not None and best.encoding:
        return str(best), best.encoding
    return body.decode("utf-8", errors="replace"), "utf-8"


def _declared_charsets(body: bytes, header_label: str | None) -> list[str]:
    """Codec names from the Content-Type header, then <meta>, then the XML declaration."""
    head = body[:8192]
    labels: list[tuple[str, bool]] = []
    if header_label:
        labels.append((header_label, False))
    for pattern in (_META_CHARSET, _XML_ENCODING):
        match = pattern.search(head)
        if match:
            labels.append((match.group(1).decode("ascii", errors="replace"), True))
    codecs_found: list[str] = []
    for label, in_document in labels:
        codec = _codec_for(label)
        # A document that names UTF-16/32 inside itself was readable as ASCII, so it is not that.
        if codec is None or (in_document and codec.startswith(("utf-16", "utf-32"))):
            continue
        if codec not in codecs_found:
            codecs_found.append(codec)
    return codecs_found


def _codec_for(label: str) -> str | None:
    label = label.strip().lower()
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
