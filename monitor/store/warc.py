"""Raw captures of article pages as WARC records (warcio), kept so an archivist can trust them.

Each capture is a `request` record (the request line and headers we sent) and a `response` record
holding the body as it came over the wire: still content-encoded (gzip stays gzip), under the
headers the site sent, so the WARC-Payload-Digest is a digest of what the site served and any
WARC tool or replayer (warcio, pywb) reads it as such. The request names the response with
`WARC-Concurrent-To`. Two departures from the wire, both because the HTTP client has undone them
before we see the bytes: `Transfer-Encoding` is dropped (the chunk framing is gone, and a replayer
would try to de-chunk), and a body longer on the wire than the fetcher's cap is cut there and its
record marked `WARC-Truncated: length`. Pages without wire bytes (built in tests) are stored as
before: the decoded body under headers adjusted to say so.

A page fetched again whose payload digest equals the prior capture's is written as a `revisit`
record instead (profile identical-payload-digest, headers only), pointing at the original with
WARC-Refers-To, -Target-URI and -Date; never when either body was truncated, since equal
beginnings say nothing of the rest. `read` of a revisit follows it to the response it refers to,
looked for in the files of the original's day (the day is in the file name), so any ref an
article keeps reads back as a full capture; the pipeline may keep the prior ref or store the
revisit's, both work, and the prior one reads without a search.

Each process appends to its own file per day (`warc/YYYY/MM/YYYYMMDD-<host>-<pid>.warc.gz`), one
gzip member per record, so two workers never interleave writes and a crash can at worst leave one
truncated record at the end of a file. A ref is (file, offset, length) of the response or revisit
record (refs written before the request records existed span a warcinfo and a response; `read`
takes both). Reading gives the body decoded again, with headers describing the decoded body,
because what readers do with a capture is extract its text once more.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from monitor import __version__
from monitor.core.errors import StoreError
from monitor.core.records import Page
from monitor.crawl.bodies import decoded_headers
from monitor.store.db import archive_error_from_os

log = logging.getLogger(__name__)

# Content-codings read back with warcio's decompressors (it knows no "x-gzip"); the fetcher
# accepts only these, so no capture of ours carries another.
_DECOMPRESSORS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
# The HTTP client undoes chunking before we see the body: the header would describe framing that
# is not in the stored bytes.
_FRAMING_HEADERS = frozenset({"transfer-encoding"})


@dataclass(frozen=True)
class WarcRef:
    file: str  # relative to the WARC directory
    offset: int
    length: int
    revisit: bool = False  # the record is a revisit: the page was unchanged since `prior`


@dataclass(frozen=True)
class Capture:
    """A response read back from a WARC record, body decoded from its content-encoding."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]  # describe the decoded body
    body: bytes
    captured_at: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


@dataclass(frozen=True)
class _Original:
    """What a revisit needs of the response it refers to."""

    record_id: str | None
    target_uri: str
    date: str
    payload_digest: str | None
    truncated: bool


class WarcArchive:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # The pipeline writes from several threads into this process's one file of the day: an
        # append and the offset it reports must not interleave with another's.
        self._appending = threading.Lock()

    def write(self, page: Page, prior: WarcRef | None = None) -> WarcRef:
        """Append the request and response of `page` and return where the response went; a
        revisit instead of the response when `prior` holds the same payload."""
        original = self._original(prior) if prior is not None else None
        relative = self._file_for(page.fetched_at)
        path = self.directory / relative
        chunk, start, length, revisit = _exchange_bytes(page, original)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._appending, path.open("ab") as handle:
                offset = handle.tell()
                if offset == 0:  # a new file opens with its warcinfo
                    offset += handle.write(_warcinfo_bytes())
                handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:  # read-only, or full: the archive takes no more (see store.db)
            raise archive_error_from_os(exc, str(self.directory)) from exc
        return WarcRef(relative.as_posix(), offset + start, length, revisit)

    def read(self, ref: WarcRef) -> Capture:
        """The response at `ref`, or the one a revisit there refers to."""
        path = self.directory / ref.file
        for record in ArchiveIterator(io.BytesIO(self._chunk(ref))):
            if record.rec_type == "response":
                return _capture(record, path)
            if record.rec_type == "revisit":
                return self._referred(record, path)
        raise StoreError(f"no response record at {path}:{ref.offset}")

    def _chunk(self, ref: WarcRef) -> bytes:
        path = self.directory / ref.file
        try:
            with path.open("rb") as handle:
                handle.seek(ref.offset)
                return handle.read(ref.length)
        except OSError as exc:
            raise StoreError(f"cannot read WARC file {path}: {exc}") from exc

    def _original(self, prior: WarcRef) -> _Original | None:
        """The prior capture's identity and digest; None when it cannot be read, since a full
        response is never wrong and a damaged prior should not cost the new capture."""
        try:
            for record in ArchiveIterator(io.BytesIO(self._chunk(prior))):
                if record.rec_type in ("response", "revisit"):
                    return _original_of(record)
        except (StoreError, ArchiveLoadFailed, ValueError, OSError) as exc:
            log.warning("prior capture %s unreadable, writing a full response: %s", prior, exc)
            return None
        log.warning("no response record at prior capture %s, writing a full response", prior)
        return None

    def _referred(self, revisit: ArcWarcRecord, where: Path) -> Capture:
        """The response a revisit refers to, searched for in the files of its day."""
        original = _original_of(revisit)
        for path in self._files_around(original.date, first=where):
            try:
                with path.open("rb") as handle:
                    for record in ArchiveIterator(handle):
                        if record.rec_type == "response" and _is_the(record, original):
                            return _capture(record, path)
            except (OSError, ArchiveLoadFailed) as exc:
                raise StoreError(f"cannot read WARC file {path}: {exc}") from exc
        raise StoreError(
            f"the revisit in {where} refers to a response of {original.target_uri} "
            f"at {original.date} that is not in the archive"
        )

    def _files_around(self, date: str, *, first: Path) -> Iterator[Path]:
        """The files that can hold a record of `date`: named for its day (a day either side, as
        the name follows the fetch time's own offset), the revisit's own file first."""
        yield first
        try:
            day = datetime.fromisoformat(date)
        except (TypeError, ValueError):  # a foreign revisit without a usable date
            return
        for shift in (0, -1, 1):
            when = day + timedelta(days=shift)
            folder = self.directory / f"{when:%Y}" / f"{when:%m}"
            yield from (p for p in sorted(folder.glob(f"{when:%Y%m%d}-*.warc.gz")) if p != first)

    def _file_for(self, when: datetime) -> Path:
        name = f"{when:%Y%m%d}-{socket.gethostname()}-{os.getpid()}.warc.gz"
        return Path(f"{when:%Y}") / f"{when:%m}" / name


# -- the records of one exchange (pure) -----------------------------------------------------------


def _warcinfo_bytes() -> bytes:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    info = {"software": f"az-kz-monitor/{__version__}", "format": "WARC File Format 1.1"}
    writer.write_record(writer.create_warcinfo_record("", info))
    return buffer.getvalue()


def _exchange_bytes(page: Page, original: _Original | None) -> tuple[bytes, int, int, bool]:
    """The gzipped records for `page`, and where in them the response (or revisit) lies.

    Returns (bytes, start, length, revisit). Response before request, as warcio writes a pair.
    """
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    payload, headers, truncated = _payload(page)
    digest = _payload_digest(payload)
    revisit = original is not None and _is_unchanged(original, digest, truncated=truncated)
    date = _warc_date(page.fetched_at)
    http = StatusAndHeaders(
        f"{page.status} {page.reason or 'OK'}", headers, protocol=page.http_version
    )
    if revisit:
        assert original is not None
        response = writer.create_revisit_record(
            page.final_url,
            digest,
            original.target_uri,
            original.date,
            http_headers=http,
            warc_headers_dict=_refers_to(original, date),
        )
    else:
        response = writer.create_warc_record(
            page.final_url,
            "response",
            payload=io.BytesIO(payload),
            length=len(payload),
            http_headers=http,
            warc_headers_dict=_response_warc_headers(date, truncated),
        )
    start = buffer.tell()
    writer.write_record(response)
    end = buffer.tell()
    writer.write_record(_request_record(writer, page, response))
    return buffer.getvalue(), start, end - start, revisit


def _payload(page: Page) -> tuple[bytes, list[tuple[str, str]], bool]:
    """The bytes to store, the headers that describe them, and whether they were cut."""
    if page.raw_body is None:  # no wire bytes: the decoded body, headers already say so
        return page.body, list(page.headers), False
    headers = [(k, v) for k, v in page.raw_headers if k.lower() not in _FRAMING_HEADERS]
    return page.raw_body, headers, page.truncated


def _payload_digest(payload: bytes) -> str:
    """The WARC-Payload-Digest warcio writes for `payload` ("sha1:" and base32)."""
    digester = Digester("sha1")
    digester.update(payload)
    return str(digester)


def _is_unchanged(original: _Original, digest: str, *, truncated: bool) -> bool:
    """Whether a new payload may be recorded as a revisit of `original`: same digest, and
    both complete (a truncated body's digest covers only its beginning)."""
    if truncated or original.truncated or not original.payload_digest:
        return False
    return original.payload_digest == digest


def _response_warc_headers(date: str, truncated: bool) -> dict[str, str]:
    headers = {"WARC-Date": date}
    if truncated:
        headers["WARC-Truncated"] = "length"
    return headers


def _refers_to(original: _Original, date: str) -> dict[str, str]:
    headers = {"WARC-Date": date}
    if original.record_id:
        headers["WARC-Refers-To"] = original.record_id
    return headers


def _request_record(writer: WARCWriter, page: Page, response: ArcWarcRecord) -> ArcWarcRecord:
    """The request as sent, linked to its response. A page built without a wire gets the request
    line and Host only: all that is known of it."""
    line = page.request_line or f"GET {_target(page.final_url)} {page.http_version}"
    method, _, rest = line.partition(" ")
    headers = list(page.request_headers) or [("Host", urlsplit(page.final_url).netloc)]
    return writer.create_warc_record(
        page.final_url,
        "request",
        http_headers=StatusAndHeaders(rest, headers, protocol=method),
        warc_headers_dict={
            "WARC-Date": response.rec_headers.get_header("WARC-Date"),
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
        },
    )


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _warc_date(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


# -- reading records back -------------------------------------------------------------------------


def _original_of(record: ArcWarcRecord) -> _Original:
    """A response's own identity, or, for a revisit, that of the response it refers to (so a
    revisit of a revisit still points at the bytes)."""
    warc = record.rec_headers
    if record.rec_type == "revisit":
        return _Original(
            record_id=warc.get_header("WARC-Refers-To"),
            target_uri=warc.get_header("WARC-Refers-To-Target-URI"),
            date=warc.get_header("WARC-Refers-To-Date"),
            payload_digest=warc.get_header("WARC-Payload-Digest"),
            truncated=False,
        )
    return _Original(
        record_id=warc.get_header("WARC-Record-ID"),
        target_uri=warc.get_header("WARC-Target-URI"),
        date=warc.get_header("WARC-Date"),
        payload_digest=warc.get_header("WARC-Payload-Digest"),
        truncated=bool(warc.get_header("WARC-Truncated")),
    )


def _is_the(record: ArcWarcRecord, original: _Original) -> bool:
    warc = record.rec_headers
    if original.record_id:
        return bool(warc.get_header("WARC-Record-ID") == original.record_id)
    return bool(
        warc.get_header("WARC-Target-URI") == original.target_uri
        and warc.get_header("WARC-Date") == original.date
    )


def _capture(record: ArcWarcRecord, path: Path) -> Capture:
    http = record.http_headers
    coding = (http.get_header("Content-Encoding") or "").strip().lower()
    if coding in ("", "identity"):
        stream = record.raw_stream
    elif coding in _DECOMPRESSORS:
        stream = BufferedReader(record.raw_stream, decomp_type=_DECOMPRESSORS[coding])
    else:
        raise StoreError(f"cannot decode Content-Encoding {coding!r} of a capture in {path}")
    try:
        body = stream.read()
    except zlib.error as exc:
        raise StoreError(f"cannot decode the {coding} body of a capture in {path}: {exc}") from exc
    return Capture(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        status=int(http.get_statuscode()),
        headers=decoded_headers(list(http.headers), len(body)),
        body=body,
        captured_at=record.rec_headers.get_header("WARC-Date"),
    )
