"""The `monitor` command line: thin commands over the pipeline, the store and the exporters.

A bad input (a settings or rules file, an option, a query, an archive that cannot be reached, is
not there, or cannot be written) ends in one line on stderr and exit status 2; other expected
errors in one line and status 1; never a traceback. See `main`.

The commands' modules are imported on first use (`monitor.core.lazy`): `monitor --help` needs none of
them, and each command pays only for the ones it uses.
"""

from __future__ import annotations

import json
import logging
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

import typer

from monitor.cli.json_lines import Line, read_json_lines
from monitor.core.errors import (
    ArchiveMissing,
    ArchiveUnreachable,
    ArchiveUnwritable,
    ConfigError,
    MonitorError,
)
from monitor.core.lazy import lazy_import
from monitor.text.lang import LANGUAGES

if TYPE_CHECKING:
    import asyncio

    import monitor.web.serve as listening  # (monitor.web's `serve` is the function)
    from monitor import store as archive
    from monitor.bot import commands as chat_bot
    from monitor.config import rules as topic_rules
    from monitor.config import settings as configuration
    from monitor.config import sources as sources_file
    from monitor.config.settings import Settings
    from monitor.config.sources import Source
    from monitor.deliver import jobs as deliver
    from monitor.demo import run as demo_run
    from monitor.extract import seeds as seed_corpus
    from monitor.search import export as exports
    from monitor.search import service as search
    from monitor.service import backfill as backfills
    from monitor.service import health, maintenance, pipeline
    from monitor.service import runner as schedule
    from monitor.service import wiring as runtime
    from monitor.store import db as archive_db
    from monitor.store import fingerprints, outbox, warc
    from monitor.store import fulltext as search_index
    from monitor.tag import tagger as tag
    from monitor.web import app as web_app
else:
    asyncio = lazy_import("asyncio")
    deliver = lazy_import("monitor.deliver.jobs")
    health = lazy_import("monitor.service.health")
    maintenance = lazy_import("monitor.service.maintenance")
    pipeline = lazy_import("monitor.service.pipeline")
    runtime = lazy_import("monitor.service.wiring")
    schedule = lazy_import("monitor.service.runner")
    search = lazy_import("monitor.search.service")
    tag = lazy_import("monitor.tag.tagger")
    backfills = lazy_import("monitor.service.backfill")
    chat_bot = lazy_import("monitor.bot.commands")
    exports = lazy_import("monitor.search.export")
    topic_rules = lazy_import("monitor.config.rules")
    seed_corpus = lazy_import("monitor.extract.seeds")
    configuration = lazy_import("monitor.config.settings")
    sources_file = lazy_import("monitor.config.sources")
    archive = lazy_import("monitor.store")
    demo_run = lazy_import("monitor.demo.run")
    archive_db = lazy_import("monitor.store.db")
    fingerprints = lazy_import("monitor.store.fingerprints")
    outbox = lazy_import("monitor.store.outbox")
    warc = lazy_import("monitor.store.warc")
    search_index = lazy_import("monitor.store.fulltext")
    web_app = lazy_import("monitor.web.app")
    listening = lazy_import("monitor.web.serve")

# Options shared by several commands (the search filters are search's and export's alike).
Sources = Annotated[list[str] | None, typer.Option("--source", help="Only this source.")]
Langs = Annotated[list[str] | None, typer.Option("--lang", help="Only this language.")]
Topics = Annotated[list[str] | None, typer.Option("--topic", help="Only this topic.")]
Since = Annotated[str | None, typer.Option("--since", help="Published on/after (ISO date).")]
Until = Annotated[
    str | None, typer.Option("--until", help="Published up to (ISO date, day included).")
]
RelevantOnly = Annotated[
    bool, typer.Option("--relevant-only", help="Only articles tagged relevant.")
]


app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's own help layout: rich's boxes alone would make `monitor --help` take 2.5 times as
    # long as `import typer` (bench/startup_bench.py), for the same text
    rich_markup_mode=None,
    help="Monitor and archive news on Azerbaijan–Kazakhstan relations.",
)
log = logging.getLogger("monitor")


@dataclass
class Context:
    settings: Settings


def _settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj.settings


@app.callback()
def options(
    ctx: typer.Context,
    sources: Annotated[
        Path | None, typer.Option("--sources", help="sources.yaml [env MONITOR_SOURCES]")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="SQLAlchemy URL [env MONITOR_DATABASE_URL]")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="data folder [env MONITOR_DATA_DIR]")
    ] = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="text or json [env MONITOR_LOG_FORMAT]")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "sources": sources,
            "database_url": db,
            "data_dir": data_dir,
            "log_format": log_format,
        }.items()
        if value is not None
    }
    if verbose:
        overrides["log_level"] = "DEBUG"
    try:
        settings = configuration.Settings(**overrides)
    except ValueError as exc:
        raise ConfigError(f"settings: {exc}") from None
    _configure_logging(settings)
    ctx.obj = Context(settings)


def _configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _load(settings: Settings) -> list[Source]:
    return sources_file.load_sources(settings.sources)


def _writable_data_dir(settings: Settings) -> None:
    """A command that stores captures and digests stops here, before any fetch, when the data
    folder is read-only or full (the database is tried when the store opens)."""
    archive_db.require_writable_folder(settings.data_dir, str(settings.data_dir))


def _json_line(row: dict[str, Any]) -> str:
    """One line of `--json` output: times in ISO 8601 with a `T`, as `monitor export` writes them
    (str() of a datetime would put a space there)."""

    def encode(value: Any) -> str:
        return value.isoformat() if isinstance(value, datetime | date) else str(value)

    return json.dumps(row, default=encode, ensure_ascii=False)


@app.command()
def run(ctx: typer.Context) -> None:
    """Poll every enabled source on its schedule until SIGTERM or Ctrl-C."""
    settings = _settings(ctx)
    sources = _load(settings)
    _writable_data_dir(settings)

    async def main() -> None:
        async with runtime.open_deps(settings, sources) as deps:
            await schedule.Runner(deps, sources).run()

    asyncio.run(main())


@app.command()
def poll(
    ctx: typer.Context,
    source: Sources = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per source.")] = False,
) -> None:
    """Run one polling cycle now and print what it found."""
    settings = _settings(ctx)
    sources = _load(settings)
    chosen = sources_file.enabled(sources, source)
    _writable_data_dir(settings)

    async def main() -> list[Any]:
        async with runtime.open_deps(settings, sources) as deps:
            return await pipeline.poll_sources(
                chosen, deps, on_report=lambda r: _print_report(r, as_json)
            )

    reports = asyncio.run(main())
    if reports and all(not r.ok for r in reports):
        common = health.common_failure({r.source: r for r in reports}, [r.source for r in reports])
        if common:  # "network unreachable: all 8 sources failed", said once
            typer.echo(common, err=True)
        raise typer.Exit(1)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        row = asdict(report)
        row["ok"] = report.ok
        typer.echo(_json_line(row))
        return
    status = "ok" if report.ok else f"{len(report.errors)} error(s)"
    typer.echo(f"{report.source}: {report.summary().split('; ')[0]} — {status}")
    for title in report.new_titles:
        typer.echo(f"  + {title}")
    for error in report.errors:
        typer.echo(f"  ! {error}")


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
    settings = _settings(ctx)
    filters = _search_filters(settings, source, lang, topic, since, until, relevant_only)
    store = archive.Store.open(settings.archive_url, "read")
    try:
        count = exports.WRITERS[format](exports.export_rows(store, filters=filters), sys.stdout)
    finally:
        store.close()
    log.info("exported %d articles", count)


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
        bool, typer.Option("--reindex", help="First index articles missing from the index.")
    ] = False,
) -> None:
    """Full-text search of the archive, best matches first (no query: the newest articles).
    A query that begins with '-' (an excluded word) goes after `--`: search -- '-Qazax Baku'."""
    if format not in ("table", "jsonl"):
        raise ConfigError(f"--format: {format!r} is not one of table, jsonl")
    settings = _settings(ctx)
    filters = _search_filters(settings, source, lang, topic, since, until, relevant_only)
    query = search.clean_query(" ".join(words or ()))
    search.parse_query(query, strict=True)
    store = archive.Store.open(settings.archive_url, "write" if reindex else "read")
    try:
        if reindex:
            with store.engine.begin() as conn:
                typer.echo(f"indexed {search_index.reindex(conn)} articles", err=True)
        result = search.search(store, query, filters, limit=limit)
    finally:
        store.close()
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
) -> search.SearchFilters:
    """The filters of search and export, each value checked against the ones that exist (a
    sources.yaml or topics.yaml is read only when its filter is given)."""
    search.check_choices("--lang", langs or [], LANGUAGES)
    if sources:
        known = [s.name for s in _load(settings)] + [fingerprints.SEED_SOURCE]
        search.check_choices("--source", sources, known)
    if topics:
        search.check_choices(
            "--topic", topics, list(topic_rules.load_rules(settings.topics).topics)
        )
    return search.SearchFilters(
        sources=tuple(sources or ()),
        langs=tuple(langs or ()),
        topics=tuple(topics or ()),
        since=_date_option("--since", since),
        until=_date_option("--until", until, day_included=True),
        relevant_only=relevant_only,
    )


def _date_option(name: str, value: str | None, *, day_included: bool = False) -> datetime | None:
    """An ISO date or time; a bare date is midnight UTC (for --until: the end of that day)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a date like 2026-11-01") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if day_included and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed


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
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per source: last success, failures in a row, articles, empty extractions, recent errors."""
    settings = _settings(ctx)
    sources = _load(settings)
    store = archive.Store.open(settings.archive_url, "read")
    now = datetime.now(UTC)
    try:
        rows = store.status([s.name for s in sources], now)
        copies = fingerprints.duplicates_by_source(store, now - timedelta(days=1))
        outbox_lines = outbox.status_lines(store)
    finally:
        store.close()
    if as_json:
        for row in rows:
            data = asdict(row) | {
                "empty_share": round(row.empty_share, 3),
                "duplicates_24h": copies.get(row.name, (0, 0))[1],
            }
            typer.echo(_json_line(data))
        return
    for source, row in zip(sources, rows, strict=True):
        flag = "" if source.enabled else " [disabled]"
        typer.echo(f"{source.name}{flag}: {health.health_of(row)[1]}")
        typer.echo(
            f"  last success {_when(row.last_success_at)}, next check {_when(row.next_check_at)}, "
            f"{row.articles} articles, {row.new_24h} new in 24 h "
            f"({copies.get(row.name, (0, 0))[1]} of them duplicates), "
            f"empty extractions {row.empty_7d}/{row.fetched_7d} in 7 days"
        )
        if row.last_error:
            typer.echo(f"  last error: {row.last_error}")
        for error in row.recent_errors:
            typer.echo(f"  ! {error}")
    for line in outbox_lines:
        typer.echo(line)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


@app.command()
def reextract(
    ctx: typer.Context,
    source: Sources = None,
) -> None:
    """Run extraction again over the raw captures (after changing selectors or upgrading)."""
    settings = _settings(ctx)
    sources = {s.name: s for s in _load(settings)}
    rules = topic_rules.load_rules(settings.topics)
    store = archive.Store.open(settings.archive_url)
    try:
        counts = maintenance.reextract_archive(
            store, warc.WarcArchive(settings.warc_dir), sources, rules, source, progress=_progress()
        )
    finally:
        store.close()
    typer.echo(
        f"re-extracted {counts['seen']} articles: {counts['changed']} changed, "
        f"{counts['missing']} without capture, {counts['skipped']} of unknown sources"
    )


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None
    return lambda done: print(f"\r{done} articles", end="", file=sys.stderr, flush=True)


@app.command()
def retag(
    ctx: typer.Context,
    source: Sources = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also articles the current rules already tagged.")
    ] = False,
) -> None:
    """Apply the current topics.yaml to the archive (after editing the rules)."""
    settings = _settings(ctx)
    rules = topic_rules.load_rules(settings.topics)
    store = archive.Store.open(settings.archive_url)
    try:
        counts = maintenance.retag_archive(store, rules, source, everything, progress=_progress())
    finally:
        store.close()
    typer.echo(
        f"retagged {counts['retagged']} of {counts['seen']} articles: "
        f"{counts['now_relevant']} now relevant, {counts['no_longer_relevant']} no longer relevant"
    )


@app.command()
def classify(ctx: typer.Context) -> None:
    """Read JSON Lines from stdin ({"id", "title", "text", "lang"?}) and write one line per input:
    id, relevant, score, topics, lang, entities, reasons. A line longer than MONITOR_MAX_BODY_BYTES
    is skipped. Exit 1 if any line was unreadable."""
    settings = _settings(ctx)
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
        tagging = tag.tag(title, item["text"], rules, lang=item.get("lang"))
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
def digest(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="telegram, email or instant")],
    since: Annotated[
        str | None, typer.Option("--since", help="Telegram: items first seen on/after (ISO).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due; record and send nothing.")
    ] = False,
) -> None:
    """Send (or show) the digest that is due now: the Telegram digest of new relevant items, or
    the weekly email. With no Telegram or SMTP settings the digest goes to storage/digests/."""
    from monitor.config.rules import load_rules
    from monitor.deliver.jobs import Kind, labels_for, preview, run_digest, utc_now
    from monitor.store import Store

    if kind not in ("telegram", "email", "instant"):
        raise ConfigError(f"digest: {kind!r} is not one of telegram, email, instant")
    if since is not None and kind != "telegram":
        covers = {
            "email": "the weekly email covers the last full week, Monday to Sunday",
            "instant": "instant posts cover the items first seen in the last 6 hours",
        }
        raise ConfigError(f"digest {kind}: --since is for `digest telegram` only; {covers[kind]}")
    chosen = cast("Kind", kind)
    start = _date_option("--since", since)
    settings = _settings(ctx)
    labels = labels_for(_load(settings), load_rules(settings.topics))
    store = Store.open(settings.archive_url)
    try:
        now = utc_now()
        if dry_run:
            for line in preview(chosen, store, settings, now, labels=labels, since=start):
                typer.echo(line)
            return
        run = asyncio.run(run_digest(chosen, store, settings, now, labels=labels, since=start))
    finally:
        store.close()
    for line in run.lines():
        typer.echo(line)
    if not run.ok:
        raise typer.Exit(1)


@app.command()
def seeds(ctx: typer.Context) -> None:
    """Archive the seed corpus (seeds/ and its seeds.yaml) again: new or changed seeds are stored
    and indexed for dedupe. The first poll of an empty archive does this by itself."""
    settings = _settings(ctx)
    documents = seed_corpus.load_seeds(settings.seeds_dir)
    rules = topic_rules.load_rules(settings.topics)
    store = archive.Store.open(settings.archive_url)
    try:
        counts = pipeline.archive_seeds(store, documents, datetime.now(UTC), rules)
    finally:
        store.close()
    typer.echo(
        f"{len(documents)} seeds from {settings.seeds_dir}: {counts['new']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged"
    )


@app.command()
def dedupe(
    ctx: typer.Context,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild the index from stored sketches only.")
    ] = False,
) -> None:
    """Dedupe archived articles that have no current sketch (an archive from before dedupe, or
    after a change of the matching method); --rebuild refills the index without reading texts."""
    settings = _settings(ctx)
    store = archive.Store.open(settings.archive_url)
    try:
        if rebuild:
            typer.echo(f"index rebuilt from {fingerprints.rebuild(store)} stored sketches")
        else:
            deduped = fingerprints.dedupe_archive(store, progress=_progress())
            typer.echo(f"deduped {deduped} articles")
    finally:
        store.close()


@app.command()
def backfill(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="The source to walk back through.")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Back to this date (ISO; the site's local midnight)."),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Start over from the newest page.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per page.")] = False,
) -> None:
    """Walk a source's listing pages back to a date and archive what they list; resumable
    (run it again to continue), with its progress kept in the archive database."""
    settings = _settings(ctx)
    sources = _load(settings)
    chosen = sources_file.enabled(sources, [source])[0]
    backfills.require_backfill(chosen)
    start = backfills.parse_since(since, chosen) if since is not None else None
    _writable_data_dir(settings)

    def show(page: Any) -> None:
        typer.echo(_json_line(asdict(page)) if as_json else page.line())

    async def main() -> Any:
        async with runtime.open_deps(settings, sources) as deps:
            return await backfills.run_backfill(chosen, start, deps, restart=restart, on_page=show)

    run = asyncio.run(main())
    typer.echo(_json_line(run.as_dict()) if as_json else run.summary())
    if not run.ok:
        raise typer.Exit(1)


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
    settings = _settings(ctx)
    changes = {"web_host": host, "web_port": port}
    settings = settings.model_copy(update={k: v for k, v in changes.items() if v is not None})
    listening.check_exposure(settings)
    sources = _load(settings)
    labels = deliver.labels_for(sources, topic_rules.load_rules(settings.topics))
    shown = archive_db.archive_name(settings.archive_url)
    store = archive.Store.open(settings.archive_url, "read")
    try:
        site = web_app.create_app(settings, store, sources=sources, labels=labels)
        listening.serve(
            site,
            settings,
            on_ready=lambda url: typer.echo(f"Serving {shown} at {url} (Ctrl-C stops)"),
        )
    finally:
        store.close()


@app.command()
def demo(
    ctx: typer.Context,
    keep: Annotated[bool, typer.Option(help="Keep the temporary data folder.")] = False,
) -> None:
    """Serve recorded copies of the real sites on 127.0.0.1 and run a full cycle offline."""
    settings = _settings(ctx)
    explicit_dir = "data_dir" in settings.model_fields_set
    demo_run.run_demo(settings, explicit_dir=explicit_dir, keep=keep, echo=typer.echo)


@app.command()
def bot(ctx: typer.Context) -> None:
    """Answer /latest, /search, /topics and /status in the chats of MONITOR_BOT_CHAT_IDS until
    SIGTERM or Ctrl-C, without polling (`monitor run` starts the same bot itself). SIGHUP reloads
    sources.yaml and topics.yaml."""
    settings = _settings(ctx)
    reason = chat_bot.bot_disabled_reason(settings)
    if reason is not None:
        raise ConfigError(f"bot: {reason}")
    chat_bot.parse_chats(settings)  # bad ids: exit 2 before anything starts
    chat_bot.parse_admins(settings)
    loaded = (_load(settings), topic_rules.load_rules(settings.topics))
    current = [loaded]

    def reload() -> None:
        try:
            current[0] = (_load(settings), topic_rules.load_rules(settings.topics))
        except ConfigError as exc:
            log.error("kept the old sources and rules: %s", exc)

    store = archive.Store.open(settings.archive_url, "write")  # it answers; its lease is a write

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, reload)
        bot = asyncio.create_task(
            chat_bot.keep_bot(
                settings,
                store,
                schedule.worker_name(),
                lambda: current[0][1],
                lambda: current[0][0],
            )
        )
        await asyncio.wait(
            [bot, asyncio.create_task(stopping.wait())], return_when="FIRST_COMPLETED"
        )
        if bot.done():
            bot.result()  # it ended by itself: a rejected token (exit 2)
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)

    try:
        asyncio.run(main())
    finally:
        store.close()


# Errors that mean the command cannot run as asked: a settings file, an option, a query, an
# archive that cannot be reached, is not there, or takes no more writes (see monitor.core.errors).
BAD_INPUT = (ConfigError, ArchiveUnreachable, ArchiveMissing, ArchiveUnwritable)


def main() -> None:
    """Run the command line. Every expected failure ends in one line on stderr, "error: ...":
    status 2 for a bad input, a usage error included (click would print its usage and a box),
    1 for the others; a bug still ends in a traceback, to be reported."""
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as exc:  # a usage error (from the click that typer carries)
        typer.echo(_usage_problem(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except BAD_INPUT as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except MonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


def _usage_problem(exc: typer.TyperException) -> str:
    """A usage error in one line that names the command, where click prints its usage and a
    hint; for a search query that begins with '-' (an excluded word, which the shell hands over
    as an option) it says how to write it. No command at all gets the help, as click gives it."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"error: {message}"
    if message == ctx.get_help():  # `monitor` alone: click's "error" is the help itself
        return message
    command = ctx.command_path
    option = getattr(exc, "option_name", None)  # click's NoSuchOption
    if option and ctx.info_name == "search" and not option.startswith("--"):
        word = next((arg for arg in sys.argv[1:] if arg.startswith(option)), option)
        example = shlex.quote(f"{word} Kazakhstan")
        return (
            f"error: {command}: {word!r} is read as an option, and there is no {option}; a "
            f"query that begins with '-' goes after --, as in: {command} -- {example}"
        )
    return f"error: {command}: {message} (see {command} --help)"
