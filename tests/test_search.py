"""Full-text search: the analysis of words, the query language, the index on real SQLite and
PostgreSQL, the search quality on labelled queries over the recorded sites and the seeds, results
one per story over the stories the pipeline linked, and the `search` and `export` commands."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from alembic import command
from conftest import ROOT, _reset_postgres, make_settings, monitor
from sqlalchemy import Column, MetaData, Table, event, inspect, text

from monitor.config.sources import load_sources
from monitor.core.errors import QueryError, SearchTimeout
from monitor.demo.server import SiteServer, rewrite_sources
from monitor.link.members import other_versions
from monitor.search import highlight
from monitor.search.backend import explain, time_limit
from monitor.search.highlight import snippet
from monitor.search.query import (
    MAX_PHRASE_WORDS,
    MAX_PREFIXES,
    MAX_TERMS,
    Query,
    SearchFilters,
    parse_query,
)
from monitor.search.service import search
from monitor.service.maintenance import reindex_archive
from monitor.service.pipeline import poll_sources
from monitor.service.wiring import open_deps
from monitor.store import ArticleRecord, EntityRow, Store, fulltext
from monitor.store.db import alembic_config, make_engine, migrate
from monitor.store.fulltext import reindex
from monitor.store.story_rows import story_members
from monitor.store.tables import Article
from monitor.text.stems import analyse, search_terms, stems, stems_by_grammar

QUERIES = yaml.safe_load(
    (ROOT / "tests" / "fixtures" / "search" / "queries.yaml").read_text(encoding="utf-8")
)["queries"]
# Pinned floors (measured: recall 0.978, precision 1.000, precision@5 0.978 on 54 queries, both
# backends). A change of the analysis that drops below them fails here.
RECALL_FLOOR = 0.97
PRECISION_FLOOR = 0.98
PRECISION_AT_5_FLOOR = 0.97
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


# --- words -----------------------------------------------------------------------------------


def meet(a: str, b: str, lang: str | None) -> bool:
    """Whether a query word `a` finds the word `b` of a text in `lang`."""
    [term] = parse_query(a).terms
    return not term.alternatives[0].isdisjoint(stems(b, lang).all)


@pytest.mark.parametrize(
    ("query", "word", "lang"),
    [
        ("Qazaxıstan", "Qazaxıstanın", "az"),
        ("Qazaxıstanın", "Qazaxıstan", "az"),
        ("Qazaxıstan", "Qazaxıstanlılarla", "az"),
        ("Qazaxistan", "QAZAXISTANDA", "az"),
        ("qazaxıstan", "Qazaxıstan'ın", "az"),
        ("Əliyev", "Əliyevin", "az"),
        ("Əliyev", "ƏLİYEVƏ", "az"),
        ("İlham", "ILHAM", "az"),
        ("Dəhliz", "Dəhlizinin", "az"),
        ("Bakı", "Bakıya", "az"),
        ("Қазақстан", "Қазақстанның", "kk"),
        ("Қазақстанда", "Қазақстаннан", "kk"),
        ("Әзербайжан", "Әзербайжанға", "kk"),
        ("Ақтаудан", "Актау", "ru"),
        ("Казахстан", "Казахстаном", "ru"),
        ("Азербайджана", "Азербайджан", "ru"),
        ("Казахстан", "казахстанской", "ru"),
        ("Kazakhstan", "Kazakhstan's", "en"),
        ("corridors", "corridor", "en"),
        ("discussed", "discussing", "en"),
    ],
)
def test_a_word_finds_its_inflected_forms(query: str, word: str, lang: str) -> None:
    assert meet(query, word, lang)


@pytest.mark.parametrize(
    ("query", "word", "lang"),
    [
        ("Qazax", "Qazaxıstan", "az"),  # the district is not the country
        ("Qazaxıstan", "Qazax", "az"),
        ("Bakı", "Bakan", "az"),
        ("Қазақстан", "қазақ", "kk"),
        ("Kazakh", "Kazakhstan", "en"),
        ("Казахстан", "казах", "ru"),
        ("Каспий", "каска", "ru"),
    ],
)
def test_a_word_does_not_find_other_words(query: str, word: str, lang: str) -> None:
    assert not meet(query, word, lang)


def test_search_terms_are_the_main_stems_in_order() -> None:
    assert search_terms("Azərbaycan-Qazaxıstan Dəhlizinin", "az") == [
        "azerbaycan",
        "qazaxistan",
        "dehliz",
    ]
    assert search_terms("Казахстан и Азербайджан", "ru") == ["казахста", "и", "азербайджа"]
    assert [w.main for w in analyse("2026 18%", None)] == ["2026", "18"]


def test_the_language_of_a_word_follows_its_script() -> None:
    # a Russian word in a Kazakh text is cut as Kazakh, an English word in an Azerbaijani text
    # as Azerbaijani; the query side tries every grammar of the script, so both are found
    assert meet("Kazakhstan's", "Kazakhstan", "az")
    assert meet("Казахстана", "Казахстан", "kk")


# --- queries -----------------------------------------------------------------------------------


def test_query_terms() -> None:
    query = parse_query('"Orta Dəhliz" Qazaxıstanın -Qazax qaz* Bakı-Tbilisi')
    kinds = [(t.text, t.phrase, t.prefix, t.excluded) for t in query.terms]
    assert kinds == [
        ("Orta Dəhliz", True, False, False),
        ("Qazaxıstanın", False, False, False),
        ("Qazax", False, False, True),
        ("qaz*", False, True, False),
        ("Bakı-Tbilisi", True, False, False),
    ]
    assert query.problems == ()
    assert parse_query("   ").terms == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('"Orta Dəhliz', "unbalanced quote"),
        ("Qazaxıstan -", "lone '-'"),
        ("-Qazax", "only excluded words"),
        ("q*", "too short"),
        ("!!! ???", "no words"),
    ],
)
def test_bad_queries_are_errors_when_strict_and_warnings_otherwise(text: str, problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        parse_query(text, strict=True)
    assert any(problem in p for p in parse_query(text).problems)


def test_snippet_marks_the_original_words_around_the_matches() -> None:
    body = " ".join(["Söz"] * 60) + " Prezident Əliyevin Qazaxıstana səfəri. " + "Son " * 60
    marked = snippet(body, parse_query("Əliyev qazaxistan"), "az")
    assert [piece for piece, hit in marked.pieces if hit] == ["Əliyevin", "Qazaxıstana"]
    plain = marked.plain()
    assert plain.startswith("… ") and plain.endswith(" …")
    assert "Prezident [Əliyevin] [Qazaxıstana] səfəri." in plain
    assert len(plain.split()) < 40
    assert snippet("", Query(), "az").pieces == ()


def test_a_marker_shared_by_many_texts_marks_each_as_a_fresh_one_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The words a query's marker has judged are kept for the next texts (every hit of a page,
    the next pages) and forgotten past a bound; neither may change what a text gets marked, nor
    may a word judged in one language's text be taken as judged in another's."""
    monkeypatch.setattr(highlight, "_KNOWN_WORDS", 5)
    query = parse_query("Qazaxıstan Astana")
    texts = [
        ("az", "Söz " * 40 + "Qazaxıstanın paytaxtı Astanada görüş. " + "Son " * 40),
        ("kk", "Сөз " * 40 + "Қазақстан мен Әзербайжан Астанада келісті. " + "Соң " * 40),
        ("en", "Word " * 40 + "Kazakhstan and Azerbaijan met in Astana. " + "End " * 40),
        ("az", "Bakı görüşü, Astana və Qazaxıstan'ın nümayəndələri. " * 3),
        ("az", ""),
    ]
    highlight._marker.cache_clear()
    fresh = []
    for lang, body in texts:
        fresh.append(snippet(body, query, lang).pieces)
        highlight._marker.cache_clear()
    shared = [snippet(body, query, lang).pieces for lang, body in texts]
    assert shared == fresh
    assert [piece for piece, hit in shared[0] if hit] == ["Qazaxıstanın", "Astanada"]
    assert [piece for piece, hit in shared[2] if hit] == ["Astana"]
    opening = snippet(" ".join(["Söz"] * 50), Query(), "az")  # no words: the opening 32
    assert opening.plain() == " ".join(["Söz"] * 32) + " …"


# --- queries that cannot hurt the server -------------------------------------------------------


def test_a_thousand_word_query_is_cut_to_what_is_searched_and_says_so() -> None:
    pasted = " ".join(f"söz{n}" for n in range(1000))
    query = parse_query(pasted)
    assert len(query.terms) == MAX_TERMS
    assert [t.text for t in query.terms] == [f"söz{n}" for n in range(MAX_TERMS)]
    assert query.problems == (f"the query has 1000 words: at most {MAX_TERMS} are searched",)
    with pytest.raises(QueryError, match="1000 words"):
        parse_query(pasted, strict=True)


def test_prefixes_and_long_phrases_are_capped_and_the_rest_named() -> None:
    query = parse_query("qa* qo* ba* bo* da* de* Bakı")
    assert [t.text for t in query.terms if t.prefix] == ["qa*", "qo*", "ba*", "bo*"][:MAX_PREFIXES]
    assert [t.text for t in query.terms if not t.prefix] == ["Bakı"]
    assert query.problems == (
        f"at most {MAX_PREFIXES} prefixes (word*) are searched: left out da*, de*",
    )
    phrase = parse_query('"' + " ".join(f"söz{n}" for n in range(20)) + '"')
    [term] = phrase.terms
    assert term.phrase and len(term.alternatives) == MAX_PHRASE_WORDS
    assert "a phrase of more than" in phrase.problems[0]


def test_a_long_query_searches_its_first_terms_on_both_backends(store: Store) -> None:
    """Which terms are searched, not how fast: the time limit is given room here (a loaded CI
    machine once took PostgreSQL past the 2 s a reader waits, and the search found nothing);
    the limit itself is held by `test_a_search_stopped_at_its_limit_tells_the_reader`."""
    wanted = store.save_article(record(1, text="Qazaxıstan neft ixracını artırır.")).article_id
    result = search(store, "Qazaxıstan neft " + " ".join(["ixrac"] * 998), limit=5, timeout=30.0)
    assert result.warnings == (f"the query has 1000 words: at most {MAX_TERMS} are searched",)
    assert [hit.article_id for hit in result.hits] == [wanted]


QUERY_CLASSES = [
    ("Қазақстанның", None),  # an inflected word: its seven stems OR-ed
    ("Qazaxıstanda neft", None),
    ("Казахстана", None),
    ("Kazakhstan's", None),
    ('"Orta Dəhliz"', None),
    ("qazaxıst*", None),
    ("Qazaxıstan -Bakı", None),
    ("Kazakhstan", SearchFilters(langs=("en",), since=T0)),
    ("Qazaxıstan", SearchFilters(sources=("azertag-az",), topics=("energy",))),
]


@pytest.mark.parametrize(("query", "filters"), QUERY_CLASSES)
def test_every_query_class_reaches_the_matches_through_the_index(
    store: Store, query: str, filters: SearchFilters | None
) -> None:
    """On a table this small a planner left alone reads every row: the plan must go through the
    index all the same (on PostgreSQL it is made the only way; at 100,000 articles the planner's
    misjudged OR of stems cost 1.7 s against 15 ms)."""
    for n in range(1, 60):
        store.save_article(record(n, text=f"Qazaxıstanda neft hasilatı {n}. Орта дәліз."))
    store.refresh_statistics()  # as the runner keeps them (SQLite; PostgreSQL has its own)
    plans = explain(store, parse_query(query), filters or SearchFilters())
    sqlite = store.engine.dialect.name == "sqlite"
    for name, plan in plans.items():
        assert "Seq Scan on article_search" not in plan, (name, plan)
        if sqlite:
            assert "SCAN article_fts VIRTUAL TABLE INDEX" in plan, (name, plan)
            # a match's facts from the covering index, never its row with the text before them
            assert "SEARCH article USING INTEGER PRIMARY KEY" not in plan, (name, plan)
        elif filters is None:  # a filter may lead instead: its articles' vectors, by key
            assert "Bitmap Index Scan on ix_article_search_vector" in plan, (name, plan)


def test_a_search_ranks_its_latest_matches_up_to_the_cap_and_says_so(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranking costs each match it reads, so a search ranks the RANKED_MATCHES latest archived
    of its matches, on both backends: the count stays exact, the reader is told, and a date
    filter reaches the older ones."""
    monkeypatch.setattr("monitor.search.backend.RANKED_MATCHES", 3)
    # the oldest article says the word three times in its title: ranked with the others it leads
    oldest = store.save_article(record(1, title="Neft neft neft", text="Neft hasilatı.")).article_id
    later = [
        store.save_article(record(n, text=f"Neft xəbəri {n}.")).article_id for n in range(2, 7)
    ]
    result = search(store, "neft", limit=10)
    assert result.total == result.articles == 6
    assert result.ranked == 3
    assert sorted(hit.article_id for hit in result.hits) == later[-3:]
    assert result.warnings == ()  # the query has no problem
    assert result.notes == (
        "6 articles match: the latest archived 3 are ranked and shown; narrow the dates or "
        "sites to reach older ones",
    )
    narrowed = search(store, "neft", SearchFilters(until=T0 + timedelta(days=3)), limit=10)
    assert [hit.article_id for hit in narrowed.hits] == [oldest, later[0]]
    assert (narrowed.total, narrowed.ranked, narrowed.notes) == (2, None, ())
    monkeypatch.setattr("monitor.search.backend.RANKED_MATCHES", 1000)
    assert search(store, "neft", limit=1).hits[0].article_id == oldest  # ranked with them all


def test_fewer_matches_than_the_cap_are_counted_as_they_are_ranked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the ranking read every match (fewer than the cap), the page's rows carry the count of
    articles and of stories, and no counting statement is sent: a phrase's matches cost one pass,
    not two. At the cap, or past the last page, the counts are asked for, and agree."""
    monkeypatch.setattr("monitor.search.backend.RANKED_MATCHES", 4)
    for n in range(1, 6):
        store.save_article(record(n, text=f"Neft xəbəri {n}."))
    with store.engine.begin() as conn:
        now = "CURRENT_TIMESTAMP"
        conn.execute(
            text(
                "INSERT INTO story (id, first_at, last_at, articles, created_at, updated_at) "
                f"VALUES (7, {now}, {now}, 2, {now}, {now})"
            )
        )
        conn.execute(text("UPDATE article SET story_id = 7 WHERE id IN (1, 2)"))
    sent: list[str] = []

    def counting() -> list[str]:
        return [s for s in sent if s.lstrip().upper().startswith("SELECT COUNT(")]

    def listen(conn: object, cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(store.engine, "before_cursor_execute", listen)
    first_three = SearchFilters(until=T0 + timedelta(days=3, hours=12))
    few = search(store, "neft", first_three, limit=10)
    grouped = search(store, "neft", first_three, limit=10, by_story=True)
    assert (few.total, few.articles, len(few.hits)) == (3, 3, 3)
    assert (grouped.total, grouped.articles, len(grouped.hits)) == (2, 3, 2)  # 1 and 2: story 7
    assert counting() == [], counting()
    past_the_end = search(store, "neft", first_three, limit=10, offset=10, by_story=True)
    assert (past_the_end.total, past_the_end.articles, past_the_end.hits) == (2, 3, ())
    assert len(counting()) == 2  # the articles, the stories
    sent.clear()
    capped = search(store, "neft", limit=10, by_story=True)
    assert (capped.total, capped.articles, capped.ranked) == (4, 5, 4)
    assert len(counting()) == 2


@pytest.mark.postgres
def test_the_index_keeps_each_articles_facts_as_the_article_changes(postgres_url: str) -> None:
    """PostgreSQL searches read an article's date, language, source, relevance, copy and story
    from its index row: a trigger copies every later change, whoever makes it."""
    _reset_postgres(postgres_url)
    store = Store.open(postgres_url)
    try:
        saved = store.save_article(record(1, text="Qazaxıstan neft ixracı.")).article_id
        original = store.save_article(record(2, text="Qazaxıstan neft hasilatı.")).article_id

        def facts() -> tuple[object, ...]:
            with store.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT published_at, lang, source, relevant, copy, story_id "
                        "FROM article_search WHERE article_id = :id"
                    ),
                    {"id": saved},
                ).one()
            return tuple(row)

        assert facts() == (T0 + timedelta(days=1), "az", "azertag-az", None, False, None)
        relevant = SearchFilters(relevant_only=True)
        assert ids(store, "neft", relevant) == []
        with store.session() as s:
            article = s.get(Article, saved)
            assert article is not None
            article.relevant = True
            article.duplicate_of = f"https://azertag.az/xeber/{original}"
            article.lang = "ru"
            article.published_at = T0 - timedelta(days=30)
            s.add(article)
            s.commit()
        with store.engine.begin() as conn:  # a bulk statement, as relinking writes stories
            conn.execute(
                text(
                    "INSERT INTO story (id, first_at, last_at, articles, created_at, updated_at) "
                    "VALUES (7, now(), now(), 1, now(), now())"
                )
            )
            conn.execute(text("UPDATE article SET story_id = 7 WHERE id = :id"), {"id": saved})
        assert facts() == (T0 - timedelta(days=30), "ru", "azertag-az", True, True, 7)
        assert ids(store, "neft", relevant) == [saved]
        assert ids(store, "neft", SearchFilters(until=T0)) == [saved]
        assert ids(store, "neft", SearchFilters(langs=("az",))) == [original]
        assert ids(store, "neft") == [original, saved]  # a copy ranks below, though relevant
    finally:
        store.close()


@pytest.mark.postgres
def test_an_archive_indexed_before_the_facts_gets_them_from_the_migration(
    postgres_url: str,
) -> None:
    _reset_postgres(postgres_url)
    engine = make_engine(postgres_url)
    command.upgrade(alembic_config(engine), "0012")
    store = Store(engine)
    try:
        with engine.begin() as conn:  # an article and its index row as revision 0012 wrote them
            conn.execute(
                text(
                    "INSERT INTO article (source, key, url, title, text, lang, published_at, "
                    "published_offset_min, date_source, fetched_at, first_seen_at, "
                    "last_seen_at, content_hash, extraction, http_status, revisions, stage, relevant) "
                    "VALUES ('icma', 'id:1', 'https://icma.az/1', 'Neft', 'Qazaxıstan neft.', "
                    "'az', :at, 0, 'page', :at, :at, :at, 'h', 'selectors', 200, 1, 'linked', true)"
                ),
                {"at": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO article_search (article_id, version, vector) "
                    "SELECT id, 1, CAST(:vector AS tsvector) FROM article"
                ),
                {"vector": "'neft':1A"},
            )
        migrate(engine)
        relevant = search(store, "neft", SearchFilters(relevant_only=True))
        assert [hit.title for hit in relevant.hits] == ["Neft"]
        assert search(store, "neft", SearchFilters(sources=("icma",), since=T0)).total == 1
        assert search(store, "neft", SearchFilters(langs=("kk",))).total == 0
    finally:
        store.close()


HEAVY = {  # a statement that runs for seconds: what a hostile query costs without a limit
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT count(*) FROM (SELECT i FROM n LIMIT 300000000)",
    "postgresql": "SELECT pg_sleep(5)",
}


def test_a_statement_is_stopped_at_the_time_limit_and_the_limit_ends_with_it(store: Store) -> None:
    dialect = store.engine.dialect.name
    with store.session() as s:
        started = time.monotonic()
        with pytest.raises(SearchTimeout, match=r"stopped after 0.2 s"), time_limit(s, 0.2):
            s.execute(text(HEAVY[dialect]))
        assert time.monotonic() - started < 2.0
    # the next session of the pool runs without the limit
    with store.session() as s, time_limit(s, 5.0):
        assert s.execute(text("SELECT 1")).scalar() == 1
    with store.session() as s:
        brief = {
            "sqlite": HEAVY["sqlite"].replace("300000000", "300000"),
            "postgresql": "SELECT pg_sleep(0.4)",
        }
        s.execute(text(brief[dialect]))  # no SearchTimeout: no limit is left behind


def test_the_limit_is_for_all_the_statements_of_a_search_together(store: Store) -> None:
    """A search runs several statements (count, page, articles): each one quick, together past
    the limit, they are stopped all the same."""
    short = {
        "sqlite": HEAVY["sqlite"].replace("300000000", "20000"),
        "postgresql": "SELECT pg_sleep(0.05)",
    }[store.engine.dialect.name]
    with store.session() as s:
        started = time.monotonic()
        with pytest.raises(SearchTimeout), time_limit(s, 0.3):
            while time.monotonic() - started < 5.0:
                s.execute(text(short))
        assert time.monotonic() - started < 2.0


def test_a_search_stopped_at_its_limit_tells_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite looks at the clock every `PROGRESS_STEPS` steps: 300 matches take more than that,
    so a limit of 0 s stops this one whatever the machine's speed (PostgreSQL's limit is the
    test above: a 1 ms limit would stop or not as the machine is fast). A search given no limit
    takes `SEARCH_TIMEOUT` as it is when it starts."""
    store = Store.open(f"sqlite:///{tmp_path / 'archive.db'}")
    try:
        for n in range(1, 301):
            store.save_article(record(n, text=f"Qazaxıstan və Azərbaycan {n} sənəd imzalayıb."))
        result = search(store, "Qazaxıstan", limit=5, timeout=0.0)
        assert result.total == 0 and result.hits == ()
        assert result.warnings and "the search was stopped after 0 s" in result.warnings[-1]
        assert search(store, "Qazaxıstan", limit=5).total == 300
        monkeypatch.setattr("monitor.search.backend.SEARCH_TIMEOUT", 0.0)
        assert "stopped after 0 s" in search(store, "Qazaxıstan", limit=5).warnings[-1]
    finally:
        store.close()


# --- the index on both backends --------------------------------------------------------------------


def record(n: int, **changes: object) -> ArticleRecord:
    base: dict[str, object] = {
        "source": "azertag-az",
        "key": f"id:{n}",
        "aliases": (f"id:{n}",),
        "url": f"https://azertag.az/xeber/{n}",
        "title": f"Xəbər {n}",
        "text": "Mətn.",
        "author": None,
        "lang": "az",
        "published_at": T0 + timedelta(days=n),
        "date_source": "page",
        "listed_at": None,
        "fetched_at": T0,
        "content_hash": f"h{n}",
        "extraction": "selectors",
        "http_status": 200,
        "warc": None,
    }
    base.update(changes)
    return ArticleRecord(**base)  # type: ignore[arg-type]


def ids(store: Store, query: str, filters: SearchFilters | None = None) -> list[int]:
    return [hit.article_id for hit in search(store, query, filters, limit=50).hits]


def test_the_index_follows_saves_updates_and_reextraction(store: Store) -> None:
    first = store.save_article(
        record(1, text="Azərbaycan Qazaxıstanla danışıqlar aparır.")
    ).article_id
    assert ids(store, "Qazaxıstan") == [first]
    store.save_article(record(1, text="Türkmənistanla danışıqlar.", content_hash="h1b"))
    assert ids(store, "Qazaxıstan") == []
    assert ids(store, "Türkmənistan") == [first]
    store.replace_extraction(first, text="Özbəkistanın nümayəndələri gəldi.")
    assert ids(store, "Türkmənistan") == []
    assert ids(store, "Özbəkistan") == [first]


def test_ranking_filters_and_pages(store: Store) -> None:
    for n in range(10, 16):  # other articles, so that the words searched for are rare
        store.save_article(record(n, source="other", title="Hava", text="Bakıda külək əsəcək."))
    in_title = store.save_article(
        record(1, title="Qazaxıstan neft ixracını artırır", text="Neft kəməri.")
    ).article_id
    in_body = store.save_article(
        record(2, title="Enerji xəbərləri", text="Qazaxıstanın nefti Bakıdan keçir.")
    ).article_id
    russian = store.save_article(
        record(3, source="kazinform-ru", lang="ru", title="Нефть Казахстана", text="Текст.")
    ).article_id
    store.save_tagging(
        in_body,
        relevant=True,
        score=3.0,
        reasons=[],
        topics=["energy"],
        entities=[EntityRow("country", "kazakhstan", "Qazaxıstan", 1)],
        tagged_with="t",
    )
    assert ids(store, "Qazaxıstan") == [in_title, in_body]  # the title counts more
    assert ids(store, "Qazaxıstan", SearchFilters(relevant_only=True)) == [in_body]
    assert ids(store, "Qazaxıstan", SearchFilters(topics=("energy",))) == [in_body]
    assert ids(store, "нефть", SearchFilters(langs=("ru",))) == [russian]
    assert ids(store, "", SearchFilters(sources=("azertag-az",))) == [in_body, in_title]
    window = SearchFilters(since=T0 + timedelta(days=2), until=T0 + timedelta(days=3))
    assert ids(store, "", window) == [in_body]
    page = search(store, "", SearchFilters(sources=("azertag-az",)), limit=1, offset=1)
    assert (page.total, [h.article_id for h in page.hits]) == (2, [in_title])
    [hit] = search(store, "Qazaxıstan", SearchFilters(relevant_only=True)).hits
    assert hit.topics == ("energy",) and hit.relevant is True and hit.rank > 0
    assert hit.title_marked.plain() == "Enerji xəbərləri"
    assert hit.snippet.plain() == "[Qazaxıstanın] nefti Bakıdan keçir."


def test_a_copy_ranks_below_its_original(store: Store) -> None:
    text = "Bakı ilə Aktau arasında bərə xətti. Aktau limanı genişlənir."
    original = store.save_article(record(1, title="Aktau bərəsi", text=text)).article_id
    # the copy is newer: without the copy factor the tie would put it first
    copy = store.save_article(record(2, source="icma", title="Aktau bərəsi", text=text)).article_id
    with store.session() as s:
        row = s.get(Article, copy)
        assert row is not None
        row.duplicate_of = "https://525.az/news/1"
        s.add(row)
        s.commit()
    assert ids(store, "Aktau") == [original, copy]


def test_phrases_prefixes_and_exclusions(store: Store) -> None:
    corridor = store.save_article(
        record(1, title="Orta Dəhliz", text="Orta Dəhlizin inkişafı Qazaxıstanla birgə.")
    ).article_id
    apart = store.save_article(
        record(2, title="Dəhliz", text="Orta məktəbdə yeni dəhliz. Qazax rayonu.")
    ).article_id
    assert ids(store, '"Orta Dəhliz"') == [corridor]
    assert set(ids(store, "orta dəhliz")) == {corridor, apart}
    assert ids(store, "dəhliz -Qazax") == [corridor]
    assert set(ids(store, "qaza*")) == {corridor, apart}
    assert ids(store, "qazaxı*") == [corridor]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "-",
        "NOT",
        "AND OR NEAR(a b)",
        "title:Qazax",
        "{title body} : x",
        "(Qazaxıstan",
        "a'b' \\ ''",
        "x:* & !y | z <-> w",
        "^Bakı",
        "Bakı*ı",
        "**",
        '"" "  "',
    ],
)
def test_no_query_reaches_the_database_as_syntax(store: Store, query: str) -> None:
    store.save_article(record(1, title="Bakı və Qazaxıstan", text="NOT AND OR NEAR title"))
    result = search(store, query)  # must not raise
    assert result.total == len(result.hits) <= 1


def test_words_opening_with_an_apostrophe_and_huge_prefixes_are_stored_and_searched(
    store: Store,
) -> None:
    quoted = store.save_article(
        record(1, title="Sitat", text="O, ʼQazaxıstanʼ sözünü dedi: 'Bakı' və ’ ʼ."),
    ).article_id
    for lang in ("kk", None):
        store.save_article(record(2, lang=lang, content_hash=f"h2{lang}", text="ʼҚазақстанʼ ’"))
    assert ids(store, "Qazaxıstan") == [quoted]
    assert ids(store, "ʼQazaxıstanʼ") == [quoted]
    assert ids(store, "Қазақстан") != []
    search(store, "ʼ ’")  # must not raise
    assert search(store, "a" * 3000 + "*").total == 0
    assert search(store, "б" * 3000).total == 0


def test_an_archive_from_before_search_is_indexed_by_the_migration(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0006")
    old = Article(
        source="icma",
        key="id:1",
        url="https://icma.az/1",
        title="Qazaxıstanla əməkdaşlıq",
        text="Mətn.",
        lang="az",
        published_at=T0,
        fetched_at=T0,
        first_seen_at=T0,
        last_seen_at=T0,
        content_hash="h",
    )
    # as stored at revision 0006: the columns a later revision adds are not there yet
    columns = {column["name"] for column in inspect(engine).get_columns("article")} - {"id"}
    as_then = Table(
        "article", MetaData(), *(Column(name, Article.__table__.c[name].type) for name in columns)
    )
    with engine.begin() as conn:
        conn.execute(as_then.insert().values({name: getattr(old, name) for name in columns}))
    migrate(engine)
    store = Store(engine)
    try:
        assert [h.title for h in search(store, "Qazaxıstanın").hits] == ["Qazaxıstanla əməkdaşlıq"]
        table = "article_fts" if backend == "sqlite" else "article_search"
        key = "rowid" if backend == "sqlite" else "article_id"
        with engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table} WHERE {key} > 0"))
        assert search(store, "Qazaxıstan").total == 0
        with engine.begin() as conn:
            assert reindex(conn) == 1
            assert reindex(conn) == 0  # nothing stale left
        assert search(store, "Qazaxıstan").total == 1
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- search quality over the recorded sites and the seeds --------------------------------------


@dataclass
class Archive:
    store: Store
    labels: dict[int, str]  # article id → "source/key"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fixture_archive(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    site_server: SiteServer,
) -> Iterator[Archive]:
    """One poll of every recorded site (the seeds are archived first), as in test_pipeline."""
    data_dir = tmp_path_factory.mktemp("search")
    if request.param == "sqlite":
        settings = make_settings(data_dir)
    else:
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
        settings = make_settings(data_dir, database_url=url)
    site_server.clear_overrides()
    # the queries were labelled on the recordings of these sources (the ten added from the
    # December 2026 evidence review are not labelled for search)
    labelled = {"azertag-az", "azertag-ru", "azertag-en", "525az", "icma"}
    labelled |= {"kazinform-kk", "kazinform-ru", "kazinform-en"}
    shipped = load_sources(ROOT / "sources.yaml")
    sources = rewrite_sources([s for s in shipped if s.name in labelled], site_server.url_map())

    async def poll() -> None:
        async with open_deps(settings, sources) as deps:
            await poll_sources(sources, deps)

    asyncio.run(poll())
    store = Store.open(settings.archive_url)
    try:
        yield Archive(store, {a.id or 0: f"{a.source}/{a.key}" for a in store.articles()})
    finally:
        store.close()


def test_search_quality_on_labelled_queries(fixture_archive: Archive) -> None:
    labels = set(fixture_archive.labels.values())
    recalls, precisions, at_5, failures = [], [], [], []
    for entry in QUERIES:
        expected = set(entry["expected"])
        assert expected and expected <= labels, f"{entry['query']}: labels not in the archive"
        result = search(fixture_archive.store, entry["query"], limit=100)
        found = [fixture_archive.labels[hit.article_id] for hit in result.hits]
        assert result.total == len(found)
        right = expected & set(found)
        recalls.append(len(right) / len(expected))
        precisions.append(len(right) / len(found) if found else 0.0)
        top = found[: min(5, len(expected))]
        at_5.append(len(expected & set(top)) / min(5, len(expected)))
        if recalls[-1] < 1 or precisions[-1] < 1:
            failures.append(
                f"{entry['query']!r} ({entry['lang']}): missed {sorted(expected - set(found))}, "
                f"wrong {sorted(set(found) - expected)}"
            )
    recall = sum(recalls) / len(recalls)
    precision = sum(precisions) / len(precisions)
    precision_at_5 = sum(at_5) / len(at_5)
    print(
        f"\nsearch quality on {len(QUERIES)} queries: recall {recall:.3f}, "
        f"precision {precision:.3f}, precision@5 {precision_at_5:.3f}"
    )
    print("\n".join(failures))
    assert len(QUERIES) >= 40
    assert {entry["lang"] for entry in QUERIES} == {"az", "kk", "ru", "en"}
    assert recall >= RECALL_FLOOR, failures
    assert precision >= PRECISION_FLOOR, failures
    assert precision_at_5 >= PRECISION_AT_5_FLOOR, failures


def test_hits_carry_marked_titles_and_snippets(fixture_archive: Archive) -> None:
    result = search(fixture_archive.store, "Qazaxıstanın", SearchFilters(sources=("azertag-az",)))
    assert result.total >= 2
    for hit in result.hits:
        marked = [piece for piece, hit_ in hit.title_marked.pieces + hit.snippet.pieces if hit_]
        assert marked and all(piece.lower().startswith("qazax") for piece in marked), marked
        assert "".join(piece for piece, _ in hit.title_marked.pieces) == hit.title


@pytest.mark.parametrize("query", ["", "Aktau", "Kazakhstan", "Қазақстан", "Азербайджан"])
def test_one_result_per_story_is_its_best_match(fixture_archive: Archive, query: str) -> None:
    """Grouped by story, in the database: a story is listed once, where its best match would
    stand, and says how many versions it has and which other originals to read; paging and the
    count are of stories."""
    store = fixture_archive.store
    flat = search(store, query, limit=200)
    grouped = search(store, query, limit=200, by_story=True)
    assert flat.total == len(flat.hits) > 0

    def story(article_id: int) -> int:
        article = store.article(article_id)
        assert article is not None
        return article.story_id if article.story_id is not None else -article_id

    firsts: dict[int, int] = {}
    for hit in flat.hits:
        firsts.setdefault(story(hit.article_id), hit.article_id)
    assert grouped.articles == flat.total
    assert grouped.total == len(grouped.hits) == len(firsts)
    if query:  # the best ranked of each story, in the ranking's order
        assert [hit.article_id for hit in grouped.hits] == list(firsts.values())
    else:  # the newest story first, an original before its copies
        assert {story(hit.article_id) for hit in grouped.hits} == set(firsts)
        assert not any(hit.duplicate_of for hit in grouped.hits if hit.versions > 1)
    members = story_members(store, [k for k in firsts if k > 0])
    for hit in grouped.hits:
        assert hit.story_id == (story(hit.article_id) if story(hit.article_id) > 0 else None)
        versions = [m for m in members.get(hit.story_id or 0, []) if m.source != "seed"]
        if hit.source == "seed" or not versions:
            continue
        assert hit.versions == len(versions)
        me = next(m for m in versions if m.article_id == hit.article_id)
        assert list(hit.others) == other_versions(versions, me)
    pages = [
        search(store, query, limit=4, offset=offset, by_story=True)
        for offset in range(0, grouped.total, 4)
    ]
    assert [h.article_id for p in pages for h in p.hits] == [h.article_id for h in grouped.hits]
    assert {p.total for p in pages} == {grouped.total}


def test_the_versions_of_one_story_share_a_result(fixture_archive: Archive) -> None:
    """The recorded sites tell some events on several sites: those come once, not per site."""
    store = fixture_archive.store
    everything = search(store, "", limit=500, by_story=True)
    assert everything.articles == store.count_articles()
    assert everything.total < everything.articles
    told = [hit for hit in everything.hits if hit.versions > 1]
    assert told and all(hit.story_id is not None for hit in told)
    assert any(len({m.lang for m in hit.others} | {hit.lang}) > 1 for hit in told)


# --- the commands ------------------------------------------------------------------------------


@pytest.fixture
def archive_file(tmp_path: Path) -> Path:
    path = tmp_path / "archive.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        store.save_article(record(1, title="Qazaxıstan neft ixracı", text="Neft Bakıdan keçir."))
        store.save_article(
            record(2, source="kazinform-ru", lang="ru", title="Нефть Казахстана", text="Текст.")
        )
    finally:
        store.close()
    return path


def run(path: Path, *args: str) -> tuple[int, str, str]:
    done = monitor("--db", f"sqlite:///{path}", *args)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_search_command_prints_a_table_and_jsonl(archive_file: Path) -> None:
    code, out, err = run(archive_file, "search", "Qazaxıstanın")
    assert code == 0, err
    assert "[Qazaxıstan] neft ixracı" in out
    assert "1 of 1 matching articles" in out
    code, out, err = run(archive_file, "search", "", "--format", "jsonl", "--lang", "ru")
    assert code == 0, err
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["title"], row["source"]) == ("Нефть Казахстана", "kazinform-ru")
    code, out, err = run(archive_file, "search", "Казахстан", "--format", "jsonl")
    assert json.loads(out)["matched"] == ["Казахстана"]


@pytest.mark.slow
def test_search_reindex_indexes_what_the_index_lacks_before_it_searches(
    archive_file: Path,
) -> None:
    engine = make_engine(f"sqlite:///{archive_file}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM article_fts WHERE rowid > 0"))
    engine.dispose()
    code, out, err = run(archive_file, "search", "Qazaxıstanın")
    assert (code, "0 of 0 matching articles" in out) == (0, True)
    code, out, err = run(archive_file, "search", "--reindex", "Qazaxıstanın")
    assert code == 0, err
    assert "indexed 2 articles" in err
    assert "1 of 1 matching articles" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "x", "--since", "yesterday"), "--since: 'yesterday' is not a date"),
        (("search", "x", "--until", "2026-13-01"), "--until: '2026-13-01' is not a date"),
        (("search", "x", "--format", "xml"), "--format: 'xml' is not one of table, jsonl"),
        (("search", '"Orta Dəhliz'), "unbalanced quote"),
        (("search", "neft -"), "lone '-'"),
        (("search", "x", "--lang", "Azeri"), "--lang: 'Azeri'"),
        (("search", *["söz"] * 1000), "the query has 1000 words: at most"),
        (("export", "--format", "xml"), "--format: 'xml' is not one of jsonl, csv"),
        (("export", "--since", "soon"), "--since: 'soon' is not a date"),
    ],
)
def test_bad_input_is_a_clear_error_with_status_2(
    archive_file: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(archive_file, *args)
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_export_takes_the_search_filters(archive_file: Path) -> None:
    code, out, err = run(archive_file, "export", "--lang", "ru")
    assert code == 0, err
    assert [json.loads(line)["title"] for line in out.splitlines()] == ["Нефть Казахстана"]
    code, out, err = run(archive_file, "export", "--until", "2026-11-21", "--format", "csv")
    assert code == 0, err
    assert "Qazaxıstan neft ixracı" in out and "Казахстана" not in out


def test_words_are_stemmed_alike_on_many_threads_at_once() -> None:
    """The archive indexes on a database thread while other threads analyse: a stemmer shared
    between threads cut one thread's word with another's (an IndexError in CI)."""
    endings = ["ами", "ого", "ыми", "ившись", "ать", "ость", "ений", "ующий"]
    words = [
        f"казах{chr(0x430 + i % 32)}{chr(0x430 + i // 32 % 32)}{e}"
        for i in range(900)
        for e in endings
    ]
    alone = {word: analyse(word, "ru") for word in words}
    stems_by_grammar.cache_clear()  # every word goes through Snowball again, now on 8 threads
    failures: list[BaseException] = []
    mismatches: list[str] = []

    def stem_all(part: list[str]) -> None:
        try:
            for word in part:
                if analyse(word, "ru") != alone[word]:
                    mismatches.append(word)
        except BaseException as error:  # the race shows as an exception inside Snowball
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=stem_all, args=(words[n::8],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == [] and mismatches == []


def test_a_bulk_reindex_in_worker_processes_writes_what_one_process_writes(store: Store) -> None:
    """`monitor search --reindex` analyses in a pool of processes while it writes: the index it
    leaves is the one a single process leaves, row for row, and it says how far it got."""
    for n in range(1, 1200):
        lang = ("az", "kk", "ru", "en")[n % 4]
        text_of = {"az": "Qazaxıstanla neft ixracı", "kk": "Қазақстанның мұнай экспорты"}
        body = f"{text_of.get(lang, 'Kazakhstan oil exports')} {n}. Orta Dəhliz {n % 7}."
        store.save_article(record(n, lang=lang, text=body))
    sqlite = store.engine.dialect.name == "sqlite"
    table, key = ("article_fts", "rowid") if sqlite else ("article_search", "article_id")
    columns = "title, body, title_more, body_more" if sqlite else "vector::text"

    def index() -> list[tuple[object, ...]]:
        with store.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {key}, {columns} FROM {table} ORDER BY {key}"))
            return [tuple(row) for row in rows]

    alone = index()
    assert len(alone) == 1199
    with store.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE {key} > 0"))
    seen: list[int] = []
    statements: list[str] = []

    def sent(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", sent)
    assert reindex_archive(store, workers=2, progress=seen.append) == 1199
    assert index() == alone
    assert seen == sorted(seen) and seen[-1] == 1199 and len(seen) == 3  # batches of 500
    assert search(store, "Қазақстан").total == 300
    if not sqlite:  # an empty index is built with its GIN index dropped, then made at the end
        assert any(s.startswith("DROP INDEX") for s in statements)
        assert vector_index_used(store, "Қазақстан")
    statements.clear()
    with store.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE {key} > 600"))
    assert reindex_archive(store, workers=2) == 599  # an index that holds rows: kept
    assert index() == alone and not any(s.startswith("DROP INDEX") for s in statements)
    assert reindex_archive(store, workers=2) == 0  # nothing left to do
    event.remove(store.engine, "before_cursor_execute", sent)


@pytest.mark.postgres
def test_a_build_whose_gin_index_is_in_use_keeps_it_and_goes_on(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty index built while another session reads it (a running monitor's search): the
    build does not get the lock to drop the GIN index in time, keeps it, and indexes
    everything, the other session never stopped (it would wait for the build's commit)."""
    _reset_postgres(postgres_url)
    store = Store.open(postgres_url)
    reader = make_engine(postgres_url)
    try:
        for n in range(1, 41):
            store.save_article(record(n, text=f"Qazaxıstanla neft ixracı {n}."))
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM article_search WHERE article_id > 0"))
        monkeypatch.setattr(fulltext, "_DROP_LOCK_WAIT_MS", 100)
        with reader.connect() as other:
            other.begin()
            other.execute(text("SELECT count(*) FROM article_search"))  # holds its lock
            started = time.monotonic()
            assert reindex_archive(store, workers=0) == 40
            assert time.monotonic() - started < 10
            # still in its transaction, never stopped: it reads the build's committed rows
            assert other.execute(text("SELECT count(*) FROM article_search")).scalar_one() == 40
        assert vector_index_used(store, "Qazaxıstan")
        assert search(store, "Qazaxıstan").total == 40
    finally:
        reader.dispose()
        store.close()


@pytest.mark.postgres
def test_a_build_remakes_a_missing_gin_index(postgres_url: str) -> None:
    _reset_postgres(postgres_url)
    store = Store.open(postgres_url)
    try:
        store.save_article(record(1, text="Qazaxıstanla neft ixracı."))
        with store.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_article_search_vector"))
        assert reindex_archive(store, workers=0) == 0  # nothing to index: the index repaired
        assert vector_index_used(store, "Qazaxıstan")
    finally:
        store.close()


def vector_index_used(store: Store, word: str) -> bool:
    """Whether PostgreSQL answers a match for `word` through the GIN index of the vectors."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: else a scan
        plan = conn.execute(
            text("EXPLAIN SELECT count(*) FROM article_search WHERE vector @@ CAST(:q AS tsquery)"),
            {"q": f"'{word.lower()}'"},
        )
        return "ix_article_search_vector" in "\n".join(str(row[0]) for row in plan)
