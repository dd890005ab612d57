"""Body bytes and their declared labels into text we can trust; the one module that imports
charset_normalizer.

The sites we follow often mislabel their charset (UTF-8 Azerbaijani pages sent as iso-8859-1,
cp1251 Russian pages sent as utf-8), so a label is evidence to check, not an answer to obey. This
module decides the charset from the bytes first, then from labels that decode cleanly, and guesses
only last, among the charsets these sites actually use. It is kept apart from fetching because the
same decision must be made again when an archived capture is re-extracted: both paths parse the
Content-Type header with `parse_content_type` and decode with `decode_text`, so a page reads the
same on the day it was fetched and on the day it is read back from the archive.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

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


def parse_content_type(header: str | None) -> tuple[str, str | None]:
    """("text/html", "UTF-8") from "text/html; charset=UTF-8"; ("", None) when there is no header.

    The charset keeps its case: it is only a label for `decode_text`, which normalises it.
    """
    if not header:
        return "", None
    media_type, *parameters = header.split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


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


def _is_textual(media_type: str) -> bool:
    return (
        not media_type  # unlabelled: try to read it
        or media_type.startswith("text/")
        or media_type in _TEXT_MEDIA_TYPES
        or media_type.endswith(("+xml", "+json"))
    )


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
