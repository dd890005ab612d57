"""The bot's answers, rendered: records in, one HTML message out, nothing else.

Each renderer (`render_*`) is pure: it takes what a command found (search hits, topic counts, the
status report's sources) and returns one message in Telegram's HTML parse mode, every title,
snippet, URL and query escaped, fitted by `monitor.deliver.telegram_text` as the digest is, so an
answer is never refused for its length or its formatting. The usage texts and the command menu
live here too, beside the help that lists it; `monitor.bot.commands` decides what to render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from monitor.deliver.digest import Labels, local_stamp, local_time
from monitor.deliver.telegram_text import escape, fit_message, link, marked_html, one_line, shorten
from monitor.search.service import SearchHit, SearchResult
from monitor.service.status import SourceHealth

LATEST_DEFAULT, LATEST_MAX = 5, 10
TOPICS_WINDOW = timedelta(days=7)
TITLE_CHARS, SNIPPET_CHARS, QUERY_CHARS, ERROR_CHARS = 300, 200, 200, 160
MAX_URL_HTML = 800  # longer links are shown without the link: they would crowd out the answer
COMMANDS = (
    ("latest", "newest relevant items: /latest [N], up to 10"),
    ("search", "search the archive: /search <words>"),
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
    if snippet:
        text = marked_html(hit.snippet.pieces, SNIPPET_CHARS)
        if len(text) > 4 * SNIPPET_CHARS:
            text = escape(shorten(one_line(hit.snippet.plain("", "")), SNIPPET_CHARS))
        if text:
            lines.append(text)
    return "\n".join(lines)


def render_help(admin: bool = False) -> str:
    lines = ["<b>Azerbaijan–Kazakhstan news monitor</b>", ""]
    for name, what in COMMANDS:
        if name == "status" and not admin:
            continue
        lines.append(f"/{name} — {escape(what)}")
    return "\n".join(lines)


def render_latest(
    hits: Sequence[SearchHit], labels: Labels, zone: ZoneInfo, asked: int = LATEST_DEFAULT
) -> str:
    if not hits:
        return "No relevant items in the archive yet."
    head = f"<b>Latest {len(hits)} relevant items</b>"
    if len(hits) < asked:
        head += f" (all there are; {asked} asked)"
    blocks = [hit_block(n, hit, labels, zone, snippet=False) for n, hit in enumerate(hits, 1)]
    return fit_message(head, blocks)


def render_search(result: SearchResult, labels: Labels, zone: ZoneInfo, offset: int = 0) -> str:
    query = escape(shorten(one_line(result.query), QUERY_CHARS))
    if not result.query.strip():
        return SEARCH_USAGE
    if not result.total:
        return f"Nothing found for <b>{query}</b>. Try fewer or other words (any language)."
    shown = len(result.hits)
    head = f"🔎 <b>{result.total}</b> result{'s' if result.total != 1 else ''} for <b>{query}</b>"
    if shown < result.total:
        head += f", best {offset + 1}–{offset + shown}"
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
