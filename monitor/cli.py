"""The `monitor` command line: thin commands over the pipeline, the store and the exporters.

Configuration errors end with one clear message and exit status 2; other expected errors with a
message and status 1; never a bare traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from monitor.errors import ConfigError, MonitorError
from monitor.export import WRITERS, export_rows
from monitor.settings import Settings
from monitor.sources import Source, enabled, load_sources

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
        settings = Settings(**overrides)
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
    return load_sources(settings.sources)


@app.command()
def run(ctx: typer.Context) -> None:
    """Poll every enabled source on its schedule until SIGTERM or Ctrl-C."""
    from monitor.runtime import open_deps
    from monitor.schedule import Runner

    settings = _settings(ctx)
    sources = _load(settings)

    async def main() -> None:
        async with open_deps(settings, sources) as deps:
            await Runner(deps, sources).run()

    asyncio.run(main())


@app.command()
def poll(
    ctx: typer.Context,
    source: Sources = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per source.")] = False,
) -> None:
    """Run one polling cycle now and print what it found."""
    from monitor.pipeline import poll_sources
    from monitor.runtime import open_deps

    settings = _settings(ctx)
    chosen = enabled(_load(settings), source)

    async def main() -> list[Any]:
        async with open_deps(settings, _load(settings)) as deps:
            return await poll_sources(chosen, deps, on_report=lambda r: _print_report(r, as_json))

    reports = asyncio.run(main())
    if reports and all(not r.ok for r in reports):
        raise typer.Exit(1)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        row = asdict(report)
        row["ok"] = report.ok
        typer.echo(json.dumps(row, default=str, ensure_ascii=False))
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
    from monitor.store import Store

    if format not in WRITERS:
        raise ConfigError(f"--format: {format!r} is not one of {', '.join(WRITERS)}")
    filters = _search_filters(source, lang, topic, since, until, relevant_only)
    settings = _settings(ctx)
    store = Store.open(settings.archive_url)
    try:
        count = WRITERS[format](export_rows(store, filters=filters), sys.stdout)
    finally:
        store.close()
    log.info("exported %d articles", count)


@app.command("search")
def search_command(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(help='Words (all must match), "a phrase", prefix*, -excluded.')
    ] = "",
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
    """Full-text search of the archive, best matches first (no query: the newest articles)."""
    from monitor.search import parse_query, search
    from monitor.store import Store
    from monitor.store.search import reindex as reindex_archive

    if format not in ("table", "jsonl"):
        raise ConfigError(f"--format: {format!r} is not one of table, jsonl")
    filters = _search_filters(source, lang, topic, since, until, relevant_only)
    parse_query(query, strict=True)
    store = Store.open(_settings(ctx).archive_url)
    try:
        if reindex:
            with store.engine.begin() as conn:
                typer.echo(f"indexed {reindex_archive(conn)} articles", err=True)
        result = search(store, query, filters, limit=limit)
    finally:
        store.close()
    for line in _search_lines(result, format):
        typer.echo(line)


def _search_filters(
    sources: list[str] | None,
    langs: list[str] | None,
    topics: list[str] | None,
    since: str | None,
    until: str | None,
    relevant_only: bool,
) -> Any:
    from monitor.search import SearchFilters

    for code in langs or []:
        if not code.isalpha() or not 2 <= len(code) <= 3 or not code.islower():
            raise ConfigError(f"--lang: {code!r} is not a language code like az, kk, ru, en")
    return SearchFilters(
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
                    "published_at": hit.published_at.isoformat(),
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
        lines.append(
            f"{number:>3}. {hit.published_at:%Y-%m-%d} {hit.source} [{hit.lang or '?'}]{flag} "
            f"{hit.title_marked.plain()}"
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
    from monitor.health import health_of
    from monitor.store import Store
    from monitor.store.fingerprints import duplicates_by_source
    from monitor.store.outbox import status_lines

    settings = _settings(ctx)
    sources = _load(settings)
    store = Store.open(settings.archive_url)
    now = datetime.now(UTC)
    try:
        rows = store.status([s.name for s in sources], now)
        copies = duplicates_by_source(store, now - timedelta(days=1))
        outbox = status_lines(store)
    finally:
        store.close()
    if as_json:
        for row in rows:
            data = asdict(row) | {
                "empty_share": round(row.empty_share, 3),
                "duplicates_24h": copies.get(row.name, (0, 0))[1],
            }
            typer.echo(json.dumps(data, default=str, ensure_ascii=False))
        return
    for source, row in zip(sources, rows, strict=True):
        flag = "" if source.enabled else " [disabled]"
        typer.echo(f"{source.name}{flag}: {health_of(row)[1]}")
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
    for line in outbox:
        typer.echo(line)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


@app.command()
def reextract(
    ctx: typer.Context,
    source: Sources = None,
) -> None:
    """Run extraction again over the raw captures (after changing selectors or upgrading)."""
    from monitor.maintenance import reextract_archive
    from monitor.rules import load_rules
    from monitor.store import Store
    from monitor.store.warc import WarcArchive

    settings = _settings(ctx)
    sources = {s.name: s for s in _load(settings)}
    rules = load_rules(settings.topics)
    store = Store.open(settings.archive_url)
    try:
        counts = reextract_archive(
            store, WarcArchive(settings.warc_dir), sources, rules, source, progress=_progress()
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
    from monitor.maintenance import retag_archive
    from monitor.rules import load_rules
    from monitor.store import Store

    settings = _settings(ctx)
    rules = load_rules(settings.topics)
    store = Store.open(settings.archive_url)
    try:
        counts = retag_archive(store, rules, source, everything, progress=_progress())
    finally:
        store.close()
    typer.echo(
        f"retagged {counts['retagged']} of {counts['seen']} articles: "
        f"{counts['now_relevant']} now relevant, {counts['no_longer_relevant']} no longer relevant"
    )


@app.command()
def classify(ctx: typer.Context) -> None:
    """Read JSON Lines from stdin ({"id", "title", "text", "lang"?}) and write one line per input:
    id, relevant, score, topics, lang, entities, reasons. Exit 1 if any line was unreadable."""
    from monitor.rules import load_rules
    from monitor.tag import tag

    rules = load_rules(_settings(ctx).topics)
    failed = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError("needs an object with a string 'text'")
            title = item.get("title") or ""
            if not isinstance(title, str):
                raise ValueError("'title' must be a string")
        except ValueError as exc:
            failed += 1
            typer.echo(f"error: stdin line {number}: {exc}", err=True)
            typer.echo(json.dumps({"id": None, "line": number, "error": str(exc)}))
            continue
        tagging = tag(title, item["text"], rules, lang=item.get("lang"))
        typer.echo(json.dumps({"id": item.get("id")} | tagging.as_dict(), ensure_ascii=False))
    if failed:
        raise typer.Exit(1)


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
    from monitor.deliver import Kind, labels_for, preview, run_digest, utc_now
    from monitor.rules import load_rules
    from monitor.store import Store

    if kind not in ("telegram", "email", "instant"):
        raise ConfigError(f"digest: {kind!r} is not one of telegram, email, instant")
    chosen = cast("Kind", kind)
    settings = _settings(ctx)
    labels = labels_for(_load(settings), load_rules(settings.topics))
    store = Store.open(settings.archive_url)
    try:
        now, start = utc_now(), _date_option("--since", since)
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
    from monitor.pipeline import archive_seeds
    from monitor.rules import load_rules
    from monitor.seeds import load_seeds
    from monitor.store import Store

    settings = _settings(ctx)
    documents = load_seeds(settings.seeds_dir)
    rules = load_rules(settings.topics)
    store = Store.open(settings.archive_url)
    try:
        counts = archive_seeds(store, documents, datetime.now(UTC), rules)
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
    from monitor.store import Store
    from monitor.store.fingerprints import dedupe_archive
    from monitor.store.fingerprints import rebuild as rebuild_index

    settings = _settings(ctx)
    store = Store.open(settings.archive_url)
    try:
        if rebuild:
            typer.echo(f"index rebuilt from {rebuild_index(store)} stored sketches")
        else:
            typer.echo(f"deduped {dedupe_archive(store, progress=_progress())} articles")
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
    from monitor.backfill import parse_since, require_backfill, run_backfill
    from monitor.runtime import open_deps

    settings = _settings(ctx)
    sources = _load(settings)
    chosen = enabled(sources, [source])[0]
    require_backfill(chosen)
    start = parse_since(since, chosen) if since is not None else None

    def show(page: Any) -> None:
        typer.echo(json.dumps(asdict(page), default=str) if as_json else page.line())

    async def main() -> Any:
        async with open_deps(settings, sources) as deps:
            return await run_backfill(chosen, start, deps, restart=restart, on_page=show)

    run = asyncio.run(main())
    typer.echo(json.dumps(run.as_dict()) if as_json else run.summary())
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
    from sqlalchemy.engine import make_url

    from monitor.deliver import labels_for
    from monitor.rules import load_rules
    from monitor.store import Store
    from monitor.web import create_app, serve
    from monitor.web.serve import check_exposure

    settings = _settings(ctx)
    changes = {"web_host": host, "web_port": port}
    settings = settings.model_copy(update={k: v for k, v in changes.items() if v is not None})
    check_exposure(settings)
    sources = _load(settings)
    labels = labels_for(sources, load_rules(settings.topics))
    shown = make_url(settings.archive_url).render_as_string(hide_password=True)
    store = Store.open(settings.archive_url)
    try:
        site = create_app(settings, store, sources=sources, labels=labels)
        serve(
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
    from monitor.demo.run import run_demo

    settings = _settings(ctx)
    explicit_dir = "data_dir" in settings.model_fields_set
    run_demo(settings, explicit_dir=explicit_dir, keep=keep, echo=typer.echo)


@app.command()
def bot(ctx: typer.Context) -> None:
    """Answer /latest, /search, /topics and /status in the chats of MONITOR_BOT_CHAT_IDS until
    SIGTERM or Ctrl-C, without polling (`monitor run` starts the same bot itself). SIGHUP reloads
    sources.yaml and topics.yaml."""
    import signal

    from monitor.bot import bot_disabled_reason, keep_bot, parse_admins, parse_chats
    from monitor.rules import load_rules
    from monitor.schedule import worker_name
    from monitor.store import Store

    settings = _settings(ctx)
    reason = bot_disabled_reason(settings)
    if reason is not None:
        raise ConfigError(f"bot: {reason}")
    parse_chats(settings)  # bad ids: exit 2 before anything starts
    parse_admins(settings)
    loaded = (_load(settings), load_rules(settings.topics))
    current = [loaded]

    def reload() -> None:
        try:
            current[0] = (_load(settings), load_rules(settings.topics))
        except ConfigError as exc:
            log.error("kept the old sources and rules: %s", exc)

    store = Store.open(settings.archive_url)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, reload)
        bot = asyncio.create_task(
            keep_bot(settings, store, worker_name(), lambda: current[0][1], lambda: current[0][0])
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


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except MonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
