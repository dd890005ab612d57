"""Attention over time (`monitor.search.trends`, `monitor trends`): the calendar of periods, the
counts grouped by the database on SQLite and PostgreSQL held to what search counts for each
period and split value, shares, undated articles, the command line's formats and refusals, and
the demo archive charted by the command agreeing with the command's own search."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import _reset_postgres, monitor
from sqlmodel import select
from test_search import record

from monitor.core.errors import QueryError
from monitor.search.counts import period_statement
from monitor.search.query import SearchFilters, parse_query
from monitor.search.service import search
from monitor.search.trends import (
    chart_periods,
    period_end,
    period_name,
    period_start,
    trend,
    trend_rows,
    write_trend_csv,
)
from monitor.store import EntityRow, Store
from monitor.store.tables import Article

MONDAY = datetime(2026, 9, 7, 12, 0, tzinfo=UTC)  # ISO week 2026-W37
BAKU = timezone(timedelta(hours=4))


# --- the calendar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "by", "start", "end", "name"),
    [
        (date(2026, 11, 20), "day", date(2026, 11, 20), date(2026, 11, 21), "2026-11-20"),
        (date(2026, 11, 22), "week", date(2026, 11, 16), date(2026, 11, 23), "2026-W47"),
        (date(2026, 11, 16), "week", date(2026, 11, 16), date(2026, 11, 23), "2026-W47"),
        (date(2027, 1, 2), "week", date(2026, 12, 28), date(2027, 1, 4), "2026-W53"),
        (date(2026, 12, 31), "month", date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
        (date(2026, 2, 28), "month", date(2026, 2, 1), date(2026, 3, 1), "2026-02"),
    ],
)
def test_periods_are_utc_days_iso_weeks_and_months(
    day: date, by: str, start: date, end: date, name: str
) -> None:
    assert period_start(day, by) == start
    assert period_end(start, by) == end
    assert period_name(start, by) == name


def test_a_chart_runs_from_since_to_the_day_before_until() -> None:
    window = SearchFilters(
        since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert chart_periods([], window, "month") == (date(2026, 11, 1),)
    weeks = chart_periods([], window, "week")
    assert (weeks[0], weeks[-1], len(weeks)) == (date(2026, 10, 26), date(2026, 11, 30), 6)
    assert chart_periods([], SearchFilters(), "day") == ()  # no matches, no range: no periods
    ten_years = SearchFilters(since=window.since, until=datetime(2037, 1, 1, tzinfo=UTC))
    with pytest.raises(QueryError, match=r"by day: more than .* periods"):
        chart_periods([], ten_years, "day")


# --- a generated archive on both backends -------------------------------------------------------

WORDS = {
    "az": ("Qazaxıstan ilə ticarət artır.", "Bakıda hava küləkli olacaq."),
    "ru": ("Казахстан и Азербайджан подписали соглашение.", "Погода в Баку ветреная."),
    "en": ("Kazakhstan and Azerbaijan sign a deal.", "Weather in Baku is windy."),
    "kk": ("Қазақстан мен Әзірбайжан келісімге қол қойды.", "Бакуде жел соғады."),
}


def generated(store: Store) -> dict[int, Article]:
    """Sixty articles over three months in four languages and three sources: every third one a
    copy, every fifth relevant with a topic, two undated, two on the edges of a UTC week."""
    langs = list(WORDS)
    for n in range(60):
        lang = langs[n % 4]
        text = WORDS[lang][n % 7 == 3]  # most mention the other country
        saved = store.save_article(
            record(
                n,
                source=("azertag-az", "kazinform-ru", "trend-en")[n % 3],
                lang=lang,
                title=f"{n}",
                text=text,
                published_at=MONDAY + timedelta(days=n * 1.6) if n not in (7, 8) else None,
            )
        ).article_id
        if n % 5 == 0:
            store.save_tagging(
                saved,
                relevant=True,
                score=2.0,
                reasons=[],
                topics=["trade", "energy"] if n % 10 == 0 else ["trade"],
                entities=[EntityRow("country", "kazakhstan", "Qazaxıstan", 1)],
                tagged_with="t",
            )
    # a Sunday evening in UTC is a Monday morning in Baku: the UTC week holds it
    sunday = datetime(2026, 9, 14, 0, 30, tzinfo=BAKU)
    store.save_article(record(100, lang="az", text=WORDS["az"][0], published_at=sunday))
    store.save_article(record(101, lang="az", text=WORDS["az"][0], published_at=MONDAY))
    with store.session() as s:
        for article in s.exec(select(Article)):
            if article.id and article.id % 3 == 0:
                article.duplicate_of = f"https://original.example/{article.id}"
                s.add(article)
        s.commit()
    return {a.id or 0: a for a in store.articles()}


def searched(store: Store, query: str, filters: SearchFilters) -> tuple[int, int]:
    """What search finds: (all matching articles, the originals among them). With a minute to
    answer, not a reader's two seconds: a search stopped at its limit finds nothing (and says
    so), which on a busy machine read as a count of 0."""
    result = search(store, query, filters, limit=1000, timeout=60.0)
    assert not result.warnings, result.warnings
    assert result.total == len(result.hits)
    return result.total, sum(1 for hit in result.hits if hit.duplicate_of is None)


@pytest.mark.parametrize("query", ["", "Qazaxıstan", "Kazakhstan Azerbaijan", "Казахстан", "xyzzy"])
@pytest.mark.parametrize(("by", "split"), [("week", "lang"), ("month", "source"), ("day", "none")])
def test_each_count_is_what_search_finds_in_that_period(
    store: Store, query: str, by: str, split: str
) -> None:
    generated(store)
    for with_copies in (True, False):
        found = trend(store, query, by=by, split=split, with_copies=with_copies)
        everything = searched(store, query, SearchFilters())
        assert found.total == everything[0 if with_copies else 1]
        for period in found.periods:
            for part in found.parts:
                narrowed = SearchFilters(
                    since=datetime.combine(period, datetime.min.time(), UTC),
                    until=datetime.combine(period_end(period, by), datetime.min.time(), UTC),
                    langs=(str(part),) if split == "lang" else (),
                    sources=(str(part),) if split == "source" else (),
                )
                expected = searched(store, query, narrowed)[0 if with_copies else 1]
                assert found.count(period, part) == expected, (period, part, with_copies)


def test_split_by_topic_counts_an_article_under_each_topic_and_shares_divide_by_all(
    store: Store,
) -> None:
    articles = generated(store)
    found = trend(store, "", by="month", split="topic", share=True, with_copies=True)
    assert found.parts[:2] == ("trade", "energy") and found.parts[-1] is None  # untagged last
    for topic in ("trade", "energy"):
        by_month = Counter(
            {p: found.count(p, topic) for p in found.periods if found.count(p, topic)}
        )
        assert sum(by_month.values()) == searched(store, "", SearchFilters(topics=(topic,)))[0]
    assert all(
        found.share(p, part) == 1.0
        for p in found.periods
        for part in found.parts
        if found.count(p, part)
    )  # the empty query: every article is a match
    for topic in ("trade", "energy"):  # a query's originals, each under each of its topics
        worded = trend(store, "Qazaxıstan", by="month", split="topic")
        in_topic = sum(worded.count(p, topic) for p in worded.periods)
        originals = searched(store, "Qazaxıstan", SearchFilters(topics=(topic,)))[1]
        assert in_topic == originals and originals > 0, topic
    words = trend(store, "Qazaxıstan", by="month", split="lang", share=True, with_copies=True)
    azerbaijani = [a for a in articles.values() if a.lang == "az" and a.published_at]
    for period in words.periods:
        inside = [a for a in azerbaijani if period_start(a.published_at.date(), "month") == period]  # type: ignore[union-attr]
        matched = [a for a in inside if "Qazaxıstan" in a.text]
        if inside:
            assert words.share(period, "az") == pytest.approx(len(matched) / len(inside))


def test_undated_sunday_evening_and_filters(store: Store) -> None:
    generated(store)
    found = trend(store, "Qazaxıstan", by="week", split="none", with_copies=True)
    # 00:30 on a Monday in Baku is 20:30 on Sunday in UTC: week 37, with the article of that Monday
    assert found.count(date(2026, 9, 7), "all") >= 3
    assert found.undated == {"all": 1}  # article 7 is undated; 8 does not mention Qazaxıstan
    window = SearchFilters(
        since=datetime(2026, 10, 1, tzinfo=UTC),
        until=datetime(2026, 10, 8, tzinfo=UTC),
        langs=("az",),
    )
    narrowed = trend(store, "Qazaxıstan", window, by="day", split="lang", with_copies=True)
    assert narrowed.periods[0] == date(2026, 10, 1) and narrowed.periods[-1] == date(2026, 10, 7)
    assert set(narrowed.parts) <= {"az"}
    assert narrowed.total == searched(store, "Qazaxıstan", window)[0]
    nothing = trend(store, "Qazaxıstan", SearchFilters(since=window.since, until=window.since))
    assert nothing.periods == () and nothing.empty
    quiet = SearchFilters(
        since=datetime(2027, 1, 1, tzinfo=UTC), until=datetime(2027, 2, 1, tzinfo=UTC)
    )
    later = trend(store, "Qazaxıstan", quiet, by="month")  # a range with no articles in it
    assert later.periods == (date(2027, 1, 1),) and later.empty


def test_rows_and_csv_have_one_header_and_every_period(store: Store) -> None:
    generated(store)
    found = trend(store, "Kazakhstan", by="month", split="lang", share=True)
    rows = trend_rows(found)
    assert len(rows) == len(found.periods) * len(found.parts) + len(found.undated)
    out = io.StringIO()
    write_trend_csv(found, out)
    read = list(csv.reader(io.StringIO(out.getvalue())))
    assert read[0] == ["period", "label", "lang", "count", "archived", "share"]
    assert all(not row[0].startswith("period") for row in read[1:])
    assert sum(int(row[3]) for row in read[1:]) == found.total


# --- the command line, on the demo archive --------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    result = monitor("--data-dir", str(folder), "demo")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("query", ["", "Qazaxıstan", "Kazakhstan", "Казахстан"])
def test_monitor_trends_agrees_with_monitor_search_on_the_demo(demo: Path, query: str) -> None:
    found = monitor(
        "--data-dir", str(demo), "search", query, "--limit", "1000", "--format", "jsonl"
    )
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert hits or not query
    for with_copies in (True, False):
        counted = monitor(
            "--data-dir", str(demo), "trends", query, "--by", "day", "--format", "jsonl",
            *(["--with-copies"] if with_copies else []),
        )  # fmt: skip
        assert counted.returncode == 0, counted.stderr
        per_day: Counter[str] = Counter()
        for line in counted.stdout.splitlines():
            row = json.loads(line)
            per_day[row["period"]] += row["count"]
        expected: Counter[str] = Counter()
        for hit in hits:
            if with_copies or hit["duplicate_of"] is None:
                when = hit["published_at"]
                day = datetime.fromisoformat(when).astimezone(UTC).date() if when else None
                expected[day.isoformat() if day else "undated"] += 1
        assert +per_day == expected


@pytest.mark.slow
def test_monitor_trends_csv_table_and_bad_options(demo: Path) -> None:
    csv_out = monitor("--data-dir", str(demo), "trends", "--split", "source", "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    rows = list(csv.reader(io.StringIO(csv_out.stdout)))
    assert rows[0] == ["period", "label", "source", "count"]
    assert rows[1:] and all(len(row) == 4 and row[0] != "period" for row in rows[1:])
    table = monitor("--data-dir", str(demo), "trends", "Qazaxıstan", "--by", "month", "--share")
    assert table.returncode == 0, table.stderr
    assert "%" in table.stdout and "share of all archived originals per month (UTC)" in table.stdout
    for option, value, valid in (
        ("--split", "country", "lang, source, topic, none"),
        ("--by", "year", "day, week, month"),
        ("--format", "xlsx", "table, csv, jsonl"),
    ):
        bad = monitor("--data-dir", str(demo), "trends", option, value)
        assert bad.returncode == 2 and valid in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    bad_query = monitor("--data-dir", str(demo), "trends", "OR")
    assert bad_query.returncode == 2 and "OR is not supported" in bad_query.stderr


def test_counting_reads_the_index_once_and_every_original_from_the_covering_index(
    tmp_path: Path,
) -> None:
    """The plans SQLite makes: a query's matches are asked of the full-text index once (a list
    its ids are looked up in), never once per article; counting every original (the empty
    query, and the denominators of --share) scans the covering index of the originals
    (migration 0012), not the articles' rows and their texts. Once the runner has refreshed
    the planner's statistics (`Store.refresh_statistics`), a query's matches are read from a
    covering index too (of the originals, or of every article's search facts, migration 0014)."""
    store = Store.open(f"sqlite:///{tmp_path / 'archive.db'}")

    def plan(query: str) -> list[str]:
        statement = period_statement(
            parse_query(query), SearchFilters(), period="week", split="lang",
            originals_only=True, sqlite=True,
        )  # fmt: skip
        sql = str(statement.compile(store.engine, compile_kwargs={"literal_binds": True}))
        with store.engine.connect() as conn:
            return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]

    try:
        generated(store)
        words, everything = plan("Qazaxıstan"), plan("")
        store.refresh_statistics()
        with store.engine.connect() as conn:
            analysed = {row[0] for row in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
        informed = plan("Qazaxıstan")
    finally:
        store.close()
    assert "article" in analysed
    covering = r"SEARCH article USING COVERING INDEX ix_article_(originals|facts) \(id=\?\)"
    assert any(re.fullmatch(covering, step) for step in informed), informed
    assert "LIST SUBQUERY 1" in words and any("article_fts VIRTUAL TABLE" in s for s in words)
    assert not any(s.startswith("SCAN article ") and "COVERING" not in s for s in words), words
    on_articles = [s for s in everything if re.match(r"(SCAN|SEARCH) article\b(?!_)", s)]
    assert on_articles == ["SCAN article USING COVERING INDEX ix_article_originals"], everything


@pytest.mark.postgres
def test_postgresql_counts_a_query_from_the_index_rows_alone(postgres_url: str) -> None:
    """On PostgreSQL the facts a count groups by (the date, language, source, whether a copy)
    are read from the index row beside the vector: the statement never reads `article`, only
    `article_topic` for a split by topic, and the counts are those of a search."""
    _reset_postgres(postgres_url)
    store = Store.open(postgres_url)

    def plan(split: str) -> str:
        statement = period_statement(
            parse_query("Qazaxıstan"), SearchFilters(langs=("az", "kk")), period="week",
            split=split, originals_only=True, sqlite=False,
        )  # fmt: skip
        sql = str(statement.compile(store.engine, compile_kwargs={"literal_binds": True}))
        with store.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))

    try:
        generated(store)
        by_lang, by_topic = plan("lang"), plan("topic")
        found = trend(store, "Qazaxıstan", by="week", split="lang")
        originals = searched(store, "Qazaxıstan", SearchFilters())[1]
    finally:
        store.close()
    assert "article_search" in by_lang and not re.search(r" on article\b(?!_)", by_lang), by_lang
    assert "article_topic" in by_topic and not re.search(r" on article\b(?!_)", by_topic)
    assert found.total == originals > 0


def test_refreshed_statistics_count_every_index_of_the_articles_whole(tmp_path: Path) -> None:
    """The planner takes the article table's size from its indexes' statistics: sampled ones
    (`PRAGMA analysis_limit`) put 56,000 to 112,000 rows in 100,000, and counting every original
    then read the rows and their texts instead of the covering index. After a refresh each index
    of `article` is counted exactly, and the empty query keeps to the covering index."""
    store = Store.open(f"sqlite:///{tmp_path / 'archive.db'}")
    rows = [
        {
            "source": ("azertag-az", "kazinform-ru")[n % 2],
            "key": f"id:{n}",
            "url": f"https://example.az/{n}",
            "title": f"title {n}",
            "text": "Qazaxıstan " * 40,
            "lang": ("az", "ru")[n % 2],
            "published_at": MONDAY + timedelta(hours=n),
            "date_source": "page",
            "fetched_at": MONDAY,
            "first_seen_at": MONDAY,
            "last_seen_at": MONDAY,
            "content_hash": f"h{n}",
            "extraction": "selectors",
            "http_status": 200,
            "revisions": 1,
            "duplicate_of": "https://example.az/0" if n % 10 == 9 else None,
        }
        for n in range(6000)
    ]
    try:
        with store.engine.begin() as conn:
            conn.execute(Article.__table__.insert(), rows)  # type: ignore[attr-defined]
        store.refresh_statistics()
        with store.engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'article'")
            stats = {str(index): str(stat) for index, stat in found}
            statement = period_statement(
                parse_query(""), SearchFilters(), period="week", split="lang",
                originals_only=True, sqlite=True,
            )  # fmt: skip
            sql = str(statement.compile(store.engine, compile_kwargs={"literal_binds": True}))
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    finally:
        store.close()
    counted = {index: int(stat.split()[0]) for index, stat in stats.items()}
    assert counted.pop("ix_article_originals") == 5400
    assert counted and set(counted.values()) == {6000}, counted
    assert "SCAN article USING COVERING INDEX ix_article_originals" in plan, plan
