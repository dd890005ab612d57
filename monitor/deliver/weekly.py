"""The weekly email: a `WeeklySummary` rendered into a ready-to-send `EmailMessage`.

Pure: the summary, the addresses and `now` in, a message out; no clock, no randomness, no I/O
but reading the package's templates, so the same week renders to the same bytes. Layout:

    multipart/alternative
    ├── text/plain                    weekly.txt.j2
    └── multipart/related
        ├── text/html                 weekly.html.j2 (autoescaped), <img src="cid:...">
        ├── image/png                 the chart of relevant items per day (monitor.deliver.chart)
        └── image/png                 relevant items per language, this week and the eight before

The top stories are events, not articles (monitor.deliver.stories): each is told by its best
member, then "also:" links every other version by site and language, and says how widely it was
told ("3 sites, 3 languages"), so a reader sees at a glance which events both countries' press
carried.

Article titles and snippets come from the sites we crawl, so they are untrusted: they go into the
bodies only, cleaned of control characters and truncated; the HTML escapes them; links are kept
only when they are http(s). Headers are built from the addresses in the settings, numbers and
dates, and every header value is still stripped of CR/LF. The recipients travel in Bcc (dropped
by smtplib when sending) under `To: undisclosed-recipients:;`, so analysts, diplomats and
journalists on the list do not see one another's addresses. This is the only module that imports
Jinja2.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.core.records import DigestItem, Version, WeeklySummary
from monitor.deliver.chart import MONTHS, WEEKDAYS, lang_weeks_png, relevant_per_day_png

TITLE_LIMIT = 180  # characters shown of an article title
SNIPPET_LIMIT = 280
NAME_LIMIT = 80  # source titles, topic names
URL_LIMIT = 2048  # longer links are dropped rather than cut (a cut URL leads nowhere)
CHART_FILENAME = "relevant-per-day.png"
LANG_CHART_FILENAME = "relevant-by-language.png"
FALLBACK_DOMAIN = "az-kz-monitor.invalid"
LANGUAGE_NAMES = {"az": "Azerbaijani", "kk": "Kazakh", "ru": "Russian", "en": "English"}

_LINE_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029]+")
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SIMPLE_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]\\]+@[^\s@<>(),;:\"\[\]\\]+")
_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class Count:
    """A labelled count: of a source, a language, a topic, or a day (which also has its bar)."""

    label: str  # a source title, language or topic name; "Mon 16 Nov" for a day
    count: int
    bar: str = ""  # per day: a row of '#' for the plain-text chart


@dataclass(frozen=True)
class LangWeek:
    """One week of the by-language chart: "16 Nov", its counts in the order of the columns."""

    label: str
    counts: tuple[int, ...]
    this_week: bool


@dataclass(frozen=True)
class VersionLink:
    """Another version of a story: "Kazinform (kk)" and its link."""

    label: str
    url: str | None  # None when the link is not plain http(s)
    lang: str | None  # a clean language tag, else None


@dataclass(frozen=True)
class Story:
    title: str
    url: str | None  # None when the link is not plain http(s)
    source: str
    local_date: str  # "Tue 17 Nov", in the summary's time zone
    snippet: str
    lang: str | None  # a clean language tag for the HTML lang attribute, else None
    reach: str  # "3 sites, 3 languages": how widely the event was told
    versions: tuple[VersionLink, ...] = ()


@dataclass(frozen=True)
class TopicStories:
    topic: str
    count: int
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class WeeklyView:
    """Everything the templates print, already cleaned, ordered and formatted."""

    heading: str
    week: str  # "16–22 Nov 2026"
    zone: str
    totals: str  # "23 relevant items (15 stories) of 311 articles archived this week."
    relevant_count: int
    by_source: tuple[Count, ...]
    by_lang: tuple[Count, ...]
    by_topic: tuple[Count, ...]
    per_day: tuple[Count, ...]
    chart_alt: str
    topics: tuple[TopicStories, ...]
    lang_columns: tuple[tuple[str, str], ...] = ()  # (code, name), most items over the weeks first
    lang_weeks: tuple[LangWeek, ...] = ()
    lang_chart_alt: str = ""


def render_weekly(
    summary: WeeklySummary, *, sender: str, recipients: list[str], now: datetime
) -> EmailMessage:
    """The weekly email, ready for `EmailNotifier.send`.

    `now` (aware) becomes the Date header. The Message-ID is derived from the week, the zone and
    the addresses, so a resend of the same week after a crash carries the same id and mail
    systems that deduplicate by Message-ID show it once.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    from_address = _mailbox(sender, "sender")
    to_addresses = [_mailbox(recipient, "recipient") for recipient in recipients]
    if not to_addresses:
        raise ValueError("the weekly email needs at least one recipient")
    domain = _domain_of(from_address)
    view = weekly_view(summary)
    templates = _templates()
    chart_cid = f"chart.{summary.week_start:%Y%m%d}@{domain}"

    message = EmailMessage()
    message["Subject"] = _header_value(weekly_subject(summary))
    message["From"] = from_address
    message["To"] = "undisclosed-recipients:;"
    message["Bcc"] = ", ".join(to_addresses)
    message["Date"] = _header_value(format_datetime(now.astimezone(ZoneInfo(summary.zone))))
    message_digest = _identity_digest(summary, from_address, to_addresses)
    message["Message-ID"] = f"<weekly.{summary.week_start:%Y%m%d}.{message_digest}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the bot
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(render_weekly_text(summary, templates))
    lang_cid = f"languages.{summary.week_start:%Y%m%d}@{domain}"
    html = templates.get_template("weekly.html.j2").render(
        view=view, chart_src=f"cid:{chart_cid}", lang_chart_src=f"cid:{lang_cid}"
    )
    message.add_alternative(html, subtype="html")
    html_part = next(
        part for part in message.iter_parts() if part.get_content_type() == "text/html"
    )
    html_part.add_related(
        relevant_per_day_png(summary.per_day),
        maintype="image",
        subtype="png",
        cid=f"<{chart_cid}>",
        disposition="inline",
        filename=CHART_FILENAME,
    )
    if view.lang_weeks:
        html_part.add_related(
            lang_chart_png(view),
            maintype="image",
            subtype="png",
            cid=f"<{lang_cid}>",
            disposition="inline",
            filename=LANG_CHART_FILENAME,
        )
    # Fixed boundaries keep the bytes of a week's email stable (the generator would draw random
    # ones); "=_" never occurs in quoted-printable or base64 bodies, so it cannot clash.
    message.set_boundary(f"=_alternative.{message_digest}")
    html_part.set_boundary(f"=_related.{message_digest}")
    message["Content-Language"] = "en"  # after set_content, which drops Content-* headers
    return message


def render_weekly_text(summary: WeeklySummary, templates: Environment | None = None) -> str:
    """The plain-text part alone: what `monitor digest email --dry-run` and the demo print."""
    template = (templates or _templates()).get_template("weekly.txt.j2")
    return template.render(view=weekly_view(summary))


def render_weekly_page(summary: WeeklySummary) -> str:
    """The same HTML as a standalone page, the chart embedded as a data: URI (for the file sink)."""
    view = weekly_view(summary)
    png = base64.b64encode(relevant_per_day_png(summary.per_day)).decode("ascii")
    langs = base64.b64encode(lang_chart_png(view)).decode("ascii") if view.lang_weeks else ""
    template = _templates().get_template("weekly.html.j2")
    return template.render(
        view=view,
        chart_src=f"data:image/png;base64,{png}",
        lang_chart_src=f"data:image/png;base64,{langs}",
    )


def weekly_subject(summary: WeeklySummary) -> str:
    """Numbers and dates only: nothing a crawled site wrote can reach a header."""
    week = week_label(summary.week_start, summary.week_end)
    return f"Azerbaijan–Kazakhstan relations: week of {week} — {_plural(summary.relevant, 'relevant item')}"


def week_label(start: date, end: date) -> str:
    """The week as people write it: 16–22 Nov 2026, 30 Nov – 6 Dec 2026, 29 Dec 2025 – 4 Jan 2026."""
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {_month(end)} {end.year}"
    if start.year == end.year:
        return f"{start.day} {_month(start)} – {end.day} {_month(end)} {end.year}"
    return f"{start.day} {_month(start)} {start.year} – {end.day} {_month(end)} {end.year}"


def weekly_view(summary: WeeklySummary) -> WeeklyView:
    zone = ZoneInfo(summary.zone)
    per_day = _per_day(summary.per_day)
    return WeeklyView(
        heading="Azerbaijan–Kazakhstan relations: weekly summary",
        week=week_label(summary.week_start, summary.week_end),
        zone=clean_text(summary.zone, NAME_LIMIT),
        totals=f"{_plural(summary.relevant, 'relevant item')}"
        + (f" ({_plural(summary.stories, 'story', 'stories')})" if summary.stories else "")
        + f" of {_plural(summary.archived, 'article')} archived this week.",
        relevant_count=summary.relevant,
        by_source=_counts(summary.by_source),
        by_lang=_counts({_language(code): n for code, n in summary.by_lang.items()}),
        by_topic=_counts({_topic(name): n for name, n in summary.by_topic.items()}),
        per_day=per_day,
        chart_alt="Relevant items per day: "
        + ", ".join(f"{day.label} {day.count}" for day in per_day),
        topics=_topics(summary, zone),
        **_lang_weeks(summary),
    )


def _lang_weeks(summary: WeeklySummary) -> dict[str, Any]:
    """The by-language chart's columns and rows, and its alt text (the numbers in words)."""
    totals: Counter[str] = Counter()
    for _, counts in summary.lang_weeks:
        totals.update(counts)
    codes = sorted(totals, key=lambda code: (-totals[code], code))
    columns = tuple((code, clean_text(_language(code), NAME_LIMIT)) for code in codes)
    last = len(summary.lang_weeks) - 1
    rows = tuple(
        LangWeek(
            f"{monday.day} {_month(monday)}", tuple(counts.get(c, 0) for c in codes), n == last
        )
        for n, (monday, counts) in enumerate(summary.lang_weeks)
    )
    alt = "Relevant items per language, weeks from " + "; ".join(
        f"{row.label}: " + ", ".join(f"{c} {n}" for c, n in zip(codes, row.counts, strict=True))
        for row in rows
    )
    return {"lang_columns": columns, "lang_weeks": rows, "lang_chart_alt": alt if rows else ""}


def lang_chart_png(view: WeeklyView) -> bytes:
    weeks = [
        (row.label, dict(zip((c for c, _ in view.lang_columns), row.counts, strict=True)))
        for row in view.lang_weeks
    ]
    return lang_weeks_png(weeks, view.lang_columns)


def clean_text(text: str, limit: int) -> str:
    """One line of display text: control characters and line breaks become spaces, runs of
    spaces collapse, and a text over `limit` characters is cut at a word (when one ends near the
    limit) and ends with "…". Cuts whole characters, so no multi-byte sequence is broken."""
    text = _LINE_BREAKS.sub(" ", text)
    text = "".join(
        " " if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS else char
        for char in text
    )
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def _topics(summary: WeeklySummary, zone: ZoneInfo) -> tuple[TopicStories, ...]:
    ordered = sorted(summary.top_by_topic, key=lambda name: (-summary.by_topic.get(name, 0), name))
    return tuple(
        TopicStories(
            topic=_topic(name),
            count=summary.by_topic.get(name, len(summary.top_by_topic[name])),
            stories=tuple(_story(item, zone) for item in summary.top_by_topic[name]),
        )
        for name in ordered
        if summary.top_by_topic[name]
    )


def _story(item: DigestItem, zone: ZoneInfo) -> Story:
    return Story(
        title=clean_text(item.title, TITLE_LIMIT) or "(untitled)",
        url=_safe_link(item.url),
        source=clean_text(item.source_title or item.source, NAME_LIMIT),
        local_date=_story_date(item.published_at, zone),
        snippet=clean_text(item.snippet, SNIPPET_LIMIT),
        lang=_lang_tag(item.lang),
        reach=f"{_plural(item.sites, 'site')}, {_plural(item.languages, 'language')}",
        versions=tuple(_version(version) for version in item.versions),
    )


def _version(version: Version) -> VersionLink:
    name = clean_text(version.source_title or version.source, NAME_LIMIT)
    lang = clean_text(version.lang, NAME_LIMIT)
    return VersionLink(
        label=f"{name} ({lang})" if lang else name,
        url=_safe_link(version.url),
        lang=_lang_tag(version.lang),
    )


def _lang_tag(lang: str) -> str | None:
    return lang if _LANG_TAG.fullmatch(lang or "") else None


def _story_date(published: datetime | None, zone: ZoneInfo) -> str:
    """A story's day ('Wed 18 Nov'), or 'date unknown' when the source gave none: the email
    never puts the day the monitor found an item in place of the day it was published."""
    if published is None:
        return "date unknown"
    local = published.astimezone(zone)
    return f"{WEEKDAYS[local.weekday()]} {local.day} {_month(local)}"


def _per_day(per_day: tuple[tuple[date, int], ...]) -> tuple[Count, ...]:
    tallest = max((count for _, count in per_day), default=0)
    width = 30
    return tuple(
        Count(
            label=f"{WEEKDAYS[day.weekday()]} {day.day} {_month(day)}",
            count=count,
            bar="#" * (round(width * count / tallest) if tallest and count > 0 else 0),
        )
        for day, count in per_day
    )


def _counts(counts: dict[str, int]) -> tuple[Count, ...]:
    merged: dict[str, int] = {}
    for label, count in counts.items():
        shown = clean_text(label, NAME_LIMIT) or "(unknown)"
        merged[shown] = merged.get(shown, 0) + count
    return tuple(Count(label, count) for label, count in sorted(merged.items(), key=_by_count))


def _by_count(pair: tuple[str, int]) -> tuple[int, str]:
    return (-pair[1], pair[0].casefold())


def _language(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


def _topic(name: str) -> str:
    shown = clean_text(name, NAME_LIMIT)
    return shown[:1].upper() + shown[1:]


def _plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {nouns or noun + 's'}"


def _month(day: date) -> str:
    return MONTHS[day.month - 1]


def _safe_link(url: str) -> str | None:
    url = url.strip()
    if len(url) > URL_LIMIT or any(char.isspace() or ord(char) < 32 for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _header_value(value: str) -> str:
    """CR, LF and other control characters out of a header value, whatever its origin."""
    return " ".join(clean_text(value, 10_000).split())


def _mailbox(value: str, role: str) -> str:
    """One address from the settings, checked to be exactly one plain mailbox."""
    cleaned = _header_value(value)
    pairs = getaddresses([cleaned])
    if len(pairs) != 1 or not _SIMPLE_ADDRESS.fullmatch(pairs[0][1]):
        raise ValueError(f"{role} is not one email address: {value!r}")
    name, address = pairs[0]
    return formataddr((name, address))


def _domain_of(mailbox: str) -> str:
    address = getaddresses([mailbox])[0][1]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", address.rpartition("@")[2]).strip(".-")
    return domain or FALLBACK_DOMAIN


def _identity_digest(summary: WeeklySummary, sender: str, recipients: list[str]) -> str:
    """Same week, zone and addresses: same digest, hence the same Message-ID on a resend."""
    identity = "|".join([summary.week_start.isoformat(), summary.zone, sender, *sorted(recipients)])
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def _templates() -> Environment:
    # Built per render (a weekly email does not need a cache) so nothing lives at module level.
    return Environment(
        loader=PackageLoader("monitor.deliver", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
