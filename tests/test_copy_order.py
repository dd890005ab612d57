"""Same input, same archive: which copy is the original never depends on the order of arrival.

The pure ranking of `monitor.dedupe.original` table by table, then the same pairs and triples of
copies stored in every order into a real SQLite archive through the pipeline's dedupe step: each
order must end with the same original and every other copy linked to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import permutations
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlmodel import select

from monitor.config.attribution import ATTRIBUTION_LINES, compile_attribution
from monitor.dedupe.original import (
    NO_DATE,
    NO_TIME,
    Copy,
    credit,
    credited_outlets,
    local_day_and_minute,
    original,
    site_names,
)
from monitor.service.dedupe import dedupe_archive, dedupe_in_order
from monitor.store import ArticleRecord, Store
from monitor.store.sketch_rows import mark_copy
from monitor.store.tables import Article, DedupeBand, DedupeFingerprint, DedupeSketch

TEXTS = Path(__file__).parent / "fixtures" / "dedupe" / "texts"
PATTERNS = compile_attribution()
BAKU = timezone(timedelta(hours=4))
ASTANA = timezone(timedelta(hours=5))
DAY = datetime(2026, 11, 20, tzinfo=BAKU)


def text(name: str, *extra: str) -> str:
    return "\n\n".join([(TEXTS / f"{name}.txt").read_text(encoding="utf-8"), *extra])


# --- the attribution patterns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "outlet"),
    [
        ("Mənbə: 525.az", "525.az"),
        ("MƏNBƏ: https://525.az", "https://525.az"),
        ("Mənbə - APA", "APA"),
        ("Источник: Kazinform", "Kazinform"),
        ("Дереккөз: Kazinform", "Kazinform"),
        ("Derekkoz: inform.kz", "inform.kz"),
        ("Source: Trend", "Trend"),
        ("(Kaynak: Anadolu Ajansı)", "Anadolu Ajansı"),
        ("525.az saytından alınan məlumatlara görə, Icma.az xəbər verir.", "525.az"),
        ("Источник фото: пресс-служба", None),  # credits a picture
        ("Фото: Kazinform", None),
        ("Как сообщает источник: в Баку…", None),  # not at the start of the line
    ],
)
def test_attribution_lines_name_the_outlet(line: str, outlet: str | None) -> None:
    found = credited_outlets(f"Birinci abzas.\n{line}\nSonuncu abzas.", PATTERNS)
    assert found == ([outlet] if outlet else [])


def test_every_attribution_pattern_names_an_outlet() -> None:
    assert len(compile_attribution()) == len(ATTRIBUTION_LINES)
    with pytest.raises(ValueError, match="outlet"):
        compile_attribution((r"^Mənbə:\s*.+$",))


# --- the pure decision -------------------------------------------------------------------------


def copy(url: str, when: datetime | None, body: str = "Mətn.", **changes: object) -> Copy:
    offset = when.utcoffset() if when else None
    made = Copy(
        reference=url,
        url=url,
        text=body,
        published_at=when.astimezone(UTC) if when else None,
        offset_minutes=int(offset.total_seconds() // 60) if offset else 0,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("https://525.az/news/1", ("525.az", "525")),
        ("https://www.inform.kz/ru/x", ("inform.kz", "inform")),
        ("https://kaz.inform.kz/news/x/", ("kaz.inform.kz", "inform")),
        ("https://xalqqazeti.com.az/az/x", ("xalqqazeti.com.az", "xalqqazeti")),
        ("https://tv.az/x", ("tv.az",)),  # a two-letter name would be found in other words
        ("seed:003_50356239f90487a7", ()),
    ],
)
def test_site_names(url: str, names: tuple[str, ...]) -> None:
    assert site_names(url) == names


def test_local_day_and_minute() -> None:
    noon = datetime(2026, 11, 20, 23, 30, tzinfo=BAKU)
    assert local_day_and_minute(noon.astimezone(UTC), 240) == (noon.toordinal(), 23 * 60 + 30)
    midnight = datetime(2026, 11, 20, tzinfo=ASTANA)  # how a bare date is stored
    assert local_day_and_minute(midnight.astimezone(UTC), 300) == (midnight.toordinal(), NO_TIME)
    assert local_day_and_minute(None, 0) == (NO_DATE, NO_TIME)


def test_credit_levels() -> None:
    outlet = copy("https://www.inform.kz/ru/a-1", DAY, "Источник: пресс-служба МИД РК")
    own = copy("https://www.inform.kz/ru/a-2", DAY, "Источник: Kazinform")
    copier = copy("https://camonitor.kz/a", DAY, "Источник: Kazinform")
    linker = copy("https://icma.az/a", DAY, "Mətn.\nBax: https://www.inform.kz/ru/a-1")
    assert credit(outlet, copier, PATTERNS) == 1  # credits someone, not the copier
    assert credit(own, copier, PATTERNS) == 0  # credits its own site
    assert credit(copier, outlet, PATTERNS) == 2  # names the other's outlet
    assert credit(linker, outlet, PATTERNS) == 2  # links to it
    assert credit(outlet, linker, PATTERNS) == 1


OUTLET = "https://525.az/news/312784-orta-dehliz"
ICMA = "https://icma.az/story/orta-dehliz-1318842"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10, minute=15)),
            copy(ICMA, DAY.replace(hour=10, minute=15), "Mənbə: 525.az", aggregator=True),
            OUTLET,
            id="same minute: the credit decides",
        ),
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10, minute=15)),
            copy(ICMA, DAY.replace(hour=9, minute=40), "Mənbə: 525.az"),
            OUTLET,
            id="same day, the crediting copy stamped earlier",
        ),
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10, minute=15)),
            copy(ICMA, DAY - timedelta(days=1), "Mənbə: 525.az"),
            ICMA,
            id="a day earlier: time first, whatever it credits",
        ),
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10, minute=15)),
            copy(ICMA, DAY.replace(hour=9), aggregator=True),
            OUTLET,
            id="same day, no credit: the aggregator is the copy",
        ),
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10, minute=15)),
            copy(ICMA, DAY.replace(hour=9)),
            ICMA,
            id="same day, nothing else: the earlier minute",
        ),
        pytest.param(
            copy(OUTLET, DAY),  # a bare date
            copy(ICMA, DAY.replace(hour=23)),
            ICMA,
            id="a bare date ranks after a time of that day",
        ),
        pytest.param(
            copy(OUTLET, None),
            copy(ICMA, DAY + timedelta(days=30), aggregator=True),
            ICMA,
            id="an unknown date ranks after any date",
        ),
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10)),
            copy(ICMA, DAY.replace(hour=10)),
            OUTLET,  # "https://525…" sorts before "https://icma…"
            id="all equal: the smaller reference",
        ),
        pytest.param(
            copy(OUTLET, DAY.replace(hour=10)),
            copy("seed:003", None, "Mənbə: 525.az", aggregator=True, seed=True),
            "seed:003",
            id="a seed is the baseline",
        ),
    ],
)
def test_the_original_of_two_copies(a: Copy, b: Copy, expected: str) -> None:
    assert original(a, b, PATTERNS).reference == expected
    assert original(b, a, PATTERNS).reference == expected


# --- in a real archive, in every order ---------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One copy to archive: a fixture text under a site's URL and date."""

    name: str
    source: str
    url: str
    text: str
    published_at: datetime | None

    def record(self) -> ArticleRecord:
        return ArticleRecord(
            source=self.source,
            key=f"url:{self.url}",
            aliases=(f"url:{self.url}",),
            url=self.url,
            title=self.name,
            text=self.text,
            author=None,
            lang=None,
            published_at=self.published_at,
            date_source="page" if self.published_at else "unknown",
            listed_at=None,
            fetched_at=DAY + timedelta(days=1),
            content_hash=self.name,
            extraction="selectors",
            http_status=200,
            warc=None,
        )


def archive_in_order(
    path: Path, copies: tuple[Stored, ...], aggregators: frozenset[str]
) -> dict[str, str | None]:
    """Store the copies one by one, each deduped as the pipeline does; {name: duplicate_of}."""
    store = Store.open(f"sqlite:///{path}")
    try:
        for item in copies:
            store.save_article(item.record())
            with store.session() as session:
                article_id = session.exec(select(Article.id).where(Article.url == item.url)).one()
            assert article_id is not None
            dedupe_in_order(store, aggregators, article_id)
        first = {a.title: a.duplicate_of for a in store.articles()}
        for article in store.articles():  # deduping again (a re-run) changes nothing
            assert article.id is not None
            dedupe_in_order(store, aggregators, article.id)
        assert {a.title: a.duplicate_of for a in store.articles()} == first
        return first
    finally:
        store.close()


def assert_same_original_in_every_order(
    tmp_path: Path, copies: tuple[Stored, ...], expected: str, aggregators: frozenset[str]
) -> None:
    by_name = {c.name: c for c in copies}
    want = {c.name: None if c.name == expected else by_name[expected].url for c in copies}
    for number, order in enumerate(permutations(copies)):
        got = archive_in_order(tmp_path / f"order{number}.db", order, aggregators)
        assert got == want, f"arrival order {[c.name for c in order]}"


A525 = Stored(
    "525",
    "525az",
    "https://525.az/news/312784-orta-dehliz",
    text("az_525_original"),
    DAY.replace(hour=10, minute=15),
)
ICMA_COPY = Stored(
    "icma",
    "icma",
    "https://icma.az/story/orta-dehliz-1318842",
    text("seed_003", "Mənbə: 525.az"),
    DAY.replace(hour=10, minute=15),
)


def test_an_aggregator_copy_crediting_the_outlet_on_the_same_date(tmp_path: Path) -> None:
    """The fault trial: "Mənbə: 525.az" on icma.az, both stamped 10:15."""
    assert_same_original_in_every_order(tmp_path, (A525, ICMA_COPY), "525", frozenset({"icma"}))


def test_the_credit_decides_even_unflagged_and_stamped_earlier(tmp_path: Path) -> None:
    early = replace(ICMA_COPY, published_at=DAY.replace(hour=9, minute=40))
    assert_same_original_in_every_order(tmp_path, (A525, early), "525", frozenset())


KAZINFORM = Stored(
    "kazinform",
    "kazinform-ru",
    "https://www.inform.kz/ru/kazakhstan-i-azerbaydzhan-uvelichat-tranzit-a1b2c3",
    text("ru_news"),
    datetime(2026, 11, 20, 10, 15, tzinfo=ASTANA),
)
COPIER = Stored(
    "copier",
    "camonitor",
    "https://camonitor.kz/ru/news/tranzit-nefti-cherez-baku",
    text("ru_news_copy"),  # ends with "Источник: Kazinform"
    datetime(2026, 11, 20, 9, 40, tzinfo=ASTANA),
)


def test_a_copy_stamped_earlier_that_credits_kazinform(tmp_path: Path) -> None:
    assert "Источник: Kazinform" in COPIER.text
    assert_same_original_in_every_order(tmp_path, (KAZINFORM, COPIER), "kazinform", frozenset())


def test_a_copy_a_day_earlier_stays_the_original_time_first(tmp_path: Path) -> None:
    """The issue's order: a day apart, the earlier text wins whatever it credits."""
    earlier = replace(COPIER, published_at=datetime(2026, 11, 19, 9, 40, tzinfo=ASTANA))
    assert_same_original_in_every_order(tmp_path, (KAZINFORM, earlier), "copier", frozenset())


def test_an_outlet_and_an_aggregator_on_the_same_date(tmp_path: Path) -> None:
    """No credit on either side (icma's drop_lines strip its attribution line): the flag decides,
    though the aggregator's page is stamped earlier that day."""
    silent = replace(ICMA_COPY, text=text("seed_003"), published_at=DAY.replace(hour=9))
    assert_same_original_in_every_order(tmp_path, (A525, silent), "525", frozenset({"icma"}))


REPORT_COPY = Stored(
    "report",
    "report",
    "https://report.az/xarici-siyaset/orta-dehliz",
    text("az_003_edited"),
    DAY.replace(hour=12, minute=5),
)


def test_three_copies_in_every_order(tmp_path: Path) -> None:
    """The outlet, the aggregator crediting it and a third site's edited copy: six orders of
    arrival, one original, both copies linked to it."""
    assert_same_original_in_every_order(
        tmp_path, (A525, ICMA_COPY, REPORT_COPY), "525", frozenset({"icma"})
    )


def test_three_copies_with_bare_and_unknown_dates(tmp_path: Path) -> None:
    """A bare date ties no time of its day and an unknown date ranks last: still one ranking.
    The third site's copy stamped 12:05 beats the outlet's bare date; the aggregator's copy has
    no date at all."""
    bare = replace(A525, published_at=DAY)
    undated = replace(ICMA_COPY, text=text("seed_003"), published_at=None)
    assert_same_original_in_every_order(
        tmp_path, (bare, undated, REPORT_COPY), "report", frozenset({"icma"})
    )


def test_re_sketching_the_archive_ranks_as_the_pipeline_did(tmp_path: Path) -> None:
    """`monitor dedupe` after a change of the sketches reads the archive oldest first: the
    aggregator's copy and the third site's come first, yet the outlet ends as the original."""
    aggregators = frozenset({"icma"})
    path = tmp_path / "archive.db"
    ranked = archive_in_order(path, (ICMA_COPY, REPORT_COPY, A525), aggregators)
    store = Store.open(f"sqlite:///{path}")
    try:
        with store.session() as session:
            for table in (DedupeBand, DedupeFingerprint, DedupeSketch):
                session.execute(delete(table))
            session.commit()
        for article in store.articles():  # as an archive from before dedupe would be
            assert article.id is not None
            mark_copy(store, article.id, None, None)
        assert dedupe_archive(store, aggregators=aggregators) == 3
        assert {a.title: a.duplicate_of for a in store.articles()} == ranked
    finally:
        store.close()
    assert ranked == {"525": None, "icma": A525.url, "report": A525.url}


def test_patterns_are_case_blind() -> None:
    assert all(pattern.flags & re.IGNORECASE for pattern in PATTERNS)
