"""What the delivery stage does with an outbox row whose send did not end in `sent`: retry when,
give up when, and when and how to settle a row a dead process left `sending` (resend or skip).

Pure deciders over the row's attempts and the time given to them (`now`); `monitor.deliver.settle`
applies their answers through the outbox's narrow operations (`mark_retry`, `mark_failed`,
`settle_stale`), so the storage records and never decides. Why a chat post is skipped and an
email is resent is told in `monitor.store.outbox`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.core.backoff import backoff_delay
from monitor.store.outbox import FAILED, PENDING, UNKNOWN

BACKOFF_BASE = 30.0  # seconds before the first retry; doubles with each attempt
BACKOFF_CAP = 3600.0
# A `sending` row older than this belongs to a dead process, whichever host it ran on.
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Verdict:
    """What becomes of a delivery: `pending` again (a retry, due at `not_before`, `delay` seconds
    after the failure), `failed` or `unknown`; `note` says why, in the row's last error."""

    state: str
    note: str
    delay: float | None = None
    not_before: datetime | None = None


def backoff(attempts: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2·base, 4·base ... cap."""
    return backoff_delay(attempts, base=base, cap=cap)


def after_failure(
    attempts: int,
    error: str,
    now: datetime,
    *,
    permanent: bool,
    retry_after: float | None = None,
    max_attempts: int,
) -> Verdict:
    """After a failed attempt (the `attempts`-th): `failed` when the error is permanent or the
    attempts are spent, else pending again after the server's retry_after or the backoff."""
    if permanent or attempts >= max_attempts:
        return Verdict(FAILED, error)
    delay = retry_after if retry_after is not None else backoff(attempts)
    return Verdict(PENDING, error, delay, now + timedelta(seconds=delay))


def abandoned(
    claimed_at: datetime, now: datetime, *, holder_gone: bool, stale_after: timedelta = STALE_AFTER
) -> bool:
    """Whether a `sending` row's request can no longer be answered, so the row may be settled:
    at once when its worker is known to be gone (a process of this host that no longer runs);
    else once the claim is older than `stale_after`, the time any live request has to answer
    (the worker may run on another host, or its claim may name none)."""
    return holder_gone or claimed_at <= now - stale_after


def after_interruption(
    channel: str,
    attempts: int,
    claimed_at: datetime,
    *,
    resend: Collection[str],
    max_attempts: int | None = None,
    gone: str | None = None,
) -> Verdict:
    """For a delivery whose sender died during the request (`gone`: the worker, when it is
    known to have died): channels in `resend` send it again (or give up once `max_attempts` are
    spent: a payload that kills the sender every time must not loop); the others cannot know
    whether it was posted, and skip it as `unknown`."""
    if channel not in resend:
        state, why = UNKNOWN, "may or may not have been posted; not resent"
    elif max_attempts is not None and attempts >= max_attempts:
        state, why = FAILED, f"{attempts} attempts"
    else:
        state, why = PENDING, "resent: this channel takes a repeat"
    by = f" by {gone}, which no longer runs" if gone else ""
    return Verdict(
        state, f"interrupted during the request at {claimed_at:%Y-%m-%d %H:%M:%S}Z{by} ({why})"
    )
