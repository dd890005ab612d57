"""The outbox state machine, on real SQLite and real PostgreSQL; a sender killed mid-request
in a process of its own."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.core.workers import claim_holder, claim_token, worker_name
from monitor.deliver import outbox_policy
from monitor.deliver.outbox_policy import Verdict, after_failure
from monitor.deliver.sending import send_due
from monitor.deliver.settle import reconcile, record_verdict
from monitor.service.status import problem_line
from monitor.store import ArticleRecord, Store, outbox
from monitor.store.outbox import Claimed, Outgoing
from monitor.store.queries import DigestRow

BAKU = timezone(timedelta(hours=4))
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
SINCE = T0 - timedelta(days=7)


def add_article(
    store: Store,
    n: int,
    *,
    relevant: bool = True,
    topics: Sequence[str] = ("diplomacy",),
    seen: datetime = T0,
    duplicate_of: str | None = None,
    title: str | None = None,
    score: float = 5.0,
    source: str = "azertag-az",
) -> int:
    saved = store.save_article(
        ArticleRecord(
            source=source,
            key=f"id:{n}",
            aliases=(f"id:{n}",),
            url=f"https://azertag.az/xeber/{n}",
            title=title or f"Item {n:03d}",
            text=f"Lead of {n}.\n\nMore.",
            author=None,
            lang="az",
            published_at=datetime(2026, 11, 21, 9, 0, tzinfo=BAKU),
            date_source="page",
            listed_at=None,
            fetched_at=seen,
            content_hash=f"h{n}",
            extraction="selectors",
            http_status=200,
            warc=None,
        )
    )
    store.save_tagging(
        saved.article_id,
        relevant=relevant,
        score=score,
        reasons=[],
        topics=topics,
        entities=[],
        tagged_with="test",
    )
    if duplicate_of:
        store.replace_extraction(saved.article_id, duplicate_of=duplicate_of)
    return saved.article_id


def take_all(key: str):
    """A plan that puts every candidate not yet held into one delivery."""

    def plan(rows: list[DigestRow], held: frozenset[int]) -> list[Outgoing]:
        ids = tuple(r.article_id for r in rows if r.article_id not in held)
        return [Outgoing(key, b"payload", ids)] if ids else []

    return plan


def queue_all(store: Store, key: str, channel: str = "telegram") -> list[int]:
    return outbox.record_digest(
        store,
        channel,
        T0,
        since=SINCE,
        audience=("telegram", "telegram-instant"),
        plan=take_all(key),
    )


def claim_head(store: Store, channel: str = "telegram", token: str = "w1", now: datetime = T0):
    head = outbox.next_head(store, channel)
    assert head is not None
    return outbox.claim(store, head.id, token, now)


def settle_failure(
    store: Store, claimed: Claimed, error: str, now: datetime, **how: Any
) -> Verdict:
    """A failed attempt as the sender settles it: the policy decides, the outbox records."""
    return record_verdict(store, claimed, after_failure(claimed.attempts, error, now, **how))


def state_of(store: Store, key: str) -> str:
    return {p.key: p.state for p in all_rows(store)}[key]


def all_rows(store: Store):
    from sqlmodel import select

    from monitor.store.tables import Delivery

    with store.session() as s:
        return list(s.exec(select(Delivery)))


# --- recording ---------------------------------------------------------------------------------


def test_record_is_once_per_key(store: Store) -> None:
    first = outbox.record(store, "email", [Outgoing("email:2026-W47", b"x")], T0)
    assert len(first) == 1
    assert outbox.record(store, "email", [Outgoing("email:2026-W47", b"y")], T0) == []
    assert outbox.recorded(store, "email:2026-W47")
    assert not outbox.recorded(store, "email:2026-W48")


def test_an_article_goes_into_one_live_delivery_only(store: Store) -> None:
    a, b = add_article(store, 1), add_article(store, 2)
    [first] = queue_all(store, "telegram:10:00#part1")
    assert queue_all(store, "telegram:12:00#part1") == []  # nothing new
    c = add_article(store, 3)
    [second] = queue_all(store, "telegram:14:00#part1")
    claimed = claim_head(store)
    assert claimed is not None and claimed.id == first and claimed.item_ids == (a, b)
    outbox.mark_sent(store, claimed, "m1", T0)
    assert outbox.delivered_items(store, ["telegram"]) == {a, b}
    assert outbox.delivered_items(store, ["telegram"], states=outbox.HOLDING) == {a, b, c}
    assert second != first
    # the file sink is another audience: it takes the same articles for itself
    assert outbox.record_digest(
        store, "file-telegram", T0, since=SINCE, audience=("file-telegram",), plan=take_all("f:1")
    )


def test_a_rerun_of_the_same_slot_records_nothing(store: Store) -> None:
    add_article(store, 1)
    assert queue_all(store, "telegram:10:00#part1")
    add_article(store, 2)
    assert queue_all(store, "telegram:10:00#part1") == []  # key taken: the slot is done


# --- claiming and marking ----------------------------------------------------------------------


def test_claim_is_won_once(store: Store) -> None:
    add_article(store, 1)
    [delivery_id] = queue_all(store, "telegram:10:00#part1")
    first = outbox.claim(store, delivery_id, "w1", T0)
    assert first is not None and first.attempts == 1
    assert outbox.claim(store, delivery_id, "w2", T0) is None
    assert outbox.next_head(store, "telegram") is None  # busy: one at a time per channel


def test_two_workers_racing_for_the_head_one_wins(store: Store) -> None:
    for n in range(3):
        outbox.record(store, "telegram", [Outgoing(f"telegram:x#part{n}", b"p")], T0)
    head = outbox.next_head(store, "telegram")
    assert head is not None
    barrier = threading.Barrier(8)
    won: list[str] = []

    def worker(token: str) -> None:
        barrier.wait()
        for _ in range(3):  # also try the following rows: the busy channel refuses them
            found = outbox.next_head(store, "telegram")
            if found and outbox.claim(store, found.id, token, T0):
                won.append(token)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert Counter(row.state for row in all_rows(store)) == {"sending": 1, "pending": 2}


def test_concurrent_digests_never_share_an_article(store: Store) -> None:
    for n in range(20):
        add_article(store, n)
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        queue_all(store, f"telegram:slot{n}#part1")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = all_rows(store)
    assert len(rows) == 1  # the first took all twenty; the others found nothing left
    covered = outbox.delivered_items(store, ["telegram"], states=outbox.HOLDING)
    assert len(covered) == 20


def test_sent_needs_the_claim_token(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    claimed = claim_head(store)
    assert claimed is not None
    from dataclasses import replace

    assert not outbox.mark_sent(store, replace(claimed, token="intruder"), "m", T0)
    assert outbox.mark_sent(store, claimed, "m", T0)
    assert state_of(store, "telegram:a#part1") == "sent"
    assert not outbox.mark_sent(store, claimed, "m2", T0)  # once sent, nothing moves it


def test_retryable_errors_back_off_then_fail_after_the_last_attempt(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    now, delays = T0, []
    for _ in range(4):
        head = outbox.next_head(store, "telegram")
        assert head is not None and head.due(now)
        claimed = outbox.claim(store, head.id, "w", now)
        assert claimed is not None
        verdict = settle_failure(store, claimed, "500", now, permanent=False, max_attempts=4)
        if verdict.state == "failed":
            break
        assert verdict.delay is not None
        delays.append(verdict.delay)
        head = outbox.next_head(store, "telegram")
        assert head is not None and not head.due(now)
        now += timedelta(seconds=verdict.delay)
    assert delays == [30.0, 60.0, 120.0]
    assert verdict.state == "failed"
    [problem] = outbox.outbox_problems(store)
    assert (problem.state, problem.attempts, problem.last_error) == ("failed", 4, "500")
    assert outbox_policy.backoff(20) == outbox_policy.BACKOFF_CAP


def test_retry_after_is_honoured_and_permanent_errors_fail_at_once(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    claimed = claim_head(store)
    assert claimed is not None
    verdict = settle_failure(
        store, claimed, "429", T0, permanent=False, retry_after=7, max_attempts=8
    )
    assert (verdict.state, verdict.delay) == ("pending", 7)
    claimed = claim_head(store, now=T0 + timedelta(seconds=7))
    assert claimed is not None and claimed.attempts == 2
    verdict = settle_failure(store, claimed, "403", T0, permanent=True, max_attempts=8)
    assert (verdict.state, verdict.delay) == ("failed", None)


def test_the_head_waiting_for_its_retry_holds_back_the_next_part(store: Store) -> None:
    outbox.record(
        store,
        "telegram",
        [Outgoing("telegram:a#part1", b"1"), Outgoing("telegram:a#part2", b"2")],
        T0,
    )
    claimed = claim_head(store)
    assert claimed is not None
    settle_failure(store, claimed, "500", T0, permanent=False, max_attempts=8)
    head = outbox.next_head(store, "telegram")
    assert head is not None and head.key == "telegram:a#part1" and not head.due(T0)


# --- crashes, unknowns and the operator --------------------------------------------------------


def test_reconcile_settles_stale_sending_rows_by_channel(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    outbox.record(store, "email", [Outgoing("email:2026-W47", b"p")], T0)
    outbox.record(store, "file-telegram", [Outgoing("file-telegram:a", b"p")], T0)
    for channel in ("telegram", "email", "file-telegram"):
        assert claim_head(store, channel) is not None
    # a live request (claimed a minute ago) is left alone
    assert reconcile(store, T0 + timedelta(minutes=1), resend={"email"}) == []
    done = reconcile(store, T0 + timedelta(minutes=20), resend={"email", "file-telegram"})
    assert {(r.key, r.state) for r in done} == {
        ("telegram:a#part1", "unknown"),
        ("email:2026-W47", "pending"),
        ("file-telegram:a", "pending"),
    }
    [problem] = outbox.outbox_problems(store)
    assert problem.key == "telegram:a#part1"
    assert "may or may not have been posted" in (problem.last_error or "")
    assert "unknown telegram:a#part1" in problem_line(problem)


def test_a_late_answer_beats_the_reconciled_guess(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    claimed = claim_head(store)
    assert claimed is not None
    reconcile(store, T0 + timedelta(hours=1), resend=())
    assert state_of(store, "telegram:a#part1") == "unknown"
    assert outbox.mark_sent(store, claimed, "m7", T0 + timedelta(hours=1))
    assert state_of(store, "telegram:a#part1") == "sent"


def test_unknown_holds_its_articles_until_resolved(store: Store) -> None:
    a = add_article(store, 1)
    queue_all(store, "telegram:10:00#part1")
    claimed = claim_head(store)
    assert claimed is not None
    outbox.mark_unknown(store, claimed, "no answer; may have been posted")
    assert queue_all(store, "telegram:12:00#part1") == []  # held: not posted again
    [problem] = outbox.outbox_problems(store)
    assert (problem.state, problem.items) == ("unknown", 1)
    assert outbox.resolve_unknown(store, claimed.id, posted=False, now=T0)
    assert not outbox.resolve_unknown(store, claimed.id, posted=False, now=T0)
    [released] = queue_all(store, "telegram:14:00#part1")  # the next digest takes it up
    again = claim_head(store)
    assert again is not None and again.id == released and again.item_ids == (a,)


def test_resolved_as_posted_is_sent(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    claimed = claim_head(store)
    assert claimed is not None
    outbox.mark_unknown(store, claimed, "lost")
    assert outbox.resolve_unknown(store, claimed.id, posted=True, now=T0)
    assert state_of(store, "telegram:a#part1") == "sent"
    assert outbox.outbox_problems(store) == []


def test_failed_releases_its_articles_and_retry_refuses_when_they_moved_on(store: Store) -> None:
    add_article(store, 1)
    [failed_id] = queue_all(store, "telegram:10:00#part1")
    claimed = claim_head(store)
    assert claimed is not None
    settle_failure(store, claimed, "403", T0, permanent=True, max_attempts=8)
    assert queue_all(store, "telegram:12:00#part1")  # released into the next digest
    assert not outbox.retry_failed(store, failed_id, T0, audience=("telegram", "telegram-instant"))


def test_retry_failed_puts_it_back_in_line(store: Store) -> None:
    outbox.record(store, "email", [Outgoing("email:2026-W47", b"p")], T0)
    claimed = claim_head(store, "email")
    assert claimed is not None
    settle_failure(store, claimed, "535 auth", T0, permanent=True, max_attempts=8)
    assert outbox.outbox_counts(store) == {"email": {"failed": 1}}
    assert outbox.retry_failed(store, claimed.id, T0)
    again = claim_head(store, "email")
    assert again is not None and again.attempts == 1
    assert outbox.outbox_counts(store) == {"email": {"sending": 1}}


@pytest.mark.parametrize("attempts", [1, 2, 3])
def test_backoff_doubles(attempts: int) -> None:
    assert outbox_policy.backoff(attempts) == 30.0 * 2 ** (attempts - 1)


def test_a_payload_that_kills_the_sender_each_time_fails_in_the_end(store: Store) -> None:
    outbox.record(store, "email", [Outgoing("email:2026-W47", b"p")], T0)
    now = T0
    for attempt in range(1, 4):
        assert claim_head(store, "email", now=now) is not None  # ... and the process dies
        now += timedelta(hours=1)
        [done] = reconcile(store, now, resend={"email"}, max_attempts=3)
        assert done.state == ("failed" if attempt == 3 else "pending")
    [problem] = outbox.outbox_problems(store)
    assert "3 attempts" in (problem.last_error or "")


# --- a sender killed during its request --------------------------------------------------------

# A sender in a process of its own: it claims the channel's head, makes its request (it prints the
# key once the request is out) and waits for an answer that never comes, until the test kills it.
HANGING_SENDER = """
import asyncio, sys
from monitor.deliver.sending import send_due
from monitor.store import Store

class Hanging:
    name = sys.argv[2]

    async def deliver(self, delivery):
        print(delivery.key, flush=True)
        await asyncio.sleep(3600)
        return "never"

asyncio.run(send_due(Store.open(sys.argv[1], "write"), Hanging()))
"""


@dataclass
class Recording:
    """A channel that posts everything at once and remembers what it posted."""

    name: str = "telegram"
    seen: list[str] = field(default_factory=list)

    async def deliver(self, delivery: Claimed) -> str:
        self.seen.append(delivery.key)
        return f"m{len(self.seen)}"


def url_of(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def first_line(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the sender did not start its request in time"
    return process.stdout.readline().strip()


def gone_worker() -> str:
    """The name of a worker of this host that ran, and ended (reaped by this test)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.core.workers import worker_name; print(worker_name())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_sender_killed_mid_request_frees_its_channel_at_once(store: Store, tmp_path) -> None:
    outbox.record(
        store,
        "telegram",
        [Outgoing("telegram:a#part1", b"1"), Outgoing("telegram:a#part2", b"2")],
        T0,
    )
    errors = (tmp_path / "sender.err").open("w")
    sender = subprocess.Popen(
        [sys.executable, "-c", HANGING_SENDER, url_of(store), "telegram"],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    channel = Recording()
    try:
        line = first_line(sender)
        assert line == "telegram:a#part1", (tmp_path / "sender.err").read_text()
        # while the sender lives, its claim holds, however long its request takes
        report = asyncio.run(send_due(store, channel))
        assert (channel.seen, report.reconciled) == ([], [])
        assert state_of(store, "telegram:a#part1") == "sending"
    finally:
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
        errors.close()
    # killed mid-request: the next sender settles the row at once, without waiting STALE_AFTER
    report = asyncio.run(send_due(store, channel))
    assert [(r.key, r.state) for r in report.reconciled] == [("telegram:a#part1", "unknown")]
    assert channel.seen == ["telegram:a#part2"]  # the next message goes; the first is not repeated
    assert report.sent == ["telegram:a#part2"]
    assert state_of(store, "telegram:a#part1") == "unknown"
    [problem] = outbox.outbox_problems(store)
    assert "which no longer runs" in (problem.last_error or "")
    assert "may or may not have been posted" in (problem.last_error or "")


def test_a_dead_workers_claim_is_settled_at_once_the_way_its_channel_errs(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    outbox.record(store, "email", [Outgoing("email:2026-W47", b"p")], T0)
    gone = claim_token(gone_worker())
    for channel in ("telegram", "email"):
        assert claim_head(store, channel, token=gone) is not None
    done = reconcile(store, T0 + timedelta(seconds=1), resend={"email"})  # no lapse needed
    assert {(r.key, r.state) for r in done} == {
        ("telegram:a#part1", "unknown"),
        ("email:2026-W47", "pending"),
    }


def test_a_live_or_far_workers_claim_waits_for_its_lapse(store: Store) -> None:
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    outbox.record(store, "email", [Outgoing("email:2026-W47", b"p")], T0)
    outbox.record(store, "file-telegram", [Outgoing("file-telegram:a", b"p")], T0)
    far = gone_worker().replace(socket.gethostname(), "another-host", 1)  # dead there? unknowable
    tokens = {
        "telegram": claim_token(far),
        "email": claim_token(worker_name()),  # a live worker: this process
        "file-telegram": "c0ffee",  # a token of before claims named their worker
    }
    for channel, token in tokens.items():
        assert claim_head(store, channel, token=token) is not None
    assert reconcile(store, T0 + timedelta(minutes=1), resend={"email"}) == []
    done = reconcile(store, T0 + outbox_policy.STALE_AFTER, resend={"email"})
    assert {(r.key, r.state) for r in done} == {
        ("telegram:a#part1", "unknown"),
        ("email:2026-W47", "pending"),
        ("file-telegram:a", "unknown"),
    }


@pytest.mark.parametrize(
    ("token", "holder"),
    [
        ("vm:41:7712:a1b2c3/0f9e", "vm:41:7712:a1b2c3"),
        ("0f9e8d7c", None),  # unsigned: only the time rule applies
        ("/0f9e", None),
        (None, None),
    ],
)
def test_claim_holder(token: str | None, holder: str | None) -> None:
    assert claim_holder(token) == holder


def test_two_claims_of_one_worker_differ() -> None:
    me = worker_name()
    first, second = claim_token(me), claim_token(me)
    assert first != second and claim_holder(first) == claim_holder(second) == me


@pytest.mark.parametrize(
    ("age", "gone", "settled"),
    [
        (timedelta(seconds=1), True, True),
        (timedelta(seconds=1), False, False),
        (timedelta(minutes=15), False, True),
    ],
)
def test_abandoned(age: timedelta, gone: bool, settled: bool) -> None:
    assert outbox_policy.abandoned(T0 - age, T0, holder_gone=gone) is settled
