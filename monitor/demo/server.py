"""Replays the recorded site copies in `monitor/demo/sites/` over HTTP, for the demo and the tests.

Each folder under the sites directory is one real host (`azertag.az`, `www.inform.kz`, ...) laid
out by URL path (see `sites/README.md`). `SiteServer` starts one listener on 127.0.0.1 per host,
so every host keeps its own origin, its own robots.txt and its own request log. Recorded pages
keep the real absolute URLs; when serving a text body the server rewrites every real origin of
every served host to the matching local address, so following a link stays offline.

It behaves like a plain, cache-friendly origin: strong ETag and a fixed Last-Modified per file,
304 to If-None-Match / If-Modified-Since, gzip when asked, 404 for anything not recorded.
Tests inject failures or changed pages with `set_override` and count requests in `requests`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from monitor.config.sources import Source

SITES_DIR = Path(__file__).resolve().parent / "sites"
# Last-Modified of every recorded file: a constant, because file mtimes change with every clone.
RECORDED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

_XML_ROOT = re.compile(rb"<(?![?!])([A-Za-z][\w:.-]*)")
_XML_TYPES = {
    b"rss": "application/rss+xml; charset=utf-8",
    b"feed": "application/atom+xml; charset=utf-8",
}


class Headers(Mapping[str, str]):
    """Request headers as received; lookups ignore case (`headers["if-none-match"]`)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = tuple(items)
        self._by_name = {name.lower(): value for name, value in self._items}

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._items))

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


class RecordedRequest(NamedTuple):
    host: str  # the real host whose copy answered, e.g. "azertag.az"
    method: str
    path: str  # the request target as sent, query included: "/ru/lenta?page=2"
    headers: Headers

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


@dataclass(frozen=True)
class _Override:
    status: int
    body: bytes | None
    headers: tuple[tuple[str, str], ...]
    delay: float
    last_modified: datetime


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class SiteServer:
    """One local HTTP listener per recorded host; use as a context manager or start()/stop()."""

    def __init__(self, sites_dir: Path = SITES_DIR, *, gzip_responses: bool = True) -> None:
        self.sites_dir = Path(sites_dir)
        self.hosts = sorted(
            entry.name
            for entry in self.sites_dir.iterdir()
            if entry.is_dir() and not entry.name.startswith((".", "_"))
        )
        if not self.hosts:
            raise ValueError(f"{self.sites_dir}: no host folders to serve")
        self.gzip_responses = gzip_responses
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._overrides: dict[tuple[str, str], _Override] = {}
        self._listeners: dict[str, _HostServer] = {}
        self._threads: list[threading.Thread] = []
        self._netlocs: dict[str, str] = {}  # every real host name (www. or not) -> "127.0.0.1:port"
        self._origin_pattern: re.Pattern[str] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> SiteServer:
        if self._listeners:
            raise RuntimeError("SiteServer is already running")
        for host in self.hosts:
            listener = _HostServer(("127.0.0.1", 0), _Handler, site=self, host=host)
            self._listeners[host] = listener
            thread = threading.Thread(
                target=listener.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.name = f"site-server {host}"
            thread.start()
            self._threads.append(thread)
            netloc = f"127.0.0.1:{listener.server_address[1]}"
            for name in _host_names(host):
                self._netlocs[name] = netloc
        names = sorted(self._netlocs, key=len, reverse=True)
        self._origin_pattern = re.compile(
            r"(https?:)?(//|\\/\\/)(" + "|".join(map(re.escape, names)) + r")(?![\w-]|\.[\w-])",
            re.IGNORECASE,
        )
        return self

    def stop(self) -> None:
        for listener in self._listeners.values():
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners.clear()
        self._threads.clear()
        self._netlocs.clear()
        self._origin_pattern = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------
    def base_url(self, host: str) -> str:
        """`http://127.0.0.1:PORT` serving the copy of `host`."""
        if host not in self._listeners:
            state = "is not a recorded host" if host not in self.hosts else "is not running"
            raise KeyError(f"{host!r} {state}")
        return f"http://127.0.0.1:{self._listeners[host].server_address[1]}"

    def url_map(self) -> dict[str, str]:
        """Every real origin of every served host (http/https, with and without www.) -> base."""
        return {
            f"{scheme}://{name}": f"http://{netloc}"
            for name, netloc in sorted(self._netlocs.items())
            for scheme in ("https", "http")
        }

    def local_url(self, url: str) -> str:
        return to_local(url, self.url_map())

    def rewrite_text(self, text: str) -> str:
        """Point every real origin of a served host at its local copy (scheme becomes http)."""
        if self._origin_pattern is None:
            return text

        def local(match: re.Match[str]) -> str:
            scheme = "http:" if match.group(1) else ""
            return f"{scheme}{match.group(2)}{self._netlocs[match.group(3).lower()]}"

        return self._origin_pattern.sub(local, text)

    # -- test hooks --------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def set_override(
        self,
        host: str,
        path: str,
        *,
        status: int = 200,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer GET/HEAD of `path` (query included) on `host` this way until removed.

        `body=None` keeps the recorded file for statuses below 400 and sends a short error page
        otherwise. A later override counts as a newer version (its Last-Modified moves on).
        """
        if host not in self.hosts:
            raise KeyError(f"{host!r} is not a recorded host")
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            stamp = RECORDED_AT + timedelta(minutes=len(self._overrides) + 1)
            self._overrides[(host, path)] = _Override(
                status, data, tuple((headers or {}).items()), delay, stamp
            )

    def remove_override(self, host: str, path: str) -> None:
        with self._lock:
            self._overrides.pop((host, path), None)

    def clear_overrides(self) -> None:
        with self._lock:
            self._overrides.clear()

    # -- serving -----------------------------------------------------------------------------
    def _reply(self, host: str, method: str, target: str, headers: Headers) -> _Reply:
        with self._lock:
            self._requests.append(RecordedRequest(host, method, target, headers))
            override = self._overrides.get((host, target))
        if override is not None:
            time.sleep(override.delay)
            return self._overridden(host, target, headers, override)
        file = self._resolve(host, target)
        if file is None:
            return _error(HTTPStatus.NOT_FOUND)
        return self._ok(target, file.read_bytes(), RECORDED_AT, headers, ())

    def _overridden(self, host: str, target: str, headers: Headers, override: _Override) -> _Reply:
        body = override.body
        if body is None and override.status >= 400:
            return _error(override.status, override.headers)
        if body is None:
            file = self._resolve(host, target)
            body = file.read_bytes() if file else b""
        if override.status != 200:
            extra = list(override.headers)
            if body and not _has(extra, "content-type"):
                extra.append(("Content-Type", _content_type(target, body)))
            body = self._rewritten(body)
            return _Reply(override.status, [*extra, ("Content-Length", str(len(body)))], body)
        return self._ok(target, body, override.last_modified, headers, override.headers)

    def _ok(
        self,
        target: str,
        raw: bytes,
        last_modified: datetime,
        request: Headers,
        extra: Iterable[tuple[str, str]],
    ) -> _Reply:
        extra = list(extra)
        encoded = _has(extra, "content-encoding")  # an override sending pre-encoded bytes
        body = raw if encoded else self._rewritten(raw)
        digest = hashlib.sha256(body).hexdigest()[:24]
        zipped = self.gzip_responses and _accepts_gzip(request) and bool(body) and not encoded
        etag = f'"{digest}-gz"' if zipped else f'"{digest}"'
        common = [("ETag", etag), ("Last-Modified", format_datetime(last_modified, usegmt=True))]
        if self.gzip_responses:
            common.append(("Vary", "Accept-Encoding"))
        if _not_modified(request, digest, last_modified):
            return _Reply(HTTPStatus.NOT_MODIFIED, [*common, *extra], b"")
        if not _has(extra, "content-type"):
            common.append(("Content-Type", _content_type(target, raw)))
        if zipped:
            body = gzip.compress(body, mtime=0)
            common.append(("Content-Encoding", "gzip"))
        return _Reply(HTTPStatus.OK, [*common, *extra, ("Content-Length", str(len(body)))], body)

    def _rewritten(self, body: bytes) -> bytes:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        return self.rewrite_text(text).encode("utf-8")

    def _resolve(self, host: str, target: str) -> Path | None:
        """The recorded file for a request target, or None (see sites/README.md for the layout)."""
        parts = urlsplit(target)
        root = (self.sites_dir / host).resolve()
        relative = unquote(parts.path).lstrip("/")
        page = root / relative if relative else root
        if page.is_dir() or parts.path.endswith("/") or not relative:
            slashless = root / relative.rstrip("/")
            page = page / "index.html"
            if not page.is_file() and relative and slashless.is_file():
                page = slashless  # /ru/lenta/ served from ru/lenta, as the site would
        if parts.query:
            page = page.with_name(f"{page.name}@{parts.query.replace('/', '%2F')}")
        page = page.resolve()
        if not page.is_relative_to(root) or not page.is_file():
            return None
        return page


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, *, site: SiteServer, host: str):
        self.site = site
        self.host = host
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is fine
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HostServer
    protocol_version = "HTTP/1.1"
    server_version = "az-kz-monitor-demo/1"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        reply = self.server.site._reply(
            self.server.host, self.command, self.path, Headers(self.headers.items())
        )
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if send_body and reply.body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log lives on SiteServer.requests."""


def rewrite_sources(sources: Sequence[Source], url_map: Mapping[str, str]) -> list[Source]:
    """Copies of `sources` whose homepage, feeds, sitemaps and listing URLs point at the copies."""
    return [
        source.model_copy(
            update={
                "homepage": to_local(source.homepage, url_map),
                "feeds": [to_local(url, url_map) for url in source.feeds],
                "sitemaps": [to_local(url, url_map) for url in source.sitemaps],
                "listings": [
                    listing.model_copy(update={"url": to_local(listing.url, url_map)})
                    for listing in source.listings
                ],
            }
        )
        for source in sources
    ]


def to_local(url: str, url_map: Mapping[str, str]) -> str:
    """`url` on its local copy when its origin is in `url_map`; otherwise unchanged."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    base = url_map.get(origin.lower())
    return url if base is None else base + url[len(origin) :]


def _host_names(host: str) -> list[str]:
    """The names a host is linked by: www.inform.kz is also inform.kz; azertag.az also www."""
    if host.startswith("www."):
        return [host, host.removeprefix("www.")]
    if host.count(".") == 1:
        return [host, f"www.{host}"]
    return [host]


def _content_type(target: str, body: bytes) -> str:
    name = urlsplit(target).path.rsplit("/", 1)[-1]
    if name.endswith(".txt"):
        return "text/plain; charset=utf-8"
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset", b"<sitemapindex")):
        root = _XML_ROOT.search(head)
        return _XML_TYPES.get(root.group(1) if root else b"", "application/xml; charset=utf-8")
    if name.endswith(".json") or head.startswith((b"{", b"[")):
        return "application/json"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/html; charset=utf-8"


def _accepts_gzip(request: Headers) -> bool:
    for coding in request.get("accept-encoding", "").split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _not_modified(request: Headers, digest: str, last_modified: datetime) -> bool:
    if "if-none-match" in request:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
        tags = [tag.strip() for tag in request["if-none-match"].split(",")]
        opaque = {tag.removeprefix("W/").strip('"').removesuffix("-gz") for tag in tags}
        return "*" in tags or digest in opaque
    if "if-modified-since" in request:
        try:
            since = parsedate_to_datetime(request["if-modified-since"])
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and last_modified <= since
    return False


def _error(status: int, headers: Iterable[tuple[str, str]] = ()) -> _Reply:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = f"<!DOCTYPE html><title>{status} {phrase}</title><h1>{status} {phrase}</h1>\n"
    data = body.encode("utf-8")
    extra = list(headers)
    if not _has(extra, "content-type"):
        extra.append(("Content-Type", "text/html; charset=utf-8"))
    return _Reply(status, [*extra, ("Content-Length", str(len(data)))], data)


def _has(headers: Iterable[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


def main() -> None:
    """`python -m monitor.demo.server`: serve the recordings until Ctrl-C."""
    with SiteServer() as server:
        for origin, base in server.url_map().items():
            if origin.startswith("https://"):
                print(f"{origin:32} -> {base}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
