"""The researcher's commands: search the archive, list its stories, export it, classify and link
texts as the pipeline would, and serve the read-only web page.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

import typer

from monitor.cli.app import (
    agencies_of,
    app,
    date_option,
    log,
    open_archive,
    settings_of,
    sources_of,
    story_model_needed,
)
from monitor.cli.deferred import (
    archive_db,
    exports,
    listening,
    maintenance,
    query_language,
    routing,
    search_service,
    seed_corpus,
    story_linking,
    story_members,
    story_rows,
    tagger,
    topic_rules,
    trend_counts,
    web_app,
)
from monitor.cli.json_lines import Line, read_json_lines
from monitor.cli.options import (
    Langs,
    QueryWords,
    RelevantOnly,
    Since,
    Sources,
    Topics,
    Until,
    flag,
)
from monitor.core.errors import ConfigError, QueryError
from monitor.text.lang import LANGUAGES

if TYPE_CHECKING:
    from monitor.config.settings import Settings
    from monitor.search.trends import Trend
    from monitor.service.link import Text
    from monitor.store.story_rows import StoryHeader, StoryMember


@app.command("search")
def search_command(
    ctx: typer.Context,
    words: QueryWords = None,
    source: Sources = None,
    lang: Langs = None,
    topic: Topics = None,
    since: Since = None,
    until: Until = None,
    relevant_only: RelevantOnly = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many.")] = 20,
    format: Annotated[str, typer.Option("--format", help="table or jsonl")] = "table",
    reindex: Annotated[
        bool, flag("--reindex", "First index articles missing from the index.")
    ] = False,
) -> None:
    """Full-text search of the archive, best matches first (no query: the newest articles).
    A query that begins with '-' (an excluded word) goes after `--`: search -- '-Qazax Baku'."""
    if format not in ("table", "jsonl"):
        raise ConfigError(f"--format: {format!r} is not one of table, jsonl")
    settings = settings_of(ctx)
    filters = _search_filters(settings, source, lang, topic, since, until, relevant_only)
    query = _strict_query(words)
    with open_archive(settings, "write" if reindex else "read") as store:
        if reindex:
            indexed = maintenance.reindex_archive(store, progress=_indexed_progress())
            typer.echo(f"indexed {indexed} articles", err=True)
        result = search_service.search(store, query, filters, limit=limit)
    if result.warnings:  # the query was read strictly: what is left is the time limit
        raise QueryError("; ".join(result.warnings))
    for note in result.notes:
        typer.echo(note, err=True)
    for line in _search_lines(result, format):
        typer.echo(line)


def _indexed_progress() -> Any:
    """On a terminal, how many are indexed so far, on one line of stderr rewritten in place."""
    if not sys.stderr.isatty():
        return None
    return lambda done: print(f"\rindexed {done} articles", end="", file=sys.stderr, flush=True)


def _strict_query(words: list[str] | None) -> str:
    """The query as typed, refused (exit 2) when it has problems: on the command line a
    misread query is an error, not a warning beside results."""
    query = query_language.clean_query(" ".join(words or ()))
    query_language.parse_query(query, strict=True)
    return query


def _search_filters(
    settings: Settings,
    sources: list[str] | None,
    langs: list[str] | None,
    topics: list[str] | None,
    since: str | None,
    until: str | None,
    relevant_only: bool,
) -> query_language.SearchFilters:
    """The filters of search and export, each value checked against the ones that exist (a
    sources.yaml or topics.yaml is read only when its filter is given)."""
    query_language.check_choices("--lang", langs or [], LANGUAGES)
    if sources:
        known = [s.name for s in sources_of(settings)] + [seed_corpus.SEED_SOURCE]
        query_language.check_choices("--source", sources, known)
    if topics:
        query_language.check_choices(
            "--topic", topics, list(topic_rules.load_rules(settings.topics).topics)
        )
    return query_language.SearchFilters(
        sources=tuple(sources or ()),
        langs=tuple(langs or ()),
        topics=tuple(topics or ()),
        since=date_option("--since", since),
        until=date_option("--until", until, day_included=True),
        relevant_only=relevant_only,
    )


def _search_lines(result: Any, format: str) -> list[str]:
    if format == "jsonl":
        return [
            json.dumps(
                {
                    "id": hit.article_id,
                    "rank": round(hit.rank, 6),
                    "published_at": hit.published_at.isoformat() if hit.published_at else None,
                    "source": hit.source,
                    "lang": hit.lang,
                    "url": hit.url,
                    "title": hit.title,
                    "relevant": hit.relevant,
                    "topics": list(hit.topics),
                    "duplicate_of": hit.duplicate_of,
                    "snippet": hit.snippet.plain("", ""),
                    "matched": sorted(
                        {text for text, hit in hit.title_marked.pieces + hit.snippet.pieces if hit}
                    ),
                },
                ensure_ascii=False,
            )
            for hit in result.hits
        ]
    lines = []
    for number, hit in enumerate(result.hits, start=1):
        flag = " *" if hit.relevant else ""
        day = f"{hit.published_at:%Y-%m-%d}" if hit.published_at else "undated   "
        lines.append(
            f"{number:>3}. {day} {hit.source} [{hit.lang or '?'}]{flag} {hit.title_marked.plain()}"
        )
        lines.append(f"     {hit.url}")
        lines.append(f"     {hit.snippet.plain()}")
    shown = len(result.hits)
    lines.append(f"{shown} of {result.total} matching articles (* relevant)")
    return lines


@app.command()
def trends(
    ctx: typer.Context,
    words: QueryWords = None,
    source: Sources = None,
    lang: Langs = None,
    topic: Topics = None,
    since: Since = None,
    until: Until = None,
    relevant_only: RelevantOnly = False,
    by: Annotated[
        str, typer.Option("--by", help="day, week (ISO, from Monday) or month.")
    ] = "week",
    split: Annotated[str, typer.Option("--split", help="lang, source, topic or none.")] = "lang",
    share: Annotated[
        bool, flag("--share", "Also the share of all archived articles of each period.")
    ] = False,
    with_copies: Annotated[
        bool, flag("--with-copies", "Count copies too (default: originals only).")
    ] = False,
    format: Annotated[str, typer.Option("--format", help="table, csv or jsonl")] = "table",
) -> None:
    """How many articles matched a query per day, week or month (UTC, the calendar of the date
    filters), split by language, source or topic: the matches search counts, grouped by the
    database. A query that begins with '-' goes after `--`, as in search."""
    if format not in ("table", "csv", "jsonl"):
        raise ConfigError(f"--format: {format!r} is not one of table, csv, jsonl")
    trend_counts.check_trend_options(by, split)
    settings = settings_of(ctx)
    filters = _search_filters(settings, source, lang, topic, since, until, relevant_only)
    query = _strict_query(words)
    with open_archive(settings, "read") as store:
        found = trend_counts.trend(
            store, query, filters, by=by, split=split, share=share, with_copies=with_copies
        )
    if format == "csv":
        trend_counts.write_trend_csv(found, sys.stdout)
    elif format == "jsonl":
        exports.write_jsonl(trend_counts.trend_rows(found), sys.stdout)
    else:
        for line in _trend_table(found, with_copies):
            typer.echo(line)


def _trend_table(found: Trend, with_copies: bool) -> list[str]:
    """Periods down, split values across (and a total when split), counts or shares."""
    if found.empty:
        return [f"no matching articles in these periods{_undated_note(found)}"]
    names = ["?" if p is None else str(p) for p in found.parts]
    total = len(found.parts) > 1
    names += ["total"] if total else []
    width = max(7, *(len(name) for name in names))
    label_width = 10 if found.by == "day" else 8
    lines = [" " * label_width + "".join(f" {name:>{width}}" for name in names)]
    for period in found.periods:
        cells = [
            f"{found.share(period, p):.1%}"
            if found.archived is not None
            else str(found.count(period, p))
            for p in found.parts
        ]
        cells += [str(found.period_total(period))] if total else []
        label = trend_counts.period_name(period, found.by)
        lines.append(f"{label:<{label_width}}" + "".join(f" {c:>{width}}" for c in cells))
    kind = "articles" if with_copies else "originals"
    shown = (
        f"the matching {kind}' share of all archived {kind}"
        if found.archived is not None
        else f"matching {kind}"
    )
    copies = "" if with_copies else " (--with-copies counts copies too)"
    lines.append(
        f"{shown} per {found.by} (UTC){copies}; {found.total} matches in all{_undated_note(found)}"
    )
    return lines


def _undated_note(found: Trend) -> str:
    undated = sum(found.undated.values())
    return f", {undated} undated (in no period)" if undated else ""


@app.command()
def stories(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="Last told on/after (ISO date).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last told up to (ISO date, day included).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many.")] = 20,
    format: Annotated[str, typer.Option("--format", help="table or jsonl")] = "table",
    every: Annotated[
        bool, flag("--all", "Also the stories readers are not shown (no relevant original).")
    ] = False,
) -> None:
    """The newest stories: each event once, however many sites and languages told it, with its
    best title, its versions, sites, languages and dates. As the digests and the web page show
    them: only stories with a relevant original (--all: every one)."""
    if format not in ("table", "jsonl"):
        raise ConfigError(f"--format: {format!r} is not one of table, jsonl")
    start = date_option("--since", since)
    end = date_option("--until", until, day_included=True)
    with open_archive(settings_of(ctx), "read") as store:
        headers = story_rows.newest_stories(
            store, since=start, until=end, limit=limit, shown_only=not every
        )
        members = story_rows.story_members(store, [header.id for header in headers])
    rows = [_story_row(header, members[header.id]) for header in headers]
    if format == "jsonl":
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    for line in _story_table(rows, every):
        typer.echo(line)


def _story_row(header: StoryHeader, members: Sequence[StoryMember]) -> dict[str, Any]:
    """A story as plain values: its best member's title (in any language), and its members as
    a reader sees them: the seed corpus, the dedupe baseline, is never shown as a version."""
    shown = [m for m in members if m.source != seed_corpus.SEED_SOURCE] or list(members)
    best = story_members.best_member(shown)
    sites, _ = story_members.reach(shown)
    return {
        "story": header.id,
        "title": best.title,
        "source": best.source,
        "lang": best.lang,
        "url": best.url,
        "first_at": _iso(header.first_at),
        "last_at": _iso(header.last_at),
        "versions": len(shown),
        "sites": sites,
        "langs": sorted({m.lang for m in shown if m.lang}),
        "members": [
            {
                "id": m.article_id,
                "source": m.source,
                "lang": m.lang,
                "url": m.url,
                "title": m.title,
                "published_at": _iso(m.published_at),
                "relevant": m.relevant,
                "duplicate_of": m.duplicate_of,
            }
            for m in shown
        ],
    }


def _story_table(rows: list[dict[str, Any]], every: bool) -> list[str]:
    lines = []
    for number, row in enumerate(rows, start=1):
        first, last = (_day(row[key]) for key in ("first_at", "last_at"))
        days = last if first == last else f"{first} – {last}"
        versions = "1 version" if row["versions"] == 1 else f"{row['versions']} versions"
        sites = "1 site" if row["sites"] == 1 else f"{row['sites']} sites"
        langs = ", ".join(row["langs"]) or "?"
        lines.append(f"{number:>3}. {last} {row['source']} [{row['lang'] or '?'}] {row['title']}")
        lines.append(f"     story {row['story']}: {versions}, {sites}, in {langs}; {days}")
        lines.append(f"     {row['url']}")
    shown = "" if every else " with a relevant original (--all: every story)"
    lines.append(f"{len(rows)} stories{shown}, the newest first")
    return lines


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _day(iso: str | None) -> str:
    return iso[:10] if iso else "undated   "


@app.command()
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    since: Since = None,
    until: Until = None,
    source: Sources = None,
    lang: Langs = None,
    topic: Topics = None,
    relevant_only: RelevantOnly = False,
) -> None:
    """Write the archive to stdout as JSON Lines or CSV (the filters are those of search)."""
    if format not in exports.WRITERS:
        raise ConfigError(f"--format: {format!r} is not one of {', '.join(exports.WRITERS)}")
    settings = settings_of(ctx)
    filters = _search_filters(settings, source, lang, topic, since, until, relevant_only)
    with open_archive(settings, "read") as store:
        count = exports.WRITERS[format](exports.export_rows(store, filters=filters), sys.stdout)
    log.info("exported %d articles", count)


@app.command()
def classify(ctx: typer.Context) -> None:
    """Read JSON Lines from stdin ({"id", "title", "text", "lang"?}) and write one line per input:
    id, relevant, score, topics, lang, entities, reasons. A line longer than MONITOR_MAX_BODY_BYTES
    is skipped. Exit 1 if any line was unreadable."""
    settings = settings_of(ctx)
    rules = topic_rules.load_rules(settings.topics)
    failed = 0
    for line in _stdin_json_lines(settings):
        item = line.value
        problem = line.problem or _classify_problem(item)
        if problem:
            failed += 1
            typer.echo(f"error: stdin line {line.number}: {problem}", err=True)
            typer.echo(json.dumps({"id": None, "line": line.number, "error": problem}))
            continue
        title = item.get("title") or ""
        tagging = tagger.tag(title, item["text"], rules, lang=item.get("lang"))
        typer.echo(json.dumps({"id": item.get("id")} | tagging.as_dict(), ensure_ascii=False))
    if failed:
        raise typer.Exit(1)


@app.command()
def link(ctx: typer.Context) -> None:
    """Read JSON Lines from stdin ({"id", "title", "text", "lang"?, "published_at"?}, the date in
    ISO 8601, UTC when it has no offset) and write one line per input: id, and story, a number
    shared by the texts the pipeline would put in one story had they been archived in this
    order. A text without a date, too short or in another language than az, kk, ru and en is a
    story of its own. Exit 1 if any line was unreadable or the model did not load."""
    settings = settings_of(ctx)
    rules = topic_rules.load_rules(settings.topics)
    linker = story_linking.Linker.default(agencies_of(settings))
    read = [(line, _link_text(line)) for line in _stdin_json_lines(settings)]
    texts = [text for _, text in read if not isinstance(text, str)]
    with story_model_needed("link", linker.embedder.model):
        found = iter(story_linking.link_texts(linker, rules, texts))
    for line, text in read:
        if isinstance(text, str):
            typer.echo(f"error: stdin line {line.number}: {text}", err=True)
            typer.echo(json.dumps({"id": None, "story": None, "line": line.number, "error": text}))
            continue
        typer.echo(json.dumps({"id": line.value["id"], "story": next(found)}, ensure_ascii=False))
    if any(isinstance(text, str) for _, text in read):
        raise typer.Exit(1)


def _link_text(line: Line) -> Text | str:
    """The text a line gives to link, or what is wrong with it (naming the field). The text's
    `article_id` is the line's number: the input's own ids need not be numbers, nor unique."""
    item = line.value
    if line.problem:
        return line.problem
    if not isinstance(item, dict):
        return "needs a JSON object with 'id', 'title' and 'text'"
    for field in ("id", "text"):
        if item.get(field) is None:
            return f"field {field!r} is missing"
    if isinstance(item["id"], bool) or not isinstance(item["id"], str | int):
        return "field 'id' must be a string or a number"
    for field in ("title", "text", "lang", "published_at"):
        if not isinstance(item.get(field) or "", str):
            return f"field {field!r} must be a string"
    published = item.get("published_at") or None
    try:
        at = datetime.fromisoformat(published) if published else None
    except ValueError:
        example = "2026-11-20T10:30+05:00"
        return f"field 'published_at': {published!r} is not an ISO 8601 date like {example}"
    return story_linking.Text(
        article_id=line.number,
        title=item.get("title") or "",
        text=item["text"],
        lang=item.get("lang") or None,
        published_at=at.replace(tzinfo=UTC) if at and at.tzinfo is None else at,
    )


def _stdin_json_lines(settings: Settings) -> Iterator[Line]:
    """The JSON Lines on stdin, each capped as the fetcher caps a body (the one reader of stdin
    for every command that takes JSON Lines there)."""
    stream = cast("BinaryIO", sys.stdin.buffer)
    return read_json_lines(stream, settings.max_body_bytes, "MONITOR_MAX_BODY_BYTES")


def _classify_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return "needs an object with a string 'text'"
    if not isinstance(item.get("title") or "", str):
        return "'title' must be a string"
    return None


@app.command()
def web(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on [env MONITOR_WEB_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [env MONITOR_WEB_PORT].")] = None,
) -> None:
    """Serve the read-only web page over the archive: search, articles, captures, source health,
    relevant items per week. Beyond loopback it needs MONITOR_WEB_USER and MONITOR_WEB_PASSWORD."""
    settings = settings_of(ctx)
    changes = {"web_host": host, "web_port": port}
    settings = settings.model_copy(update={k: v for k, v in changes.items() if v is not None})
    listening.check_exposure(settings)
    sources = sources_of(settings)
    labels = routing.labels_for(sources, topic_rules.load_rules(settings.topics))
    shown = archive_db.archive_name(settings.archive_url)
    with open_archive(settings, "read") as store:
        site = web_app.create_app(settings, store, sources=sources, labels=labels)
        listening.serve(
            site,
            settings,
            on_ready=lambda url: typer.echo(f"Serving {shown} at {url} (Ctrl-C stops)"),
        )
