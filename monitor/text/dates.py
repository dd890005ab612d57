"""Reading publication dates as the sites print them, into aware datetimes.

Article pages give dates in machine formats (ISO 8601 in meta tags, RFC 822 in feeds) and in the
forms their readers see: `21.02.2026 [19:22]` on AZERTAC, `15:00, 23 Ноябрь 2025` and
`17:36, 30 Qańtar 2026 | GMT +5` on Kazinform, `13 noyabr, 2025 • 16:16` on report.az. This module
reads them all with month tables for Azerbaijani, Russian, Kazakh (Cyrillic and Latin) and English.
A time without an offset is local time in the source's zone, and zoneinfo decides the offset for
that date, so Kazakhstan's move from UTC+6 to UTC+5 on 1 March 2024 is right on both sides. An
explicit `GMT +5` or `(UTC +04:00)` wins over the zone. Anything not read with confidence, such as
a year alone (`© 2005-2026`) or a day and month without a year, gives None: a wrong date is worse
than none, because it files an article under the wrong day.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

EARLIEST_YEAR = 1900
LATEST_YEAR = 2100
_MAX_OFFSET = timedelta(hours=14)


def _fold(word: str) -> str:
    """Case- and accent-insensitive key for a month name: 'Qańtar' and 'QANTAR' give 'qantar'."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.replace("ı", "i").rstrip(".")


def _table(names_by_month: Iterable[str]) -> dict[str, int]:
    """{folded name: month number} from twelve space-separated groups of spellings."""
    table: dict[str, int] = {}
    for month, spellings in enumerate(names_by_month, start=1):
        for spelling in spellings.split():
            table[_fold(spelling)] = month
    return table


# Exact spellings: a word must equal one of these (after folding).
_EXACT_MONTHS = _table(
    [
        # English full and short, Azerbaijani, Russian nominative, genitive and short forms
        "january jan yanvar январь января янв",
        "february feb fevral февраль февраля фев февр",
        "march mar mart март марта мар",
        "april apr aprel апрель апреля апр",
        "may may май мая",
        "june jun iyun июнь июня июн",
        "july jul iyul июль июля июл",
        "august aug avqust август августа авг",
        "september sep sept sentyabr сентябрь сентября сен сент",
        "october oct oktyabr октябрь октября окт",
        "november nov noyabr ноябрь ноября ноя нояб",
        "december dec dekabr декабрь декабря дек",
    ]
)

# Kazakh stems, which take case endings: '23 қарашада', 'қаңтардағы', 'qarashadagy'.
_KAZAKH_MONTHS = _table(
    [
        "қаңтар qańtar qañtar",
        "ақпан aqpan",
        "наурыз naýryz nauryz",
        "сәуір sáýir säuir sauir",
        "мамыр mamyr",
        "маусым maýsym mausym",
        "шілде shilde şilde",
        "тамыз tamyz",
        "қыркүйек qyrkúıek qyrküiek qyrkuyek",
        "қазан qazan",
        "қараша qarasha qaraşa",
        "желтоқсан jeltoqsan",
    ]
)
_KAZAKH_ENDINGS = frozenset(
    _fold(ending)
    for endings in (
        "да де та те нда нде дағы дегі тағы тегі ның нің дың дің тың тің сы сі ы і",
        "da de ta te nda nde dagy degi tagy tegi nyn nin dyn din tyn tin sy si y i",
    )
    for ending in endings.split()
)


def month_number(word: str) -> int | None:
    """The month a word names in any of the five tables, or None."""
    key = _fold(word)
    if key in _EXACT_MONTHS:
        return _EXACT_MONTHS[key]
    for stem, month in _KAZAKH_MONTHS.items():
        if key.startswith(stem) and (key == stem or key[len(stem) :] in _KAZAKH_ENDINGS):
            return month
    return None


_ISO = re.compile(
    r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?(?![\d-])",
    re.IGNORECASE,
)
_RFC_822 = re.compile(
    r"^(?:[a-z]{3},?\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{4}|\d{2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s*(?:([+-]\d{4})|(UT|UTC|GMT|Z|[ECMP][SD]T))?$",
    re.IGNORECASE,
)
_US_ZONES = {"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}
_DOTTED = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\d.]?\d)")
_WORD = r"([^\W\d_]+)\.?"
_DAY = r"(?<![\d:.])(\d{1,2})(?:st|nd|rd|th|-?(?:ші|шы|ci|cı|cu|cü))?\.?"
_YEAR = r"(?<!\d)(\d{4})(?!\d)"
_DAY_MONTH_YEAR = re.compile(_DAY + r"\s+(?:of\s+)?" + _WORD + r",?\s+" + _YEAR, re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(r"(?<![^\W\d_])" + _WORD + r"\s+" + _DAY + r",?\s+" + _YEAR)
_YEAR_DAY_MONTH = re.compile(
    _YEAR + r"\s*(?:ж\.|жылғы|жылы|жыл)?,?\s+" + _DAY + r"\s+" + _WORD, re.IGNORECASE
)
_TIME = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)(?:\s*([ap])\.?\s?m\b\.?)?", re.IGNORECASE
)
_OFFSET = re.compile(
    r"\b(?:GMT|UTC)(?:\s*([+\-−])\s*(\d{1,2})(?::?(\d{2}))?(?!\d))?", re.IGNORECASE
)


def parse_datetime(text: str, zone: ZoneInfo) -> datetime | None:
    """The moment a date string names, aware; a time without an offset is local time in `zone`.

    Tried in order: (1) ISO 8601, (2) RFC 822, (3) the first date printed for people, either
    `DD.MM.YYYY` or a day, a month name and a year in any order the sites use, completed with
    the nearest time and any `GMT`/`UTC` offset. Without a year, a day and a month: None.
    """
    line = " ".join(unicodedata.normalize("NFC", text).split())
    if not line or len(line) > 300:
        return None
    for reader in (_read_iso, _read_rfc_822, _read_printed):
        found = reader(line, zone)
        if found is not None:
            return found
    return None


def _read_iso(line: str, zone: ZoneInfo) -> datetime | None:
    match = _ISO.search(line)
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    moment = _build(int(year), int(month), int(day), _time_parts(hour, minute, second), zone)
    if moment is None or offset is None:
        return moment
    if offset.upper() == "Z":
        return moment.replace(tzinfo=UTC)
    explicit = _offset_zone(offset[0], offset[1:3], offset[3:].lstrip(":"))
    return moment.replace(tzinfo=explicit) if explicit else None


def _read_rfc_822(line: str, zone: ZoneInfo) -> datetime | None:
    match = _RFC_822.match(line)
    month = month_number(match.group(2)) if match else None
    if not match or month is None:
        return None
    day, _, year, hour, minute, second, numeric, named = match.groups()
    full_year = int(year) + (2000 if int(year) < 50 else 1900) if len(year) == 2 else int(year)
    moment = _build(full_year, month, int(day), _time_parts(hour, minute, second), zone)
    if moment is None:
        return None
    if numeric:
        explicit = _offset_zone(numeric[0], numeric[1:3], numeric[3:])
    elif named:
        explicit = timezone(timedelta(hours=_US_ZONES.get(named.upper(), 0)))
    else:
        return moment
    return moment.replace(tzinfo=explicit) if explicit else None


_PrintedDate = tuple[tuple[int, int], tuple[int, int, int]]  # (span, (year, month, day))


def _read_printed(line: str, zone: ZoneInfo) -> datetime | None:
    """The first date printed for people: `21.02.2026` or a day, month name and year."""
    found = [*_dotted_dates(line), *_named_month_dates(line)]
    if not found:
        return None
    span, (year, month, day) = min(found, key=lambda candidate: candidate[0][0])
    return _with_time_and_offset(line, span, year, month, day, zone)


def _dotted_dates(line: str) -> list[_PrintedDate]:
    match = _DOTTED.search(line)
    if not match:
        return []
    day, month, year = (int(part) for part in match.groups())
    return [(match.span(), (year, month, day))]


def _named_month_dates(line: str) -> list[_PrintedDate]:
    found = []
    for pattern, order in (
        (_DAY_MONTH_YEAR, "dmy"),
        (_MONTH_DAY_YEAR, "mdy"),
        (_YEAR_DAY_MONTH, "ydm"),
    ):
        for match in pattern.finditer(line):
            parts = dict(zip(order, match.groups(), strict=True))
            month = month_number(parts["m"])
            if month is not None:
                found.append((match.span(), (int(parts["y"]), month, int(parts["d"]))))
                break
    return found


def _with_time_and_offset(
    line: str, date_span: tuple[int, int], year: int, month: int, day: int, zone: ZoneInfo
) -> datetime | None:
    """Complete a date found at `date_span` with the nearest time and any GMT/UTC offset."""
    rest = _blank(line, date_span)
    explicit: tzinfo | None = None
    offset = _OFFSET.search(rest)
    if offset:
        sign, hours, minutes = offset.groups()
        explicit = _offset_zone(sign, hours, minutes) if sign else UTC
        if explicit is None:
            return None
        rest = _blank(rest, offset.span())
    times = list(_TIME.finditer(rest))
    clock: tuple[int, int, int] | None = (0, 0, 0)
    if times:
        nearest = min(times, key=lambda found: _distance(found.span(), date_span))
        clock = _clock(nearest)
    if clock is None:
        return None
    moment = _build(year, month, day, clock, zone)
    if moment is None or explicit is None:
        return moment
    return moment.replace(tzinfo=explicit)


def _clock(match: re.Match[str]) -> tuple[int, int, int] | None:
    hour, minute, second, half = match.groups()
    parts = _time_parts(hour, minute, second)
    if parts is None or half is None:
        return parts
    if not 1 <= parts[0] <= 12:
        return None
    base = parts[0] % 12
    return (base + 12 if half.lower() == "p" else base, parts[1], parts[2])


def _time_parts(hour: str | None, minute: str | None, second: str | None) -> tuple[int, int, int]:
    return (int(hour or 0), int(minute or 0), int(second or 0))


def _build(
    year: int, month: int, day: int, clock: tuple[int, int, int] | None, zone: ZoneInfo
) -> datetime | None:
    if clock is None or not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return None
    try:
        return datetime(year, month, day, *clock, tzinfo=zone)
    except ValueError:  # 30 February, 25:00 and the like
        return None


def _offset_zone(sign: str, hours: str, minutes: str | None) -> tzinfo | None:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > _MAX_OFFSET or int(minutes or 0) >= 60:
        return None
    return timezone(-delta if sign in "-−" else delta)


def _blank(line: str, span: tuple[int, int]) -> str:
    """The line with one span replaced by spaces, so positions elsewhere stay the same."""
    start, end = span
    return line[:start] + " " * (end - start) + line[end:]


def _distance(span: tuple[int, int], other: tuple[int, int]) -> int:
    return max(other[0] - span[1], span[0] - other[1], 0)
