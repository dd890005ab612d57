"""Every HTTP request the monitor makes, made politely and defensively; the one module that imports
httpx.

One `Fetcher` owns one connection pool and enforces, for every logical fetch: robots.txt, a limit
on requests in flight per host and a pause between request starts to one host, refusal of hosts
that resolve to private addresses (on every redirect hop, since a public page can redirect
inward), retries with backoff for failures that may pass (timeouts, resets, 5xx, 429, Cloudflare
challenges), and a body cap that counts decompressed bytes so a gzip bomb cannot exhaust memory.
It returns a `Page` whose body is already decoded from its content-encoding (`monitor.crawl.bodies`,
which also enforces the cap) and whose text is decoded with a charset we verified
(`monitor.crawl.charset`), because the sites we follow often mislabel theirs. Failures
leave as `monitor.core.errors` classes carrying url, attempts and elapsed; no httpx exception escapes.
Each logical fetch, robots.txt included, is reported once through `on_outcome` for the fetch log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Protocol, Self

import httpx

from monitor.config.settings import Settings
from monitor.core.errors import (
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
from monitor.crawl.bodies import ACCEPT_ENCODING, decoded_headers, read_capped_body
from monitor.crawl.charset import decode_text, parse_content_type
from monitor.crawl.robots import (
    RobotsPolicy,
    origin_of,
    parse_robots,
    policy_for_failure,
    robots_url,
)

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


# -- response bodies ------------------------------------------------------------------------------


async def _read_body(
    response: httpx.Response, url: str, limit: int, *, truncate: bool = False
) -> bytes:
    """The decoded body, at most `limit` bytes: BodyTooLarge beyond it, or cut when `truncate`."""
    return await read_capped_body(
        response.aiter_raw(),
        url,
        limit,
        content_length=response.headers.get("content-length", ""),
        content_encoding=response.headers.get("content-encoding", ""),
        truncate=truncate,
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
