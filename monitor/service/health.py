"""Source health: tells the operator once when a source breaks, and once when it recovers.

The poll log is the evidence and the `source_alert` table the memory, so a restart neither repeats
an alert nor forgets one that is owed. `alert_for` is the pure decider: a source is broken when its
last `threshold` polls all failed ("failing"), or when its last `threshold` polls that fetched
article pages all came out empty ("extraction": the site's markup changed). Quiet polls (no error,
no new pages) say nothing about extraction, so they are skipped there; they do end a failing streak.
A failing source recovers with its first poll that succeeds without an empty extraction; an
extraction alert only when a poll extracts text again. `check_sources` runs the decider over every
source, sends what it decided and records the new state only after the send went through, so an
alert that could not be sent is decided (and sent) again at the next check.

The runner's log says the rest, in its own words: every failed poll at WARNING with when the
source is tried next (`failed_poll_line`), and, when the latest poll of every enabled source
failed for one cause, one line that says so (`common_failure`: "network unreachable: all 8
sources failed"), since eight lines naming eight sites hide that the trouble is ours.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Literal

from monitor.core.errors import DeliveryError
from monitor.core.lazy import lazy_import
from monitor.deliver.telegram_text import escape
from monitor.store import queries
from monitor.store.tables import PollLog, SourceAlert

if TYPE_CHECKING:
    from monitor.config.settings import Settings
    from monitor.core.records import SourceReport
    from monitor.deliver import email as email_channel
    from monitor.deliver import telegram as telegram_channel
    from monitor.store import Store
else:  # python-telegram-bot and the SMTP client load only when an alert goes out that way
    email_channel = lazy_import("monitor.deliver.email")
    telegram_channel = lazy_import("monitor.deliver.telegram")

log = logging.getLogger(__name__)

Send = Callable[[str, str], Awaitable[None]]  # (html, plain)
Reason = Literal["failing", "extraction"]
ERROR_CHARS = 300  # of the last error shown in an alert
HISTORY = 50  # polls read per source: enough to find `threshold` page-fetching polls
# Words of an error line that mean no connection was made at all: when every site fails so, the
# trouble is most likely this machine's network (or DNS), not the sites.
NETWORK_FAILURES = (
    "could not connect",
    "cannot resolve",
    "connect timed out",
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "network is unreachable",
    "no route to host",
    "connection refused",
    "all connection attempts failed",
)
# The other causes, by the FetchError kind the pipeline writes into an error line
# ("feed https://…/rss: timeout: …").
CAUSES = {
    "timeout": "timeouts",
    "challenge": "bot-check pages",
    "http-status": "HTTP errors",
    "robots": "robots.txt refusals",
    "too-large": "oversized pages",
    "redirects": "redirect loops",
    "private-address": "private addresses refused",
}
_ERROR_KIND = re.compile(r"^\S+ \S+: ([a-z-]+): ")


@dataclass(frozen=True)
class Poll:
    """What the decider needs of one poll-log row."""

    started_at: datetime
    ok: bool
    pages: int  # article pages fetched: new + updated + unchanged
    empty: int  # of them, extraction came out empty
    error: str | None  # the first error line

    @classmethod
    def from_row(cls, row: PollLog) -> Poll:
        error = (row.errors or "").strip().splitlines()
        return cls(
            started_at=row.started_at,
            ok=row.ok,
            pages=row.new + row.updated + row.unchanged,
            empty=row.empty,
            error=error[0][:ERROR_CHARS] if error else None,
        )

    @property
    def fetched_pages(self) -> bool:
        return self.ok and self.pages > 0

    @property
    def extracted_nothing(self) -> bool:
        return self.fetched_pages and self.empty >= self.pages


@dataclass(frozen=True)
class Alert:
    source: str
    state: Literal["broken", "ok"]
    reason: Reason
    since: datetime  # broken: first poll of the bad streak; ok: when it broke
    at: datetime  # the poll that decided it
    detail: str  # the last error, or how many pages came out empty

    @property
    def changed_at(self) -> datetime:
        return self.since if self.state == "broken" else self.at

    @property
    def plain(self) -> str:
        since = _when(self.since)
        if self.state == "broken":
            what = "is failing" if self.reason == "failing" else "extraction failing"
            return f"⚠ {self.source}: {what} since {since}\n{self.detail}"
        down = _duration(self.at - self.since)
        was = "failing" if self.reason == "failing" else "extraction failing"
        return f"✅ {self.source} recovered after {down} down ({was} since {since})\n{self.detail}"

    @property
    def html(self) -> str:
        head, _, detail = self.plain.partition("\n")
        name = escape(self.source)
        head = escape(head).replace(name, f"<b>{name}</b>", 1)
        return f"{head}\n<code>{escape(detail)}</code>" if detail else head


def alert_for(
    name: str, recent_polls: Sequence[Poll], alerted: SourceAlert | None, threshold: int
) -> Alert | None:
    """The alert owed for one source, if any. `recent_polls` newest first."""
    if not recent_polls:
        return None
    latest = recent_polls[0]
    if alerted is not None and alerted.state == "broken":
        return _recovery(name, recent_polls, alerted)
    failing = _failing_streak(recent_polls)
    if len(failing) >= threshold:
        detail = f"last error: {latest.error or 'unknown'}"
        return Alert(name, "broken", "failing", failing[-1].started_at, latest.started_at, detail)
    empty = _empty_streak(recent_polls)
    if len(empty) >= threshold and not latest.error:
        pages = sum(poll.empty for poll in empty)
        detail = f"extraction came out empty on {pages} pages in {len(empty)} polls"
        return Alert(name, "broken", "extraction", empty[-1].started_at, latest.started_at, detail)
    return None


def _recovery(name: str, polls: Sequence[Poll], alerted: SourceAlert) -> Alert | None:
    latest = polls[0]
    if not latest.ok or latest.extracted_nothing:
        return None
    if alerted.reason == "extraction" and not latest.fetched_pages:
        return None  # a quiet poll proves nothing about the markup
    detail = f"last poll: {latest.pages - latest.empty} pages extracted"
    reason: Reason = "extraction" if alerted.reason == "extraction" else "failing"
    return Alert(name, "ok", reason, alerted.changed_at, latest.started_at, detail)


def _failing_streak(polls: Sequence[Poll]) -> list[Poll]:
    streak = []
    for poll in polls:
        if poll.ok:
            break
        streak.append(poll)
    return streak


def _empty_streak(polls: Sequence[Poll]) -> list[Poll]:
    """The latest page-fetching polls that all extracted nothing; quiet and failed polls skipped."""
    streak = []
    for poll in polls:
        if poll.fetched_pages:
            if not poll.extracted_nothing:
                break
            streak.append(poll)
    return streak


# -- what the runner's log says after a poll ---------------------------------------------------


def failed_poll_line(report: SourceReport, next_check_at: datetime | None, now: datetime) -> str:
    """One WARNING line for a failed poll: the source, its first error and when it is tried
    next (the backoff grows with each failure in a row, so the operator needs to see it)."""
    errors = len(report.errors)
    first = report.errors[0][:ERROR_CHARS] if report.errors else "unknown error"
    counted = f"{errors} errors, first" if errors > 1 else "error"
    if next_check_at is None:
        then = "next try at the next tick"
    else:
        then = f"next try at {_when(next_check_at)} (in {_duration(next_check_at - now)})"
    return f"poll of {report.source} failed ({counted}: {first}); {then}"


def failure_cause(error: str) -> str:
    """The cause of one error line, in words that are the same for every site it hits."""
    if any(words in error.casefold() for words in NETWORK_FAILURES):
        return "network unreachable"
    if error.startswith("internal error"):
        return "internal errors"
    kind = _ERROR_KIND.match(error)
    return CAUSES.get(kind.group(1), "errors") if kind else "errors"


def common_failure(latest: Mapping[str, SourceReport], enabled: Collection[str]) -> str | None:
    """ "network unreachable: all 8 sources failed" when the latest poll of every enabled source
    (two or more) failed, every error of every one for the same cause; else None."""
    if len(enabled) < 2 or any(name not in latest for name in enabled):
        return None
    reports = [latest[name] for name in enabled]
    if any(report.ok or report.busy for report in reports):
        return None
    causes = {failure_cause(error) for report in reports for error in report.errors}
    if len(causes) != 1:
        return None
    return f"{causes.pop()}: all {len(reports)} sources failed"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


# -- the edge: database and sender ----------------------------------------------------------------


def recent_polls(store: Store, name: str, limit: int = HISTORY) -> list[Poll]:
    return [Poll.from_row(row) for row in queries.poll_history(store, name, limit)]


def record_alert(store: Store, alert: Alert) -> None:
    store.save_source_alert(
        SourceAlert(
            source=alert.source,
            state=alert.state,
            reason=alert.reason if alert.state == "broken" else None,
            changed_at=alert.changed_at,
            message=alert.plain,
        )
    )


async def check_sources(
    store: Store,
    names: Iterable[str],
    settings: Settings,
    now: datetime,
    send: Send | None,
) -> list[Alert]:
    """Decide, send and record the alerts owed now; returns those sent (or, without a sender,
    logged). A send that fails with DeliveryError is logged and left for the next check."""
    names = list(names)
    threshold = max(settings.alert_after_failures, 1)
    alerted = queries.source_alerts(store, names)
    sent = []
    for name in names:
        alert = alert_for(name, recent_polls(store, name), alerted.get(name), threshold)
        if alert is None:
            continue
        log.warning("source health: %s", alert.plain.replace("\n", "; "))
        if send is not None:
            try:
                await send(alert.html, alert.plain)
            except DeliveryError as exc:
                log.warning("source health: alert for %s not sent, retried later: %s", name, exc)
                continue
        record_alert(store, alert)
        sent.append(alert)
    log.debug("source health checked %d sources at %s", len(names), now.isoformat())
    return sent


def admin_sender(settings: Settings) -> Send | None:
    """Telegram to the admin chat when a bot token and admin chat are set, else email to the admin
    address when SMTP is set up, else None (alerts are then only logged)."""
    if settings.telegram_token and settings.admin_chat_id:
        return _telegram_sender(
            settings.telegram_token.get_secret_value(),
            settings.admin_chat_id,
            settings.telegram_api_url,
        )
    if settings.admin_email and settings.email_from:
        return _email_sender(settings, settings.admin_email, settings.email_from)
    return None


def _telegram_sender(token: str, chat_id: str, api_url: str) -> Send:
    async def send(html_text: str, plain: str) -> None:
        async with telegram_channel.TelegramNotifier(token, chat_id, api_url) as telegram:
            await telegram.send(html_text, plain)

    return send


def _email_sender(settings: Settings, to: str, sender: str) -> Send | None:
    notifier = email_channel.EmailNotifier.from_settings(
        settings.model_copy(update={"email_to": to})
    )
    if notifier is None:
        return None

    async def send(html_text: str, plain: str) -> None:
        message = EmailMessage()
        message["Subject"] = f"[az-kz-monitor] {plain.partition(chr(10))[0]}"
        message["From"], message["To"] = sender, to
        message.set_content(plain)
        await asyncio.to_thread(notifier.send, message)

    return send
