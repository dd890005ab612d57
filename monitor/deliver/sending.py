"""Sending what the outbox holds, one channel at a time: reconcile what a dead process left
`sending`, then claim the oldest pending delivery, make one request, mark it; retry after a short
backoff within the run and leave longer waits to the next run. A lost answer is settled the way
its channel errs (monitor.deliver.routing: chat posts skipped as `unknown`, email and files
resent). A claim is signed with the sender's worker name, so that when this process is killed
mid-request, the next sender on this host settles the row at once instead of waiting out
`STALE_AFTER` with the channel blocked. `checkpoint(point, key)` is called at the crash points
`before_request`, `after_claim`, `after_reply` and `after_marking`; the tests end the process
there (os._exit) and restart it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.core.clock import Clock, utc_now
from monitor.core.errors import DeliveryError
from monitor.core.workers import claim_token, worker_name
from monitor.deliver.outbox_policy import STALE_AFTER, after_failure
from monitor.deliver.routing import AT_LEAST_ONCE
from monitor.deliver.settle import Reconciled, reconcile, record_verdict
from monitor.deliver.sinks import Channel
from monitor.store import Store, outbox
from monitor.store.outbox import Claimed

log = logging.getLogger(__name__)

CRASH_POINTS = ("before_request", "after_claim", "after_reply", "after_marking")
MAX_WAIT = 120.0  # retries due within this many seconds are waited for in the same run

Checkpoint = Callable[[str, str], None]
Sleep = Callable[[float], Awaitable[object]]


@dataclass
class SendReport:
    channel: str
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)  # back to pending, with the wait
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    reconciled: list[Reconciled] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.unknown)


async def send_due(
    store: Store,
    channel: Channel,
    *,
    max_attempts: int = 8,
    clock: Clock = utc_now,
    sleep: Sleep = asyncio.sleep,
    max_wait: float = MAX_WAIT,
    stale_after: timedelta = STALE_AFTER,
    checkpoint: Checkpoint | None = None,
    worker: str | None = None,
) -> SendReport:
    """Send the channel's pending deliveries, oldest first, one request each (see the module
    docstring). Stops at the first failure that must wait longer than `max_wait` or is final.
    `worker` names this sender in its claims (by default a new name for this process)."""
    report = SendReport(channel.name)
    worker = worker or worker_name()
    report.reconciled = reconcile(
        store,
        clock(),
        resend=AT_LEAST_ONCE,
        stale_after=stale_after,
        max_attempts=max_attempts,
        worker=worker,
    )
    token = claim_token(worker)
    point = checkpoint or (lambda _point, _key: None)
    while True:
        head = outbox.next_head(store, channel.name)
        if head is None:
            break
        now = clock()
        if not head.due(now):
            assert head.not_before is not None
            wait = (head.not_before - now).total_seconds()
            if wait > max_wait:
                break
            await sleep(wait)
            continue
        point("before_request", head.key)
        claimed = outbox.claim(store, head.id, token, now)
        if claimed is None:  # another worker is sending on this channel
            break
        point("after_claim", claimed.key)
        try:
            remote_id = await channel.deliver(claimed)
        except DeliveryError as exc:
            if not _record_failure(store, claimed, exc, clock(), max_attempts, report, max_wait):
                break
            continue
        except BaseException as exc:  # a bug, or cancelled mid-request: nobody knows
            _record_interrupted(store, claimed, exc, clock(), max_attempts)
            raise
        point("after_reply", claimed.key)
        outbox.mark_sent(store, claimed, remote_id, clock())
        report.sent.append(claimed.key)
        log.info("outbox: %s sent (%s)", claimed.key, remote_id)
        point("after_marking", claimed.key)
    return report


def _record_failure(
    store: Store,
    claimed: Claimed,
    exc: DeliveryError,
    now: datetime,
    max_attempts: int,
    report: SendReport,
    max_wait: float,
) -> bool:
    """Mark a failed attempt; True when the run may go on: a retry due within `max_wait`, or an
    unknown delivery (settled by skipping it)."""
    if exc.maybe_delivered and claimed.channel not in AT_LEAST_ONCE:
        outbox.mark_unknown(store, claimed, str(exc))
        report.unknown.append(claimed.key)
        log.error(
            "outbox: %s may or may not have been posted (%s); not resent, items %s held: "
            "check the chat, then resolve it",
            claimed.key,
            exc,
            list(claimed.item_ids),
        )
        return True  # that one is settled (skipped); the next may go through
    verdict = after_failure(
        claimed.attempts,
        str(exc),
        now,
        permanent=exc.permanent,
        retry_after=exc.retry_after,
        max_attempts=max_attempts,
    )
    record_verdict(store, claimed, verdict)
    if verdict.state == outbox.FAILED:
        report.failed.append(claimed.key)
        why = "permanent error" if exc.permanent else f"{claimed.attempts} attempts"
        log.error("outbox: %s failed (%s): %s", claimed.key, why, exc)
        return False
    report.retrying.append(claimed.key)
    log.warning(
        "outbox: %s attempt %d failed, retry in %.0f s: %s",
        claimed.key,
        claimed.attempts,
        verdict.delay or 0,
        exc,
    )
    return verdict.delay is not None and verdict.delay <= max_wait


def _record_interrupted(
    store: Store, claimed: Claimed, exc: BaseException, now: datetime, max_attempts: int
) -> None:
    """Settle a delivery whose request ended in something other than DeliveryError."""
    note = f"interrupted during the request: {type(exc).__name__}: {exc}"
    try:
        if claimed.channel in AT_LEAST_ONCE:
            verdict = after_failure(
                claimed.attempts,
                note,
                now,
                permanent=False,
                retry_after=0,
                max_attempts=max_attempts,
            )
            record_verdict(store, claimed, verdict)
        else:
            outbox.mark_unknown(store, claimed, note)
            log.error("outbox: %s may or may not have been posted: %s", claimed.key, note)
    except Exception:  # the database may be going down with us: reconcile settles it later
        log.exception("outbox: could not mark %s after an interruption", claimed.key)


def report_lines(reports: Sequence[SendReport]) -> list[str]:
    """One line per channel for the CLI."""
    lines = []
    for r in reports:
        parts = [f"{len(r.sent)} sent"]
        for label, keys in (("retrying", r.retrying), ("failed", r.failed), ("unknown", r.unknown)):
            if keys:
                parts.append(f"{len(keys)} {label} ({', '.join(keys)})")
        if r.reconciled:
            parts.append(f"{len(r.reconciled)} reconciled")
        lines.append(f"{r.channel}: " + ", ".join(parts))
    return lines
