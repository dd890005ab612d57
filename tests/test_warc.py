"""Raw captures written with warcio read back byte for byte, and stay valid WARC."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from warcio.archiveiterator import ArchiveIterator

from monitor.core.records import Page, Validators
from monitor.store.warc import WarcArchive

HTML = "<html><head><title>Qazaxıstan</title></head><body><p>Ə ş ı Қазақстан</p></body></html>"


def page(url: str, body: str, when: datetime) -> Page:
    data = body.encode()
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")),
        body=data,
        text=body,
        encoding="utf-8",
        content_type="text/html",
        fetched_at=when,
        elapsed=0.1,
        attempts=1,
        validators=Validators(),
    )


def test_round_trip_of_several_records(tmp_path) -> None:
    archive = WarcArchive(tmp_path)
    when = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    refs = [
        archive.write(page(f"https://azertag.az/xeber/a-{n}", HTML + str(n), when))
        for n in range(3)
    ]
    assert len({r.file for r in refs}) == 1
    assert refs[1].offset == refs[0].offset + refs[0].length
    capture = archive.read(refs[2])
    assert capture.url == "https://azertag.az/xeber/a-2"
    assert capture.status == 200
    assert capture.body.decode() == HTML + "2"
    assert capture.header("content-encoding") is None  # body is stored decoded
    assert capture.header("content-length") == str(len((HTML + "2").encode()))
    with (tmp_path / refs[0].file).open("rb") as handle:
        types = [record.rec_type for record in ArchiveIterator(handle)]
    assert types == ["warcinfo", "response", "response", "response"]


def test_each_record_is_its_own_gzip_member(tmp_path) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write(page("https://icma.az/news/x-1", HTML, datetime(2026, 1, 2, tzinfo=UTC)))
    raw = (tmp_path / ref.file).read_bytes()[ref.offset : ref.offset + ref.length]
    assert gzip.decompress(raw).startswith(b"WARC/1")
