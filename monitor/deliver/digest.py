"""What a digest says, decided and rendered without I/O: which stories go into it
(monitor.deliver.stories) and how they read in Telegram (HTML parse mode, split below the message
limit, with a plain-text twin), in the file sink (Markdown) and in the weekly summary.

Every function here is pure over small records and takes `now` and the time zone as arguments; the
store reads the rows (`monitor.store.queries.digest_rows` and `story_rows`, whose rule of what may
be shown this module applies too), `monitor.deliver.queuing` records the result and
`monitor.deliver.sending` sends it.

An entry is a story: its best member's title, source, time and lead, the other topics it is
listed under, then "also:" and a link to each other version, "Kazinform (kk)", so a reader picks
the language and the site; a story back for a new language says so ("new in kk") and marks the
new version. Telegram messages are escaped, measured and split by `monitor.deliver.telegram_text`,
as the bot's answers are; what is the digest's own is how an entry reads, the numbered header each
message opens with, and that a single entry too long for a message has its snippet, then its
title, shortened (its version links are bounded: at most `MAX_VERSIONS`, each address at most
`VERSION_HREF` characters, or the version is named unlinked).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

from monitor.core.records import DigestItem, Version, WeeklySummary
from monitor.deliver.labels import Labels
from monitor.deliver.stories import digest_item, week_stories
from monitor.deliver.stories import snippet_of as snippet_of  # the bot and the web page's too
from monitor.deliver.telegram_text import (
    BLOCK_SEPARATOR,
    TELEGRAM_LIMIT,
    Block,
    Section,
    entities,
    escape,
    link,
    shorten,
    split_into_messages,
    web_url,
)
from monitor.store.queries import DigestRow

DIGEST_TITLE = "Azerbaijan–Kazakhstan news"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_VERSIONS = 8  # version links in one entry; more are counted ("+2 more")
VERSION_HREF = 300  # characters of a version's escaped address; a longer one is left unlinked


@dataclass(frozen=True)
class TelegramMessage:
    html: str  # for parse_mode=HTML
    plain: str  # the same without markup, for the one fallback after a 400 "can't parse entities"
    item_ids: tuple[int, ...]


# --- choosing ----------------------------------------------------------------------------------


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
    meta = entry_meta(item, group, labels, zone, " · ")
    head_html = "• " + (link(url, escape(title)) if url else escape(title))
    lines_html = [head_html, f"<i>{escape(meta)}</i>"]
    lines_plain = [f"• {title}", meta]
    if snippet:
        lines_html.append(escape(snippet))
        lines_plain.append(snippet)
    if url:
        lines_plain.append(url)
    if item.versions:
        lines_html.append(_versions_html(item))
        lines_plain.append(_versions_plain(item))
    html = "\n".join(lines_html)
    return Block(html, "\n".join(lines_plain), entities(html))


def entry_meta(item: DigestItem, group: str, labels: Labels, zone: ZoneInfo, sep: str) -> str:
    """Source and local time of the member shown, the other topics the story is listed under,
    and, for a story back for a new language, which."""
    others = [labels.topic(t) for t in item.topics if t != group]
    parts = [item.source_title, local_time(item.published_at, zone)]
    tail = ["also under " + ", ".join(others)] if others else []
    if item.new_languages:
        tail.append("new in " + ", ".join(item.new_languages))
    return sep.join(parts) + "".join(f" · {part}" for part in tail)


def version_label(version: Version) -> str:
    """A version as the "also:" line names it: "Kazinform (kk)", "Kazinform (kk, new)"."""
    tags = [tag for tag in (version.lang, "new" if version.new else "") if tag]
    return f"{version.source_title} ({', '.join(tags)})" if tags else version.source_title


def shown_versions(item: DigestItem) -> tuple[tuple[Version, ...], int]:
    """The versions an entry links, and how many more it only counts."""
    return item.versions[:MAX_VERSIONS], max(0, len(item.versions) - MAX_VERSIONS)


def _versions_html(item: DigestItem) -> str:
    versions, more = shown_versions(item)
    names = [link(v.url, escape(version_label(v)), max_href=VERSION_HREF) for v in versions]
    return "also: " + " · ".join(names + ([f"+{more} more"] if more else []))


def _versions_plain(item: DigestItem) -> str:
    versions, more = shown_versions(item)
    names = []
    for version in versions:
        url = web_url(version.url) if len(version.url) <= VERSION_HREF else None
        names.append(f"{version_label(version)} {url}" if url else version_label(version))
    return "also: " + " · ".join(names + ([f"+{more} more"] if more else []))


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
    of raw HTML (`monitor.deliver.telegram_text`), cut between entries; a group cut in two repeats
    its heading, "(continued)". Each message names the articles its entries link (`item_ids`):
    what its delivery holds."""
    zone = _zone(zone)
    reserve = _header(now, zone, title, 999, 999).size() + 2
    room = limit - reserve
    sections = []
    for topic_id, group in group_by_topic(items, labels):
        label = labels.topic(topic_id)
        item_room = room - _heading(label, continued=True).size() - 4
        blocks = [
            (_fitted_item(item, topic_id, labels, zone, item_room), item.item_ids) for item in group
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
                item_ids=tuple(i for _, ids in page if ids is not None for i in ids),
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
    count = "1 story" if len(items) == 1 else f"{len(items)} stories"
    lines = [f"# {md_escape(DIGEST_TITLE)}", "", f"{stamp} · {count}", ""]
    for topic_id, group in group_by_topic(items, labels):
        lines += [f"## {md_escape(labels.topic(topic_id))}", ""]
        for item in group:
            meta, _, tail = entry_meta(item, topic_id, labels, zone, ", ").partition(" · ")
            url = web_url(item.url)
            shown = f"[{md_escape(item.title)}]({md_url(url)})" if url else md_escape(item.title)
            after = f" · {md_escape(tail)}" if tail else ""
            lines.append(f"- {shown} — *{md_escape(meta)}*{after}")
            if item.snippet:
                lines.append(f"  {md_escape(item.snippet)}")
            if item.versions:
                lines.append(f"  also: {_versions_markdown(item)}")
        lines.append("")
    return "\n".join(lines)


def _versions_markdown(item: DigestItem) -> str:
    versions, more = shown_versions(item)
    names = []
    for version in versions:
        url = web_url(version.url)
        label = md_escape(version_label(version))
        names.append(f"[{label}]({md_url(url)})" if url else label)
    return " · ".join(names + ([f"+{more} more"] if more else []))


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
    members: Mapping[int, Sequence[DigestRow]] | None = None,
    lang_weeks: tuple[tuple[date, dict[str, int]], ...] = (),
) -> WeeklySummary:
    """Counts of the articles first seen in the week (rows may hold more), and its top stories:
    the stories of its relevant items, each with all its members (`members`, by story id; also
    those first seen in another week), the widest told first, `top` per topic. An item counts
    under its first topic only, as in the Telegram digest, so the topic counts add up to the
    relevant total; a story is listed under the first topic of any of its members. `lang_weeks`:
    the relevant items per language of this week and the weeks before (`lang_weeks_before`)."""
    zone = _zone(zone)
    first, last = week_bounds(week_start, zone)
    in_week = [r for r in rows if first <= r.first_seen_at < last]
    relevant = [r for r in in_week if r.shown]
    items = [digest_item(r, labels) for r in relevant]
    per_day = Counter(r.first_seen_at.astimezone(zone).date() for r in relevant)
    stories = week_stories(relevant, labels=labels, members=members)
    return WeeklySummary(
        week_start=week_start,
        week_end=week_start + timedelta(days=6),
        zone=zone.key,
        archived=len(in_week),
        relevant=len(relevant),
        by_source=dict(Counter(i.source_title for i in items).most_common()),
        by_lang=dict(Counter(i.lang or "?" for i in items).most_common()),
        by_topic={labels.topic(t): len(group) for t, group in group_by_topic(items, labels)},
        per_day=tuple(
            (day, per_day.get(day, 0)) for day in (week_start + timedelta(n) for n in range(7))
        ),
        top_by_topic={
            labels.topic(t): tuple(group[:top]) for t, group in group_by_topic(stories, labels)
        },
        stories=len(stories),
        lang_weeks=lang_weeks,
    )
