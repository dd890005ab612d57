"""parse_datetime over the formats the sites print, and what it must refuse to guess."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.text.dates import month_number, parse_datetime

BAKU = ZoneInfo("Asia/Baku")
ALMATY = ZoneInfo("Asia/Almaty")
UTC = ZoneInfo("UTC")

READABLE = [
    # ISO 8601
    ("2026-02-21T19:22:00+04:00", BAKU, "2026-02-21T19:22:00+04:00"),
    ("2026-02-21T15:22:00Z", BAKU, "2026-02-21T15:22:00+00:00"),
    ("2026-02-21T15:22:00.123z", BAKU, "2026-02-21T15:22:00+00:00"),
    ("2026-02-21T19:22:00+0400", ALMATY, "2026-02-21T19:22:00+04:00"),
    ("2026-02-21T19:22+05", BAKU, "2026-02-21T19:22:00+05:00"),
    ("2026-02-21T19:22:00", BAKU, "2026-02-21T19:22:00+04:00"),
    ("2026-02-21 19:22", ALMATY, "2026-02-21T19:22:00+05:00"),
    ("2026-02-21", BAKU, "2026-02-21T00:00:00+04:00"),
    ("  2026-02-21T19:22:00+04:00\n", BAKU, "2026-02-21T19:22:00+04:00"),
    # RFC 822 (feeds)
    ("Mon, 14 Sep 2026 01:35:00 +0400", UTC, "2026-09-14T01:35:00+04:00"),
    ("Mon, 14 Sep 2026 01:35:00 GMT", BAKU, "2026-09-14T01:35:00+00:00"),
    ("14 Sep 2026 01:35 -0500", BAKU, "2026-09-14T01:35:00-05:00"),
    ("Mon, 14 Sep 26 01:35:00 EST", BAKU, "2026-09-14T01:35:00-05:00"),
    ("Mon, 14 Sep 2026 01:35:00", BAKU, "2026-09-14T01:35:00+04:00"),
    # AZERTAC and other dotted dates
    ("21.02.2026 [19:22]", BAKU, "2026-02-21T19:22:00+04:00"),
    ("21.02.2026 19:22", BAKU, "2026-02-21T19:22:00+04:00"),
    ("21.02.2026", BAKU, "2026-02-21T00:00:00+04:00"),
    ("19:22 / 1.2.2026", BAKU, "2026-02-01T19:22:00+04:00"),
    ("Yenilənib: 08.07.2026 [10:28]", BAKU, "2026-07-08T10:28:00+04:00"),
    # Kazinform, Russian: nominative and genitive months, any case
    ("15:00, 23 Ноябрь 2025", ALMATY, "2025-11-23T15:00:00+05:00"),
    ("21:38, 18 Августа 2026", ALMATY, "2026-08-18T21:38:00+05:00"),
    ("13:51, 15 август 2025", ALMATY, "2025-08-15T13:51:00+05:00"),
    ("23 НОЯБРЯ 2025 г., 09:05", ALMATY, "2025-11-23T09:05:00+05:00"),
    ("1 мая 2026", ALMATY, "2026-05-01T00:00:00+05:00"),
    ("21 октября, 2025 • 15:22", BAKU, "2025-10-21T15:22:00+04:00"),
    ("5 сент. 2025 08:00", ALMATY, "2025-09-05T08:00:00+05:00"),
    # Kazinform, Kazakh in Latin letters: the explicit GMT offset wins over the zone
    ("17:36, 30 Qańtar 2026 | GMT +5", ALMATY, "2026-01-30T17:36:00+05:00"),
    ("17:36, 30 Qańtar 2026 | GMT +5", BAKU, "2026-01-30T17:36:00+05:00"),
    ("09:10, 2 Aqpan 2026", ALMATY, "2026-02-02T09:10:00+05:00"),
    ("11:00, 21 Naýryz 2026 | GMT +5", UTC, "2026-03-21T11:00:00+05:00"),
    ("8 Sáýir 2026", ALMATY, "2026-04-08T00:00:00+05:00"),
    ("12:00, 9 Mamyr 2026", ALMATY, "2026-05-09T12:00:00+05:00"),
    ("10 Maýsym 2026", ALMATY, "2026-06-10T00:00:00+05:00"),
    ("6 Shilde 2026 14:30", ALMATY, "2026-07-06T14:30:00+05:00"),
    ("30 Tamyz 2025", ALMATY, "2025-08-30T00:00:00+05:00"),
    ("1 Qyrkúıek 2025", ALMATY, "2025-09-01T00:00:00+05:00"),
    ("25 QAZAN 2025", ALMATY, "2025-10-25T00:00:00+05:00"),
    ("30 Qarasha 2025", ALMATY, "2025-11-30T00:00:00+05:00"),
    ("16 Jeltoqsan 2025 | GMT +6", ALMATY, "2025-12-16T00:00:00+06:00"),
    # Kazakh in Cyrillic, base forms and case endings, day-month-year and year-day-month
    ("15:00, 23 Қараша 2025", ALMATY, "2025-11-23T15:00:00+05:00"),
    ("10 қаңтар 2026", ALMATY, "2026-01-10T00:00:00+05:00"),
    ("2026 жылғы 5 ақпанда", ALMATY, "2026-02-05T00:00:00+05:00"),
    ("22 наурыз 2026 10:00", ALMATY, "2026-03-22T10:00:00+05:00"),
    ("2026 ж. 12 сәуір", ALMATY, "2026-04-12T00:00:00+05:00"),
    ("7 мамыр 2026", ALMATY, "2026-05-07T00:00:00+05:00"),
    ("1 маусымда 2026", ALMATY, "2026-06-01T00:00:00+05:00"),
    ("6 шілде 2025", ALMATY, "2025-07-06T00:00:00+05:00"),
    ("2025 жылғы 30 тамыздағы", ALMATY, "2025-08-30T00:00:00+05:00"),
    ("1 қыркүйек 2025", ALMATY, "2025-09-01T00:00:00+05:00"),
    ("25 қазан 2025", ALMATY, "2025-10-25T00:00:00+05:00"),
    ("16 желтоқсан 2025", ALMATY, "2025-12-16T00:00:00+05:00"),
    # Azerbaijani (report.az, icma.az)
    ("13 noyabr, 2025 • 16:16", BAKU, "2025-11-13T16:16:00+04:00"),
    ("Daxili siyasət • 13 noyabr, 2025 • 16:16", BAKU, "2025-11-13T16:16:00+04:00"),
    ("13 noyabr 2025 16:16", BAKU, "2025-11-13T16:16:00+04:00"),
    ("20 Oktyabr 2025 12:24", BAKU, "2025-10-20T12:24:00+04:00"),
    ("6 Dekabr 2025 15:49 (UTC +04:00)", UTC, "2025-12-06T15:49:00+04:00"),
    ("1 yanvar 2026", BAKU, "2026-01-01T00:00:00+04:00"),
    ("28 fevral 2026", BAKU, "2026-02-28T00:00:00+04:00"),
    ("15 avqust 2026", BAKU, "2026-08-15T00:00:00+04:00"),
    ("3 sentyabr 2026", BAKU, "2026-09-03T00:00:00+04:00"),
    ("18 oktyabr 2025-ci il", BAKU, "2025-10-18T00:00:00+04:00"),
    # English
    ("July 8, 2026", BAKU, "2026-07-08T00:00:00+04:00"),
    ("8 July 2026 15:50", BAKU, "2026-07-08T15:50:00+04:00"),
    ("# 24 November 2023 15:50 (UTC +04:00)", UTC, "2023-11-24T15:50:00+04:00"),
    ("Sept. 3rd, 2026 3:05 pm", BAKU, "2026-09-03T15:05:00+04:00"),
    ("December 31, 2025, 12:00 AM", BAKU, "2025-12-31T00:00:00+04:00"),
    ("Updated 9 Jan 2026 23:59 GMT", BAKU, "2026-01-09T23:59:00+00:00"),
]


@pytest.mark.parametrize(("text", "zone", "expected"), READABLE, ids=[c[0] for c in READABLE])
def test_readable(text: str, zone: ZoneInfo, expected: str) -> None:
    found = parse_datetime(text, zone)
    assert found is not None
    assert found.tzinfo is not None and found.utcoffset() is not None
    assert found.isoformat() == expected


UNREADABLE = [
    "",
    "   ",
    "© 2005-2026",
    "© 2005-2026 AZƏRTAC. Bütün hüquqlar qorunur.",
    "2026",
    "23 Ноябрь",  # no year
    "15:00, 23 Ноябрь",
    "21.02",
    "21.02 [19:22]",
    "12:30",
    "bu gün",
    "Сегодня, 15:00",
    "30.02.2026",  # no such day
    "31 April 2026",
    "2026-13-01",
    "21.02.2026 [25:10]",
    "13 Brumaire 2026",  # not a month we know
    "5 qazanda",  # Kazakh month, no year
    "Baxış sayı: 2026",
    "21.02.1850",  # outside 1900-2100
    "12/03/2026",  # day-first or month-first: not guessed
    "17:36, 30 Qańtar 2026 | GMT +25",
    "x" * 400,
]


@pytest.mark.parametrize("text", UNREADABLE)
def test_unreadable_gives_none(text: str) -> None:
    assert parse_datetime(text, BAKU) is None


@pytest.mark.parametrize(
    ("text", "offset_hours"),
    [
        ("29.02.2024 12:00", 6),  # before Kazakhstan moved to one zone
        ("29.02.2024 23:59", 6),
        ("01.03.2024 12:00", 5),  # after
        ("2024-03-02", 5),
        ("15:00, 23 Ноябрь 2023", 6),
        ("15:00, 23 Ноябрь 2025", 5),
    ],
)
def test_almaty_offset_change_in_march_2024(text: str, offset_hours: int) -> None:
    found = parse_datetime(text, ALMATY)
    assert found is not None
    assert found.utcoffset() == timedelta(hours=offset_hours)


def test_naive_time_is_local_to_the_zone_not_utc() -> None:
    baku = parse_datetime("21.02.2026 [19:22]", BAKU)
    almaty = parse_datetime("21.02.2026 [19:22]", ALMATY)
    assert baku is not None and almaty is not None
    assert baku - almaty == timedelta(hours=1)
    assert baku == datetime.fromisoformat("2026-02-21T15:22:00+00:00")


def test_the_first_printed_date_is_taken() -> None:
    found = parse_datetime("15:00, 23 Ноябрь 2025 (обновлено 24.11.2025 10:00)", ALMATY)
    assert found is not None and found.isoformat() == "2025-11-23T15:00:00+05:00"
    found = parse_datetime("21.02.2026 [19:22], yenilənib 22 fevral 2026", BAKU)
    assert found is not None and found.isoformat() == "2026-02-21T19:22:00+04:00"


def test_the_time_nearest_the_date_is_taken() -> None:
    found = parse_datetime("Baxış: 10:01 | 21.02.2026 [19:22]", BAKU)
    assert found is not None and (found.hour, found.minute) == (19, 22)


@pytest.mark.parametrize(
    ("word", "month"),
    [
        ("Qańtar", 1),
        ("QAŃTAR", 1),
        ("qantar", 1),
        ("Qañtar", 1),
        ("қарашада", 11),
        ("қаңтардағы", 1),
        ("Августа", 8),
        ("август", 8),
        ("мая", 5),
        ("Sept.", 9),
        ("İyun", 6),
        ("mart", 3),
        ("martovskiy", None),
        ("қазанның", 10),
        ("қазандық", None),
        ("brumaire", None),
    ],
)
def test_month_number(word: str, month: int | None) -> None:
    assert month_number(word) == month
