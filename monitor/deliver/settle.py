"""Settling outbox rows whose send did not end in `sent`: `monitor.deliver.outbox_policy` decides
what becomes of each, and the outbox's narrow operations record it.

`record_verdict` records what `after_failure` decided for a failed attempt (retry later, or give
up); `reconcile` settles what a dead process left `sending` (resend, give up, or skip as unknown):
at once when the claim names a worker of this host that no longer runs (a sender killed during
its request must not hold its channel back), else once the claim has lapsed.
The sender (`monitor.deliver.sending`) calls both; the storage only records the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.core.workers import claim_holder, is_dead_worker, worker_name
from monitor.deliver.outbox_policy import STALE_AFTER, Verdict, abandoned, after_interruption
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
    worker: str | None = None,
) -> list[Reconciled]:
    """Settle deliveries left `sending` by a process that died: one whose claim names a worker of
    this host that no longer runs, or one claimed before `now - stale_after`, so no live request
    can still answer. Those of `resend` channels go back to pending (or to failed once
    `max_attempts` are spent); the others become `unknown` (see `monitor.store.outbox` for why).
    `worker` is the caller's name (by default a new one for this process)."""
    me = worker or worker_name()
    done = []
    for row in outbox.sending_rows(store):
        holder = claim_holder(row.token)
        gone = holder is not None and is_dead_worker(holder, me)
        if not abandoned(row.claimed_at, now, holder_gone=gone, stale_after=stale_after):
            continue  # a live request, or one another host's worker may still answer
        verdict = after_interruption(
            row.channel,
            row.attempts,
            row.claimed_at,
            resend=resend,
            max_attempts=max_attempts,
            gone=holder if gone else None,
        )
        if outbox.settle_stale(store, row, verdict.state, verdict.note):
            level = logging.WARNING if verdict.state == outbox.PENDING else logging.ERROR
            log.log(level, "outbox: %s %s: %s", row.key, verdict.state, verdict.note)
            done.append(Reconciled(row.id, row.channel, row.key, verdict.state))
    return done
