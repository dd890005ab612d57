"""The bot's answers, rendered: records in, one HTML message out, nothing else.

Each renderer (`render_*`) is pure: it takes what a command found (search hits, a story, topic
counts, the status report's sources) and returns one message in Telegram's HTML parse mode, every
title, snippet, URL and query escaped, fitted by `monitor.deliver.telegram_text` as the digest is,
so an answer is never refused for its length or its formatting. A hit whose story has other
versions says so in one line ending in `/story_N`, which Telegram makes tappable. The usage texts and the command menu
live here too, beside the help that lists it; `monitor.bot.commands` decides what to render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.deliver.digest import Labels, local_stamp, local_time, snippet_of
from monitor.deliver.telegram_text import escape, fit_message, link, marked_html, one_line, shorten
from monitor.search.service import SearchHit, SearchResult
from monitor.search.stories import StoryView
from monitor.service.status import SourceHealth
from monitor.store.story_rows import StoryMember

LATEST_DEFAULT, LATEST_MAX = 5, 10
TOPICS_WINDOW = timedelta(days=7)
TITLE_CHARS, SNIPPET_CHARS, QUERY_CHARS, ERROR_CHARS = 300, 200, 200, 160
MAX_URL_HTML = 800  # longer links are shown without the link: they would crowd out the answer
COMMANDS = (
    ("latest", "newest relevant stories, one entry each: /latest [N], up to 10"),
    ("search", "search the archive: /search <words>"),
    ("story", "every version of a story, in each language: /story N"),
    ("topics", "topics with their relevant items of the last 7 days"),
    ("status", "health of every source (admins)"),
    ("help", "what this bot answers"),
)
SEARCH_USAGE = (
    "Usage: <code>/search &lt;words&gt;</code>, e.g. <code>/search Aktau port</code>. "
    "Every word must match; add words to narrow the results."
)
LATEST_USAGE = (
    f"Usage: <code>/latest [N]</code>, N from 1 to {LATEST_MAX} (default {LATEST_DEFAULT})."
)
STORY_USAGE = (
    "Usage: <code>/story N</code>, N the number of a story as /latest and /search give it "
    "(<code>/story_N</code> there: tap it)."
)
GROUPED = (
    "/latest and /search list a story once: the same news told by several sites or in "
    "several languages. /story N shows all its versions."
)


def hit_block(number: int, hit: SearchHit, labels: Labels, zone: ZoneInfo, snippet: bool) -> str:
    """One item: linked title (matches in bold), source, local date, topics; the snippet."""
    title = marked_html(hit.title_marked.pieces, TITLE_CHARS) or escape(
        shorten(one_line(hit.url), 120)
    )
    if len(title) > 4 * TITLE_CHARS:  # many tiny marks: bold is not worth a third of the message
        title = escape(shorten(one_line(hit.title), TITLE_CHARS))
    meta = [labels.source(hit.source), local_stamp(hit.published_at, zone)]
    if hit.topics:
        meta.append(", ".join(labels.topic(t) for t in sorted(hit.topics, key=labels.topic_rank)))
    if hit.duplicate_of:
        meta.append("copy of an earlier item")
    lines = [f"{number}. {link(hit.url, title, max_href=MAX_URL_HTML)}", escape(" · ".join(meta))]
    if hit.story_id is not None and hit.versions > 1:
        lines.append(versions_line(hit, labels))
    if snippet:
        text = marked_html(hit.snippet.pieces, SNIPPET_CHARS)
        if len(text) > 4 * SNIPPET_CHARS:
            text = escape(shorten(one_line(hit.snippet.plain("", "")), SNIPPET_CHARS))
        if text:
            lines.append(text)
    return "\n".join(lines)


def versions_line(hit: SearchHit, labels: Labels) -> str:
    """How many more versions the hit's story has, the other sites and languages that told it,
    and the command that lists them, as one word so Telegram makes it tappable:
    `+2 versions (ru: AZERTAC · kk: Kazinform) · /story_12`."""
    more = hit.versions - 1
    said = f"+{more} version{'s' if more != 1 else ''}"
    if hit.others:
        said += " (" + " · ".join(version_name(m, labels) for m in hit.others) + ")"
    return f"{escape(said)} · /story_{hit.story_id}"


def version_name(member: StoryMember, labels: Labels) -> str:
    source = labels.source(member.source)
    return f"{member.lang}: {source}" if member.lang else source


def render_help(admin: bool = False) -> str:
    lines = ["<b>Azerbaijan–Kazakhstan news monitor</b>", ""]
    for name, what in COMMANDS:
        if name == "status" and not admin:
            continue
        lines.append(f"/{name} — {escape(what)}")
    return "\n".join([*lines, "", escape(GROUPED)])


def render_latest(
    hits: Sequence[SearchHit], labels: Labels, zone: ZoneInfo, asked: int = LATEST_DEFAULT
) -> str:
    if not hits:
        return "No relevant items in the archive yet."
    head = f"<b>Latest {len(hits)} relevant {'story' if len(hits) == 1 else 'stories'}</b>"
    if len(hits) < asked:
        head += f" (all there are; {asked} asked)"
    blocks = [hit_block(n, hit, labels, zone, snippet=False) for n, hit in enumerate(hits, 1)]
    return fit_message(head, blocks)


def render_story(
    story: StoryView | None,
    story_id: int,
    leads: Mapping[int, str],
    labels: Labels,
    zone: ZoneInfo,
) -> str:
    """A story's versions, earliest first: linked title, site, language, local date, copies
    marked; under the head, the title and lead of the version that speaks for it."""
    if story is None:
        return f"No story {story_id} in the archive. {STORY_USAGE}"
    best = story.best
    head = (
        f"<b>Story {story.id}</b>: {len(story.versions)} version"
        f"{'s' if len(story.versions) != 1 else ''}, {_reach(story)}, "
        f"{escape(_span(story.first_at, story.last_at, zone))}\n"
        f"<b>{escape(shorten(one_line(best.title), TITLE_CHARS) or shorten(best.url, 120))}</b>"
    )
    lead = snippet_of(leads.get(best.article_id, ""), SNIPPET_CHARS, labels.agencies)
    if lead:
        head += f"\n{escape(lead)}"
    blocks = []
    for number, member in enumerate(story.versions, 1):
        title = escape(shorten(one_line(member.title), TITLE_CHARS) or shorten(member.url, 120))
        meta = [version_name(member, labels), local_stamp(member.published_at, zone)]
        if member.copy:
            meta.append("copy of an earlier item")
        blocks.append(
            f"{number}. {link(member.url, title, max_href=MAX_URL_HTML)}\n{escape(' · '.join(meta))}"
        )
    return fit_message(head, blocks)


def _reach(story: StoryView) -> str:
    sites = f"{story.sites} site{'s' if story.sites != 1 else ''}"
    langs = ", ".join(story.langs)
    return f"{sites} ({langs})" if langs else sites


def _span(first: datetime | None, last: datetime | None, zone: ZoneInfo) -> str:
    if first is None or last is None:
        return "date unknown"
    start, end = local_stamp(first, zone), local_stamp(last, zone)
    if start == end:
        return start
    if first.astimezone(zone).date() == last.astimezone(zone).date():
        return f"{start}–{end.rsplit(', ', 1)[1]}"
    return f"{start} – {end}"


def render_search(result: SearchResult, labels: Labels, zone: ZoneInfo, offset: int = 0) -> str:
    query = escape(shorten(one_line(result.query), QUERY_CHARS))
    if not result.query.strip():
        return SEARCH_USAGE
    told = "".join(
        f"\n<i>{escape(shorten(one_line(w), QUERY_CHARS))}</i>"
        for w in (*result.warnings, *result.notes)
    )
    if not result.total:
        return f"Nothing found for <b>{query}</b>. Try fewer or other words (any language).{told}"
    shown = len(result.hits)
    head = f"🔎 <b>{result.total}</b> result{'s' if result.total != 1 else ''} for <b>{query}</b>"
    if shown < result.total:
        head += f", best {offset + 1}–{offset + shown}"
    head += told
    blocks = [
        hit_block(n, hit, labels, zone, snippet=True)
        for n, hit in enumerate(result.hits, offset + 1)
    ]
    tail = ""
    if shown < result.total:
        tail = (
            f"<i>Refine: add words to narrow the search, e.g. </i><code>/search {query} port</code>"
        )
    return fit_message(head, blocks, tail)


def render_topics(
    counts: Mapping[str, int], total: int, labels: Labels, days: int = TOPICS_WINDOW.days
) -> str:
    """Every topic of the rules in their order (zero counts too), then topics no rule names now."""
    head = f"<b>Topics</b>: relevant items of the last {days} days"
    order = list(labels.topics) + sorted(set(counts) - set(labels.topics), key=labels.topic_rank)
    lines = [f"{escape(labels.topic(topic))}: <b>{counts.get(topic, 0)}</b>" for topic in order]
    tail = f"{total} relevant item{'s' if total != 1 else ''} in all (an item may have several topics)."
    return fit_message(head, ["\n".join(lines)], escape(tail))


def render_status(sources: Sequence[SourceHealth], zone: ZoneInfo) -> str:
    """The status report's sources, the worst first; the error only of a failing one."""
    ranked = sorted(sources, key=lambda entry: (entry.rank, entry.name))
    failing = sum(1 for entry in sources if entry.failing)
    head = f"<b>Sources</b>: {len(sources)}, {failing} failing"
    icons = ("❌", "⚠️", "⏳", "✅")
    lines = []
    for entry in ranked:
        row = entry.row
        last = local_time(row.last_success_at, zone) if row.last_success_at else "never"
        line = (
            f"{icons[entry.rank]} <b>{escape(row.name)}</b>"
            f"{'' if entry.enabled else ' (disabled)'}: "
            f"{entry.health}; last success {last}; {row.new_24h} new in 24 h"
        )
        if entry.rank == 1:
            line += f"; empty {row.empty_7d}/{row.fetched_7d} in 7 d"
        if entry.rank == 0 and row.last_error:
            line += f" — {escape(shorten(one_line(row.last_error), ERROR_CHARS))}"
        lines.append(line)
    return fit_message(head, lines, sep="\n") if lines else f"{head}\nNo sources configured."
