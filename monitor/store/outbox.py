"""The outbox: every message owed to a channel is recorded, with its rendered payload and the
articles it covers, before it is sent, so that a crash at any point neither loses nor repeats it.

    pending ──claim──► sending ──answer──► sent
      ▲  ▲                 │
      │  └── retryable ────┤  after a backoff, while attempts are left
      │                    ├──► failed    permanent error, or the attempts spent
      │                    └──► unknown   no answer: reply lost, or the process died (chats)
      └──── reconcile ─────── a dead process's row, on channels that take a repeat (email, files)

1. `record` / `record_digest` insert the pending rows in their own transaction, before any
   request. The key ("telegram:2026-11-21T10:00+04:00#part1", "email:2026-W47") is unique, so
   queuing the same digest twice, from a restart or a second worker, records nothing the second
   time; and a digest's articles are chosen under a lock on the channel's audience, so an
   article is in at most one live (pending, sending, sent or unknown) delivery there.
2. `claim` marks one row `sending` with a claim token and the time, by a conditional UPDATE
   (`WHERE state = 'pending' AND no delivery of the channel is sending`): of two workers, one
   wins; the other sends nothing. Deliveries of one channel go out one at a time, in order. The
   token names the claiming worker (`monitor.core.workers.claim_token`), so a claim left by a
   process of this host that was killed is settled at once, not after the time limit.
3. The sender makes one request, then `mark_sent` stores the remote id, or `mark_retry` /
   `mark_failed` record what the delivery stage decided (`monitor.deliver.outbox_policy`: capped
   exponential backoff or the server's retry_after while attempts are left, else `failed`).

This module holds the rows and narrow operations on them; it decides nothing about retrying,
resending or what a digest shows: the delivery stage decides, and the outbox records.

What no client can close is the time between the `sending` mark and the `sent` mark: one request.
If the reply is lost there (the connection dropped after Telegram accepted the message, or the
process died before marking), nobody knows whether the message was posted. The outbox then errs
on the side of SKIPPING for chat channels (telegram, telegram-instant): the row becomes `unknown`,
is logged at ERROR and listed by `outbox_problems` for `monitor status`, and is not resent. A
duplicate in a public channel is seen by every reader and cannot be taken back quietly; a missed
item is still in the archive and the weekly email, and once the operator has looked at the channel,
`resolve_unknown(..., posted=False)` releases its articles into the next digest (or `posted=True`
closes it). The same window is the common case of a crash after the reply, where the message *was*
posted, so skipping there keeps "each item once". Channels that can take a repeat (email: the same
bytes with the same Message-ID, which mail systems deduplicate; the file sink: the same file
rewritten) are listed by the sender as at-least-once and are resent instead (the delivery stage's
`reconcile` reads the `sending_rows`, picks those whose sender died or whose claim lapsed, and
settles each with `settle_stale`).

Only `pending`, `sending`, `sent` and `unknown` deliveries hold their articles; a `failed` one lets
them go, so the next digest takes them up again (nothing is lost to a long outage), while the
failed row stays listed until the operator retries or leaves it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, false, func, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from monitor.core.records import copied
from monitor.store import Store
from monitor.store.queries import DigestRow, digest_rows_in
from monitor.store.tables import Article, Delivery, DeliveryItem

PENDING, SENDING, SENT, FAILED, UNKNOWN = "pending", "sending", "sent", "failed", "unknown"
HOLDING = (PENDING, SENDING, SENT, UNKNOWN)  # states whose articles count as delivered
PROBLEMS = (FAILED, UNKNOWN)


@dataclass(frozen=True)
class Outgoing:
    """A delivery to record: its unique key, the rendered payload and the articles it covers."""

    key: str
    payload: bytes
    item_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker marked `sending`; only the holder of `token` may mark it."""

    id: int
    channel: str
    key: str
    payload: bytes
    attempts: int  # this one included
    token: str
    item_ids: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    """A failed or unknown delivery, for `monitor status`."""

    id: int
    channel: str
    key: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    claimed_at: datetime | None
    items: int


@dataclass(frozen=True)
class Stale:
    """A delivery `sending` since `claimed_at` under `token`: its sender may have died
    mid-request."""

    id: int
    channel: str
    key: str
    attempts: int
    claimed_at: datetime
    token: str | None


# --- recording ---------------------------------------------------------------------------------


def record(store: Store, channel: str, outgoing: Sequence[Outgoing], now: datetime) -> list[int]:
    """Insert the deliveries in one transaction; [] when their keys were recorded before."""
    with store.session() as s:
        try:
            ids = _insert(s, channel, outgoing, now)
            s.commit()
        except IntegrityError:
            s.rollback()
            return []
    return ids


def record_digest(
    store: Store,
    channel: str,
    now: datetime,
    *,
    since: datetime,
    audience: Collection[str],
    plan: Callable[[list[DigestRow], frozenset[int]], Sequence[Outgoing]],
) -> list[int]:
    """Choose and record a digest atomically: under a lock on the audience (the channels that
    post to the same readers), read the candidate articles first seen since `since` and the ids
    already held by a live delivery there, let `plan` (pure: select and render) turn them into
    deliveries, and insert those. Two workers queuing at once cannot both take an article."""
    with store.session() as s:
        _lock(s, audience)
        rows = digest_rows_in(s, since=since, until=None, relevant_only=True)
        held = _held(s, audience, since)
        outgoing = plan(rows, held)
        if not outgoing:
            return []
        try:
            ids = _insert(s, channel, outgoing, now)
            s.commit()
        except IntegrityError:  # this digest's key was recorded before (a rerun in the same slot)
            s.rollback()
            return []
    return ids


def _insert(s: Session, channel: str, outgoing: Sequence[Outgoing], now: datetime) -> list[int]:
    ids = []
    for entry in outgoing:
        row = Delivery(channel=channel, key=entry.key, payload=entry.payload, created_at=now)
        s.add(row)
        s.flush()
        assert row.id is not None
        s.add_all(
            DeliveryItem(delivery_id=row.id, article_id=a) for a in dict.fromkeys(entry.item_ids)
        )
        ids.append(row.id)
    s.flush()
    return ids


def _lock(s: Session, channels: Collection[str]) -> None:
    """Serialise this transaction with every other one that locks one of `channels`, until it
    ends. On PostgreSQL, one advisory lock per channel, taken in a fixed order (no deadlock)."""
    if s.get_bind().dialect.name == "postgresql":
        for channel in sorted(set(channels)):
            key = zlib.crc32(f"outbox:{channel}".encode())
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        # SQLite has one writer: a write, even one that changes nothing, takes the database's
        # write lock until commit (waiting out the busy timeout), before this transaction reads.
        s.execute(update(Delivery).where(false()).values(state=PENDING))


def _held(s: Session, channels: Collection[str], since: datetime) -> frozenset[int]:
    query = (
        select(DeliveryItem.article_id)
        .join(Delivery, col(Delivery.id) == DeliveryItem.delivery_id)
        .join(Article, col(Article.id) == DeliveryItem.article_id)
        .where(col(Delivery.channel).in_(list(channels)), col(Delivery.state).in_(HOLDING))
        .where(col(Article.first_seen_at) >= since)
    )
    return frozenset(s.exec(query))


def delivered_items(
    store: Store, channels: Collection[str], *, states: Collection[str] = (SENT,)
) -> set[int]:
    """The articles covered by deliveries on `channels` in `states` (by default: posted)."""
    with store.session() as s:
        query = (
            select(DeliveryItem.article_id)
            .join(Delivery, col(Delivery.id) == DeliveryItem.delivery_id)
            .where(col(Delivery.channel).in_(list(channels)), col(Delivery.state).in_(list(states)))
        )
        return set(s.exec(query))


# --- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The oldest pending delivery of a channel: the only one that may be sent next."""

    id: int
    key: str
    not_before: datetime | None  # when a retry is due; None: at once

    def due(self, now: datetime) -> bool:
        return self.not_before is None or self.not_before <= now


def next_head(store: Store, channel: str) -> Head | None:
    """The channel's oldest pending delivery; None when there is none or one of the channel is
    being sent. A later delivery never overtakes an earlier one that waits for its retry: the
    chat reads a digest's parts in order."""
    with store.session() as s:
        busy = s.exec(
            select(Delivery.id).where(Delivery.channel == channel, Delivery.state == SENDING)
        ).first()
        if busy is not None:
            return None
        head = s.exec(
            select(Delivery)
            .where(Delivery.channel == channel, Delivery.state == PENDING)
            .order_by(col(Delivery.id))
            .limit(1)
        ).first()
    if head is None or head.id is None:
        return None
    return Head(head.id, head.key, head.next_attempt_at)


def recorded(store: Store, key: str) -> bool:
    """Whether a delivery with this key exists, in any state."""
    with store.session() as s:
        return s.exec(select(Delivery.id).where(Delivery.key == key)).first() is not None


def claim(store: Store, delivery_id: int, token: str, now: datetime) -> Claimed | None:
    """Mark the delivery `sending` for this worker, if it is still pending and its channel idle.
    None: another worker got there first."""
    other = aliased(Delivery)
    with store.session() as s:
        channel = s.exec(select(Delivery.channel).where(Delivery.id == delivery_id)).one()
        busy = exists().where(col(other.channel) == channel, col(other.state) == SENDING)
        result = s.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id, col(Delivery.state) == PENDING, ~busy)
            .values(
                state=SENDING,
                claim_token=token,
                claimed_at=now,
                attempts=col(Delivery.attempts) + 1,
            )
        )
        s.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = s.get(Delivery, delivery_id)
        assert row is not None and row.id is not None
        items = s.exec(
            select(DeliveryItem.article_id)
            .where(DeliveryItem.delivery_id == delivery_id)
            .order_by(col(DeliveryItem.article_id))
        )
        return Claimed(row.id, row.channel, row.key, row.payload, row.attempts, token, tuple(items))


def _mark(store: Store, claimed: Claimed, **values: object) -> bool:
    """Apply a mark if this worker still holds the claim. A row that `reconcile` turned
    `unknown` meanwhile still takes the real answer: it is better than a guess."""
    with store.session() as s:
        result = s.execute(
            update(Delivery)
            .where(
                col(Delivery.id) == claimed.id,
                col(Delivery.claim_token) == claimed.token,
                col(Delivery.state).in_([SENDING, UNKNOWN]),
            )
            .values(**values)
        )
        s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(store: Store, claimed: Claimed, remote_id: str, now: datetime) -> bool:
    return _mark(store, claimed, state=SENT, remote_id=remote_id, sent_at=now, last_error=None)


def mark_retry(store: Store, claimed: Claimed, error: str, not_before: datetime) -> bool:
    """Back to pending after a failed attempt: the channel's head again, sent from `not_before`."""
    return _mark(
        store,
        claimed,
        state=PENDING,
        last_error=error,
        claim_token=None,
        next_attempt_at=not_before,
    )


def mark_failed(store: Store, claimed: Claimed, error: str) -> bool:
    """Given up: the row stays listed and lets its articles go into the next digest."""
    return _mark(store, claimed, state=FAILED, last_error=error, claim_token=None)


def mark_unknown(store: Store, claimed: Claimed, error: str) -> bool:
    """The request went out and no answer came back: posted or not, nobody knows."""
    return _mark(store, claimed, state=UNKNOWN, last_error=error)


def sending_rows(store: Store) -> list[Stale]:
    """Every delivery now `sending` (at most one per channel), with its claim's time and token:
    the delivery stage tells from those whether its sender may still answer."""
    with store.session() as s:
        rows = s.exec(select(Delivery).where(Delivery.state == SENDING).order_by(col(Delivery.id)))
        return [
            Stale(row.id or 0, row.channel, row.key, row.attempts, row.claimed_at, row.claim_token)
            for row in rows
            if row.claimed_at is not None
        ]


def settle_stale(store: Store, stale: Stale, state: str, note: str) -> bool:
    """Move a stale delivery to `state` (pending, unknown or failed), unless it was answered or
    reclaimed meanwhile. An unknown row keeps its token: a late answer from that worker counts."""
    with store.session() as s:
        result = s.execute(
            update(Delivery)
            .where(
                col(Delivery.id) == stale.id,
                col(Delivery.state) == SENDING,
                col(Delivery.claim_token) == stale.token,
            )
            .values(
                state=state,
                last_error=note,
                claim_token=stale.token if state == UNKNOWN else None,
            )
        )
        s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


# --- the operator's view and hands -------------------------------------------------------------


def outbox_problems(store: Store, *, limit: int = 20) -> list[Problem]:
    """Failed and unknown deliveries, newest first: what `monitor status` shows."""
    items = (
        select(func.count())
        .select_from(DeliveryItem)
        .where(DeliveryItem.delivery_id == Delivery.id)
        .scalar_subquery()
    )
    with store.session() as s:
        query = (
            select(Delivery, items)
            .where(col(Delivery.state).in_(PROBLEMS))
            .order_by(col(Delivery.id).desc())
            .limit(limit)
        )
        return [
            copied(Problem, row, id=row.id or 0, items=int(count)) for row, count in s.exec(query)
        ]


def outbox_counts(store: Store) -> dict[str, dict[str, int]]:
    """Deliveries per channel and state, for a one-line summary in `monitor status`."""
    with store.session() as s:
        query = select(Delivery.channel, Delivery.state, func.count()).group_by(
            col(Delivery.channel), col(Delivery.state)
        )
        counts: dict[str, dict[str, int]] = {}
        for channel, state, count in s.exec(query):
            counts.setdefault(channel, {})[state] = int(count)
        return counts


def resolve_unknown(store: Store, delivery_id: int, *, posted: bool, now: datetime) -> bool:
    """The operator looked at the channel: the message is there (sent) or not (failed, which
    releases its articles into the next digest)."""
    values: dict[str, object] = {"state": SENT, "sent_at": now} if posted else {"state": FAILED}
    with store.session() as s:
        result = s.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id, col(Delivery.state) == UNKNOWN)
            .values(claim_token=None, **values)
        )
        s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def retry_failed(
    store: Store, delivery_id: int, now: datetime, *, audience: Collection[str] = ()
) -> bool:
    """Send a failed delivery again (the operator fixed the bot's rights or the SMTP password),
    unless one of its articles has since gone into another live delivery of its audience (the
    channels posting to the same readers; by default its own channel)."""
    with store.session() as s:
        row = s.get(Delivery, delivery_id)
        if row is None or row.state != FAILED:
            return False
        audience = set(audience) | {row.channel}
        _lock(s, audience)
        s.refresh(row)
        if row.state != FAILED:
            return False
        mine = select(DeliveryItem.article_id).where(DeliveryItem.delivery_id == delivery_id)
        taken = s.exec(
            select(DeliveryItem.article_id)
            .join(Delivery, col(Delivery.id) == DeliveryItem.delivery_id)
            .where(
                col(Delivery.channel).in_(list(audience)),
                col(Delivery.state).in_(HOLDING),
                col(DeliveryItem.article_id).in_(mine),
            )
        ).first()
        if taken is not None:
            return False
        row.state, row.attempts, row.next_attempt_at = PENDING, 0, now
        row.claim_token, row.last_error = None, None
        s.add(row)
        s.commit()
        return True
