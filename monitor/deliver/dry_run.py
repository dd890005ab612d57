"""What a digest job would deliver, shown and not recorded: `monitor digest ... --dry-run` and the
demo. The Telegram digest and the instant posts are planned exactly as the queue plans them (the
same rows, the same articles held back) and returned as the text they would post; the weekly email
is shown as its subject and plain-text part, with its HTML page (chart embedded) written under
`digests_dir/dry-run/`, apart from the files the file sink delivers.

The command line binds this module on first use and only the demo imports it otherwise, so it
imports the weekly renderer (Jinja2, Pillow) at its top: no start-up waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from monitor.config.settings import Settings
from monitor.deliver import weekly
from monitor.deliver.digest import Labels, week_key
from monitor.deliver.queuing import (
    INSTANT_LOOKBACK,
    LOOKBACK,
    last_full_week,
    read_context,
    telegram_plan,
    weekly_summary,
)
from monitor.deliver.routing import (
    AUDIENCES,
    EMAIL,
    FILE_TELEGRAM,
    INSTANT,
    Kind,
    email_channel,
    telegram_channel,
)
from monitor.deliver.sinks import decode_telegram, write_whole
from monitor.store import Store, outbox, queries

DRY_RUN_DIR = "dry-run"  # under digests_dir: what `digest email --dry-run` renders


def preview(
    kind: Kind,
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    labels: Labels,
    since: datetime | None = None,
) -> list[str]:
    """What `run_digest` would queue at `now`, as text (Telegram HTML, Markdown, or the email's
    subject and plain-text part with the path of its HTML part), recording nothing: `--dry-run`.
    `labels` has no default: without them the preview would show topic ids where the digest shows
    the topics' names."""
    if kind == "email":
        return preview_weekly(store, settings, now, labels=labels).lines()
    channel = telegram_channel(settings) if kind == "telegram" else INSTANT
    if channel == INSTANT and settings.telegram_instant_score is None:
        return []
    since = since or now - (LOOKBACK if kind == "telegram" else INSTANT_LOOKBACK)
    held = outbox.delivered_items(store, AUDIENCES[channel], states=outbox.HOLDING)
    context = read_context(store, AUDIENCES[channel], since)
    plan = telegram_plan(channel, settings, now, since=since, labels=labels, context=context)
    outgoing = plan(queries.digest_rows(store, since=since), frozenset(held))
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
    start = week_start or last_full_week(settings, now)
    summary = weekly_summary(store, settings, start, labels)
    path = settings.digests_dir / DRY_RUN_DIR / f"email-{week_key(summary.week_start)}.html"
    write_whole(path, weekly.render_weekly_page(summary))
    if email_channel(settings) == EMAIL:
        sends_to = f"by SMTP to {len(settings.email_recipients)} recipient(s)"
    else:
        sends_to = f"to {settings.digests_dir} (no SMTP settings)"
    return WeeklyPreview(
        weekly.weekly_subject(summary), weekly.render_weekly_text(summary), path, sends_to
    )
