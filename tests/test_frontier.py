"""The durable frontier and resumable stages: a URL once discovered is archived in the end,
whatever the per-poll cap, a 304 or a crash between two stages; workers never claim one row twice.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import _reset_postgres, make_settings, monitor
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from monitor.config.rules import load_rules
from monitor.config.sources import Source
from monitor.core.errors import FetchTimeout, HTTPStatusError, RobotsDisallowed
from monitor.core.records import Candidate, Validators
from monitor.core.stages import LAST
from monitor.crawl.frontier import MAX_ATTEMPTS, retry_at
from monitor.demo.server import SiteServer
from monitor.service.advance import advance, finish_stages
from monitor.service.dedupe import dedupe_in_order
from monitor.service.lease import is_dead_worker, worker_name
from monitor.service.pipeline import poll_sources
from monitor.service.status import backlog_line, stages_line, status_report
from monitor.service.wiring import open_deps
from monitor.store import ArticleRecord, Discovered, Store
from monitor.store.tables import Article, FrontierRow, HttpCache

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BAKU = ZoneInfo("Asia/Baku")
HOLD = timedelta(minutes=10)


def found(n: int, start: int = 0) -> list[Discovered]:
    return [
        Discovered(
            f"id:{i}",
            Candidate(
                url=f"https://example.az/news/{i}",
                via="feed",
                title=f"title {i}",
                lang="az",
                published_at=(NOW - timedelta(minutes=i)).astimezone(BAKU),
            ),
        )
        for i in range(start, start + n)
    ]


def never_dead(_holder: str) -> bool:
    return False


# --- the store's frontier rows ------------------------------------------------------------------


def test_enqueue_writes_the_urls_and_then_the_validators_in_one_transaction(store: Store) -> None:
    added = store.enqueue(
        "azertag-az", found(5), NOW, ("https://example.az/rss", Validators('"v1"', None))
    )
    assert added == 5
    assert store.validators("https://example.az/rss") == Validators('"v1"', None)
    assert store.enqueue("azertag-az", found(5), NOW) == 0  # the same URLs again: no new rows
    assert store.backlog(["azertag-az"])["azertag-az"].waiting == 5


def test_a_failed_enqueue_saves_no_validators(store: Store) -> None:
    bad = [*found(2), Discovered("id:x", Candidate(url=None, via="feed"))]  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        store.enqueue("azertag-az", bad, NOW, ("https://example.az/rss", Validators('"v1"', None)))
    assert store.validators("https://example.az/rss") is None  # a 304 can never hide these
    assert store.backlog(["azertag-az"])["azertag-az"].waiting == 0


def test_claims_take_the_newest_first_and_never_the_same_row_twice(store: Store) -> None:
    store.enqueue("azertag-az", found(30), NOW)
    first = store.claim("azertag-az", "w1", 10, NOW, HOLD, never_dead)
    second = store.claim("azertag-az", "w2", 10, NOW, HOLD, never_dead)
    assert [row.key for row in first] == [f"id:{i}" for i in range(10)]  # newest listed first
    assert first[0].found == found(1)[0]  # as discovery handed it over, the date's offset kept
    assert first[0].found.candidate.published_at.utcoffset() == timedelta(hours=4)
    assert not {row.id for row in first} & {row.id for row in second}
    assert len(second) == 10
    # a claim lapses: past its hold another worker takes the row
    later = store.claim("azertag-az", "w3", 30, NOW + HOLD + timedelta(seconds=1), HOLD, never_dead)
    assert len(later) == 30


def test_a_claim_returns_only_the_rows_it_took_not_those_its_worker_holds_already(
    store: Store,
) -> None:
    """A poll claims its next rows while the last ones are in flight, at the same `now`: the
    second claim must not hand the first one's rows back (they would be archived twice)."""
    store.enqueue("azertag-az", found(12), NOW)
    first = store.claim("azertag-az", "w1", 5, NOW, HOLD, never_dead)
    second = store.claim("azertag-az", "w1", 5, NOW, HOLD, never_dead)
    third = store.claim("azertag-az", "w1", 5, NOW, HOLD, never_dead)
    assert [len(first), len(second), len(third)] == [5, 5, 2]
    keys = [row.key for row in (*first, *second, *third)]
    assert keys == [f"id:{i}" for i in range(12)]  # each once, newest first
    assert store.claim("azertag-az", "w1", 5, NOW, HOLD, never_dead) == []


def test_a_stage_is_recorded_without_moving_an_article_back(store: Store) -> None:
    saved = store.save_article(record("azertag-az", "id:1", "Qazaxıstan"))
    store.mark_stage(saved.article_id, "tagged")
    store.mark_stage(saved.article_id, "deduped")  # an earlier stage: no change
    assert store.article(saved.article_id).stage == "tagged"  # type: ignore[union-attr]
    store.mark_stage(saved.article_id, LAST)
    assert store.article(saved.article_id).stage == LAST  # type: ignore[union-attr]
    store.mark_stage(saved.article_id + 1, LAST)  # no such article: nothing happens
    with Session(store.engine) as s:  # a stage this version does not know counts as none
        s.exec(update(Article).values(stage="reviewed"))  # type: ignore[call-overload]
        s.commit()
    store.mark_stage(saved.article_id, "deduped")
    assert store.article(saved.article_id).stage == "deduped"  # type: ignore[union-attr]


def test_a_dead_workers_claims_are_free_at_once(store: Store, tmp_path: Path) -> None:
    store.enqueue("azertag-az", found(4), NOW)
    gone = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.service.lease import worker_name; print(worker_name())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    me = worker_name()
    assert is_dead_worker(gone, me)
    assert len(store.claim("azertag-az", gone, 4, NOW, HOLD, never_dead)) == 4
    assert store.claim("azertag-az", me, 4, NOW, HOLD, lambda h: is_dead_worker(h, me)) != []
    # a live worker's claims hold
    store.release(me)
    assert len(store.claim("azertag-az", "other-host:1:1:abc", 4, NOW, HOLD, never_dead)) == 4
    assert store.claim("azertag-az", me, 4, NOW, HOLD, lambda h: is_dead_worker(h, me)) == []


def test_retry_budget_and_reasons_are_recorded(store: Store) -> None:
    store.enqueue("azertag-az", found(2), NOW)
    one, two = store.claim("azertag-az", "w1", 2, NOW, HOLD, never_dead)
    store.retry_later(one.id, "timeout: read timed out", NOW + timedelta(minutes=10))
    store.retry_later(two.id, "http-status: 404", None)
    backlog = store.backlog(["azertag-az"])["azertag-az"]
    assert (backlog.waiting, backlog.failed) == (1, 1)
    assert store.claim("azertag-az", "w1", 2, NOW, HOLD, never_dead) == []  # not due yet
    again = store.claim("azertag-az", "w1", 2, NOW + timedelta(minutes=10), HOLD, never_dead)
    assert [row.attempts for row in again] == [1]
    with Session(store.engine) as s:
        failed = s.exec(select(FrontierRow).where(FrontierRow.state == "failed")).one()
    assert failed.last_error == "http-status: 404"
    line = backlog_line(store.backlog(["azertag-az"])["azertag-az"])
    assert line is not None and "1 given up" in line
    # a feed that dates the failed URL anew puts it back in the queue
    newer = [
        Discovered(two.key, replace(two.found.candidate, published_at=NOW + timedelta(hours=1)))
    ]
    store.enqueue("azertag-az", newer, NOW)
    assert store.backlog(["azertag-az"])["azertag-az"].failed == 0


def test_archiving_takes_the_row_off_the_frontier_in_the_same_transaction(store: Store) -> None:
    store.enqueue("azertag-az", found(1), NOW)
    (row,) = store.claim("azertag-az", "w1", 1, NOW, HOLD, never_dead)
    store.save_article(record("azertag-az", row.key, "Qazaxıstan"), row.id)
    assert store.backlog(["azertag-az"])["azertag-az"].waiting == 0


@pytest.mark.postgres
def test_four_threads_claiming_on_postgres_share_the_rows_without_overlap(
    postgres_url: str,
) -> None:
    _reset_postgres(postgres_url)
    stores = [Store.open(postgres_url) for _ in range(4)]
    try:
        stores[0].enqueue("azertag-az", found(400), NOW)
        taken: list[list[int]] = [[] for _ in stores]

        def work(index: int) -> None:
            while rows := stores[index].claim("azertag-az", f"w{index}", 7, NOW, HOLD, never_dead):
                taken[index].extend(row.id for row in rows)
                stores[index].forget(row.id for row in rows)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        every = [row for rows in taken for row in rows]
        assert len(every) == 400 and len(set(every)) == 400
        assert sum(1 for rows in taken if rows) >= 2  # the work was shared
    finally:
        for opened in stores:
            opened.close()


# --- the retry decider --------------------------------------------------------------------------


def test_retry_decider_gives_up_on_what_waiting_cannot_mend() -> None:
    url = "https://example.az/news/1"
    assert retry_at(HTTPStatusError(url, "gone", status=404), 1, NOW) is None
    assert retry_at(RobotsDisallowed(url, "disallowed"), 1, NOW) is None
    assert retry_at(None, 1, NOW) is None  # the analysis refused the page
    first = retry_at(FetchTimeout(url, "timed out"), 1, NOW)
    second = retry_at(FetchTimeout(url, "timed out"), 2, NOW)
    assert first is not None and second is not None and NOW < first < second
    assert retry_at(FetchTimeout(url, "timed out"), MAX_ATTEMPTS, NOW) is None
    slow = retry_at(HTTPStatusError(url, "429", status=429, retry_after=7200), 1, NOW)
    assert slow == NOW + timedelta(hours=2)


# --- resumable stages ---------------------------------------------------------------------------


def record(source: str, key: str, text: str) -> ArticleRecord:
    return ArticleRecord(
        source=source,
        key=key,
        aliases=(key,),
        url=f"https://example.az/{key}",
        title=f"{text} haqqında",
        text=f"Azərbaycan və {text} arasında əməkdaşlıq genişlənir. " * 20,
        author=None,
        lang="az",
        published_at=NOW,
        date_source="page",
        listed_at=NOW,
        fetched_at=NOW,
        content_hash=key,
        extraction="selectors",
        http_status=200,
        warc=None,
    )


def test_a_worker_dedupes_only_while_no_other_worker_on_the_archive_does(
    store: Store, tmp_path: Path
) -> None:
    """Two workers (two `Store`s on one archive, as two processes have) deduping two copies at
    the same moment would each miss the other's sketch: the second waits for the first."""
    rules = load_rules(make_settings(tmp_path).topics)
    other = Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        first = store.save_article(record("azertag-az", "id:1", "Qazaxıstan")).article_id
        copy = other.save_article(record("icma-az", "id:2", "Qazaxıstan")).article_id
        finished = threading.Event()

        def other_worker() -> None:
            advance(other, rules, frozenset(), copy)
            finished.set()

        with store.one_at_a_time("dedupe"):  # this worker is deduping `first`
            thread = threading.Thread(target=other_worker)
            thread.start()
            assert not finished.wait(1.0)  # the other waits for this worker's dedupe to end
            assert dedupe_in_order(store, frozenset(), first) is None
            store.mark_stage(first, "deduped")
        assert finished.wait(30)
        thread.join()
        original, article = store.article(first), store.article(copy)
        assert original is not None and article is not None
        assert article.duplicate_of == original.url
    finally:
        other.close()


@pytest.mark.postgres
def test_threads_waiting_for_their_turn_hold_no_database_connection(postgres_url: str) -> None:
    """The pipeline advances articles on many threads; those waiting for their turn to dedupe
    wait in the process, not each on a pooled connection in `pg_advisory_lock`, which would
    empty the pool (5 + 10 overflow) on a machine with many cores."""
    _reset_postgres(postgres_url)
    store = Store.open(postgres_url)
    try:
        entered = threading.Semaphore(0)

        def waiter() -> None:
            with store.one_at_a_time("dedupe"):
                entered.release()

        threads = [threading.Thread(target=waiter) for _ in range(20)]
        with store.one_at_a_time("dedupe"):
            for thread in threads:
                thread.start()
            assert not entered.acquire(timeout=1.0)  # they wait for the holder
            assert store.engine.pool.checkedout() == 1  # the holder's lock, and no other
        for thread in threads:
            thread.join(timeout=30)
        assert all(entered.acquire(timeout=0) for _ in threads)  # each had its turn
    finally:
        store.close()


def test_an_article_stored_but_never_tagged_is_finished_by_the_next_cycle(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, seeds_dir=tmp_path / "no-seeds")
    store = Store.open(settings.archive_url)
    try:
        saved = store.save_article(record("azertag-az", "id:1", "Qazaxıstan"))  # then "killed"
        assert store.article(saved.article_id).stage == "extracted"  # type: ignore[union-attr]
        report = status_report(store, [], NOW)
        assert stages_line(report) == "stages: 1 wait for dedupe"
    finally:
        store.close()

    async def cycle() -> None:
        async with open_deps(settings, []) as deps:
            await poll_sources([], deps)

    asyncio.run(cycle())
    store = Store.open(settings.archive_url)
    try:
        article = store.article(saved.article_id)
        assert article is not None and article.stage == LAST
        assert article.tagged_with and article.relevant is not None and article.story_id
        assert "every stage" in stages_line(status_report(store, [], NOW))
        # running the stages again changes nothing
        before = (article.tagged_with, article.duplicate_of, article.relevant)
        assert finish_stages(store, load_rules(settings.topics), frozenset()) == 0
        again = store.article(saved.article_id)
        assert (
            again is not None and (again.tagged_with, again.duplicate_of, again.relevant) == before
        )
    finally:
        store.close()


# --- the pipeline: a cap and a 304 lose nothing -------------------------------------------------


@pytest.mark.slow
def test_a_capped_poll_leaves_the_rest_waiting_and_304s_do_not_lose_it(
    tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    source = next(s for s in local_sources if s.feeds and not s.sitemaps and not s.listings)
    settings = make_settings(tmp_path, max_articles_per_poll=1)

    async def poll() -> int:
        async with open_deps(settings, [source]) as deps:
            (report,) = await poll_sources([source], deps)
            assert report.ok, report.errors
            return report.waiting

    waiting = asyncio.run(poll())
    assert waiting >= 1, "the recorded feed should list more than one article"
    store = Store.open(settings.archive_url)
    try:
        with Session(store.engine) as s:
            assert s.exec(select(HttpCache)).all()  # the feed's validators are saved
        total = waiting + 1
    finally:
        store.close()
    polls = 0
    while waiting and polls < total + 2:
        sites.clear_requests()
        waiting = asyncio.run(poll())
        polls += 1
        feed_requests = [r for r in sites.requests if r.conditional]
        assert feed_requests  # the feed answered 304; the frontier still had work
    assert waiting == 0
    store = Store.open(settings.archive_url)
    try:
        with Session(store.engine) as s:
            rows = s.exec(select(Article).where(Article.source == source.name)).all()
        assert len(rows) == total
        assert all(row.stage == LAST and row.story_id for row in rows)
        assert len({row.url for row in rows}) == total
    finally:
        store.close()


# --- what the operator sees ---------------------------------------------------------------------


def test_status_and_frontier_commands_show_the_backlog_and_what_was_given_up(
    tmp_path: Path, local_sources_file: Path
) -> None:
    settings = make_settings(tmp_path)
    store = Store.open(settings.archive_url)
    try:
        store.enqueue("azertag-az", found(3), NOW)
        (row,) = store.claim("azertag-az", "w1", 1, NOW, HOLD, never_dead)
        store.retry_later(row.id, "http-status: HTTP 404 Not Found", None)
    finally:
        store.close()
    env = {"MONITOR_DATA_DIR": str(tmp_path), "MONITOR_SOURCES": str(local_sources_file)}
    status = monitor("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "frontier: 2 waiting (oldest found 2026-12-04 12:00Z: https://example.az/news/1)" in (
        status.stdout
    )
    assert "1 given up" in status.stdout
    assert "stages: every archived article has passed every stage" in status.stdout
    failed = monitor("frontier", "--failed", env=env)
    assert failed.returncode == 0, failed.stderr
    assert "azertag-az: https://example.az/news/0" in failed.stdout
    assert "last error: http-status: HTTP 404 Not Found" in failed.stdout
    waiting = monitor("frontier", "--source", "azertag-az", "--json", env=env)
    assert [json.loads(line)["key"] for line in waiting.stdout.splitlines()] == ["id:1", "id:2"]
