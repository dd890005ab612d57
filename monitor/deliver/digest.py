"""What a digest says, decided and rendered without I/O: which archived articles go into it and
how they read in Telegram (HTML parse mode, split below the message limit, with a plain-text twin),
in the file sink (Markdown) and in the weekly summary.

Every function here is pure over small records and takes `now` and the time zone as arguments; the
store reads the rows (`monitor.store.queries.digest_rows`, whose rule of what may be shown this
module applies too), `monitor.deliver.queuing` records the result and `monitor.deliver.sending`
sends it.

Telegram messages are escaped, measured and split by `monitor.deliver.telegram_text`, as the
bot's answers are; what is the digest's own is how an item reads, the numbered header each message
opens with, and that a single item too long for a message has its snippet, then its title,
shortened.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

from monitor.core.records import DigestItem, WeeklySummary
from monitor.deliver.telegram_text import (
    BLOCK_SEPARATOR,
    TELEGRAM_LIMIT,
    Block,
    Section,
    escape,
    link,
    one_line,
    shorten,
    split_into_messages,
    web_url,
)
from monitor.store.queries import DigestRow
from monitor.text.leads import lead_paragraph

SNIPPET_CHARS = 280
OTHER_TOPIC = "other"
DIGEST_TITLE = "Azerbaijan–Kazakhstan news"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Labels:
    """Display names: source titles from sources.yaml, topic labels from topics.yaml. The order of
    `topics` is the rules' order: it decides an item's first topic and the order of the groups.
    `agencies` are the names datelines are signed with (sources.yaml), kept out of snippets."""

    sources: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)
    agencies: frozenset[str] = frozenset()

    def source(self, name: str) -> str:
        return self.sources.get(name) or name

    def topic(self, topic_id: str) -> str:
        return self.topics.get(topic_id) or topic_id.replace("-", " ").capitalize()

    def first_topic(self, topics: Sequence[str]) -> str:
        """The topic an item is listed under: the first of its topics in the rules' order."""
        if not topics:
            return OTHER_TOPIC
        rank = {topic_id: n for n, topic_id in enumerate(self.topics)}
        return min(topics, key=lambda t: (rank.get(t, len(rank)), t))

    def topic_rank(self, topic_id: str) -> tuple[int, str]:
        order = list(self.topics)
        if topic_id == OTHER_TOPIC:  # the catch-all group always comes last
            return (len(order) + 1, topic_id)
        return (order.index(topic_id) if topic_id in order else len(order), topic_id)


@dataclass(frozen=True)
class TelegramMessage:
    html: str  # for parse_mode=HTML
    plain: str  # the same without markup, for the one fallback after a 400 "can't parse entities"
    item_ids: tuple[int, ...]


# --- choosing ----------------------------------------------------------------------------------


def select_items(
    rows: Iterable[DigestRow],
    since: datetime,
    *,
    delivered: Collection[int] = (),
    labels: Labels = Labels(),
    min_score: float | None = None,
    limit: int | None = None,
) -> list[DigestItem]:
    """Articles that may be shown (relevant, original, not seeds) first seen since `since` and not
    yet delivered on the channel, newest first; at most `limit` (the rest wait for the next
    digest)."""
    chosen = [
        row
        for row in rows
        if row.shown
        and row.first_seen_at >= since
        and row.article_id not in delivered
        and (min_score is None or (row.score or 0.0) >= min_score)
    ]
    chosen.sort(key=newest_first_key, reverse=True)
    return [digest_item(row, labels) for row in chosen[:limit]]


def newest_first_key(row: DigestRow) -> tuple[bool, datetime, datetime, int]:
    """Sort key (reversed) for newest first: dated items by date, then the undated ones, which
    have no place in time, by when the monitor first saw them."""
    dated = row.published_at is not None
    return (dated, row.published_at or row.first_seen_at, row.first_seen_at, row.article_id)


def digest_item(row: DigestRow, labels: Labels) -> DigestItem:
    return DigestItem(
        article_id=row.article_id,
        source=row.source,
        source_title=labels.source(row.source),
        title=one_line(row.title) or row.url,
        url=row.url,
        published_at=row.published_at,
        lang=row.lang or "",
        topics=tuple(sorted(row.topics, key=labels.topic_rank)),
        snippet=snippet_of(row.lead, agencies=labels.agencies),
        score=row.score or 0.0,
    )


def snippet_of(
    text: str, limit: int = SNIPPET_CHARS, agencies: Collection[str] = frozenset()
) -> str:
    """The first paragraph that says something (never a bare dateline signed by one of
    `agencies`: `monitor.text.leads`), on one line, cut at a word near `limit` characters."""
    return shorten(one_line(lead_paragraph(text, agencies)), limit)


def group_by_topic(
    items: Sequence[DigestItem], labels: Labels
) -> list[tuple[str, list[DigestItem]]]:
    """Items under their first topic, groups in the rules' order, items in the order given."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        groups.setdefault(labels.first_topic(item.topics), []).append(item)
    return sorted(groups.items(), key=lambda pair: labels.topic_rank(pair[0]))


# --- Telegram ----------------------------------------------------------------------------------


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A publication time as readers of the digest see it; "date unknown" when the source gave
    none (never the fetch time in its place)."""
    if moment is None:
        return "date unknown"
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local:%H:%M}"


def local_stamp(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "date unknown"
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


def _zone(zone: ZoneInfo | str) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _heading(label: str, continued: bool) -> Block:
    suffix = " (continued)" if continued else ""
    return Block(f"<b>{escape(label)}</b>{escape(suffix)}", f"■ {label}{suffix}", 1)


def _item_block(
    item: DigestItem,
    group: str,
    labels: Labels,
    zone: ZoneInfo,
    title_chars: int | None,
    snippet_chars: int | None,
    linked: bool,
) -> Block:
    title = item.title if title_chars is None else shorten(item.title, title_chars)
    snippet = item.snippet if snippet_chars is None else shorten(item.snippet, snippet_chars)
    url = web_url(item.url) if linked else None
    others = [labels.topic(t) for t in item.topics if t != group]
    meta = " · ".join(
        [item.source_title, local_time(item.published_at, zone)]
        + (["also: " + ", ".join(others)] if others else [])
    )
    head_html = "• " + (link(url, escape(title)) if url else escape(title))
    lines_html = [head_html, f"<i>{escape(meta)}</i>"]
    lines_plain = [f"• {title}", meta]
    if snippet:
        lines_html.append(escape(snippet))
        lines_plain.append(snippet)
    if url:
        lines_plain.append(url)
    return Block("\n".join(lines_html), "\n".join(lines_plain), 2 if url else 1)


def _fitted_item(item: DigestItem, group: str, labels: Labels, zone: ZoneInfo, room: int) -> Block:
    """The item's block, its snippet then its title shortened until it fits in `room`."""

    def block(title: int | None = None, snippet: int | None = None, linked: bool = True) -> Block:
        return _item_block(item, group, labels, zone, title, snippet, linked)

    if block().size() <= room:
        return block()
    for linked in (True, False):  # a URL too long for any message is shown without its link
        for title in (None, 200, 80, 20):
            if title is not None and title >= len(item.title):
                continue
            # the longest snippet that fits, by bisection on its length in characters
            low, high = -1, len(item.snippet)
            while low < high:
                middle = (low + high + 1) // 2
                fits = block(title, middle, linked).size() <= room
                low, high = (middle, high) if fits else (low, middle - 1)
            if low >= 0:
                return block(title, low, linked)
    raise ValueError(f"item {item.article_id} cannot fit a Telegram message")  # pragma: no cover


def _header(now: datetime, zone: ZoneInfo, title: str, part: int, parts: int) -> Block:
    stamp = local_stamp(now, zone)
    counter = f" · {part}/{parts}" if parts > 1 else ""
    return Block(
        f"<b>{escape(title)}</b>\n{escape(stamp + counter)}",
        f"{title}\n{stamp}{counter}",
        1,
    )


def render_telegram(
    items: Sequence[DigestItem],
    *,
    zone: ZoneInfo | str,
    now: datetime,
    labels: Labels = Labels(),
    title: str = DIGEST_TITLE,
    limit: int = TELEGRAM_LIMIT,
) -> list[TelegramMessage]:
    """The digest as Telegram messages in HTML parse mode, each under `limit` UTF-16 code units
    of raw HTML (`monitor.deliver.telegram_text`), cut between items; a group cut in two repeats its
    heading, "(continued)"."""
    zone = _zone(zone)
    reserve = _header(now, zone, title, 999, 999).size() + 2
    room = limit - reserve
    sections = []
    for topic_id, group in group_by_topic(items, labels):
        label = labels.topic(topic_id)
        item_room = room - _heading(label, continued=True).size() - 4
        blocks = [
            (_fitted_item(item, topic_id, labels, zone, item_room), item.article_id)
            for item in group
        ]
        sections.append(Section(partial(_heading, label), blocks))
    pages = split_into_messages(sections, room)
    messages = []
    for number, page in enumerate(pages, 1):
        header = _header(now, zone, title, number, len(pages))
        parts = [header, *(block for block, _ in page)]
        messages.append(
            TelegramMessage(
                html=BLOCK_SEPARATOR.join(p.html for p in parts),
                plain=BLOCK_SEPARATOR.join(p.plain for p in parts),
                item_ids=tuple(i for _, i in page if i is not None),
            )
        )
    return messages


# --- Markdown (the file sink) ------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}()<>#+!|~&])")


def md_escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def md_url(url: str) -> str:
    """A link destination in angle brackets, with the characters they cannot hold encoded."""
    return "<" + url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E") + ">"


def render_markdown(
    items: Sequence[DigestItem],
    *,
    zone: ZoneInfo | str,
    now: datetime,
    labels: Labels = Labels(),
) -> str:
    """The same digest as one Markdown document, for `storage/digests/` and stdout."""
    zone = _zone(zone)
    stamp = f"{local_stamp(now, zone)} ({zone.key})"  # our own words: nothing to escape
    lines = [f"# {md_escape(DIGEST_TITLE)}", "", f"{stamp} · {len(items)} items", ""]
    for topic_id, group in group_by_topic(items, labels):
        lines += [f"## {md_escape(labels.topic(topic_id))}", ""]
        for item in group:
            others = [labels.topic(t) for t in item.topics if t != topic_id]
            meta = ", ".join([item.source_title, local_time(item.published_at, zone)])
            also = f" · also: {', '.join(others)}" if others else ""
            url = web_url(item.url)
            shown = f"[{md_escape(item.title)}]({md_url(url)})" if url else md_escape(item.title)
            lines.append(f"- {shown} — *{md_escape(meta)}*{md_escape(also)}")
            if item.snippet:
                lines.append(f"  {md_escape(item.snippet)}")
        lines.append("")
    return "\n".join(lines)


# --- the weekly summary ------------------------------------------------------------------------


def week_of(now: datetime, zone: ZoneInfo | str) -> tuple[date, date]:
    """The last full ISO week (Monday to Sunday, in `zone`) before `now`: what Monday's email
    summarises, whichever day of the following week it goes out."""
    today = now.astimezone(_zone(zone)).date()
    start = today - timedelta(days=today.weekday() + 7)
    return start, start + timedelta(days=6)


def week_containing(moment: datetime, zone: tzinfo | str) -> date:
    """The Monday (in `zone`) of the ISO week `moment` falls in: the week an article first seen
    then is counted in (the demo's weekly email), or published in (the web page's chart)."""
    day = moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone).date()
    return day - timedelta(days=day.weekday())


def week_bounds(start: date, zone: ZoneInfo | str) -> tuple[datetime, datetime]:
    """The aware instants [Monday 00:00, next Monday 00:00) of the week starting `start`."""
    zone = _zone(zone)
    first = datetime.combine(start, time(0), tzinfo=zone)
    last = datetime.combine(start + timedelta(days=7), time(0), tzinfo=zone)
    return first.astimezone(UTC), last.astimezone(UTC)


def week_key(start: date) -> str:
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def build_weekly_summary(
    rows: Iterable[DigestRow],
    *,
    week_start: date,
    zone: ZoneInfo | str,
    labels: Labels = Labels(),
    top: int = 3,
) -> WeeklySummary:
    """Counts and top stories of the articles first seen in the week (rows may hold more).
    An item counts under its first topic only, as in the Telegram digest, so the topic counts
    add up to the relevant total."""
    zone = _zone(zone)
    first, last = week_bounds(week_start, zone)
    in_week = [r for r in rows if first <= r.first_seen_at < last]
    relevant = [r for r in in_week if r.shown]
    items = [digest_item(r, labels) for r in relevant]
    per_day = Counter(r.first_seen_at.astimezone(zone).date() for r in relevant)
    grouped = group_by_topic(sorted(items, key=lambda i: (-i.score, i.article_id)), labels)
    return WeeklySummary(
        week_start=week_start,
        week_end=week_start + timedelta(days=6),
        zone=zone.key,
        archived=len(in_week),
        relevant=len(relevant),
        by_source=dict(Counter(i.source_title for i in items).most_common()),
        by_lang=dict(Counter(i.lang or "?" for i in items).most_common()),
        by_topic={labels.topic(t): len(group) for t, group in grouped},
        per_day=tuple(
            (day, per_day.get(day, 0)) for day in (week_start + timedelta(n) for n in range(7))
        ),
        top_by_topic={labels.topic(t): tuple(group[:top]) for t, group in grouped},
    )
