"""Settling outbox rows whose send did not end in `sent`: `monitor.deliver.outbox_policy` decides
what becomes of each, and the outbox's narrow operations record it.

`record_verdict` records what `after_failure` decided for a failed attempt (retry later, or give
up); `reconcile` settles what a dead process left `sending` (resend, give up, or skip as unknown).
The sender (`monitor.deliver.sending`) calls both; the storage only records the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.deliver.outbox_policy import STALE_AFTER, Verdict, after_interruption
from monitor.store import Store, outbox
from monitor.store.outbox import Claimed

log = logging.getLogger(__name__)


def record_verdict(store: Store, claimed: Claimed, verdict: Verdict) -> Verdict:
    """Record on the claimed row what `after_failure` decided: pending again, due at
    `verdict.not_before`, or failed. Returns the verdict, for the caller's report."""
    if verdict.state == outbox.FAILED:
        outbox.mark_failed(store, claimed, verdict.note)
    else:
        assert verdict.not_before is not None  # a retry is always due at some time
        outbox.mark_retry(store, claimed, verdict.note, verdict.not_before)
    return verdict


@dataclass(frozen=True)
class Reconciled:
    id: int
    channel: str
    key: str
    state: str  # what it became: pending (to be resent), unknown or failed


def reconcile(
    store: Store,
    now: datetime,
    *,
    resend: Collection[str],
    stale_after: timedelta = STALE_AFTER,
    max_attempts: int | None = None,
) -> list[Reconciled]:
    """Settle deliveries left `sending` by a process that died: claimed before
    `now - stale_after`, so no live request can still answer. Those of `resend` channels go back
    to pending (or to failed once `max_attempts` are spent); the others become `unknown` (see
    `monitor.store.outbox` for why)."""
    done = []
    for row in outbox.stale_sending(store, now - stale_after):
        verdict = after_interruption(
            row.channel, row.attempts, row.claimed_at, resend=resend, max_attempts=max_attempts
        )
        if outbox.settle_stale(store, row, verdict.state, verdict.note):
            level = logging.WARNING if verdict.state == outbox.PENDING else logging.ERROR
            log.log(level, "outbox: %s %s: %s", row.key, verdict.state, verdict.note)
            done.append(Reconciled(row.id, row.channel, row.key, verdict.state))
    return done
