"""A deliberately badly behaved website on 127.0.0.1, for the fetcher's integration tests.

Each path reproduces one way real sites fail us (AZERTAC's Cloudflare 403 page, mislabelled
charsets, slow and trickling servers, resets, redirect loops, huge and bomb bodies) so the fetcher
is tested against real sockets and a real HTTP parser rather than a mocked transport. The server
counts hits per path so tests can assert how many requests the fetcher really made.
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
AZ_TEXT = (
    "Azərbaycan və Qazaxıstan arasında əməkdaşlıq genişlənir; Şuşa, İlham Əliyev, ı ş ə ğ ç ö ü."
)
RU_TEXT = (
    "Президент Казахстана Касым-Жомарт Токаев провёл переговоры с Президентом Азербайджана "
    "Ильхамом Алиевым. Стороны обсудили вопросы торгово-экономического сотрудничества, "
    "транспорта и логистики, а также энергетики."
)
ROBOTS_TXT = """\
User-agent: *
Disallow: /

User-agent: az-kz-monitor
Disallow: /private/
Allow: /
"""
BIG_BODY_SIZE = 20_000_000
SLOW_REPLY = 1.0  # /slow answers after this long: longer than the read timeouts of the tests
HOLD_PAIRING = 1.0  # /hold: at most this long the first requests wait to be in at once
HOLD_GRACE = 0.15  # /hold: then this long more, for a request beyond the limit to show up
BOMB_SIZE = 1 << 30  # 1 GiB of zeros once inflated
CLOUDFLARE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    b"<body><h1>Sorry, you have been blocked</h1>" + b" " * 5600 + b"</body></html>"
)


def html(text: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"
    )


@functools.cache
def gzip_bomb(size: int = BOMB_SIZE) -> bytes:
    """A valid gzip stream of `size` zero bytes (~1 MB: deflate cannot beat ~1032:1).

    Built from one fully flushed 1 MiB block repeated, so it takes a fraction of a second
    instead of compressing a whole gibibyte.
    """
    block = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush(zlib.Z_FINISH)  # an empty final block
    crc = 0
    zeros = bytes(block)
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + segment * (size // block) + final + trailer


class BadSite:
    """The server and what it saw; use as a context manager (the pytest fixture does)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.request_headers: dict[str, dict[str, str]] = {}
        self.robots_status = 200
        self.robots_body = ROBOTS_TXT
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold_together = 2  # /hold: the per-host concurrency the fetcher is expected to allow
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # a /hold request came in
        self.closing = threading.Event()  # set on exit: cuts every deliberate delay short
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def __enter__(self) -> BadSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.closing.set()
        with self.changed:
            self.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def record(self, path: str, headers: dict[str, str]) -> int:
        """Count a hit; return how many times this path has now been requested."""
        with self.lock:
            self.hits[path] += 1
            self.request_headers[path] = headers
            return self.hits[path]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: BadSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up on purpose (caps, timeouts) are the point of these tests


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.hit = self.server.site.record(path, {k.lower(): v for k, v in self.headers.items()})
        if path.startswith("/chain/"):
            self.chain(int(path.rsplit("/", 1)[1]))
            return
        route: Callable[[], None] | None = getattr(self, "route_" + _route_name(path), None)
        if route is None:
            self.reply(404, b"<h1>Not Found</h1>")
        else:
            route()

    def reply(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: tuple[tuple[str, str], ...] = (),
        *,
        length: bool = True,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- well behaved ----------------------------------------------------------------------------

    def route_robots_txt(self) -> None:
        site = self.server.site
        self.reply(site.robots_status, site.robots_body.encode(), "text/plain")

    def route_page_html(self) -> None:
        validators = (("ETag", ETAG), ("Last-Modified", LAST_MODIFIED))
        if self.headers.get("If-None-Match") == ETAG:
            self.reply(304, content_type=None, headers=(("ETag", ETAG),), length=False)
        else:
            self.reply(200, html(AZ_TEXT).encode(), headers=validators)

    def route_private_secret(self) -> None:
        self.reply(200, b"secret")

    def route_redirect_to_page(self) -> None:
        self.reply(302, headers=(("Location", "/page.html"),))

    def route_headers(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.reply(200, body, "application/json")

    def route_hold(self) -> None:
        """The first requests wait until `hold_together` are in at once, which shows that the
        fetcher lets that many run (one that allows fewer leaves them waiting HOLD_PAIRING, and
        max_in_flight short of it); every request then stays HOLD_GRACE, in which one beyond the
        limit would come in too, and such a request ends the hold at once."""
        site = self.server.site
        with site.changed:
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
            site.changed.notify_all()
            site.changed.wait_for(
                lambda: site.max_in_flight >= site.hold_together or site.closing.is_set(),
                HOLD_PAIRING,
            )
            site.changed.wait_for(
                lambda: site.in_flight > site.hold_together or site.closing.is_set(), HOLD_GRACE
            )
            site.in_flight -= 1
        self.reply(200, b"held")

    def route_doc_pdf(self) -> None:
        self.reply(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf")

    # -- status codes ----------------------------------------------------------------------------

    def route_flaky(self) -> None:
        if self.hit == 1:
            self.reply(500, b"oops")
        else:
            self.reply(200, b"recovered")

    def route_always_500(self) -> None:
        self.reply(500, b"oops")

    def route_cloudflare(self) -> None:
        self.reply(403, CLOUDFLARE_PAGE)

    def route_cf_header(self) -> None:
        self.reply(503, b"<html>please wait</html>", headers=(("cf-mitigated", "challenge"),))

    def route_forbidden(self) -> None:
        self.reply(403, b"<h1>Forbidden</h1>")

    def route_ratelimited(self) -> None:
        if self.hit == 1:
            self.reply(429, b"slow down", headers=(("Retry-After", "1"),))
        else:
            self.reply(200, b"thanks for waiting")

    def route_ratelimited_long(self) -> None:
        self.reply(429, b"come back tomorrow", headers=(("Retry-After", "3600"),))

    # -- network misbehaviour --------------------------------------------------------------------

    def route_slow(self) -> None:
        self.server.site.closing.wait(SLOW_REPLY)
        self.reply(200, b"finally")

    def route_trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "10000")
        self.end_headers()
        for _ in range(100):  # one byte every 50 ms: never idle long enough for a read timeout
            self.wfile.write(b"x")
            if self.server.site.closing.wait(0.05):
                return

    def route_reset(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        self.server.site.closing.wait(0.05)  # the client reads part of the body first
        # SO_LINGER 0: close() sends RST instead of FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def route_loop_a(self) -> None:
        self.reply(302, headers=(("Location", "/loop-b"),))

    def route_loop_b(self) -> None:
        self.reply(302, headers=(("Location", "/loop-a"),))

    def chain(self, step: int) -> None:
        if step < 10:
            self.reply(302, headers=(("Location", f"/chain/{step + 1}"),))
        else:
            self.reply(200, b"end of the chain")

    # -- bodies ----------------------------------------------------------------------------------

    def route_big(self) -> None:
        self.reply(200, b"x" * BIG_BODY_SIZE, "text/plain")

    def route_big_unsized(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        chunk = b"x" * 65536
        for _ in range(BIG_BODY_SIZE // len(chunk)):
            self.wfile.write(chunk)

    def route_bomb(self) -> None:
        self.reply(200, gzip_bomb(), "text/html", (("Content-Encoding", "gzip"),))

    def route_gzip(self) -> None:
        body = gzip.compress(html(AZ_TEXT).encode())
        self.reply(200, body, headers=(("Content-Encoding", "gzip"),))

    def route_deflate_zlib(self) -> None:
        body = zlib.compress(html(AZ_TEXT).encode())
        self.reply(200, body, headers=(("Content-Encoding", "deflate"),))

    def route_deflate_raw(self) -> None:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = compressor.compress(html(AZ_TEXT).encode()) + compressor.flush()
        self.reply(200, body, headers=(("Content-Encoding", "deflate"),))

    def route_chunked_gzip(self) -> None:
        self.protocol_version = "HTTP/1.1"  # chunked transfer coding needs HTTP/1.1
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        body = gzip.compress(html(AZ_TEXT).encode())
        for start in range(0, len(body), 50):
            piece = body[start : start + 50]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    # -- charsets --------------------------------------------------------------------------------

    def route_az_labelled_latin1(self) -> None:
        self.reply(200, html(AZ_TEXT).encode("utf-8"), "text/html; charset=iso-8859-1")

    def route_ru_cp1251_labelled_utf8(self) -> None:
        self.reply(200, html(RU_TEXT).encode("cp1251"), "text/html; charset=utf-8")

    def route_ru_meta_cp1251(self) -> None:
        body = html(RU_TEXT, head='<meta charset="windows-1251">').encode("cp1251")
        self.reply(200, body, "text/html")


def _route_name(path: str) -> str:
    return path.strip("/").replace("/", "_").replace("-", "_").replace(".", "_")
