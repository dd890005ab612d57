"""The archive on real SQLite and real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from monitor.core.records import FetchOutcome, SourceReport, Validators
from monitor.store import ArticleRecord, Store
from monitor.store.db import PING_AFTER_IDLE_S, migrate, ping_when_idle
from monitor.store.fulltext import is_search_table
from monitor.store.warc import WarcRef

BAKU = timezone(timedelta(hours=4))
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def record(**changes: object) -> ArticleRecord:
    base: dict[str, object] = {
        "source": "azertag-az",
        "key": "id:4411239",
        "aliases": ("id:4411239",),
        "url": "https://azertag.az/xeber/slug-4411239",
        "title": "Azərbaycan və Qazaxıstan",
        "text": "Birinci abzas.\n\nİkinci abzas.",
        "author": None,
        "lang": "az",
        "published_at": datetime(2026, 11, 20, 13, 35, tzinfo=BAKU),
        "date_source": "page",
        "listed_at": datetime(2026, 11, 20, 13, 35, tzinfo=BAKU),
        "fetched_at": T0,
        "content_hash": "h1",
        "extraction": "selectors",
        "http_status": 200,
        "warc": WarcRef("2026/11/x.warc.gz", 0, 100),
    }
    base.update(changes)
    return ArticleRecord(**base)  # type: ignore[arg-type]


# SQLite has no such index (PostgreSQL's `ix_article_newest`), and alembic says it skipped it
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_migrated_schema_matches_the_models(store: Store) -> None:
    def not_the_search_index(name: str | None, kind: str, _parents: object) -> bool:
        return not (kind in ("table", "index") and is_search_table(name))  # not SQLModel models

    def made_on_this_backend(item: object, *_: object) -> bool:
        """An index the models make on one backend only (`ddl_if`) is not missed on the other:
        SQLite's covering index of a search's facts, whose PostgreSQL keeps them elsewhere."""
        only = getattr(item, "_ddl_if", None)
        return only is None or only.dialect in (None, store.engine.dialect.name)

    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_name": not_the_search_index, "include_object": made_on_this_backend},
        )
        assert compare_metadata(context, SQLModel.metadata) == []
    migrate(store.engine)  # a second upgrade is a no-op
    assert "article" in inspect(store.engine).get_table_names()


def test_new_then_unchanged_then_updated(store: Store) -> None:
    assert store.save_article(record()).outcome == "new"
    assert store.save_article(record(fetched_at=T0 + timedelta(hours=1))).outcome == "unchanged"
    updated = record(
        key="id:4411239",
        aliases=("id:4411239", "url:https://azertag.az/xeber/slug_yenilenib-4411239"),
        title="Azərbaycan və Qazaxıstan YENİLƏNİB",
        content_hash="h2",
        fetched_at=T0 + timedelta(hours=2),
    )
    saved = store.save_article(updated)
    assert saved.outcome == "updated"
    [article] = list(store.articles())
    assert saved.article_id == article.id
    assert article.title.endswith("YENİLƏNİB")
    assert article.revisions == 2
    assert article.first_seen_at == T0
    assert article.last_seen_at == T0 + timedelta(hours=2)
    known = store.known_articles(
        "azertag-az", ["url:https://azertag.az/xeber/slug_yenilenib-4411239", "id:999"]
    )
    assert set(known) == {"url:https://azertag.az/xeber/slug_yenilenib-4411239"}
    assert store.count_articles() == 1


def test_dates_come_back_aware_with_the_original_offset(store: Store) -> None:
    store.save_article(record())
    [article] = list(store.articles())
    assert article.published_at == datetime(2026, 11, 20, 9, 35, tzinfo=UTC)
    assert article.published_at.tzinfo is not None
    assert article.published_offset_min == 240


def test_same_key_in_two_sources_are_two_articles(store: Store) -> None:
    store.save_article(record())
    store.save_article(record(source="icma"))
    assert store.count_articles() == 2
    assert store.count_articles("icma") == 1


def test_articles_filter_and_batches(store: Store) -> None:
    for n in range(7):
        store.save_article(
            record(
                key=f"id:{n}",
                aliases=(f"id:{n}",),
                content_hash=f"h{n}",
                published_at=T0 + timedelta(days=n),
            )
        )
    since = T0 + timedelta(days=4)
    assert [a.key for a in store.articles(since=since, batch=2)] == ["id:4", "id:5", "id:6"]
    assert len(list(store.articles(batch=3))) == 7
    assert list(store.articles(sources=["nobody"])) == []


def test_validators_robots_and_fetch_log(store: Store) -> None:
    assert store.validators("https://azertag.az/rss") is None
    store.save_validators("https://azertag.az/rss", Validators('"abc"', None), T0)
    store.save_validators("https://azertag.az/rss", Validators('"def"', "Mon"), T0)
    assert store.validators("https://azertag.az/rss") == Validators('"def"', "Mon")
    store.save_robots("https://azertag.az", "User-agent: *\nDisallow: /axtarish", T0)
    assert store.load_robots("https://azertag.az") == ("User-agent: *\nDisallow: /axtarish", T0)
    store.log_fetches(
        [
            FetchOutcome(
                "azertag-az",
                "https://azertag.az/x",
                "article",
                T0,
                500,
                10,
                0.25,
                4,
                "http-status",
                "HTTP 500",
            )
        ]
    )
    [entry] = store.fetch_log("azertag-az")
    assert (entry.status, entry.duration_ms, entry.error_kind) == (500, 250, "http-status")


def test_poll_reports_move_the_source_state(store: Store) -> None:
    failed = SourceReport("azertag-az", started_at=T0, finished_at=T0, errors=["feed x: timeout"])
    store.record_poll(failed, T0 + timedelta(minutes=30))
    store.record_poll(failed, T0 + timedelta(minutes=60))
    state = store.source_state("azertag-az")
    assert state.consecutive_failures == 2
    assert state.last_error == "feed x: timeout"
    assert store.due_sources(["azertag-az", "icma"], T0) == ["icma"]
    assert store.due_sources(["azertag-az"], T0 + timedelta(minutes=61)) == ["azertag-az"]
    store.record_poll(SourceReport("azertag-az", started_at=T0, finished_at=T0), T0)
    [row] = store.status(["azertag-az"], T0)
    assert row.consecutive_failures == 0
    assert row.last_success_at == T0


def test_tags_are_replaced_whole_and_read_back_in_batches(store: Store) -> None:
    from monitor.store import EntityRow

    first = store.save_article(record()).article_id
    second = store.save_article(record(key="id:2", aliases=("id:2",), content_hash="h2")).article_id
    store.save_tagging(
        first,
        relevant=True,
        score=4.5,
        reasons=["both countries in title"],
        topics=["transport", "diplomacy", "transport"],
        entities=[
            EntityRow("country", "kazakhstan", "Qazaxıstan", 3),
            EntityRow("place", "aktau", "Aktau", 1),
        ],
        tagged_with="1:abc",
    )
    store.save_tagging(  # a retag: the old topics and entities must go
        first,
        relevant=False,
        score=0.5,
        reasons=["failed: only Azerbaijan side"],
        topics=["other"],
        entities=[EntityRow("country", "azerbaijan", "Azərbaycan", 2)],
        tagged_with="1:def",
    )
    tags = store.tags_for([first, second])
    assert tags[first] == (["other"], [EntityRow("country", "azerbaijan", "Azərbaycan", 2)])
    assert tags[second] == ([], [])
    article = store.article(first)
    assert article is not None
    assert (article.relevant, article.score, article.tagged_with) == (False, 0.5, "1:def")
    assert article.reasons == '["failed: only Azerbaijan side"]'
    assert article.stage == "extracted"  # a retag records no stage unless told


def test_a_tagging_records_its_stage_with_it_and_never_moves_one_back(store: Store) -> None:
    first = store.save_article(record()).article_id
    tagged = {"relevant": True, "score": 5.0, "reasons": [], "topics": ["energy"], "entities": []}
    store.save_tagging(first, **tagged, tagged_with="1:abc", passed="tagged")
    article = store.article(first)
    assert article is not None and article.stage == "tagged"
    assert store.tags_for([first])[first][0] == ["energy"]
    store.mark_stage(first, "linked")
    store.save_tagging(first, **tagged, tagged_with="1:def", passed="tagged")  # a later retag
    article = store.article(first)
    assert article is not None and (article.stage, article.tagged_with) == ("linked", "1:def")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_workers_that_start_together_on_an_empty_archive_migrate_it_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four processes' first start at the same moment: each opens the archive, none fails on
    another's half-made schema (UniqueViolation on alembic_version, a table that already exists)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'archive.db'}"
    else:
        from conftest import _reset_postgres

        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    script = "import sys\nfrom monitor.store import Store\nStore.open(sys.argv[1]).close()\n"
    workers = [
        subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0], errors
    store = Store.open(url)
    try:
        assert "article" in inspect(store.engine).get_table_names()
    finally:
        store.close()


# --- PostgreSQL connections: checked before use when they have lain idle ---------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def drop_connection(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):  # the backend takes a moment to go
            alive = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
            if not alive:
                break
            time.sleep(0.02)
    admin.dispose()


@pytest.mark.postgres
def test_an_idle_connection_the_server_dropped_is_replaced_before_use(postgres_url: str) -> None:
    clock = Clock()
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_s=1.0, clock=clock)
    first = backend_pid(engine)
    drop_connection(postgres_url, first)
    clock.now += 1.5
    second = backend_pid(engine)  # no error: the ping found the connection gone
    assert second != first
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_used_again_at_once_is_not_pinged_and_one_statement_pays(
    postgres_url: str,
) -> None:
    """The trade `ping_when_idle` makes: within the idle time nothing is asked, so a connection
    dropped in that time fails the one statement that meets it, and the pool is renewed."""
    clock = Clock()
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_s=1.0, clock=clock)
    first = backend_pid(engine)
    assert backend_pid(engine) == first  # the pool's one connection, used again
    drop_connection(postgres_url, first)
    clock.now += 0.5
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != first
    engine.dispose()


@pytest.mark.postgres
def test_the_archive_engine_replaces_a_dropped_connection_after_a_pause(postgres_url: str) -> None:
    opened = Store.open(postgres_url)
    first = backend_pid(opened.engine)
    drop_connection(postgres_url, first)
    time.sleep(PING_AFTER_IDLE_S + 0.1)
    assert backend_pid(opened.engine) != first
    assert opened.count_articles() == 0
    opened.close()
