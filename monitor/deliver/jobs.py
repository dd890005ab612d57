"""The digest jobs the CLI and the scheduler run: record what is due in the outbox, then send what
the outbox holds, over the channels the settings choose (monitor.deliver.routing).

    run_digest(kind, store, settings, now)
      1. queue: choose, render and record each due delivery (monitor.deliver.queuing)
         telegram: the digest of new relevant items, and any instant posts
         instant:  one post per item scoring at least telegram_instant_score
         email:    the weekly summary of the last full ISO week
      2. send:  per channel with something pending, open its notifier once (the file sink when
         Telegram or SMTP is not configured) and send (monitor.deliver.sending)
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from monitor.config.settings import Settings
from monitor.core.clock import Clock, utc_now
from monitor.core.lazy import lazy_import
from monitor.core.workers import worker_name
from monitor.deliver.digest import Labels
from monitor.deliver.outbox_policy import STALE_AFTER
from monitor.deliver.queuing import queue_instant_posts, queue_telegram_digest, queue_weekly_email
from monitor.deliver.routing import (
    AT_LEAST_ONCE,
    EMAIL,
    FILE_TELEGRAM,
    INSTANT,
    TELEGRAM,
    Kind,
    email_channel,
    telegram_channel,
)
from monitor.deliver.sending import Checkpoint, SendReport, Sleep, report_lines, send_due
from monitor.deliver.settle import Reconciled, reconcile
from monitor.deliver.sinks import (
    Channel,
    EmailChannel,
    FileChannel,
    TelegramChannel,
    TelegramSender,
)
from monitor.store import Store, outbox

if TYPE_CHECKING:
    from monitor.deliver import email as smtp_notifier
    from monitor.deliver import telegram as telegram_notifier
else:  # python-telegram-bot and the SMTP client load only for the channel a job sends on
    smtp_notifier = lazy_import("monitor.deliver.email")
    telegram_notifier = lazy_import("monitor.deliver.telegram")


@dataclass
class DigestRun:
    """What one run of a digest job did: deliveries queued, left-overs settled, sends."""

    queued: list[int]
    reconciled: list[Reconciled]
    reports: list[SendReport]

    def lines(self) -> list[str]:
        lines = [f"queued {len(self.queued)} delivery(ies)"] if self.queued else []
        lines += [
            f"{r.key}: was being sent by a process that died; now {r.state}"
            for r in self.reconciled
        ]
        return lines + report_lines(self.reports)

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.reports)


async def run_digest(
    kind: Kind,
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    labels: Labels = Labels(),
    since: datetime | None = None,
    out: TextIO | None = None,
    clock: Clock = utc_now,
    sleep: Sleep = asyncio.sleep,
    stale_after: timedelta = STALE_AFTER,
    checkpoint: Checkpoint | None = None,
    worker: str | None = None,
) -> DigestRun:
    """`monitor digest telegram|email` and the scheduler's jobs: settle what a dead process
    left, queue what is due at `now`, then send every pending delivery of the channels involved.
    "telegram" also sends pending instant posts; "instant" queues and sends only those. `worker`
    names this run in its claims (by default a new name for this process)."""
    worker = worker or worker_name()
    reconciled = reconcile(
        store,
        clock(),
        resend=AT_LEAST_ONCE,
        stale_after=stale_after,
        max_attempts=settings.delivery_max_attempts,
        worker=worker,
    )
    if kind == "email":
        queued = queue_weekly_email(store, settings, now, labels=labels)
        names = [email_channel(settings)]
    else:
        queued = queue_instant_posts(store, settings, now, labels=labels)
        if kind == "telegram":
            queued += queue_telegram_digest(store, settings, now, labels=labels, since=since)
        names = [FILE_TELEGRAM] if telegram_channel(settings) == FILE_TELEGRAM else [INSTANT]
        if kind == "telegram" and names == [INSTANT]:
            names.append(TELEGRAM)
    reports = []
    async with AsyncExitStack() as stack:
        opener = _Opener(stack, settings, out, sleep)
        for name in names:
            if outbox.next_head(store, name) is None:
                continue  # nothing to send (or another worker is sending): no connection
            reports.append(
                await send_due(
                    store,
                    await opener.channel(name),
                    max_attempts=settings.delivery_max_attempts,
                    clock=clock,
                    sleep=sleep,
                    stale_after=stale_after,
                    checkpoint=checkpoint,
                    worker=worker,
                )
            )
    return DigestRun(queued, reconciled, reports)


@dataclass
class _Opener:
    """Opens the channels a run needs, once each: the digest and the instant posts share one
    notifier, hence one rate limit for the chat."""

    stack: AsyncExitStack
    settings: Settings
    out: TextIO | None
    sleep: Sleep
    telegram: TelegramSender | None = None

    async def channel(self, name: str) -> Channel:
        settings = self.settings
        if name in (TELEGRAM, INSTANT):
            if self.telegram is None:
                assert settings.telegram_token and settings.telegram_chat_id
                notifier = telegram_notifier.TelegramNotifier(
                    settings.telegram_token.get_secret_value(),
                    settings.telegram_chat_id,
                    settings.telegram_api_url,
                    rate_per_minute=settings.telegram_rate_per_minute,
                    sleep=self.sleep,
                )
                self.telegram = await self.stack.enter_async_context(notifier)
            return TelegramChannel(self.telegram, name)
        if name == EMAIL:
            smtp = smtp_notifier.EmailNotifier.from_settings(settings)
            assert smtp is not None
            return EmailChannel(smtp)
        return FileChannel(settings.digests_dir, name, self.out)
