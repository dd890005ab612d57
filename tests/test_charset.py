"""Charset decisions on bytes alone: no server, because the label-versus-bytes rules are pure.

The fetcher's end-to-end charset cases (mislabelled pages served over HTTP) stay in test_fetch.py;
these pin the decisions themselves, and that fetching and re-extraction read a Content-Type alike.
"""

from __future__ import annotations

import pytest

from monitor.crawl.charset import decode_text, parse_content_type


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ("", None)),
        ("", ("", None)),
        ("text/html", ("text/html", None)),
        ("text/html; charset=UTF-8", ("text/html", "UTF-8")),
        ('TEXT/HTML ; Charset="koi8-r"', ("text/html", "koi8-r")),
        ("text/html; charset='cp1251'", ("text/html", "cp1251")),
        ("application/rss+xml; q=1; charset=windows-1251", ("application/rss+xml", "windows-1251")),
        ("text/html; charset=", ("text/html", None)),
        ("application/pdf", ("application/pdf", None)),
    ],
)
def test_parse_content_type(header: str | None, expected: tuple[str, str | None]) -> None:
    assert parse_content_type(header) == expected


def test_a_body_without_content_type_is_still_read_as_text() -> None:
    # Re-extraction relies on this for captures archived without a Content-Type header.
    body = "Qazaxıstan".encode()
    assert decode_text(body, *parse_content_type(None)) == ("Qazaxıstan", "utf-8")


def test_a_declared_label_is_used_in_any_case_and_quoting() -> None:
    body = "Привет мир".encode("cp1251")
    for header in ("text/html; charset=CP1251", "text/html; charset='windows-1251'"):
        assert decode_text(body, *parse_content_type(header)) == ("Привет мир", "cp1251")


@pytest.mark.parametrize(
    ("body", "media_type", "declared", "text", "encoding"),
    [
        (b"plain", "text/html", None, "plain", "ascii"),
        ("Qazaxıstan".encode(), "text/html", "windows-1251", "Qazaxıstan", "utf-8"),
        ("\ufeffşəhər".encode("utf-16-le"), "text/plain", None, "şəhər", "utf-16"),
        ("şəhər".encode("utf-16-le"), "text/plain", "utf-16-le", "şəhər", "utf-16-le"),
        (
            '<?xml version="1.0" encoding="koi8-r"?><t>Привет мир</t>'.encode("koi8-r"),
            "application/rss+xml",
            None,
            '<?xml version="1.0" encoding="koi8-r"?><t>Привет мир</t>',
            "koi8-r",
        ),
        (b"\x89PNG\r\n\x1a\n", "image/png", None, "", None),
        (b"%PDF-1.4", "application/octet-stream", None, "", None),
        (b"", "text/html", None, "", None),
    ],
)
def test_decode_text(
    body: bytes, media_type: str, declared: str | None, text: str, encoding: str | None
) -> None:
    assert decode_text(body, media_type, declared) == (text, encoding)
