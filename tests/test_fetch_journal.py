"""The fetch log written in batches (`monitor.service.fetch_journal`): every outcome reaches the
log, in one transaction a flush; a write that fails keeps the lines for the next one; the lines
kept while the archive cannot be written are capped; the wiring writes the last lines when it
closes. Real SQLite and PostgreSQL archives, a real fetch of a local page."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import make_settings
from sqlalchemy import event, text

from monitor.core.errors import HTTPStatusError
from monitor.core.records import FetchOutcome
from monitor.demo.server import SiteServer
from monitor.service import fetch_journal
from monitor.service.fetch_journal import FetchJournal
from monitor.service.metrics import Metrics
from monitor.service.wiring import open_deps
from monitor.store import Store
from monitor.store.fetch_rows import _OUTCOME_COLUMNS
from monitor.store.tables import FetchLog

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OUTCOME = FetchOutcome("azertag-az", "https://azertag.az/rss", "feed", T0, 200, 5120, 0.125, 1)


def outcomes(n: int) -> list[FetchOutcome]:
    return [replace(OUTCOME, url=f"https://azertag.az/xeber/{i}") for i in range(n)]


def test_lines_wait_for_the_flush_then_go_in_one_transaction(store: Store) -> None:
    journal = FetchJournal(store, Metrics())
    for outcome in [*outcomes(3), replace(OUTCOME, status=None, error_kind="timeout", error="x")]:
        journal.record(outcome)
    assert store.fetch_log() == [] and journal.pending == 4
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    assert journal.flush() == 4
    assert len(commits) == 1
    logged = store.fetch_log(limit=10)
    assert sorted(row.url for row in logged) == sorted(o.url for o in [*outcomes(3), OUTCOME])
    failed = next(row for row in logged if row.error_kind)
    assert (failed.status, failed.error, failed.duration_ms, failed.bytes) == (None, "x", 125, 5120)
    assert journal.pending == 0 and journal.flush() == 0


def test_every_field_of_a_log_row_comes_from_the_outcome() -> None:
    """A column added to the fetch log must be given by the outcome (or be the duration in
    milliseconds): else every line would leave it empty."""
    assert set(FetchLog.model_fields) == {"id", "duration_ms", *_OUTCOME_COLUMNS}


def test_a_failed_write_keeps_the_lines_for_the_next_one(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FetchJournal(store)
    for outcome in outcomes(5):
        journal.record(outcome)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE fetch_log RENAME TO fetch_log_away"))
    with caplog.at_level(logging.WARNING, logger=fetch_journal.__name__):
        assert journal.flush() == 0
    assert "5 lines not written, kept for the next try" in caplog.text
    assert journal.pending == 5
    journal.record(replace(OUTCOME, url="https://azertag.az/later"))
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE fetch_log_away RENAME TO fetch_log"))
    assert journal.flush() == 6
    assert len(store.fetch_log(limit=20)) == 6


def test_lines_kept_while_the_archive_cannot_be_written_are_capped(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fetch_journal, "MAX_PENDING", 4)
    journal = FetchJournal(store)
    with caplog.at_level(logging.WARNING, logger=fetch_journal.__name__):
        for outcome in outcomes(7):
            journal.record(outcome)
    assert journal.pending == 4 and journal.dropped == 3
    assert "3 lines dropped" not in caplog.text and "1 lines dropped" in caplog.text
    assert journal.flush() == 4
    kept = sorted(row.url for row in store.fetch_log(limit=10))
    assert kept == sorted(o.url for o in outcomes(7)[3:])  # the newest, the oldest dropped


def test_the_writer_flushes_on_its_own_until_cancelled(store: Store) -> None:
    journal = FetchJournal(store)
    ticks: list[float] = []

    async def run() -> None:
        async def sleep(seconds: float) -> None:
            ticks.append(seconds)
            if len(ticks) == 1:
                journal.record(OUTCOME)
            elif len(ticks) == 3:
                raise asyncio.CancelledError

        with pytest.raises(asyncio.CancelledError):
            await journal.keep_writing(every=0.5, sleep=sleep)

    asyncio.run(run())
    assert ticks == [0.5, 0.5, 0.5]
    assert [row.url for row in store.fetch_log()] == [OUTCOME.url]


def test_a_poll_s_fetches_are_in_the_log_when_the_wiring_closes(tmp_path) -> None:
    """The fetcher tells the journal on the event loop; closing the dependencies writes the
    lines of the last second: every fetch, good or failed, is in the log afterwards."""
    settings = make_settings(tmp_path)
    with SiteServer() as site:
        found = f"{site.base_url('azertag.az')}/robots.txt"
        missing = f"{site.base_url('azertag.az')}/no-such-page"

        async def fetch() -> None:
            async with open_deps(settings) as deps:
                await deps.fetcher.get(found, source="azertag-az", purpose="robots")
                with pytest.raises(HTTPStatusError):
                    await deps.fetcher.get(missing, source="azertag-az", purpose="article")

        asyncio.run(fetch())
    store = Store.open(settings.archive_url)
    try:
        logged = {row.url: row for row in store.fetch_log("azertag-az")}
    finally:
        store.close()
    assert (logged[found].status, logged[found].error_kind) == (200, None)
    assert logged[missing].status == 404 and logged[missing].error_kind
