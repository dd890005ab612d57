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
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from monitor.errors import ConfigError, MonitorError
from monitor.export import WRITERS, export_rows
from monitor.settings import Settings
from monitor.sources import Source, enabled, load_sources

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
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source.")] = None,
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


def _parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since: {value!r} is not a date like 2026-11-01") from None
    if parsed.tzinfo is None:
        parsed = datetime.combine(parsed.date(), parsed.time() or time(), UTC)
    return parsed


@app.command()
def export(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    since: Annotated[
        str | None, typer.Option("--since", help="Published on/after (ISO date).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source.")] = None,
) -> None:
    """Write the archive to stdout as JSON Lines or CSV."""
    from monitor.store import Store

    if format not in WRITERS:
        raise ConfigError(f"--format: {format!r} is not one of {', '.join(WRITERS)}")
    settings = _settings(ctx)
    store = Store.open(settings.archive_url)
    try:
        rows = export_rows(store, since=_parse_date(since), sources=source)
        count = WRITERS[format](rows, sys.stdout)
    finally:
        store.close()
    log.info("exported %d articles", count)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per source: last success, failures in a row, articles, empty extractions, recent errors."""
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
        health = "ok"
        if row.consecutive_failures:
            health = f"FAILING ({row.consecutive_failures} in a row)"
        elif row.fetched_7d and row.empty_share >= 0.5:
            health = "EXTRACTION FAILING"
        elif row.last_attempt_at is None:
            health = "never polled"
        flag = "" if source.enabled else " [disabled]"
        typer.echo(f"{source.name}{flag}: {health}")
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
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source.")] = None,
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
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source.")] = None,
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
        now, start = utc_now(), _parse_date(since)
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
def demo(
    ctx: typer.Context,
    keep: Annotated[bool, typer.Option(help="Keep the temporary data folder.")] = False,
) -> None:
    """Serve recorded copies of the real sites on 127.0.0.1 and run a full cycle offline."""
    from monitor.demo.run import run_demo

    settings = _settings(ctx)
    explicit_dir = "data_dir" in settings.model_fields_set
    run_demo(settings, explicit_dir=explicit_dir, keep=keep, echo=typer.echo)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except MonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
