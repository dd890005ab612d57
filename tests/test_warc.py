"""WARC captures an archivist can trust: checked by warcio's own checker, replayed by pywb.

Pages come through the real fetcher from a small server on 127.0.0.1 that sends gzip-encoded
bodies, sized or chunked, so the records hold what a socket really carried: the request as sent,
the response with its raw bytes and original headers, a truncated body marked, and a revisit for a
page fetched again unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import os
import select
import subprocess
import sys
import threading
from argparse import Namespace
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import missing
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from monitor.config.settings import Settings
from monitor.core.records import Page, Validators
from monitor.crawl.fetch import Fetcher
from monitor.store.warc import WarcArchive, WarcRef

HTML = "<html><head><title>Qazaxıstan</title></head><body><p>Ə ş ı Қазақстан</p></body></html>"
ARTICLE = "Astana və Bakı arasında yeni bərə xətti açıldı; Ақтау порты жүктерді қабылдайды."
ARTICLE_HTML = f"<!DOCTYPE html><html><head><title>Bərə</title></head><body><p>{ARTICLE}</p></body>"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
DAY = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


# -- a server that sends encoded bodies -----------------------------------------------------------


@dataclass
class Reply:
    wire: bytes  # the body as sent, already content-encoded
    content_type: str = "text/html; charset=utf-8"
    encoding: str | None = "gzip"
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length


class WireSite:
    """Serves `replies` by path; a reply can be swapped between fetches to change the page."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.site = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> WireSite:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        reply = self.server.site.replies.get(self.path.split("?")[0])  # type: ignore[attr-defined]
        if reply is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", reply.content_type)
        if reply.encoding:
            self.send_header("Content-Encoding", reply.encoding)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(reply.wire), 1000):
                piece = reply.wire[start : start + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(reply.wire)))
            self.end_headers()
            self.wfile.write(reply.wire)


@pytest.fixture
def site() -> Iterator[WireSite]:
    with WireSite() as running:
        yield running


def fetch(url: str, when: datetime = DAY, cap: int = 5_000_000) -> Page:
    """One GET through the real fetcher, its clock stopped at `when`."""
    settings = Settings(
        _env_file=None,
        allow_private_hosts=True,
        per_host_delay=0.0,
        max_body_bytes=cap,
    )

    async def main() -> Page:
        async with Fetcher(settings, now=lambda: when) as fetcher:
            return await fetcher.get(url, check_robots=False)

    return asyncio.run(main())


# -- reading the files as an archivist would ------------------------------------------------------


@dataclass(frozen=True)
class Record:
    type: str
    warc: dict[str, str]
    http: dict[str, str]
    http_line: str  # the status line, or the request line
    payload: bytes  # as stored, nothing decoded


def records(path: Path) -> list[Record]:
    with path.open("rb") as handle:
        return [
            Record(
                type=r.rec_type,
                warc=dict(r.rec_headers.headers),
                http=dict(r.http_headers.headers) if r.http_headers else {},
                http_line=(
                    f"{r.http_headers.protocol} {r.http_headers.statusline}"
                    if r.http_headers
                    else ""
                ),
                payload=r.raw_stream.read(),
            )
            for r in ArchiveIterator(handle)
        ]


def warcio_check(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """`warcio check -v`: exit value 0, and its report, one line per record."""
    capsys.readouterr()
    assert Checker(Namespace(inputs=[str(path)], verbose=True)).process_all() == 0
    report = capsys.readouterr().out
    assert "fail" not in report.lower(), report
    return [line.strip() for line in report.splitlines() if line.startswith("    ")]


def by_id(found: list[Record], record_id: str) -> Record:
    return next(r for r in found if r.warc["WARC-Record-ID"] == record_id)


def record_at(archive: WarcArchive, ref: WarcRef) -> Record:
    """The record a ref points at, read from its offset alone, as a CDX reader would."""
    path = archive.directory / ref.file
    with path.open("rb") as handle:
        handle.seek(ref.offset)
        record_id = next(iter(ArchiveIterator(handle))).rec_headers.get_header("WARC-Record-ID")
    return by_id(records(path), record_id)


# -- pages built without a wire (tests, older callers) --------------------------------------------


def page(url: str, body: str, when: datetime) -> Page:
    data = body.encode()
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))),
        body=data,
        text=body,
        encoding="utf-8",
        content_type="text/html",
        fetched_at=when,
        elapsed=0.1,
        attempts=1,
        validators=Validators(),
    )


def test_round_trip_of_several_records(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    refs = [
        archive.write(page(f"https://azertag.az/xeber/a-{n}", HTML + str(n), DAY)) for n in range(3)
    ]
    assert len({r.file for r in refs}) == 1
    assert refs[1].offset > refs[0].offset + refs[0].length  # its request record lies between
    capture = archive.read(refs[2])
    assert capture.url == "https://azertag.az/xeber/a-2"
    assert capture.status == 200
    assert capture.body.decode() == HTML + "2"
    assert capture.header("content-encoding") is None
    assert capture.header("content-length") == str(len((HTML + "2").encode()))
    found = records(tmp_path / refs[0].file)
    assert [r.type for r in found] == ["warcinfo", *["response", "request"] * 3]
    assert found[0].warc["WARC-Type"] == "warcinfo" and all(
        r.warc.get("WARC-Filename") is None for r in found
    )


def test_each_record_is_its_own_gzip_member(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write(page("https://icma.az/news/x-1", HTML, datetime(2026, 1, 2, tzinfo=UTC)))
    raw = (tmp_path / ref.file).read_bytes()[ref.offset : ref.offset + ref.length]
    assert gzip.decompress(raw).startswith(b"WARC/1.1\r\nWARC-Date: 2026-01-02T00:00:00Z")


def test_writes_from_many_threads_each_get_their_own_ref(tmp_path: Path) -> None:
    # The pipeline writes from worker threads into the one file of the process and day.
    archive = WarcArchive(tmp_path)
    urls = [f"https://kaztag.kz/ru/news/n-{n}" for n in range(24)]
    with ThreadPoolExecutor(8) as pool:
        refs = list(pool.map(lambda url: archive.write(page(url, HTML + url, DAY)), urls))
    assert [archive.read(ref).url for ref in refs] == urls
    found = records(tmp_path / refs[0].file)
    assert [r.type for r in found].count("warcinfo") == 1 and found[0].type == "warcinfo"


# -- what went over the wire ----------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_a_gzip_page_is_stored_as_received_with_its_request(
    site: WireSite, tmp_path: Path, capsys: pytest.CaptureFixture[str], chunked: bool
) -> None:
    wire = gzip.compress(ARTICLE_HTML.encode(), mtime=0)
    site.replies["/xeber/bere"] = Reply(wire, chunked=chunked)
    fetched = fetch(site.url("/xeber/bere?id=7"))
    assert fetched.raw_body == wire and not fetched.truncated
    archive = WarcArchive(tmp_path)
    ref = archive.write(fetched)

    found = records(tmp_path / ref.file)
    assert [r.type for r in found] == ["warcinfo", "response", "request"]
    response, request = found[1], found[2]
    assert record_at(archive, ref) == response  # the ref is the response record itself
    assert response.payload == wire  # the bytes the site sent, not our decoding of them
    assert response.http["Content-Encoding"] == "gzip"
    assert response.http_line == "HTTP/1.1 200 OK"
    assert "Transfer-Encoding" not in response.http  # the client undid the chunking
    assert response.http.get("Content-Length") == (None if chunked else str(len(wire)))
    assert response.warc["WARC-Target-URI"] == site.url("/xeber/bere?id=7")
    assert response.warc["WARC-Date"] == "2026-11-21T08:00:00Z"
    assert "WARC-Truncated" not in response.warc

    assert request.warc["WARC-Concurrent-To"] == response.warc["WARC-Record-ID"]
    assert request.warc["WARC-Target-URI"] == response.warc["WARC-Target-URI"]
    assert request.warc["WARC-Date"] == response.warc["WARC-Date"]
    assert request.http_line == "GET /xeber/bere?id=7 HTTP/1.1"
    assert request.http["Accept-Encoding"] == "gzip, deflate"
    assert request.http["Host"] == site.url("").removeprefix("http://")
    assert "az-kz-monitor" in request.http["User-Agent"]

    report = warcio_check(tmp_path / ref.file, capsys)
    assert report == ["digest pass"] * 3  # warcinfo, response, request

    capture = archive.read(ref)  # decoded again, for extraction
    assert capture.body.decode() == ARTICLE_HTML
    assert capture.header("content-encoding") is None
    assert capture.header("content-length") == str(len(ARTICLE_HTML.encode()))


def test_a_body_longer_on_the_wire_than_the_cap_is_marked_truncated(
    site: WireSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Incompressible bytes grow under gzip: the decoded body fits the cap, the wire bytes do not.
    cap = 4096
    decoded = os.urandom(cap)
    wire = gzip.compress(decoded, mtime=0)
    assert len(wire) > cap
    site.replies["/blob"] = Reply(wire, content_type="application/octet-stream", chunked=True)
    fetched = fetch(site.url("/blob"), cap=cap)
    assert fetched.body == decoded and fetched.truncated
    assert fetched.raw_body == wire[:cap]
    archive = WarcArchive(tmp_path)
    ref = archive.write(fetched)

    response = record_at(archive, ref)
    assert response.warc["WARC-Truncated"] == "length"
    assert response.payload == wire[:cap]
    assert warcio_check(tmp_path / ref.file, capsys) == ["digest pass"] * 3
    assert decoded.startswith(archive.read(ref).body)  # as much as the kept bytes decode to


# -- revisits -------------------------------------------------------------------------------------


def test_an_unchanged_refetch_is_a_revisit_that_reads_back_as_the_original(
    site: WireSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.replies["/xeber/bere"] = Reply(gzip.compress(ARTICLE_HTML.encode(), mtime=0))
    archive = WarcArchive(tmp_path)
    first = archive.write(fetch(site.url("/xeber/bere"), DAY))
    second = archive.write(fetch(site.url("/xeber/bere"), DAY + timedelta(days=1)), prior=first)
    third = archive.write(fetch(site.url("/xeber/bere"), DAY + timedelta(days=2)), prior=second)
    assert not first.revisit and second.revisit and third.revisit
    assert len({first.file, second.file, third.file}) == 3  # one file a day

    original = record_at(archive, first)
    for ref, day in ((second, "2026-11-22"), (third, "2026-11-23")):
        found = records(tmp_path / ref.file)
        assert [r.type for r in found] == ["warcinfo", "revisit", "request"]
        revisit, request = found[1], found[2]
        assert revisit.warc["WARC-Profile"] == REVISIT_PROFILE
        assert revisit.warc["WARC-Date"].startswith(day)
        # a revisit of a revisit still names the response that holds the bytes
        assert revisit.warc["WARC-Refers-To"] == original.warc["WARC-Record-ID"]
        assert revisit.warc["WARC-Refers-To-Target-URI"] == original.warc["WARC-Target-URI"]
        assert revisit.warc["WARC-Refers-To-Date"] == original.warc["WARC-Date"]
        assert revisit.warc["WARC-Payload-Digest"] == original.warc["WARC-Payload-Digest"]
        assert revisit.payload == b"" and revisit.http["Content-Encoding"] == "gzip"
        assert request.warc["WARC-Concurrent-To"] == revisit.warc["WARC-Record-ID"]
        report = warcio_check(tmp_path / ref.file, capsys)
        assert report == ["digest pass", "digest present but not checked (revisit)", "digest pass"]
        assert archive.read(ref) == archive.read(first)


def test_a_changed_refetch_is_a_full_response(site: WireSite, tmp_path: Path) -> None:
    site.replies["/xeber/bere"] = Reply(gzip.compress(ARTICLE_HTML.encode(), mtime=0))
    archive = WarcArchive(tmp_path)
    first = archive.write(fetch(site.url("/xeber/bere")))
    changed = ARTICLE_HTML.replace("açıldı", "açılıb")
    site.replies["/xeber/bere"] = Reply(gzip.compress(changed.encode(), mtime=0))
    second = archive.write(fetch(site.url("/xeber/bere")), prior=first)
    assert not second.revisit
    assert record_at(archive, second).type == "response"
    assert archive.read(second).body.decode() == changed


def test_a_truncated_body_is_never_a_revisit(site: WireSite, tmp_path: Path) -> None:
    wire = gzip.compress(os.urandom(4096), mtime=0)
    site.replies["/blob"] = Reply(wire, content_type="application/octet-stream", chunked=True)
    archive = WarcArchive(tmp_path)
    first = archive.write(fetch(site.url("/blob"), cap=4096))
    second = archive.write(fetch(site.url("/blob"), cap=4096), prior=first)
    assert not second.revisit  # equal first 4096 bytes say nothing of the rest


def test_an_unreadable_prior_gives_a_full_response(site: WireSite, tmp_path: Path) -> None:
    site.replies["/xeber/bere"] = Reply(gzip.compress(ARTICLE_HTML.encode(), mtime=0))
    archive = WarcArchive(tmp_path)
    ref = archive.write(fetch(site.url("/xeber/bere")), prior=WarcRef("gone.warc.gz", 0, 99))
    assert not ref.revisit and archive.read(ref).body.decode() == ARTICLE_HTML


# -- replay by pywb -------------------------------------------------------------------------------

PYWB_SERVER = """\
from gevent.monkey import patch_all; patch_all()
from gevent.pywsgi import WSGIServer
from pywb.apps.frontendapp import FrontEndApp
server = WSGIServer(("127.0.0.1", 0), FrontEndApp(), log=None)
server.start()
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def pywb_collection(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A pywb root with an empty collection `news`, served by pywb's own WSGI app in a process of
    its own (pywb patches the standard library with gevent when imported); yields the archive
    folder to put WARCs in and the replay prefix. The index is built by the test."""
    if importlib.util.find_spec("pywb") is None:
        missing("pywb is not installed: pip install -e '.[dev]'")
    root = tmp_path / "pywb"
    archive = root / "collections" / "news" / "archive"
    archive.mkdir(parents=True)
    (root / "collections" / "news" / "indexes").mkdir()
    (root / "config.yaml").write_text("collections_root: collections\n")
    log = root / "pywb.log"  # a file, not a pipe: nobody reads it while the server runs
    with log.open("w") as errors:
        server = subprocess.Popen(
            [sys.executable, "-c", PYWB_SERVER], cwd=root, stdout=subprocess.PIPE, stderr=errors
        )
    assert server.stdout is not None
    try:
        ready, _, _ = select.select([server.stdout], [], [], 60)
        port = server.stdout.readline().decode().strip() if ready else ""
        if not port.isdigit():
            pytest.fail(f"pywb did not start: {log.read_text()[-2000:]}")
        yield archive, f"http://127.0.0.1:{port}/news"
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def test_pywb_replays_the_capture_and_the_revisit(
    site: WireSite, tmp_path: Path, pywb_collection: tuple[Path, str]
) -> None:
    site.replies["/xeber/bere"] = Reply(gzip.compress(ARTICLE_HTML.encode(), mtime=0))
    url = site.url("/xeber/bere")
    archive = WarcArchive(tmp_path / "warc")
    first = archive.write(fetch(url, DAY))
    later = DAY + timedelta(days=1, hours=2)
    assert archive.write(fetch(url, later), prior=first).revisit

    collection, replay = pywb_collection
    for path in (tmp_path / "warc").rglob("*.warc.gz"):
        (collection / path.name).write_bytes(path.read_bytes())
    index = collection.parent / "indexes" / "index.cdxj"
    indexer = Path(sys.executable).with_name("cdx-indexer")
    subprocess.run([indexer, "-j", "-s", "-o", index, collection], check=True, timeout=60)
    lines = index.read_text().splitlines()
    assert len(lines) == 2
    assert '"mime": "text/html"' in lines[0] and '"mime": "warc/revisit"' in lines[1]

    with httpx.Client(timeout=30) as client:
        for when in (DAY, later):
            # id_: the archived response as it was sent, no rewriting by pywb
            reply = client.get(f"{replay}/{when:%Y%m%d%H%M%S}id_/{url}")
            assert reply.status_code == 200, reply.text
            assert reply.headers["content-encoding"] == "gzip"
            assert reply.headers["memento-datetime"] == f"{when:%a, %d %b %Y %H:%M:%S GMT}"
            assert ARTICLE in reply.text
