"""Recording what is due in the outbox: each digest is chosen and rendered
(monitor.deliver.digest), then recorded in its own transaction under a key that makes a rerun, a
restart or a second worker record nothing more. Telegram: the digest of stories with new relevant
items, one delivery per message (key: the slot, "telegram:<local time>#partN"); instant: one post
per story with an item scoring at least telegram_instant_score (key: its first new article);
email: the weekly summary of the last full ISO week (key: "email:2026-W47"). The file sink's
channels are queued the same way, as Markdown and HTML.

What was posted is the outbox's: each delivery records every article its entries link, so which
stories the channel has seen, and in which languages, is read from its rows (`read_context`,
before the outbox takes its lock; the plan adds what the lock's own read holds), never kept in
the process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.config.settings import Settings
from monitor.core.lazy import lazy_import
from monitor.core.records import WeeklySummary
from monitor.deliver.digest import (
    Labels,
    build_weekly_summary,
    render_markdown,
    render_telegram,
    week_bounds,
    week_key,
    week_of,
)
from monitor.deliver.routing import (
    AUDIENCES,
    EMAIL,
    FILE_TELEGRAM,
    INSTANT,
    TELEGRAM,
    email_channel,
    telegram_channel,
)
from monitor.deliver.sinks import encode_telegram
from monitor.deliver.stories import StoryContext, choose_stories
from monitor.store import Store, outbox, queries
from monitor.store.outbox import Outgoing
from monitor.store.queries import DigestRow

if TYPE_CHECKING:
    from monitor.deliver import weekly
else:  # Jinja2 and Pillow load only when a weekly email is rendered (start-up of the CLI, the bot)
    weekly = lazy_import("monitor.deliver.weekly")

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)  # the digest takes articles first seen this recently, at most
INSTANT_LOOKBACK = timedelta(hours=6)
WEEKS_BEFORE = 8  # the weekly email's line chart sets the week against this many before it
MAX_DIGEST_ITEMS = 100  # more wait for the next digest
INSTANT_TITLE = "Azerbaijan–Kazakhstan: just in"


def digest_slot(now: datetime, zone: ZoneInfo) -> str:
    """The digest's time in the digest zone, to the minute: "2026-11-21T10:00+04:00"."""
    return now.astimezone(zone).replace(second=0, microsecond=0).isoformat(timespec="minutes")


def telegram_plan(
    channel: str,
    settings: Settings,
    now: datetime,
    *,
    since: datetime,
    labels: Labels,
    max_items: int | None = MAX_DIGEST_ITEMS,
    context: StoryContext = StoryContext(),
) -> Callable[[list[DigestRow], frozenset[int]], list[Outgoing]]:
    """The pure half of queuing: candidate rows and the articles already held → deliveries.
    `context` adds the candidates' stories and what was posted of them before the rows were read
    (`read_context`). A digest is one delivery per message; instant posts are one delivery per
    story."""
    zone = ZoneInfo(settings.digest_timezone)
    slot = digest_slot(now, zone)
    instant = channel == INSTANT
    min_score = settings.telegram_instant_score if instant else None

    def plan(rows: list[DigestRow], held: frozenset[int]) -> list[Outgoing]:
        items = choose_stories(
            rows,
            since,
            delivered=held | context.posted,
            labels=labels,
            min_score=min_score,
            limit=max_items,
            members=context.members,
        )
        if not items:
            return []
        if channel == FILE_TELEGRAM:
            document = render_markdown(items, zone=zone, now=now, labels=labels)
            ids = tuple(i for item in items for i in item.item_ids)
            return [Outgoing(f"{channel}:{slot}", document.encode(), ids)]
        if instant:  # oldest first: the chat reads them in the order they came
            posts = [
                (
                    f"{channel}:{min(item.news, default=item.article_id)}",
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
    store: Store, settings: Settings, now: datetime, *, labels: Labels, since: datetime | None
) -> list[int]:
    """Record the digest of relevant, original articles first seen since `since` (None: the
    last 7 days) that no live delivery to the same readers holds. Returns the new delivery ids:
    [] when there is nothing new, or this slot's digest was recorded before."""
    channel = telegram_channel(settings)
    since = since or now - LOOKBACK
    context = read_context(store, AUDIENCES[channel], since)
    plan = telegram_plan(channel, settings, now, since=since, labels=labels, context=context)
    ids = outbox.record_digest(
        store, channel, now, since=since, audience=AUDIENCES[channel], plan=plan
    )
    if ids:
        log.info("outbox: queued %d %s message(s) at %s", len(ids), channel, now.isoformat())
    return ids


def queue_instant_posts(
    store: Store, settings: Settings, now: datetime, *, labels: Labels
) -> list[int]:
    """Record one post per article first seen in the last hours scoring at least
    `telegram_instant_score` (when set, and Telegram is configured). The digest leaves them out."""
    if settings.telegram_instant_score is None or telegram_channel(settings) != TELEGRAM:
        return []
    since = now - INSTANT_LOOKBACK
    context = read_context(store, AUDIENCES[INSTANT], since)
    plan = telegram_plan(
        INSTANT, settings, now, since=since, labels=labels, max_items=None, context=context
    )
    ids = outbox.record_digest(
        store, INSTANT, now, since=since, audience=AUDIENCES[INSTANT], plan=plan
    )
    if ids:
        log.info("outbox: queued %d instant post(s)", len(ids))
    return ids


def read_context(store: Store, audience: Collection[str], since: datetime) -> StoryContext:
    """The stories of the articles a digest of `audience` may take (first seen since `since`):
    their members that may be shown, whenever first seen, and which articles of theirs a live
    delivery to those readers holds, whenever recorded (the outbox's own read under its lock
    sees only those first seen since `since`)."""
    rows = queries.digest_rows(store, since=since)
    members = queries.story_rows(store, {r.story_id for r in rows if r.story_id is not None})
    ids = {member.article_id for found in members.values() for member in found}
    held = outbox.delivered_items(store, audience, states=outbox.HOLDING)
    return StoryContext(members=members, posted=frozenset(held & ids))


def last_full_week(settings: Settings, now: datetime) -> date:
    """The Monday of the last full ISO week before `now` in the digest zone: the week that a
    weekly email sent at `now` summarises."""
    return week_of(now, settings.digest_timezone)[0]


def weekly_summary(
    store: Store, settings: Settings, week_start: date, labels: Labels
) -> WeeklySummary:
    """The summary of the week starting on Monday `week_start`, in the digest zone."""
    zone = ZoneInfo(settings.digest_timezone)
    first, last = week_bounds(week_start, zone)
    rows = queries.digest_rows(store, since=first, until=last, relevant_only=False)
    stories = {r.story_id for r in rows if r.story_id is not None and r.shown}
    return build_weekly_summary(
        rows,
        week_start=week_start,
        zone=zone,
        labels=labels,
        members=queries.story_rows(store, stories),
        lang_weeks=lang_weeks(store, week_start, zone),
    )


def lang_weeks(
    store: Store, week_start: date, zone: ZoneInfo, before: int = WEEKS_BEFORE
) -> tuple[tuple[date, dict[str, int]], ...]:
    """Relevant items per language in the week of `week_start` and the `before` weeks before
    it, oldest first: the weekly email's line chart. Counted as the summary counts (items that
    may be shown, by the week they were first seen in the digest zone), grouped by the database
    over the weeks' edges."""
    mondays = [week_start - timedelta(weeks=n) for n in range(before, -1, -1)]
    edges = [week_bounds(monday, zone)[0] for monday in mondays]
    counts = queries.shown_per_lang(store, [*edges, week_bounds(week_start, zone)[1]])
    return tuple(
        (monday, {lang or "?": n for (week, lang), n in counts.items() if week == i})
        for i, monday in enumerate(mondays)
    )


def queue_weekly_email(
    store: Store, settings: Settings, now: datetime, *, labels: Labels
) -> list[int]:
    """Record the weekly email of the last full ISO week, once per week: the key is the week, so
    a rerun, a restart or a second worker records nothing more."""
    channel = email_channel(settings)
    week_start = last_full_week(settings, now)
    key = f"{channel}:{week_key(week_start)}"
    if outbox.recorded(store, key):
        return []
    summary = weekly_summary(store, settings, week_start, labels)
    if channel == EMAIL:
        message = weekly.render_weekly(
            summary,
            sender=settings.email_from or "",
            recipients=settings.email_recipients,
            now=now,
        )
        payload = bytes(message)
    else:
        payload = weekly.render_weekly_page(summary).encode()
    ids = outbox.record(store, channel, [Outgoing(key, payload)], now)
    if ids:
        log.info("outbox: queued %s", key)
    return ids
