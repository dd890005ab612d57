"""The digest jobs: record what is due in the outbox, then send what the outbox holds.

    run_digest(kind, store, settings, now)
      1. queue: choose and render (monitor.deliver.digest), record in the outbox (its own transaction)
         telegram: the digest of new relevant items (key: the slot, "telegram:<local time>#partN")
         instant:  one post per item scoring at least telegram_instant_score
         email:    the weekly summary of the last full ISO week (key: "email:2026-W47")
      2. send:  reconcile what a dead process left `sending`, then, per channel, claim the oldest
         pending delivery, make one request, mark it; retry after a short backoff within the run,
         leave longer waits to the next run

With no Telegram token and chat id, or no SMTP host, sender and recipients, the same digests go
to the file sink (channels "file-telegram", "file-email"): Markdown and HTML files under
`settings.digests_dir`, echoed to stdout, through the same outbox, so they too are written once.

Which way the outbox errs when a request's answer is lost (resend or skip) is decided per channel:
chat posts are skipped and marked `unknown` (a duplicate in a public channel is worse than a miss
the operator can repair), email and files are resent (see monitor/store/outbox.py).

`checkpoint(point, key)` is called at the crash points `before_request`, `after_claim`,
`after_reply` and `after_marking`; the tests end the process there (os._exit) and restart it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TextIO
from zoneinfo import ZoneInfo

from monitor.config.settings import Settings
from monitor.core.errors import DeliveryError
from monitor.core.records import WeeklySummary
from monitor.deliver.digest import (
    DigestRow,
    Labels,
    TelegramMessage,
    build_weekly_summary,
    render_markdown,
    render_telegram,
    select_items,
    week_bounds,
    week_key,
    week_of,
)
from monitor.store import Store, outbox
from monitor.store.outbox import Claimed, Outgoing, Reconciled

if TYPE_CHECKING:
    from monitor.config.rules import Rules
    from monitor.config.sources import Source

log = logging.getLogger(__name__)

TELEGRAM, INSTANT, EMAIL = "telegram", "telegram-instant", "email"
FILE_TELEGRAM, FILE_EMAIL = "file-telegram", "file-email"
# Channels whose lost answers are resent (a repeat is harmless or deduplicated); the chat
# channels are not in it: their unknown deliveries are skipped and reported.
AT_LEAST_ONCE = frozenset({EMAIL, FILE_TELEGRAM, FILE_EMAIL})
# Channels that post to the same readers: an article goes to at most one live delivery of them.
AUDIENCES: dict[str, tuple[str, ...]] = {
    TELEGRAM: (TELEGRAM, INSTANT),
    INSTANT: (TELEGRAM, INSTANT),
    FILE_TELEGRAM: (FILE_TELEGRAM,),
}
CRASH_POINTS = ("before_request", "after_claim", "after_reply", "after_marking")
LOOKBACK = timedelta(days=7)  # the digest takes articles first seen this recently, at most
INSTANT_LOOKBACK = timedelta(hours=6)
MAX_DIGEST_ITEMS = 100  # more wait for the next digest
MAX_WAIT = 120.0  # retries due within this many seconds are waited for in the same run
INSTANT_TITLE = "Azerbaijan–Kazakhstan: just in"
DRY_RUN_DIR = "dry-run"  # under digests_dir: what `digest email --dry-run` renders

Checkpoint = Callable[[str, str], None]
Sleep = Callable[[float], Awaitable[object]]
Clock = Callable[[], datetime]
Kind = Literal["telegram", "instant", "email"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def labels_for(sources: Iterable[Source] = (), rules: Rules | None = None) -> Labels:
    """Display names from sources.yaml (source titles) and topics.yaml (topic labels, in order)."""
    return Labels(
        sources={source.name: source.title or source.name for source in sources},
        topics={topic: rule.label for topic, rule in rules.topics.items()} if rules else {},
    )


def telegram_channel(settings: Settings) -> str:
    return TELEGRAM if settings.telegram_token and settings.telegram_chat_id else FILE_TELEGRAM


def email_channel(settings: Settings) -> str:
    configured = settings.smtp_host and settings.email_from and settings.email_recipients
    return EMAIL if configured else FILE_EMAIL


# --- queuing -----------------------------------------------------------------------------------


def digest_slot(now: datetime, zone: ZoneInfo) -> str:
    """The digest's time in the digest zone, to the minute: "2026-11-21T10:00+04:00"."""
    return now.astimezone(zone).replace(second=0, microsecond=0).isoformat(timespec="minutes")


def encode_telegram(message: TelegramMessage) -> bytes:
    return json.dumps({"html": message.html, "plain": message.plain}, ensure_ascii=False).encode()


def decode_telegram(payload: bytes) -> tuple[str, str]:
    data = json.loads(payload)
    return data["html"], data["plain"]


def _telegram_plan(
    channel: str,
    settings: Settings,
    now: datetime,
    *,
    since: datetime,
    labels: Labels,
    max_items: int | None = MAX_DIGEST_ITEMS,
) -> Callable[[list[DigestRow], frozenset[int]], list[Outgoing]]:
    """The pure half of queuing: candidate rows and the articles already held → deliveries.
    A digest is one delivery per message; instant posts are one delivery per article."""
    zone = ZoneInfo(settings.digest_timezone)
    slot = digest_slot(now, zone)
    instant = channel == INSTANT
    min_score = settings.telegram_instant_score if instant else None

    def plan(rows: list[DigestRow], held: frozenset[int]) -> list[Outgoing]:
        items = select_items(
            rows, since, delivered=held, labels=labels, min_score=min_score, limit=max_items
        )
        if not items:
            return []
        if channel == FILE_TELEGRAM:
            document = render_markdown(items, zone=zone, now=now, labels=labels)
            ids = tuple(item.article_id for item in items)
            return [Outgoing(f"{channel}:{slot}", document.encode(), ids)]
        if instant:  # oldest first: the chat reads them in the order they came
            posts = [
                (
                    f"{channel}:{item.article_id}",
                    render_telegram([item], zone=zone, now=now, labels=labels, title=INSTANT_TITLE)[
                        0
                    ],
                )
                for item in reversed(items)
            ]
        else:
            messages = render_telegram(items, zone=zone, now=now, labels=labels)
            posts = [(f"{channel}:{slot}#part{n}", m) for n, m in enumerate(messages, 1)]
        return [Outgoing(key, encode_telegram(m), m.item_ids) for key, m in posts]

    return plan


def queue_telegram_digest(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    labels: Labels = Labels(),
    since: datetime | None = None,
    max_items: int | None = MAX_DIGEST_ITEMS,
) -> list[int]:
    """Record the digest of relevant, original articles first seen since `since` (default: the
    last 7 days) that no live delivery to the same readers holds. Returns the new delivery ids:
    [] when there is nothing new, or this slot's digest was recorded before."""
    channel = telegram_channel(settings)
    since = since or now - LOOKBACK
    plan = _telegram_plan(channel, settings, now, since=since, labels=labels, max_items=max_items)
    ids = outbox.record_digest(
        store, channel, now, since=since, audience=AUDIENCES[channel], plan=plan
    )
    if ids:
        log.info("outbox: queued %d %s message(s) at %s", len(ids), channel, now.isoformat())
    return ids


def queue_instant_posts(
    store: Store, settings: Settings, now: datetime, *, labels: Labels = Labels()
) -> list[int]:
    """Record one post per article first seen in the last hours scoring at least
    `telegram_instant_score` (when set, and Telegram is configured). The digest leaves them out."""
    if settings.telegram_instant_score is None or telegram_channel(settings) != TELEGRAM:
        return []
    since = now - INSTANT_LOOKBACK
    plan = _telegram_plan(INSTANT, settings, now, since=since, labels=labels, max_items=None)
    ids = outbox.record_digest(
        store, INSTANT, now, since=since, audience=AUDIENCES[INSTANT], plan=plan
    )
    if ids:
        log.info("outbox: queued %d instant post(s)", len(ids))
    return ids


def weekly_summary(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    labels: Labels = Labels(),
    week_start: date | None = None,
) -> WeeklySummary:
    """The summary of the week starting on Monday `week_start`, by default the last full ISO week
    before `now`, in the digest zone."""
    zone = ZoneInfo(settings.digest_timezone)
    start = week_start or week_of(now, zone)[0]
    first, last = week_bounds(start, zone)
    rows = outbox.digest_rows(store, since=first, until=last, relevant_only=False)
    return build_weekly_summary(rows, week_start=start, zone=zone, labels=labels)


def queue_weekly_email(
    store: Store, settings: Settings, now: datetime, *, labels: Labels = Labels()
) -> list[int]:
    """Record the weekly email of the last full ISO week, once per week: the key is the week, so
    a rerun, a restart or a second worker records nothing more."""
    from monitor.deliver.weekly import (  # Jinja2 and Pillow: on demand
        render_weekly,
        render_weekly_page,
    )

    channel = email_channel(settings)
    zone = ZoneInfo(settings.digest_timezone)
    key = f"{channel}:{week_key(week_of(now, zone)[0])}"
    if outbox.recorded(store, key):
        return []
    summary = weekly_summary(store, settings, now, labels=labels)
    if channel == EMAIL:
        message = render_weekly(
            summary,
            sender=settings.email_from or "",
            recipients=settings.email_recipients,
            now=now,
        )
        payload = bytes(message)
    else:
        payload = render_weekly_page(summary).encode()
    ids = outbox.record(store, channel, [Outgoing(key, payload)], now)
    if ids:
        log.info("outbox: queued %s", key)
    return ids


# --- channels ----------------------------------------------------------------------------------


class Channel(Protocol):
    """Where a claimed delivery goes; returns the remote id, raises DeliveryError."""

    name: str

    async def deliver(self, delivery: Claimed) -> str: ...


class TelegramSender(Protocol):
    async def send(self, html: str, plain: str) -> str: ...


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str: ...


@dataclass
class TelegramChannel:
    notifier: TelegramSender
    name: str = TELEGRAM

    async def deliver(self, delivery: Claimed) -> str:
        html, plain = decode_telegram(delivery.payload)
        return await self.notifier.send(html, plain)


@dataclass
class EmailChannel:
    notifier: EmailSender
    name: str = EMAIL

    async def deliver(self, delivery: Claimed) -> str:
        message = email.message_from_bytes(delivery.payload, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return await asyncio.to_thread(self.notifier.send, message)  # smtplib blocks


@dataclass
class FileChannel:
    """The file sink: one file per delivery, named by its key, written whole (temp file and
    rename), then echoed to `out` (stdout by default)."""

    directory: Path
    name: str = FILE_TELEGRAM
    out: TextIO | None = None

    async def deliver(self, delivery: Claimed) -> str:
        path = self.directory / file_name(delivery.key)
        text = delivery.payload.decode()
        _write_whole(path, text)
        out = self.out or sys.stdout
        out.write(f"==> {path} <==\n{text}\n")
        out.flush()
        return str(path)


def file_name(key: str) -> str:
    """ "file-telegram:2026-11-21T10:00+04:00" → "telegram-2026-11-21T1000+0400.md"."""
    channel, _, rest = key.partition(":")
    kind = channel.removeprefix("file-")
    suffix = ".html" if kind == "email" else ".md"
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9._+#-]", "", rest).replace("#", "-") + suffix


def _write_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# --- sending -----------------------------------------------------------------------------------


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
    stale_after: timedelta = outbox.STALE_AFTER,
    checkpoint: Checkpoint | None = None,
) -> SendReport:
    """Send the channel's pending deliveries, oldest first, one request each (see the module
    docstring). Stops at the first failure that must wait longer than `max_wait` or is final."""
    report = SendReport(channel.name)
    report.reconciled = outbox.reconcile(
        store, clock(), resend=AT_LEAST_ONCE, stale_after=stale_after, max_attempts=max_attempts
    )
    token = uuid.uuid4().hex
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
    state, delay = outbox.mark_error(
        store,
        claimed,
        str(exc),
        now,
        permanent=exc.permanent,
        retry_after=exc.retry_after,
        max_attempts=max_attempts,
    )
    if state == outbox.FAILED:
        report.failed.append(claimed.key)
        why = "permanent error" if exc.permanent else f"{claimed.attempts} attempts"
        log.error("outbox: %s failed (%s): %s", claimed.key, why, exc)
        return False
    report.retrying.append(claimed.key)
    log.warning(
        "outbox: %s attempt %d failed, retry in %.0f s: %s",
        claimed.key,
        claimed.attempts,
        delay or 0,
        exc,
    )
    return delay is not None and delay <= max_wait


def _record_interrupted(
    store: Store, claimed: Claimed, exc: BaseException, now: datetime, max_attempts: int
) -> None:
    """Settle a delivery whose request ended in something other than DeliveryError."""
    note = f"interrupted during the request: {type(exc).__name__}: {exc}"
    try:
        if claimed.channel in AT_LEAST_ONCE:
            outbox.mark_error(
                store, claimed, note, now, permanent=False, retry_after=0, max_attempts=max_attempts
            )
        else:
            outbox.mark_unknown(store, claimed, note)
            log.error("outbox: %s may or may not have been posted: %s", claimed.key, note)
    except Exception:  # the database may be going down with us: reconcile settles it later
        log.exception("outbox: could not mark %s after an interruption", claimed.key)


# --- the jobs the CLI and the scheduler run ----------------------------------------------------


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
    stale_after: timedelta = outbox.STALE_AFTER,
    checkpoint: Checkpoint | None = None,
) -> DigestRun:
    """`monitor digest telegram|email` and the scheduler's jobs: settle what a dead process
    left, queue what is due at `now`, then send every pending delivery of the channels involved.
    "telegram" also sends pending instant posts; "instant" queues and sends only those."""
    reconciled = outbox.reconcile(
        store,
        clock(),
        resend=AT_LEAST_ONCE,
        stale_after=stale_after,
        max_attempts=settings.delivery_max_attempts,
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
                from monitor.deliver.telegram import TelegramNotifier  # PTB: only when needed

                assert settings.telegram_token and settings.telegram_chat_id
                notifier = TelegramNotifier(
                    settings.telegram_token.get_secret_value(),
                    settings.telegram_chat_id,
                    settings.telegram_api_url,
                    rate_per_minute=settings.telegram_rate_per_minute,
                    sleep=self.sleep,
                )
                self.telegram = await self.stack.enter_async_context(notifier)
            return TelegramChannel(self.telegram, name)
        if name == EMAIL:
            from monitor.deliver.email import EmailNotifier

            smtp = EmailNotifier.from_settings(settings)
            assert smtp is not None
            return EmailChannel(smtp)
        return FileChannel(settings.digests_dir, name, self.out)


def preview(
    kind: Kind,
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    labels: Labels = Labels(),
    since: datetime | None = None,
) -> list[str]:
    """What `run_digest` would queue at `now`, as text (Telegram HTML, Markdown, or the email's
    subject and plain-text part with the path of its HTML part), recording nothing: `--dry-run`."""
    if kind == "email":
        return preview_weekly(store, settings, now, labels=labels).lines()
    channel = telegram_channel(settings) if kind == "telegram" else INSTANT
    if channel == INSTANT and settings.telegram_instant_score is None:
        return []
    since = since or now - (LOOKBACK if kind == "telegram" else INSTANT_LOOKBACK)
    held = outbox.delivered_items(store, AUDIENCES[channel], states=outbox.HOLDING)
    plan = _telegram_plan(channel, settings, now, since=since, labels=labels)
    outgoing = plan(outbox.digest_rows(store, since=since), frozenset(held))
    if channel == FILE_TELEGRAM:
        return [entry.payload.decode() for entry in outgoing]
    return [decode_telegram(entry.payload)[0] for entry in outgoing]


@dataclass(frozen=True)
class WeeklyPreview:
    """The weekly email as `--dry-run` and the demo show it: the plain-text part to read in the
    terminal, and the HTML part in a file to open in a browser (raw HTML with an embedded chart
    is unreadable in a terminal)."""

    subject: str
    text: str
    html_path: Path
    sends_to: str  # where `monitor digest email` would deliver it

    def lines(self) -> list[str]:
        return [
            f"Subject: {self.subject}",
            f"(not sent; `monitor digest email` sends it {self.sends_to})",
            "",
            self.text.rstrip("\n"),
            "",
            f"HTML part written to {self.html_path}",
        ]


def preview_weekly(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    labels: Labels = Labels(),
    week_start: date | None = None,
) -> WeeklyPreview:
    """The weekly email of the week starting `week_start` (default: the last full week before
    `now`), recording nothing in the outbox: its HTML page (chart embedded) is written under
    `digests_dir/dry-run/`, apart from the files the file sink delivers."""
    from monitor.deliver.weekly import render_weekly_page, render_weekly_text, weekly_subject

    summary = weekly_summary(store, settings, now, labels=labels, week_start=week_start)
    path = settings.digests_dir / DRY_RUN_DIR / f"email-{week_key(summary.week_start)}.html"
    _write_whole(path, render_weekly_page(summary))
    if email_channel(settings) == EMAIL:
        sends_to = f"by SMTP to {len(settings.email_recipients)} recipient(s)"
    else:
        sends_to = f"to {settings.digests_dir} (no SMTP settings)"
    return WeeklyPreview(weekly_subject(summary), render_weekly_text(summary), path, sends_to)


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
