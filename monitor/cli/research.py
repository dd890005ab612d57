"""The researcher's commands: search the archive, export it, classify texts as the pipeline
would, and serve the read-only web page.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

import typer

from monitor.cli.app import app, date_option, log, open_archive, settings_of, sources_of
from monitor.cli.deferred import (
    archive_db,
    exports,
    listening,
    query_language,
    routing,
    search_index,
    search_service,
    seed_corpus,
    tagger,
    topic_rules,
    web_app,
)
from monitor.cli.json_lines import Line, read_json_lines
from monitor.cli.options import Langs, RelevantOnly, Since, Sources, Topics, Until, flag
from monitor.core.errors import ConfigError
from monitor.text.lang import LANGUAGES

if TYPE_CHECKING:
    from monitor.config.settings import Settings


@app.command("search")
def search_command(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="QUERY",
            help='Words (all must match), "a phrase", prefix*, -excluded, NOT word.',
            show_default=False,
        ),
    ] = None,
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
    query = query_language.clean_query(" ".join(words or ()))
    query_language.parse_query(query, strict=True)
    with open_archive(settings, "write" if reindex else "read") as store:
        if reindex:
            with store.engine.begin() as conn:
                typer.echo(f"indexed {search_index.reindex(conn)} articles", err=True)
        result = search_service.search(store, query, filters, limit=limit)
    for line in _search_lines(result, format):
        typer.echo(line)


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
