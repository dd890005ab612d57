"""Wire bytes into the response body we keep, with memory bounded however the server misbehaves.

A server chooses the Content-Encoding and the size, and a few kilobytes of gzip can inflate to
gigabytes, so the body cap has to count decompressed bytes and stop the inflating itself, not
measure the result afterwards. This module owns that: it undoes gzip, zlib-wrapped and raw deflate
a bounded step at a time, enforces (or truncates at) the cap, and rewrites the headers so they
describe the decoded body that is handed on and archived. It knows nothing of HTTP clients: it
reads an async stream of raw chunks, so the streaming and the cap stay testable without a network
and the HTTP library stays confined to `monitor.crawl.fetch`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable

from monitor.core.errors import BodyTooLarge, FetchError

# The Accept-Encoding we send: only what `_Inflater` can undo with a bounded output (no br/zstd).
ACCEPT_ENCODING = "gzip, deflate"
# Headers that describe the bytes on the wire, not the decoded body we hand on (and archive).
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


async def read_capped_body(
    raw_chunks: AsyncIterable[bytes],
    url: str,
    limit: int,
    *,
    content_length: str,
    content_encoding: str,
    truncate: bool = False,
) -> bytes:
    """The decoded body, at most `limit` bytes: BodyTooLarge beyond it, or cut when `truncate`.

    `content_length` and `content_encoding` are the response's header values ("" when absent).
    """
    if not truncate and content_length.isdigit() and int(content_length) > limit:
        raise BodyTooLarge(url, f"Content-Length {content_length} is over the cap of {limit} bytes")
    inflater = _Inflater(url, content_encoding)
    body = bytearray()
    async for chunk in raw_chunks:
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


def decoded_headers(raw: list[tuple[str, str]], body_length: int) -> tuple[tuple[str, str], ...]:
    """Headers as received, but describing the decoded body (which is what gets archived)."""
    kept = [(name, value) for name, value in raw if name.lower() not in _WIRE_HEADERS]
    return (*kept, ("Content-Length", str(body_length)))


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
