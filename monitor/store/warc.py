"""Raw captures of article pages as WARC records (warcio), so the archive can be replayed.

Each process appends to its own file per day (`warc/YYYY/MM/YYYYMMDD-<host>-<pid>.warc.gz`), one
gzip member per record, so two workers never interleave writes and a crash can at worst leave one
truncated record at the end of a file. A record is found again by (file, offset, length), which the
article row keeps. The body stored is the decoded body (content-encoding undone by the fetcher), with
headers adjusted to say so.
"""

from __future__ import annotations

import io
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from monitor import __version__
from monitor.core.errors import StoreError
from monitor.core.records import Page
from monitor.store.db import archive_error_from_os


@dataclass(frozen=True)
class WarcRef:
    file: str  # relative to the WARC directory
    offset: int
    length: int


@dataclass(frozen=True)
class Capture:
    """A response read back from a WARC record."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    captured_at: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


class WarcArchive:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, page: Page) -> WarcRef:
        """Append the response of `page` and return where it went."""
        relative = self._file_for(page.fetched_at)
        path = self.directory / relative
        record_bytes = self._record_bytes(page, with_warcinfo=not path.exists())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as handle:
                offset = handle.tell()
                handle.write(record_bytes)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:  # read-only, or full: the archive takes no more (see store.db)
            raise archive_error_from_os(exc, str(self.directory)) from exc
        return WarcRef(relative.as_posix(), offset, len(record_bytes))

    def read(self, ref: WarcRef) -> Capture:
        path = self.directory / ref.file
        try:
            with path.open("rb") as handle:
                handle.seek(ref.offset)
                chunk = handle.read(ref.length)
        except OSError as exc:
            raise StoreError(f"cannot read WARC file {path}: {exc}") from exc
        for record in ArchiveIterator(io.BytesIO(chunk)):
            if record.rec_type != "response":
                continue
            http = record.http_headers
            return Capture(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(http.get_statuscode()),
                headers=tuple(http.headers),
                body=record.content_stream().read(),
                captured_at=record.rec_headers.get_header("WARC-Date"),
            )
        raise StoreError(f"no response record at {path}:{ref.offset}")

    def _file_for(self, when: datetime) -> Path:
        name = f"{when:%Y%m%d}-{socket.gethostname()}-{os.getpid()}.warc.gz"
        return Path(f"{when:%Y}") / f"{when:%m}" / name

    def _record_bytes(self, page: Page, *, with_warcinfo: bool) -> bytes:
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=True)
        if with_warcinfo:
            info = {"software": f"az-kz-monitor/{__version__}", "format": "WARC File Format 1.1"}
            writer.write_record(writer.create_warcinfo_record("", info))
        headers = [
            (k, v)
            for k, v in page.headers
            if k.lower() not in {"content-encoding", "transfer-encoding", "content-length"}
        ]
        headers.append(("Content-Length", str(len(page.body))))
        status_line = f"{page.status} {page.reason or 'OK'}"
        http_headers = StatusAndHeaders(status_line, headers, protocol=page.http_version)
        record = writer.create_warc_record(
            page.final_url,
            "response",
            payload=io.BytesIO(page.body),
            length=len(page.body),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Date": f"{page.fetched_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
            },
        )
        writer.write_record(record)
        return buffer.getvalue()
