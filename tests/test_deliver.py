"""The digest jobs end to end: the outbox, the real python-telegram-bot against the fake Bot API,
a real aiosmtpd server, the file sink, and real process deaths.

Crash tests run the sender as a separate process (this file, run as a script: see `worker`) that
ends itself with os._exit at a named crash point, as a killed process would: no finally blocks,
no flushing, no rollback but the database's own. Then a new process starts the same job, as the
scheduler would after a restart, and the chat is checked item by item.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import _reset_postgres
from sqlmodel import select

from monitor.config.settings import Settings
from monitor.core.errors import DeliveryError
from monitor.core.workers import claim_holder
from monitor.deliver.digest import Labels
from monitor.deliver.dry_run import preview
from monitor.deliver.jobs import DigestRun, run_digest
from monitor.deliver.sending import send_due
from monitor.deliver.sinks import FileChannel, file_name
from monitor.store import Store, outbox
from monitor.store.outbox import Claimed, Outgoing

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:fake-SECRET-token"
CHAT = "@azkz_digest"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 10:00 in Baku
CRASHED = 75  # the worker's exit status when it ended itself at a crash point
LABELS = Labels(
    sources={"azertag-az": "AZERTAC"},
    topics={"diplomacy": "Diplomacy", "trade": "Trade", "energy": "Energy"},
)
TOPICS = (("diplomacy",), ("trade", "energy"), ("energy",), ())
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


def settings_for(data_dir: Path, url: str, **changes: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": url,
        "telegram_rate_per_minute": 1000,
    }
    base.update(changes)
    return Settings(**base)


def telegram_settings(data_dir: Path, url: str, api_url: str, **changes: Any) -> Settings:
    return settings_for(
        data_dir,
        url,
        telegram_token=TOKEN,
        telegram_chat_id=CHAT,
        telegram_api_url=api_url,
        **changes,
    )


def store_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def marker(n: int) -> str:
    return f"Item {n:03d} "


def add_items(store: Store, count: int, *, start: int = 0, seen: datetime = NOW) -> list[int]:
    """Relevant articles with long titles full of markup characters: 60 make several messages."""
    from test_outbox import add_article

    return [
        add_article(
            store,
            n,
            title=marker(n) + 'Orta Dəhliz <Middle Corridor> & "Trans-Caspian" talks ' * 3,
            topics=TOPICS[n % len(TOPICS)],
            seen=seen - timedelta(minutes=n),
        )
        for n in range(start, start + count)
    ]


def times_posted(messages: list[Any], numbers: range) -> dict[int, int]:
    return {n: sum(m.text.count(marker(n)) for m in messages) for n in numbers}


class FakeTime:
    """A clock and sleep for the sender: sleeping moves the clock on at once, and is recorded."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def run(kind: str, store: Store, settings: Settings, now: datetime, **options: Any) -> DigestRun:
    options.setdefault("labels", LABELS)
    if "time" in options:
        fake: FakeTime = options.pop("time")
        options.update(clock=fake.clock, sleep=fake.sleep)
    else:
        options.setdefault("clock", lambda: now)
    return asyncio.run(run_digest(kind, store, settings, now, **options))  # type: ignore[arg-type]


@pytest.fixture
def api() -> Iterator[Any]:
    from fakebotapi import FakeBotAPI

    with FakeBotAPI(token=TOKEN) as server:
        yield server


# --- the crash worker: this file run as a script -----------------------------------------------


def worker(job: dict[str, Any]) -> int:
    """One run of a digest job in this process; ends the process at `job["crash"]` ("point" or
    "point:n", the n-th time the point is reached), as `kill -9` would."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    point, _, nth = (job.get("crash") or "").partition(":")
    reached = 0

    def checkpoint(name: str, key: str) -> None:
        nonlocal reached
        if name == point:
            reached += 1
            if reached == int(nth or 1):
                print(f"crashing at {name} of {key}", file=sys.stderr, flush=True)
                os._exit(CRASHED)

    now = datetime.fromisoformat(job["now"])
    settings = Settings(**job["settings"])
    store = Store.open(settings.archive_url)
    try:
        result = asyncio.run(
            run_digest(
                job["kind"],
                store,
                settings,
                now,
                labels=LABELS,
                clock=lambda: now,
                checkpoint=checkpoint,
            )
        )
    finally:
        store.close()
    print(json.dumps(result.lines()))
    return 0


def worker_command(
    kind: str, settings: Settings, now: datetime, crash: str | None = None
) -> list[str]:
    """The command that runs one digest job in a process of its own (`worker`)."""
    job = {
        "kind": kind,
        "now": now.isoformat(),
        "crash": crash,
        "settings": json.loads(
            settings.model_dump_json(
                include={
                    "data_dir",
                    "database_url",
                    "telegram_chat_id",
                    "telegram_api_url",
                    "telegram_rate_per_minute",
                    "smtp_host",
                    "smtp_port",
                    "smtp_tls",
                    "email_from",
                    "email_to",
                }
            )
        )
        | {
            "telegram_token": settings.telegram_token.get_secret_value()
            if settings.telegram_token
            else None
        },
    }
    return [sys.executable, __file__, json.dumps(job)]


def spawn(kind: str, settings: Settings, now: datetime, crash: str | None = None) -> int:
    done = subprocess.run(
        worker_command(kind, settings, now, crash),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode not in (0, CRASHED):
        raise AssertionError(f"worker failed ({done.returncode}):\n{done.stderr}")
    return done.returncode


# --- crash tests -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "lost"),
    [
        ("before_request", False),  # still pending: the restart sends it
        ("after_claim", True),  # died mid-request before it left: unknown, skipped, reported
        ("after_reply", False),  # posted but not marked: unknown, not resent, so still once
        ("after_marking", False),  # marked: nothing left to do
    ],
)
def test_kill_the_sender_at_each_crash_point_then_restart(
    store: Store, api: Any, tmp_path: Path, point: str, lost: bool
) -> None:
    add_items(store, 60)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    assert spawn("telegram", settings, NOW, crash=f"{point}:2") == CRASHED
    parts = sorted(
        (d for d in _deliveries(store) if d.channel == "telegram"), key=lambda d: d.id or 0
    )
    assert len(parts) >= 3
    # the restart, after the stale-claim timeout, as the scheduler's next run
    restart = NOW + timedelta(minutes=20)
    assert spawn("telegram", settings, restart) == 0
    posted = times_posted(api.messages, range(60))
    second = parts[1]
    second_items = {n for n in range(60) if marker(n) in second.payload.decode()}
    if lost:
        assert {n for n, k in posted.items() if k == 0} == second_items
        assert all(k == 1 for n, k in posted.items() if n not in second_items)
    else:
        assert posted == dict.fromkeys(range(60), 1)  # each item reached the chat exactly once
    problems = outbox.outbox_problems(store)
    if point in ("after_claim", "after_reply"):
        [problem] = problems
        assert (problem.key, problem.state) == (second.key, "unknown")
        assert "interrupted during the request" in (problem.last_error or "")
    else:
        assert problems == []
    # a later run, in the next slot, posts nothing
    count = len(api.messages)
    assert spawn("telegram", settings, NOW + timedelta(hours=2)) == 0
    assert len(api.messages) == count


@pytest.mark.slow
def test_a_crash_frees_the_channel_at_once_on_the_same_host(
    store: Store, api: Any, tmp_path: Path
) -> None:
    """A restart within 15 minutes on the same host sees that the sender died: its part is
    settled as unknown at once (never posted twice) and the channel is free again."""
    add_items(store, 3)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    assert spawn("telegram", settings, NOW, crash="after_claim") == CRASHED
    assert spawn("telegram", settings, NOW + timedelta(minutes=1)) == 0
    assert api.messages == []
    assert [d.state for d in _deliveries(store)] == ["unknown"]


@pytest.fixture
def shared_archive(postgres_url: str) -> Iterator[Store]:
    """An empty PostgreSQL archive, the one that several workers share."""
    _reset_postgres(postgres_url)
    opened = Store.open(postgres_url)
    try:
        yield opened
    finally:
        opened.close()


def mid_request(
    store: Store, workers: dict[int, subprocess.Popen[bytes]], *, after: int, api: Any
) -> subprocess.Popen[bytes]:
    """The worker that claimed a delivery to send once `after` messages have reached the chat."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(api.messages) >= after:
            for delivery in _deliveries(store):
                holder = claim_holder(delivery.claim_token) if delivery.state == "sending" else None
                pid = int(holder.split(":")[1]) if holder else None
                if pid in workers:
                    return workers[pid]
        time.sleep(0.01)
    raise AssertionError(f"no worker was sending after {after} messages")


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 4])
def test_workers_sharing_an_archive_post_each_item_once_though_one_is_killed(
    shared_archive: Store, api: Any, tmp_path: Path, workers: int
) -> None:
    """Several workers run the same digest at once on one PostgreSQL archive (as `monitor run` on
    several machines does when the slot comes), the Bot API slow to answer, and the worker that is
    sending is SIGKILLed at a random moment of its run. Then a restart, as the scheduler's next tick. No item
    reaches the chat twice, and every item not posted waits in an `unknown` delivery for the
    operator (`monitor outbox`): nothing is lost without a word."""
    store = shared_archive
    add_items(store, 120)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("slow", 200, delay=0.2)  # every message is out 0.2 s before its answer comes
    logs = [(tmp_path / f"worker{n}.err").open("w") for n in range(workers)]
    processes = [
        subprocess.Popen(worker_command("telegram", settings, NOW), cwd=ROOT, stderr=log)
        for log in logs
    ]
    by_pid = {p.pid: p for p in processes}
    try:
        victim = mid_request(store, by_pid, after=random.randint(1, 5), api=api)
        time.sleep(random.uniform(0.0, 0.15))  # before its request leaves, or while it waits
        victim.send_signal(signal.SIGKILL)
        codes = [p.wait(timeout=120) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for log in logs:
            log.close()
    errors = "\n".join((tmp_path / f"worker{n}.err").read_text() for n in range(workers))
    assert victim.returncode == -signal.SIGKILL
    assert [c for p, c in zip(processes, codes, strict=True) if p is not victim] == [0] * (
        workers - 1
    ), errors
    assert spawn("telegram", settings, NOW + timedelta(minutes=1)) == 0  # the restart
    posted = times_posted(api.messages, range(120))
    assert max(posted.values()) == 1, "an item reached the chat twice"
    parts = [d for d in _deliveries(store) if d.channel == "telegram"]
    assert {d.state for d in parts} <= {"sent", "unknown"}  # none left pending or claimed
    awaiting = {
        n
        for d in parts
        if d.state == "unknown"
        for n in range(120)
        if marker(n) in d.payload.decode()
    }
    assert {n for n, times in posted.items() if times == 0} <= awaiting
    assert len([d for d in parts if d.state == "unknown"]) <= 1  # only the victim's request
    assert len(api.calls("sendMessage")) == len(api.messages)  # nothing resent


@pytest.mark.slow
def test_email_is_resent_after_a_crash_after_the_reply(
    store: Store, smtp: SMTPServer, tmp_path: Path
) -> None:
    """Email errs the other way: the same bytes again, with the same Message-ID."""
    add_items(store, 5, seen=NOW - timedelta(days=3))
    settings = smtp.settings(tmp_path, store_url(store))
    assert spawn("email", settings, NOW, crash="after_reply") == CRASHED
    assert spawn("email", settings, NOW + timedelta(minutes=20)) == 0
    assert len(smtp.received) == 2
    ids = {email.message_from_bytes(m)["Message-ID"] for m in smtp.received}
    assert len(ids) == 1
    assert outbox.outbox_problems(store) == []


# --- the lost reply, retries and failures, in process ------------------------------------------


def test_lost_reply_is_skipped_logged_and_reported(
    store: Store, api: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_items(store, 60)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("drop")  # Telegram posts the first part, the answer never comes
    with caplog.at_level(logging.ERROR, logger="monitor.deliver.sending"):
        first = run("telegram", store, settings, NOW)
    [report] = first.reports
    assert len(report.unknown) == 1 and report.unknown[0].endswith("#part1")
    assert len(report.sent) >= 2  # the other parts went on
    assert any(
        "may or may not have been posted" in r.getMessage() and report.unknown[0] in r.getMessage()
        for r in caplog.records
    )
    assert times_posted(api.messages, range(60)) == dict.fromkeys(range(60), 1)
    assert len(api.calls("sendMessage")) == len(api.messages)  # nothing resent
    [problem] = outbox.outbox_problems(store)
    assert (problem.state, problem.key) == ("unknown", report.unknown[0])
    assert "may have been posted" in (problem.last_error or "")
    again = run("telegram", store, settings, NOW + timedelta(hours=2))
    assert again.reports == [] and len(api.messages) == len(api.calls("sendMessage"))


def test_server_errors_are_retried_with_backoff_then_succeed(
    store: Store, api: Any, tmp_path: Path
) -> None:
    add_items(store, 5)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("server_error", 2)
    fake = FakeTime(NOW)
    result = run("telegram", store, settings, NOW, time=fake)
    assert fake.sleeps == [30.0, 60.0]
    [report] = result.reports
    assert report.ok and len(report.sent) == 1 and report.retrying == [report.sent[0]] * 2
    assert len(api.calls("sendMessage")) == 3
    assert times_posted(api.messages, range(5)) == dict.fromkeys(range(5), 1)
    [delivery] = _deliveries(store)
    assert (delivery.state, delivery.attempts, delivery.remote_id) == ("sent", 3, "1")


def test_long_waits_are_left_to_the_next_run(store: Store, api: Any, tmp_path: Path) -> None:
    add_items(store, 2)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("server_error", 4)
    fake = FakeTime(NOW)
    first = run("telegram", store, settings, NOW, time=fake)
    assert fake.sleeps == [30.0, 60.0, 120.0]  # the fourth wait (240 s) is over MAX_WAIT
    assert first.reports[0].sent == [] and api.messages == []
    later = FakeTime(fake.now + timedelta(minutes=5))
    second = run("telegram", store, settings, later.now, time=later)
    assert len(second.reports[0].sent) == 1
    assert times_posted(api.messages, range(2)) == {0: 1, 1: 1}


def test_blocked_bot_fails_at_once_shows_up_and_its_items_come_back_later(
    store: Store, api: Any, tmp_path: Path
) -> None:
    add_items(store, 3)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("blocked")
    fake = FakeTime(NOW)
    first = run("telegram", store, settings, NOW, time=fake)
    assert fake.sleeps == []
    assert len(api.calls("sendMessage")) == 1  # not retried
    [report] = first.reports
    assert len(report.failed) == 1 and not report.ok
    [problem] = outbox.outbox_problems(store)
    assert problem.state == "failed" and problem.attempts == 1
    assert CHAT in (problem.last_error or "") and "may not post" in (problem.last_error or "")
    # the operator fixes the bot's rights; the next digest takes the items up: nothing is lost
    later = NOW + timedelta(hours=2)
    run("telegram", store, settings, later)
    assert times_posted(api.messages, range(3)) == {0: 1, 1: 1, 2: 1}
    assert [p.state for p in outbox.outbox_problems(store)] == ["failed"]  # still listed


def test_flood_control_beyond_the_notifier_bound_waits_retry_after(
    store: Store, api: Any, tmp_path: Path
) -> None:
    add_items(store, 2)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("flood", 4, retry_after=5)  # three waits in the notifier, then the outbox's
    fake = FakeTime(NOW)
    result = run("telegram", store, settings, NOW, time=fake)
    assert fake.sleeps == [5.0, 5.0, 5.0, 5.0]
    assert len(result.reports[0].sent) == 1
    assert times_posted(api.messages, range(2)) == {0: 1, 1: 1}


def test_bad_markup_goes_out_as_plain_text_once(store: Store, api: Any, tmp_path: Path) -> None:
    add_items(store, 2)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    api.fail_next("bad_markup")
    run("telegram", store, settings, NOW)
    [message] = api.messages
    assert message.parse_mode is None
    assert '<Middle Corridor> & "Trans-Caspian"' in message.text  # the plain twin, unescaped


def test_a_second_run_posts_nothing_and_new_items_come_in_the_next_digest(
    store: Store, api: Any, tmp_path: Path
) -> None:
    add_items(store, 4)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    first = run("telegram", store, settings, NOW)
    assert len(first.reports[0].sent) == 1
    assert run("telegram", store, settings, NOW).reports == []  # same slot
    assert run("telegram", store, settings, NOW + timedelta(hours=2)).reports == []
    add_items(store, 2, start=10, seen=NOW + timedelta(hours=3))
    third = run("telegram", store, settings, NOW + timedelta(hours=4))
    assert len(third.reports[0].sent) == 1
    posted = times_posted(api.messages, range(12))
    assert {n for n, k in posted.items() if k} == {0, 1, 2, 3, 10, 11}
    assert all(k <= 1 for k in posted.values())
    assert len(api.messages) == 2


def test_instant_posts_leave_the_digest_out(store: Store, api: Any, tmp_path: Path) -> None:
    from test_outbox import add_article

    add_article(store, 1, title=marker(1) + "summit", score=20.0, seen=NOW)
    add_article(store, 2, title=marker(2) + "trade", score=3.0, seen=NOW)
    settings = telegram_settings(tmp_path, store_url(store), api.url, telegram_instant_score=10.0)
    instant = run("instant", store, settings, NOW)
    assert [r.channel for r in instant.reports] == ["telegram-instant"]
    assert [m.text.count(marker(1)) for m in api.messages] == [1]
    assert "just in" in api.messages[0].text
    run("telegram", store, settings, NOW + timedelta(hours=1))
    assert times_posted(api.messages, range(1, 3)) == {1: 1, 2: 1}


def test_one_run_posts_instant_items_first_through_one_connection(
    store: Store, api: Any, tmp_path: Path
) -> None:
    from test_outbox import add_article

    add_article(store, 1, title=marker(1) + "summit", score=20.0, seen=NOW)
    add_article(store, 2, title=marker(2) + "trade", score=3.0, seen=NOW)
    settings = telegram_settings(tmp_path, store_url(store), api.url, telegram_instant_score=10.0)
    result = run("telegram", store, settings, NOW)
    assert [r.channel for r in result.reports] == ["telegram-instant", "telegram"]
    assert len(api.calls("getMe")) == 1
    first, second = api.messages
    assert marker(1) in first.text and marker(2) not in first.text
    assert marker(2) in second.text and marker(1) not in second.text


def test_dry_run_shows_and_records_nothing(store: Store, api: Any, tmp_path: Path) -> None:
    add_items(store, 3)
    settings = telegram_settings(tmp_path, store_url(store), api.url)
    [text] = preview("telegram", store, settings, NOW, labels=LABELS)
    assert marker(0) in text and "<b>Diplomacy</b>" in text
    assert _deliveries(store) == [] and api.requests == []


def test_email_dry_run_prints_the_plain_text_and_writes_the_html_to_a_file_it_names(
    store: Store, tmp_path: Path
) -> None:
    add_items(store, 3, seen=NOW - timedelta(days=2))  # Saturday of the week before NOW
    settings = settings_for(tmp_path, store_url(store))
    lines = preview("email", store, settings, NOW, labels=LABELS)
    shown = "\n".join(lines)
    assert (
        lines[0]
        == "Subject: Azerbaijan–Kazakhstan relations: week of 16–22 Nov 2026 — 3 relevant items"
    )
    assert "Week of 16–22 Nov 2026" in shown and marker(0) in shown
    assert "<html" not in shown.lower() and "base64" not in shown  # the plain-text part
    path = tmp_path / "digests" / "dry-run" / "email-2026-W47.html"
    assert lines[-1] == f"HTML part written to {path}"
    assert "data:image/png;base64," in path.read_text(encoding="utf-8")
    assert _deliveries(store) == []
    assert [p.name for p in settings.digests_dir.iterdir()] == ["dry-run"]  # nothing delivered


def test_a_weekly_preview_of_a_chosen_week(store: Store, tmp_path: Path) -> None:
    """The demo's way to the week its articles were first seen in: the period is passed in."""
    from monitor.deliver.dry_run import preview_weekly

    add_items(store, 2, seen=NOW + timedelta(days=1))  # this week, not the last full one
    settings = settings_for(tmp_path, store_url(store))
    last_full = preview_weekly(store, settings, NOW, labels=LABELS)
    assert "No relevant items this week." in last_full.text
    this_week = preview_weekly(store, settings, NOW, labels=LABELS, week_start=NOW.date())
    assert this_week.subject.endswith("2 relevant items") and marker(1) in this_week.text
    assert this_week.html_path.name == "email-2026-W48.html"


# --- the file sink -----------------------------------------------------------------------------


def test_file_sink_writes_each_digest_once_and_prints_it(store: Store, tmp_path: Path) -> None:
    add_items(store, 4, seen=NOW - timedelta(days=2))
    settings = settings_for(tmp_path, store_url(store))  # no token, no SMTP
    out = io.StringIO()
    telegram = run("telegram", store, settings, NOW, out=out)
    weekly = run("email", store, settings, NOW, out=out)
    assert [r.channel for r in telegram.reports + weekly.reports] == ["file-telegram", "file-email"]
    files = sorted(p.name for p in settings.digests_dir.iterdir())
    assert files == ["email-2026-W47.html", "telegram-2026-11-23T1000+0400.md"]
    markdown = (settings.digests_dir / files[1]).read_text()
    assert markdown.startswith("# Azerbaijan–Kazakhstan news")
    assert r"\<Middle Corridor\> \& \"Trans-Caspian\"" in markdown or "\\<Middle" in markdown
    assert all(marker(n) in markdown for n in range(4))
    page = (settings.digests_dir / files[0]).read_text()
    assert "<html" in page.lower() and "data:image/png;base64," in page
    printed = out.getvalue()
    assert markdown in printed and str(settings.digests_dir / files[1]) in printed
    # second runs, and a restart later in the week: nothing new written or printed
    stamps = {p: p.stat().st_mtime_ns for p in settings.digests_dir.iterdir()}
    out2 = io.StringIO()
    run("telegram", store, settings, NOW + timedelta(hours=2), out=out2)
    run("email", store, settings, NOW + timedelta(days=2), out=out2)
    assert out2.getvalue() == ""
    assert {p: p.stat().st_mtime_ns for p in settings.digests_dir.iterdir()} == stamps


def test_file_names_come_from_the_keys() -> None:
    assert file_name("file-telegram:2026-11-21T10:00+04:00") == "telegram-2026-11-21T1000+0400.md"
    assert file_name("file-email:2026-W47") == "email-2026-W47.html"
    assert "/" not in file_name("file-telegram:../../etc/passwd")


def test_file_channel_rewrites_whole_files(tmp_path: Path) -> None:
    channel = FileChannel(tmp_path, "file-telegram", io.StringIO())
    claimed = Claimed(1, "file-telegram", "file-telegram:x", "é".encode(), 1, "t", ())
    path = asyncio.run(channel.deliver(claimed))
    assert Path(path).read_text() == "é"
    assert [p.name for p in tmp_path.iterdir()] == ["telegram-x.md"]  # no temp file left


# --- the weekly email over real SMTP -----------------------------------------------------------


@dataclass
class SMTPServer:
    port: int
    received: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content)
        return "250 2.0.0 queued"

    def settings(self, data_dir: Path, url: str) -> Settings:
        return settings_for(
            data_dir,
            url,
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            smtp_tls="none",
            email_from="monitor@example.org",
            email_to="a@example.org, b@example.org",
        )


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = SMTPServer(port)
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def test_weekly_email_is_sent_once_per_week(store: Store, smtp: SMTPServer, tmp_path: Path) -> None:
    add_items(store, 6, seen=NOW - timedelta(days=3))
    settings = smtp.settings(tmp_path, store_url(store))
    first = run("email", store, settings, NOW)
    assert first.reports[0].sent == ["email:2026-W47"]
    run("email", store, settings, NOW + timedelta(hours=1))
    run("email", store, settings, NOW + timedelta(days=3))  # a restart later in the week
    [raw] = smtp.received
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.is_multipart()
    assert "16–22 Nov 2026" in str(message["Subject"])
    assert message["Bcc"] is None  # not transmitted
    run("email", store, settings, NOW + timedelta(days=7))  # the next week: a new email
    assert len(smtp.received) == 2


def test_the_weekly_email_sets_the_week_by_language_against_the_eight_before(
    store: Store, smtp: SMTPServer, tmp_path: Path
) -> None:
    from test_outbox import BAKU, add_article

    from monitor.store import Article

    week = NOW - timedelta(days=3)  # in 2026-W47, the week the email of NOW is about
    for n in range(4):
        add_article(store, n, seen=week)
    add_article(store, 4, seen=datetime(2026, 11, 16, 0, 30, tzinfo=BAKU))  # Sunday, in UTC
    add_article(store, 5, relevant=False, seen=week)
    add_article(store, 6, duplicate_of="https://azertag.az/xeber/0", seen=week)
    add_article(store, 10, seen=week - timedelta(weeks=2))
    add_article(store, 11, seen=week - timedelta(weeks=2))
    add_article(store, 20, seen=week - timedelta(weeks=8))
    add_article(store, 30, seen=week - timedelta(weeks=9))  # before the chart
    with store.session() as s:
        for article in s.exec(select(Article)):
            article.lang = {"id:1": "ru", "id:11": "kk"}.get(article.key, article.lang)
            s.add(article)
        s.commit()
    settings = smtp.settings(tmp_path, store_url(store))
    run("email", store, settings, NOW)
    [raw] = smtp.received
    message = email.message_from_bytes(raw, policy=email.policy.default)
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert [p.get_filename() for p in images] == [
        "relevant-per-day.png",
        "relevant-by-language.png",
    ]
    plain = message.get_body(("plain",))
    assert plain is not None
    text = plain.get_content().replace("\r\n", "\n")
    table = text.split("THE 8 BEFORE\n", 1)[1].split("\n\n")[0].splitlines()
    assert table[0].split() == ["week", "of", "az", "kk", "ru"]
    rows = {" ".join(line.split()[:2]): line.split()[2:5] for line in table[1:]}
    assert len(rows) == 9
    assert rows["21 Sep"] == ["1", "0", "0"]
    assert rows["2 Nov"] == ["1", "1", "0"]
    assert rows["16 Nov"] == ["4", "0", "1"] and table[-1].endswith("<- this week")
    assert sum(int(n) for counts in rows.values() for n in counts) == 8  # not the one before


def test_smtp_down_is_retried_and_the_email_stays_pending(store: Store, tmp_path: Path) -> None:
    add_items(store, 2, seen=NOW - timedelta(days=3))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])  # nobody listens here
    settings = SMTPServer(port).settings(tmp_path, store_url(store))
    fake = FakeTime(NOW)
    result = run("email", store, settings, NOW, time=fake)
    assert fake.sleeps == [30.0, 60.0, 120.0]
    assert result.reports[0].retrying and not result.reports[0].failed
    [delivery] = _deliveries(store)
    assert (delivery.state, delivery.attempts) == ("pending", 4)


# --- send_due with a channel of the test's own -------------------------------------------------


@dataclass
class ScriptedChannel:
    """A channel whose answers the test scripts: a remote id, or an error to raise."""

    script: list[str | BaseException]
    name: str = "telegram"
    seen: list[str] = field(default_factory=list)

    async def deliver(self, delivery: Claimed) -> str:
        self.seen.append(delivery.key)
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def send(store: Store, channel: ScriptedChannel, **options: Any):
    fake = FakeTime(NOW)
    return asyncio.run(send_due(store, channel, clock=fake.clock, sleep=fake.sleep, **options))


def test_an_unexpected_error_mid_request_is_unknown_and_raised(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"{}")], NOW)
    with pytest.raises(RuntimeError):
        send(store, ScriptedChannel([RuntimeError("bug")]))
    [problem] = outbox.outbox_problems(store)
    assert problem.state == "unknown" and "RuntimeError: bug" in (problem.last_error or "")


def test_a_flagged_lost_reply_is_unknown(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"{}")], NOW)
    error = DeliveryError("telegram", "connection reset", maybe_delivered=True)
    report = send(store, ScriptedChannel([error]))
    assert report.unknown == ["telegram:a#part1"]


def test_attempts_run_out(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"{}")], NOW)
    errors: list[str | BaseException] = [DeliveryError("telegram", "500") for _ in range(3)]
    report = send(store, ScriptedChannel(errors), max_attempts=3)
    assert report.failed == ["telegram:a#part1"] and len(report.retrying) == 2


def _deliveries(store: Store) -> list[Any]:
    from sqlmodel import select

    from monitor.store.tables import Delivery

    with store.session() as s:
        return list(s.exec(select(Delivery).order_by(Delivery.id)))  # type: ignore[arg-type]


_: Callable[..., Any] = worker  # used when this file runs as a script

if __name__ == "__main__":
    sys.exit(worker(json.loads(sys.argv[1])))
